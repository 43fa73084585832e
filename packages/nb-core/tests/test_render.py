"""The render kernel: chunking, dtype and device, gradients."""

from __future__ import annotations

import pytest
import torch

from nb_core import Settings, render, resolve
from nb_core.render import DEFAULT_MAX_EVALUATIONS


def small(**changes: object) -> Settings:
    s = Settings()
    s.cell = (70.0, 80.0, 90.0, 75.0, 85.0, 95.0)
    s.user_cell = True
    s.default_F = 100.0
    s.detpixels = (24, 20)
    s.n_cells = (5.0, 5.0, 5.0)
    s.misset_mode = "angles"
    s.misset_deg = (10.0, 5.0, 3.0)
    s.oversample = 2
    for k, v in changes.items():
        setattr(s, k, v)
    return s


def test_chunk_size_does_not_change_the_image() -> None:
    exp = resolve(small(mosaic_deg=0.5, mosaic_domains=3, phisteps=2, osc_deg=1.0))
    whole = render(exp.params, exp.static, max_evaluations=DEFAULT_MAX_EVALUATIONS)
    tiny = render(exp.params, exp.static, max_evaluations=37)
    assert torch.allclose(whole, tiny, rtol=1e-12, atol=0)


def test_image_dtype_follows_params() -> None:
    exp = resolve(small(), dtype=torch.float32)
    assert render(exp.params, exp.static).dtype == torch.float32


def test_roi_leaves_other_pixels_zero() -> None:
    exp = resolve(small(roi=(3, 10, 4, 8)))
    image = render(exp.params, exp.static)
    assert image[:4].abs().sum() == 0
    assert image[:, 11:].abs().sum() == 0
    assert image[4:9, 3:11].abs().sum() > 0


@pytest.mark.parametrize(
    "field",
    ["distance", "beam_center", "detector_rotation", "cell", "misset", "wavelength", "n_cells"],
)
def test_gradients_are_finite(field: str) -> None:
    exp = resolve(small(detector_rot_deg=(1.0, -2.0, 0.5)))
    value = getattr(exp.params, field).clone().requires_grad_(True)
    params = exp.params.replace(**{field: value})
    image = render(params, exp.static)
    (grad,) = torch.autograd.grad(image.sum(), value)
    assert torch.isfinite(grad).all()
    assert grad.abs().sum() > 0


def test_unravel_matches_torch() -> None:
    from nb_core.layout import unravel

    shape = (3, 1, 5, 4)
    flat = torch.tensor([0, 7, 59, 33])
    for mine, ref in zip(unravel(flat, shape), torch.unravel_index(flat, shape), strict=True):
        assert torch.equal(mine, ref)


def test_each_chunk_returns_the_run_state_it_leaves() -> None:
    from nb_core.render import RunState, render_pixels

    index = torch.arange(6)
    # Without -dmin a chunk's first evaluation is the run's first phi loop: after it, the
    # loop is known to be over.
    exp = resolve(small())
    values, after = render_pixels(
        index, exp.params, exp.static, state=RunState.run_start(exp.params.device)
    )
    assert after.first_loop_over
    assert not bool(after.first_loop_pending)
    assert not bool(after.interpolation_disabled)
    alone, _ = render_pixels(index, exp.params, exp.static)
    # The run-start state (no phi step at 0, no -dmin) and a chunk on its own: one rounding.
    torch.testing.assert_close(values, alone, rtol=1e-14, atol=0.0)
    # With -dmin whether it is over depends on the cut: it stays a tensor's question.
    cut = resolve(small(dmin_A=50.0))
    _, after_cut = render_pixels(
        index, cut.params, cut.static, state=RunState.run_start(cut.params.device)
    )
    assert not after_cut.first_loop_over
