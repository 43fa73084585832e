"""Mutation check of the parity tester: inject an engine defect, and the tests must catch it.

Two defects, each patched into nb's engine for one test only:

- ``mosflm_half_pixel``: :func:`nb_core.geometry.detector.beam_and_close_positions` loses the
  MOSFLM convention's half-pixel shift of the beam centre;
- ``detector_rotx_sign``: the detector's rotation about lab x turns the wrong way
  (:func:`nb_core.geometry.rotations.rotate_xyz` as the detector module calls it).

Under each defect the live property (the same comparison as
``test_live_parity.test_nb_matches_c_on_drawn_geometries``, run with :func:`hypothesis.find`)
must find a failing geometry and shrink it to a short command line (<= 30 tokens), and the
golden replay of a case that exercises the defect must exceed the float64 tolerance. The
golden half needs no C binary and runs in the default suite; the live half is marked live.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, Phase, find, settings
from torch import Tensor

import nb_core.geometry.detector as detector
from nb_core.params import Params, Static
from nb_parity.golden import GoldenCase, replay
from nb_parity.strategies import Geometry, geometries
from nb_parity.tolerances import TOLERANCE
from tests.conftest import golden_cases
from tests.live.test_live_parity import compare, known_bugs

TOL = TOLERANCE[torch.float64]
CASES = {case.name: case for case in golden_cases()}
#: Longest shrunk command line accepted (tokens).
MAX_SHRUNK_TOKENS = 30


def _drop_mosflm_half_pixel(monkeypatch: pytest.MonkeyPatch) -> None:
    original = detector.beam_and_close_positions

    def mutant(params: Params, static: Static) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        fbeam, sbeam, fclose, sclose = original(params, static)
        if static.convention == "mosflm":
            half = 0.5 * params.pixel_size
            fbeam, sbeam = fbeam - half, sbeam - half
        return fbeam, sbeam, fclose, sclose

    monkeypatch.setattr(detector, "beam_and_close_positions", mutant)


def _flip_detector_rotx(monkeypatch: pytest.MonkeyPatch) -> None:
    original = detector.rotate_xyz

    def mutant(v: Tensor, angles: Tensor) -> Tensor:
        flipped = torch.stack((-angles[..., 0], angles[..., 1], angles[..., 2]), dim=-1)
        return original(v, flipped)

    monkeypatch.setattr(detector, "rotate_xyz", mutant)


#: defect name -> (inject it, the golden case that exercises it)
DEFECTS: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "mosflm_half_pixel": (_drop_mosflm_half_pixel, "cubic_mosflm"),
    "detector_rotx_sign": (_flip_detector_rotx, "det_rot_twotheta_beam"),
}


def _exceeds(metrics_rel_l2: float, metrics_max_rel: float) -> bool:
    return metrics_rel_l2 > TOL.rel_l2 or metrics_max_rel > TOL.max_rel


def _golden(name: str) -> GoldenCase:
    case = CASES.get(name)
    if case is None:
        pytest.skip("golden corpus (../shared/golden) not found")
    return case


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_golden_replay_catches_the_defect(monkeypatch: pytest.MonkeyPatch, defect: str) -> None:
    """The golden case that exercises the defect passes clean and fails under the defect."""
    inject, name = DEFECTS[defect]
    case = _golden(name)
    clean = replay(case, dtype="float64").metrics
    assert not _exceeds(clean.rel_l2, clean.max_rel), "the clean engine should pass"
    inject(monkeypatch)
    broken = replay(case, dtype="float64").metrics
    assert _exceeds(broken.rel_l2, broken.max_rel), (
        f"{name} still passes under {defect}: rel L2 {broken.rel_l2:.3g}, "
        f"max rel {broken.max_rel:.3g}"
    )


@pytest.mark.live
@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_live_property_catches_the_defect(
    c_binary: Path, monkeypatch: pytest.MonkeyPatch, defect: str
) -> None:
    """The live property finds the defect and shrinks it to a short command line."""
    inject, _ = DEFECTS[defect]
    inject(monkeypatch)
    tried: list[int] = []

    def fails(geometry: Geometry) -> bool:
        if known_bugs(geometry):  # a failure there would not be the injected defect's
            return False
        tried.append(1)
        return not compare(c_binary, geometry).ok

    found = find(
        geometries(),
        fails,
        settings=settings(
            max_examples=300,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
    print(f"{defect}: shrunk to {len(found.argv)} tokens after {len(tried)} comparisons:")
    print(found.command())
    assert len(found.argv) <= MAX_SHRUNK_TOKENS, found.command()
    monkeypatch.undo()
    assert compare(c_binary, found).ok, "the shrunk geometry should pass without the defect"
