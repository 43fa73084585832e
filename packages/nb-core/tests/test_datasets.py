"""nb_core.datasets: templates, reoriented experiments, batched renders, shot draws, manifests."""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import torch

from nb_core.datasets import (
    ImageRecord,
    ShotVariation,
    image_name,
    image_record,
    manifest_csv,
    read_spectrum,
    render_many,
    reoriented,
    shot_parameters,
)
from nb_core.errors import InputError
from nb_core.params import Params
from nb_core.render import render
from nb_core.resolve import load_inputs, resolve
from nb_core.rng import CRandom
from nb_core.settings import Settings


def settings(**changes: object) -> Settings:
    s = Settings(
        cell=(70.0, 80.0, 90.0, 85.0, 95.0, 105.0),
        user_cell=True,
        misset_mode="angles",
        misset_deg=(10.0, 20.0, 30.0),
        n_cells=(4.0, 4.0, 4.0),
        default_F=100.0,
        detpixels=(24, 24),
        pixel_mm=0.3,
        mosaic_deg=0.3,
        mosaic_domains=3,
        phi_deg=-0.2,
        osc_deg=0.2,
        phisteps=2,
    )
    for name, value in changes.items():
        setattr(s, name, value)
    return s


@pytest.mark.parametrize(
    ("name", "number", "expected"),
    [
        ("frame_#####.img", 7, "frame_00007.img"),
        ("a#b/lyso_##.img", 123, "a#b/lyso_123.img"),
        ("intimage.img", 3, "intimage_00003.img"),
        ("raw", 12, "raw_00012"),
        ("/data/x.y.bin", 2, "/data/x.y_00002.bin"),
    ],
)
def test_image_names(name: str, number: int, expected: str) -> None:
    assert image_name(name, number) == expected


def _same_params(a: Params, b: Params) -> None:
    for f in fields(Params):
        x, y = getattr(a, f.name), getattr(b, f.name)
        if isinstance(x, torch.Tensor):
            assert x.dtype == y.dtype
            # Two routes to the same values (angles swapped in, a fresh resolve): float64
            # rounding apart at most.
            torch.testing.assert_close(x, y, rtol=1e-13, atol=1e-300, msg=f.name)
        else:
            assert x is y is None, f.name


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize(
    ("phi", "misset"),
    [(0.0, None), (9.4, None), (None, (-3.0, 45.5, 170.25)), (0.2, (1.0, 2.0, 3.0))],
)
def test_a_reoriented_experiment_is_a_fresh_resolve(
    dtype: torch.dtype, phi: float | None, misset: tuple[float, float, float] | None
) -> None:
    base_settings = settings()
    base = resolve(base_settings, load_inputs(base_settings), dtype=dtype, rng=CRandom())
    changes: dict[str, object] = {}
    if phi is not None:
        changes["phi_deg"] = phi
    if misset is not None:
        changes["misset_deg"] = misset
    new_settings = settings(**changes)
    fresh = resolve(new_settings, load_inputs(new_settings), dtype=dtype, rng=CRandom())
    derived = reoriented(
        base, new_settings, load_inputs(base_settings), base.rng, phi_deg=phi, misset_deg=misset
    )
    _same_params(derived.params, fresh.params)
    assert derived.static == fresh.static  # phi = 0 changes the phi0 quirk's step map
    for f in fields(fresh.report):  # the source report holds arrays: compared by their text
        a, b = getattr(derived.report, f.name), getattr(fresh.report, f.name)
        assert (repr(a) == repr(b)) if f.name == "sources" else (a == b), f.name
    assert derived.rng is not base.rng
    assert vars(derived.rng) == vars(fresh.rng)


