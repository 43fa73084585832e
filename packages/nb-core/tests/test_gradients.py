"""Gradients of the image with respect to every refinable parameter: correct and finite.

float64 ``gradcheck`` compares autograd with finite differences, on small detectors, including
a geometry that puts a pixel exactly on a Bragg peak (the direct beam, h = k = l = 0, where
sincg is at its singular point) and every spot shape.
"""

from __future__ import annotations

import pytest
import torch

from nb_cli.flags import parse_args
from nb_core import load_inputs, resolve
from nb_core.model import PARAMETERS, Simulator
from nb_core.refine import covariance, hessian
from nb_core.render import evaluate_pixels

F64 = torch.float64
GENERAL = [
    "-cell",
    "70",
    "80",
    "90",
    "85",
    "95",
    "105",
    "-lambda",
    "1.5",
    "-N",
    "5",
    "-misset",
    "10",
    "5",
    "3",
    "-default_F",
    "100",
    "-distance",
    "100",
    "-detpixels",
    "12",
    "-pixel",
    "0.5",
    "-oversample",
    "1",
    "-mosaic",
    "0.3",
    "-mosaic_dom",
    "3",
    "-phi",
    "1",
    "-osc",
    "0.5",
    "-phisteps",
    "2",
    "-polar",
    "0.3",
    "-detector_rotx",
    "1",
    "-detector_roty",
    "2",
    "-twotheta",
    "3",
]
# A pixel centred exactly on the direct beam: its scattering vector is exactly zero.
ON_PEAK = [
    "-cell",
    "100",
    "100",
    "100",
    "90",
    "90",
    "90",
    "-lambda",
    "1",
    "-N",
    "4",
    "-default_F",
    "10",
    "-distance",
    "100",
    "-detpixels",
    "11",
    "-pixel",
    "0.1",
    "-Xbeam",
    "0.5",
    "-Ybeam",
    "0.5",
    "-oversample",
    "1",
    "-mosaic",
    "0.2",
    "-mosaic_dom",
    "2",
]
NAMES = [n for n in PARAMETERS if n != "F_hkl"]


def _experiment(argv: list[str]):
    parsed = parse_args(argv)
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=F64)


def _check(argv: list[str], name: str) -> None:
    sim = Simulator(_experiment(argv), [name])
    start = sim.values[name].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda v: sim.render_with({name: v}),
        (start,),
        fast_mode=True,
        eps=1e-6,
        atol=1e-6,
        rtol=1e-3,
    )


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_general_geometry(name: str) -> None:
    _check(GENERAL, name)


def test_the_on_peak_pixel_is_exactly_on_the_peak() -> None:
    exp = _experiment(ON_PEAK)
    ev = evaluate_pixels(torch.tensor([5 * 11 + 5]), exp.params, exp.static)
    assert ev.hkl[:, 0, 0, 0, 0, 0, 0].tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_with_a_pixel_on_a_bragg_peak(name: str) -> None:
    _check(ON_PEAK, name)


@pytest.mark.parametrize("shape", ["-round_xtal", "-gauss_xtal"])
@pytest.mark.parametrize("name", ["distance", "cell", "Na", "misset"])
def test_gradcheck_other_shapes(shape: str, name: str) -> None:
    _check([*ON_PEAK, shape], name)


def test_gradcheck_structure_factors_with_interpolation(tmp_path: pytest.TempPathFactory) -> None:
    lines = [
        f"{h} {k} {l} {10 + h * h + 2 * k - l}"
        for h in range(-4, 5)
        for k in range(-4, 5)
        for l in range(-4, 5)
    ]
    hkl = tmp_path / "P1.hkl"  # type: ignore[operator]
    hkl.write_text("\n".join(lines) + "\n")
    argv = [
        *ON_PEAK[:9],
        "-hkl",
        str(hkl),
        "-N",
        "2",
        "-distance",
        "100",
        "-detpixels",
        "9",
        "-pixel",
        "0.4",
        "-oversample",
        "1",
    ]
    exp = _experiment(argv)
    assert exp.static.interpolate
    sim = Simulator(exp, ["F_hkl", "distance"])
    grid = sim.values["F_hkl"].detach().clone().requires_grad_(True)
    dist = sim.values["distance"].detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda g, d: sim.render_with({"F_hkl": g, "distance": d}),
        (grid, dist),
        fast_mode=True,
        eps=1e-6,
        atol=1e-6,
        rtol=1e-3,
    )


@pytest.mark.parametrize("name", ["distance", "misset", "Na", "twotheta", "cell"])
def test_gradgradcheck(name: str) -> None:
    sim = Simulator(_experiment(GENERAL), [name])
    start = sim.values[name].detach().clone().requires_grad_(True)
    assert torch.autograd.gradgradcheck(
        lambda v: sim.render_with({name: v}).sum(), (start,), eps=1e-6, atol=1e-5, rtol=1e-3
    )


def test_hessian_and_covariance_of_every_parameter_are_finite() -> None:
    exp = _experiment(GENERAL)
    sim = Simulator(exp, NAMES)
    observed = sim().detach() * 1.01
    h = hessian(sim, observed)
    size = sum(int(sim.values[n].numel()) for n in NAMES)
    assert h.shape == (size, size)
    assert torch.isfinite(h).all()
    assert torch.allclose(h, h.T, rtol=1e-6, atol=1e-6 * float(h.abs().max()))
    cov = covariance(sim, observed)
    assert torch.isfinite(cov).all()
