"""Gradients through ``torch.func`` transforms equal plain autograd, singular points included.

Inside ``vmap`` and ``jacfwd`` a tensor's ``requires_grad`` reads False; the render must still
take its differentiable forms there (:func:`nb_core.autodiff.tracks_gradient`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import torch

from nb_cli.flags import parse_args
from nb_core import Experiment, load_inputs, resolve
from nb_core.autodiff import tracks_gradient
from nb_core.model import Simulator
from nb_core.physics.structure_factors import pad_grid
from nb_core.render import evaluate_pixels

F64 = torch.float64

#: -N 15 (above the Chebyshev form's 12 cells) with the beam on the centre of pixel (32, 32):
#: with -oversample 1 that pixel's one sample has a zero scattering vector, h = k = l = 0.
DIRECT_BEAM_ON_A_SAMPLE = (
    "-cell 70 80 90 85 95 105 -lambda 1 -N 15 -default_F 100 -detpixels 64 -pixel 0.1 "
    "-distance 100 -Xbeam 3.2 -Ybeam 3.2 -oversample 1"
).split()


def experiment_from_flags(argv: Sequence[str], dtype: torch.dtype = F64) -> Experiment:
    parsed = parse_args(list(argv))
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=dtype)


def test_the_case_has_a_sample_with_a_zero_scattering_vector() -> None:
    exp = experiment_from_flags(DIRECT_BEAM_ON_A_SAMPLE)
    centre = torch.tensor([32 * 64 + 32])
    evaluation = evaluate_pixels(centre, exp.params, exp.static)
    assert float(evaluation.scattering.abs().max()) == 0.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_render_batch_gradient_is_finite_and_equals_the_single_render(dtype: torch.dtype) -> None:
    sim = Simulator(experiment_from_flags(DIRECT_BEAM_ON_A_SAMPLE, dtype), ["distance", "misset"])
    single = sim().sum()
    single.backward()
    expected = {name: sim.values[name].grad.clone() for name in sim.names}  # type: ignore[union-attr]
    batch = {
        name: torch.stack([sim.values[name].detach()] * 2).requires_grad_(True)
        for name in sim.names
    }
    sim.render_batch(batch).sum().backward()
    rtol = 1e-10 if dtype == F64 else 1e-4
    for name in sim.names:
        grad = batch[name].grad
        assert grad is not None, name
        assert bool(torch.isfinite(grad).all()), name
        torch.testing.assert_close(grad[0], expected[name], rtol=rtol, atol=0.0)
        torch.testing.assert_close(grad[1], expected[name], rtol=rtol, atol=0.0)


def test_forward_jacobian_equals_the_backward_one() -> None:
    sim = Simulator(experiment_from_flags(DIRECT_BEAM_ON_A_SAMPLE), ["distance"])
    start = sim.values["distance"].detach().clone()
    rows = torch.func.jacfwd(lambda d: sim.render_with({"distance": d}).reshape(-1))(start)
    value = start.clone().requires_grad_(True)
    image = sim.render_with({"distance": value}).reshape(-1)
    weights = torch.linspace(0.5, 1.5, image.shape[0], dtype=F64)
    (backward,) = torch.autograd.grad((image * weights).sum(), value)
    assert bool(torch.isfinite(rows).all())
    torch.testing.assert_close((rows * weights).sum(), backward, rtol=1e-10, atol=0.0)


def test_tracks_gradient_sees_transformed_tensors() -> None:
    plain = torch.ones(3)
    assert not tracks_gradient(plain)
    assert tracks_gradient(plain.requires_grad_(True))
    seen: list[bool] = []

    def probe(x: torch.Tensor) -> torch.Tensor:
        seen.append(tracks_gradient(x))
        return x * 2.0

    torch.func.vmap(probe)(torch.ones(2, 3))
    torch.func.jacfwd(probe)(torch.ones(3))
    assert seen == [True, True]
    with torch.no_grad():
        assert not tracks_gradient(torch.ones(3, requires_grad=True))


def test_padded_grid_batches_and_differentiates() -> None:
    grid = torch.arange(24, dtype=F64).reshape(2, 3, 4)
    default = torch.tensor(7.0, dtype=F64)
    padded = pad_grid(grid, default)
    assert padded.shape == (4, 5, 6)
    assert torch.equal(padded[1:-1, 1:-1, 1:-1], grid)
    assert float(padded.sum() - grid.sum()) == 7.0 * (4 * 5 * 6 - 24)
    batched = torch.func.vmap(lambda g: pad_grid(g, default))(torch.stack([grid, 2 * grid]))
    assert torch.equal(batched[1, 1:-1, 1:-1, 1:-1], 2 * grid)
    slope = torch.func.jacfwd(lambda d: pad_grid(grid, d).sum())(default)
    assert float(slope) == 4 * 5 * 6 - 24