def test_render_many_equals_renders_one_by_one() -> None:
    s = settings()
    exp = resolve(s, load_inputs(s), dtype=torch.float64)
    params = [
        exp.params.replace(phi0=exp.params.phi0 + 0.01, misset=exp.params.misset + 0.02),
        exp.params,
        exp.params.replace(fluence=2 * exp.params.fluence),
    ]
    with torch.no_grad():
        together = render_many(params, exp.static)
        alone = torch.stack([render(p, exp.static) for p in params])
    assert together.shape == (3, 24, 24)
    torch.testing.assert_close(together, alone, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(together[2], 2 * together[1], rtol=1e-12, atol=0.0)


def test_render_many_refuses_fields_of_other_shapes() -> None:
    s = settings()
    exp = resolve(s, load_inputs(s), dtype=torch.float64)
    other = exp.params.replace(mosaic_axes=torch.zeros(5, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="mosaic_axes"):
        render_many([exp.params, other], exp.static)


def test_shot_draws_depend_on_seed_and_number_only() -> None:
    variation = ShotVariation(mosaic_deg=(0.1, 0.2), n_cells=(3, 5), flux_sigma=0.5)
    a = shot_parameters(4, 17, variation)
    assert a == shot_parameters(4, 17, variation)
    assert a != shot_parameters(4, 18, variation)
    assert a != shot_parameters(5, 17, variation)
    # Switching a variation on changes no other draw.
    assert shot_parameters(4, 17, ShotVariation()).misset_deg == a.misset_deg
    draws = [shot_parameters(1, k, variation) for k in range(2000)]
    assert all(d.mosaic_deg is not None and 0.1 <= d.mosaic_deg <= 0.2 for d in draws)
    assert {d.n_cells for d in draws} == {3, 4, 5}
    factors = np.array([d.flux_factor for d in draws], dtype=np.float64)
    assert abs(factors.mean() - 1.0) < 0.05  # log-normal of mean 1
    assert abs(np.log(factors).std() - 0.5) < 0.03


def test_spectrum_files(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_text("# pink beam\n0.99 1\n1.00 3 # peak\n\n1.01 0\n")
    spectrum = read_spectrum(tmp_path / "ok.txt")
    assert spectrum.wavelengths == (0.99, 1.0, 1.01)
    assert spectrum.weights == (1.0, 3.0, 0.0)
    picks = [shot_parameters(2, k, ShotVariation(spectrum=spectrum)).lambda_A for k in range(400)]
    assert set(picks) == {0.99, 1.0}
    assert 0.65 < picks.count(1.0) / 400 < 0.85
    for text, message in [
        ("1.0\n", "line 1: expected 'wavelength(A) weight'"),
        ("-1 1\n", "line 1: wavelength -1 must be positive"),
        ("1 -2\n", "line 1: weight -2 must be >= 0"),
        ("1 0\n", "no wavelength with a positive weight"),
    ]:
        (tmp_path / "bad.txt").write_text(text)
        with pytest.raises(InputError, match=re.escape(message)):
            read_spectrum(tmp_path / "bad.txt")


def test_the_manifest_holds_exact_numbers_and_a_matrix_dual_to_the_cell() -> None:
    s = settings()
    exp = resolve(s, load_inputs(s), dtype=torch.float32)
    record = image_record(3, exp, files=("a.img",), argv=("-cell", "70 80"), seed=9)
    real = np.asarray(exp.report.lattice.real) * 1e10  # rows a, b, c (Å)
    matrix = np.asarray(record.amatrix)  # rows a*, b*, c* times the wavelength (1 Å)
    np.testing.assert_allclose(real @ matrix.T, np.eye(3), atol=1e-14)
    assert record.phi_deg == pytest.approx(-0.2)
    assert record.osc_deg == pytest.approx(0.2)
    assert record.mosaic_deg == pytest.approx(0.3)
    rows = list(csv.DictReader(io.StringIO(manifest_csv([record]).decode())))
    assert float(rows[0]["mat_12"]) == record.amatrix[1][0]  # line 1 of a -mat file: a*_x b*_x c*_x
    assert float(rows[0]["misset_y_deg"]) == record.misset_deg[1]
    assert rows[0]["argv"] == "-cell '70 80'"
    assert math.isclose(float(rows[0]["lambda_A"]), 1.0)
    later = replace(record, number=1)
    numbers = [
        r["number"] for r in csv.DictReader(io.StringIO(manifest_csv([record, later]).decode()))
    ]
    assert numbers == ["1", "3"]
    assert isinstance(later, ImageRecord)
