"""Fixtures and options shared by every package's tests: devices, dtypes, Hypothesis profiles.

A test that takes ``device`` runs once per chosen device, and one that takes ``dtype`` once per
chosen dtype. Choose them on the command line or in the environment (the option wins)::

    pytest --device cpu,cuda --dtype float64        # or NB_TEST_DEVICE=cpu,cuda NB_TEST_DTYPE=...

The defaults are ``cpu`` and ``float64,float32``. A CUDA case carries the ``gpu`` marker and is
skipped where no CUDA device is available. Hypothesis loads the ``ci`` profile (deterministic,
no deadline) unless ``HYPOTHESIS_PROFILE`` names another (``dev``: 500 examples).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import torch


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

REPO = Path(__file__).resolve().parent
SHARED = REPO.parent / "shared"

DEVICES = ("cpu", "cuda")
DTYPES = {"float64": torch.float64, "float32": torch.float32}
DEFAULT_DEVICES = "cpu"
DEFAULT_DTYPES = "float64,float32"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--device`` and ``--dtype``: comma-separated lists the fixtures run over."""
    parser.addoption(
        "--device",
        default=os.environ.get("NB_TEST_DEVICE", DEFAULT_DEVICES),
        help=f"devices for tests taking `device`, comma-separated from {DEVICES} "
        f"(env NB_TEST_DEVICE; default {DEFAULT_DEVICES})",
    )
    parser.addoption(
        "--dtype",
        default=os.environ.get("NB_TEST_DTYPE", DEFAULT_DTYPES),
        help=f"dtypes for tests taking `dtype`, comma-separated from {tuple(DTYPES)} "
        f"(env NB_TEST_DTYPE; default {DEFAULT_DTYPES})",
    )


def _chosen(config: pytest.Config, option: str, allowed: tuple[str, ...]) -> list[str]:
    """The names an option lists, in order; a name outside ``allowed`` is a usage error."""
    names = [n.strip() for n in str(config.getoption(option)).split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise pytest.UsageError(f"--{option.lstrip('-')}: expected names from {allowed}")
    return names


def pytest_configure(config: pytest.Config) -> None:
    """Refuse unknown ``--device`` or ``--dtype`` names before any test is collected."""
    _chosen(config, "--device", DEVICES)
    _chosen(config, "--dtype", tuple(DTYPES))


def _device_case(name: str) -> object:
    """One ``device`` case; CUDA carries the ``gpu`` marker and skips without a GPU."""
    if name != "cuda":
        return pytest.param(torch.device(name), id=name)
    marks = [
        pytest.mark.gpu,
        pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
    ]
    return pytest.param(torch.device(name), id=name, marks=marks)


def _parametrized_by_the_test(metafunc: pytest.Metafunc, name: str) -> bool:
    """Whether the test parametrizes ``name`` itself (then the option does not apply)."""
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0]
        listed = names.split(",") if isinstance(names, str) else list(names)
        if name in (n.strip() for n in listed):
            return True
    return False


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests taking ``device`` or ``dtype`` over the chosen devices and dtypes."""
    if "device" in metafunc.fixturenames and not _parametrized_by_the_test(metafunc, "device"):
        names = _chosen(metafunc.config, "--device", DEVICES)
        metafunc.parametrize("device", [_device_case(n) for n in names], indirect=True)
    if "dtype" in metafunc.fixturenames and not _parametrized_by_the_test(metafunc, "dtype"):
        names = _chosen(metafunc.config, "--dtype", tuple(DTYPES))
        metafunc.parametrize("dtype", [DTYPES[n] for n in names], ids=names, indirect=True)


@pytest.fixture
def device(request: pytest.FixtureRequest) -> torch.device:
    """The device a test runs on (``--device``; cpu by default)."""
    return request.param


@pytest.fixture
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """The floating dtype a test runs in (``--dtype``; float64 and float32 by default)."""
    return request.param


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared data folder beside the repository; skips the test without it."""
    if not (SHARED / "data").is_dir():
        pytest.skip("../shared is not beside the repository")
    return SHARED


def _register_hypothesis_profiles() -> None:
    """``ci`` (the default: deterministic, no deadline) and ``dev`` (500 examples)."""
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
