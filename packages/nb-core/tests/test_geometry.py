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
