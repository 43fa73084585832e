"""Replay every golden case through ``nb simulate`` and hold nb to the issue's tolerances."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nb_parity.golden import GoldenCase, ReplayResult, replay
from nb_parity.summary import parse_summary
from nb_parity.tolerances import TOLERANCE
from tests.conftest import golden_cases

CASES = golden_cases()
IDS = [c.name for c in CASES]
pytestmark = pytest.mark.skipif(not CASES, reason="golden corpus (../shared/golden) not found")


def test_the_corpus_holds_all_111_cases() -> None:
    assert len(CASES) == 111


def _header_values(header: dict[str, str]) -> dict[str, str]:
    return {k: v.strip().rstrip(";") for k, v in header.items() if k != "HEADER_BYTES"}


def _close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    # The summary prints 6 significant digits; allow one unit in the last of them.
    return abs(a - b) <= 2e-5 * max(abs(a), abs(b)) + 1e-12


def _check_summary(case: GoldenCase, result: ReplayResult) -> None:
    theirs = parse_summary(case.stdout())
    ours = parse_summary("\n".join(result.stdout))
    assert theirs, "the golden stdout has no summary"
    for name, values in theirs.items():
        assert name in ours, f"nb's summary lacks {name!r}"
        got = ours[name]
        assert len(got) == len(values), name
        bad = [(g, v) for g, v in zip(got, values, strict=True) if not _close(g, v)]
        assert not bad, f"{name}: nb {got} vs C {values}"


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float64_outputs_match(case: GoldenCase) -> None:
    """Float image, SMV header and pixels, noise image, PGM and console summary, in float64."""
    result = replay(case, dtype="float64")
    tol = TOLERANCE[torch.float64]
    m = result.metrics
    assert m.rel_l2 <= tol.rel_l2, f"relative L2 {m.rel_l2:.3g}"
    assert m.max_rel <= tol.max_rel, f"max |diff| / max |C| = {m.max_rel:.3g}"

    c_int = case.int_image()
    assert _header_values(result.int_image.header) == _header_values(c_int.header)
    diff = np.abs(result.int_image.data.astype(np.int64) - c_int.data.astype(np.int64))
    assert diff.max() <= 1
    assert np.count_nonzero(diff) <= 0.001 * diff.size

    c_noise = case.noise_image()
    if c_noise is not None:
        assert result.noise_image is not None
        same = np.count_nonzero(result.noise_image.data == c_noise.data)
        assert same >= 0.999 * c_noise.data.size
    c_pgm = case.pgm()
    if c_pgm is not None:
        assert result.pgm == c_pgm
    _check_summary(case, result)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_float32_image_matches(case: GoldenCase) -> None:
    result = replay(case, dtype="float32", extra=["-nonoise", "-nopgm"])
    tol = TOLERANCE[torch.float32]
    m = result.metrics
    assert m.rel_l2 <= tol.rel_l2, f"relative L2 {m.rel_l2:.3g}"
    assert m.max_rel <= tol.max_rel, f"max |diff| / max |C| = {m.max_rel:.3g}"
