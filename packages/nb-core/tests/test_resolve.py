"""The C program's resolution rules, checked against what the C program printed."""

from __future__ import annotations

import pytest
import torch

from nb_core import Settings, resolve
from nb_core.errors import InputError
from nb_core.resolve import (
    Inputs,
    Report,
    resolve_beam,
    resolve_detector,
    resolve_sampling,
    resolve_structure_factors,
)
from nb_core.settings import clock_seed
from nb_core.units import RTD


def cubic(**changes: object) -> Settings:
    s = Settings()
    s.cell = (100.0, 100.0, 100.0, 90.0, 90.0, 90.0)
    s.user_cell = True
    s.default_F = 100.0
    s.detpixels = (96, 96)
    s.n_cells = (5.0, 5.0, 5.0)
    for k, v in changes.items():
        setattr(s, k, v)
    return s


def test_mosflm_default_beam_centre_and_frame() -> None:
    # cubic_default_conv/stdout.txt: Xbeam=0.00485 Fbeam=0.0049 dials origin= -4.9 4.9 -100
    exp = resolve(cubic())
    assert exp.report.detector.xbeam == pytest.approx(0.00485)
    frame = exp.report.frame
    assert frame.fbeam == pytest.approx(0.0049)
    assert list(frame.dials_origin) == pytest.approx([-4.9, 4.9, -100.0])
    assert exp.static.convention == "mosflm"
    assert exp.static.pivot == "beam"
    assert exp.static.oversample == 2


@pytest.mark.parametrize(
    ("changes", "steps", "osc_deg"),
    [
        ({}, 1, 0.0),
        ({"osc_deg": 30.0}, 2, 30.0),
        ({"phistep_deg": 2.5}, 2, 2.5),
        ({"osc_deg": 10.0, "phistep_deg": 2.5}, 4, 10.0),
        ({"phisteps": 5}, 5, 1.0),
        ({"phisteps": 6, "osc_deg": 30.0}, 6, 30.0),
    ],
)
def test_phi_step_rules(changes: dict[str, object], steps: int, osc_deg: float) -> None:
    exp = resolve(cubic(**changes))
    assert exp.static.phisteps == steps
    assert exp.report.sampling.osc * RTD == pytest.approx(osc_deg)


def test_divergence_and_dispersion_source_counts() -> None:
    # divergence_dispersion_round: -divergence 1.0 -divsteps 4 -dispersion 2 -dispsteps 3
    exp = resolve(
        cubic(
            hdivrange_mrad=1.0,
            vdivrange_mrad=1.0,
            hdivsteps=4,
            vdivsteps=4,
            dispersion_pct=2.0,
            dispsteps=3,
        )
    )
    assert exp.report.sources.divergence_steps == 12  # the round cut keeps 12 of 16
    assert exp.static.sources == 36


def test_mosaic_defaults_to_ten_domains() -> None:
    exp = resolve(cubic(mosaic_deg=1.0))
    assert exp.static.mosaic_domains == 10
    assert any("upping to 10 mosaic domains" in n for n in exp.notes)
    assert exp.params.mosaic_fractions[0] == 0.0


def test_sensor_layers_rule() -> None:
    # -detector_thick 450 -thicksteps 5: the C program spaces 5 layers by 450/4 um.
    exp = resolve(cubic(detector_thick_um=450.0, thicksteps=5, detector_attenuation_um=500.0))
    assert exp.static.layers == 5
    assert float(exp.params.detector_thickstep) == pytest.approx(112.5e-6)


def test_interpolation_auto_switch() -> None:
    assert resolve(cubic(n_cells=(2.0, 5.0, 5.0))).static.interpolate is False  # no hkl: off
    assert any("auto-selected tricubic" in n for n in resolve(cubic(n_cells=(2.0, 5.0, 5.0))).notes)


def test_dtype_and_device_come_from_the_request() -> None:
    exp = resolve(cubic(), dtype=torch.float32)
    assert exp.params.pixel_size.dtype == torch.float32
    assert exp.params.f_grid.dtype == torch.float32


def test_no_structure_factors_is_an_input_error() -> None:
    with pytest.raises(InputError, match="no -hkl file"):
        resolve(cubic(default_F=0.0))


def test_no_crystal_is_an_input_error() -> None:
    s = cubic()
    s.cell = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    s.user_cell = False
    with pytest.raises(InputError, match="no crystal"):
        resolve(s)


def test_the_report_is_typed_and_the_rng_explicit() -> None:
    exp = resolve(cubic(mosaic_deg=1.0))
    assert isinstance(exp.report, Report)
    assert not hasattr(exp, "info")
    assert exp.rng is not None
    assert exp.notes == exp.report.notes
    assert exp.report.sampling.mosaic_domains == exp.static.mosaic_domains == 10
    assert exp.report.lattice.n_cells == (5.0, 5.0, 5.0)
    assert exp.report.oversampling.oversample == exp.static.oversample


@pytest.mark.parametrize(
    ("convention", "pivot"),
    [
        ("adxv", "beam"),
        ("mosflm", "beam"),
        ("denzo", "beam"),
        ("xds", "sample"),
        ("dials", "sample"),
    ],
)
def test_each_convention_fixes_its_pivot(convention: str, pivot: str) -> None:
    detector = resolve_detector(cubic(convention=convention, pivot="sample"), None)
    assert detector.static["pivot"] == pivot
    assert detector.report.fpixels == detector.report.spixels == 96


def test_the_detector_refuses_a_mask_of_another_size() -> None:
    import numpy as np

    with pytest.raises(InputError, match="the mask is 4 x 3 pixels"):
        resolve_detector(cubic(), np.ones((3, 4), dtype=bool))


def test_flux_sets_the_fluence_and_the_beam_clips_the_sample() -> None:
    beam = resolve_beam(cubic(flux=1e12, exposure_s=2.0, sample_size_mm=(0.5, 0.5, 0.5)))
    assert beam.report.fluence == pytest.approx(1e12 * 2.0 / 1e-4 / 1e-4)
    assert beam.report.sample_size == pytest.approx((5e-4, 1e-4, 1e-4))
    assert len(beam.report.notes) == 2


def test_sampling_step_rules() -> None:
    sampling = resolve_sampling(cubic()).report
    assert (sampling.hdivsteps, sampling.hdivrange, sampling.hdivstep) == (1, 0.0, 0.0)
    assert sampling.phisteps == 1
    # steps alone: the C program takes a range of 1 (rad) split into that many steps
    sampling = resolve_sampling(cubic(hdivsteps=4)).report
    assert (sampling.hdivsteps, sampling.hdivrange, sampling.hdivstep) == (4, 1.0, 0.25)


def test_no_reflections_switch_interpolation_off() -> None:
    sf = resolve_structure_factors(cubic(interpolate=1), Inputs())
    assert sf.report.hkls == 0
    assert sf.static["interpolate"] is False


def test_clock_seed_is_the_negated_time() -> None:
    import time

    before = -int(time.time())
    assert before - 2 <= clock_seed() <= before


def test_step_counts_are_checked_before_the_steps_are_built() -> None:
    with pytest.raises(InputError, match="phi steps"):
        resolve(cubic(phisteps=2_000_000_000, osc_deg=1.0))
