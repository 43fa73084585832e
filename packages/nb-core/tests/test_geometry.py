"""Rotations and detector placement against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from nb_core.geometry import rotate_axis, rotate_xyz, rotation_matrix_xyz, unitize

F64 = torch.float64


def test_rotate_xyz_applies_x_then_y_then_z() -> None:
    v = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    # 90 deg about x takes y to z; then 90 deg about y takes z to x.
    out = rotate_xyz(v, torch.tensor([math.pi / 2, math.pi / 2, 0.0], dtype=F64))
    assert torch.allclose(out, torch.tensor([1.0, 0.0, 0.0], dtype=F64), atol=1e-15)


def test_rotations_preserve_length_and_match_their_matrix() -> None:
    v = torch.tensor([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]], dtype=F64)
    angles = torch.tensor([0.3, -0.2, 1.1], dtype=F64)
    out = rotate_xyz(v, angles)
    assert torch.allclose(out.norm(dim=-1), v.norm(dim=-1))
    assert torch.allclose(out, v @ rotation_matrix_xyz(angles).T)


def test_rotate_axis_right_handed() -> None:
    x = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    z = torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    out = rotate_axis(x, z, torch.tensor(math.pi / 2, dtype=F64))
    assert torch.allclose(out, torch.tensor([0.0, 1.0, 0.0], dtype=F64), atol=1e-15)


def test_unitize_zero_vector_has_finite_gradient() -> None:
    v = torch.zeros(3, dtype=F64, requires_grad=True)
    unit, mag = unitize(v)
    assert unit.detach().tolist() == [0.0, 0.0, 0.0]
    assert float(mag.detach()) == 0.0
    (g,) = torch.autograd.grad(unit.sum() + mag, v)
    assert torch.isfinite(g).all()


@pytest.mark.parametrize("angle", [0.0, 0.7])
def test_rotation_gradients_are_finite(angle: float) -> None:
    a = torch.tensor([angle, 0.1, -0.2], dtype=F64, requires_grad=True)
    v = torch.tensor([0.1, 0.0, 0.0], dtype=F64)
    assert torch.autograd.gradcheck(lambda t: rotate_xyz(v, t), (a,))


def test_unitize_derivatives_match_finite_differences() -> None:
    v = torch.tensor([[1.0, -2.0, 0.5], [0.3, 0.0, -4.0]], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(unitize, (v,), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(unitize, (v,))
    with torch.no_grad():
        plain = unitize(v)
    for a, b in zip(unitize(v), plain, strict=True):
        assert torch.equal(a.detach(), b)


def test_subpixel_grid_positions_and_their_derivatives() -> None:
    from nb_core.geometry.pixels import _grid_positions

    gen = torch.Generator().manual_seed(3)
    f = torch.rand(2, 4, dtype=F64, generator=gen).requires_grad_()  # (oF, P)
    s = torch.rand(2, 4, dtype=F64, generator=gen).requires_grad_()  # (oS, P)
    o = torch.rand(3, dtype=F64, generator=gen).requires_grad_()  # (L,)
    vecs = [torch.randn(3, dtype=F64, generator=gen).requires_grad_() for _ in range(4)]
    pos = _grid_positions(f, s, o, *vecs)
    assert pos.shape == (4, 3, 2, 2, 3)  # (P, L, oS, oF, 3)
    fdet, sdet, odet, pix0 = vecs
    p, l, i, j = 2, 1, 1, 0
    expected = f[j, p] * fdet + s[i, p] * sdet + o[l] * odet + pix0
    assert torch.allclose(pos[p, l, i, j], expected, rtol=1e-15)
    inputs = (f, s, o, *vecs)
    assert torch.autograd.gradcheck(_grid_positions, inputs, check_forward_ad=True)
    assert torch.autograd.gradgradcheck(_grid_positions, inputs)
