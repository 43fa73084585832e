"""Shared fixtures for the end-to-end tests: the golden corpus, dtypes and tolerances."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch

from nb_parity.golden import GoldenCase, find_golden_root, load_cases


def _inductor_cache_per_capability() -> None:
    """Keep torch.compile's kernel cache apart per CPU capability.

    Inductor's on-disk cache is not keyed on ``ATEN_CPU_CAPABILITY``: a kernel built under
    AVX512 and loaded under AVX2 fails ("tuple args required"). The suite is run under several
    capabilities on one machine, so each gets its own cache folder.
    """
    if "TORCHINDUCTOR_CACHE_DIR" in os.environ:
        return
    capability = torch.backends.cpu.get_cpu_capability()
    user = os.environ.get("USER") or str(os.getuid())
    folder = Path(tempfile.gettempdir()) / f"torchinductor_{user}_{capability}"
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(folder)


_inductor_cache_per_capability()

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: Golden-corpus tolerances on the float image, keyed by dtype (issue acceptance).
TOLERANCE = {
    torch.float64: {"rel_l2": 1e-6, "max_rel": 1e-5},
    torch.float32: {"rel_l2": 1e-3, "max_rel": 1e-2},
}
DTYPE_NAMES = {torch.float64: "float64", torch.float32: "float32"}


def golden_cases() -> list[GoldenCase]:
    """The golden cases, or an empty list without ../shared."""
    root = find_golden_root(REPO)
    return load_cases(root) if root is not None else []


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder beside the repository."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


@pytest.fixture(params=[torch.float64, torch.float32], ids=["float64", "float32"])
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """Both supported dtypes."""
    return request.param


def _register_hypothesis_profiles() -> None:
    import os

    from hypothesis import HealthCheck, settings

    settings.register_profile(
        "ci",
        derandomize=True,
        deadline=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    settings.register_profile("dev", deadline=None, max_examples=500)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()
