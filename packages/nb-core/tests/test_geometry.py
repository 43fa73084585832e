"""Rotations and detector placement against hand-computed values."""

from __future__ import annotations

import math
import random

import pytest
import torch

from nb_core.geometry import rotate_axis, rotate_xyz, rotation_matrix_xyz, unitize
from nb_core.geometry.rotations import axis_angle_matrix, rotate_about_axis

F64 = torch.float64


def _c_rotate_axis(v: list[float], axis: list[float], phi: float) -> list[float]:
    """The C ``rotate_axis``, term for term in its own order (its vectors start at index 1)."""
    sinphi, cosphi = math.sin(phi), math.cos(phi)
    along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - cosphi)
    return [
        axis[0] * along + v[0] * cosphi + (-axis[2] * v[1] + axis[1] * v[2]) * sinphi,
        axis[1] * along + v[1] * cosphi + (+axis[2] * v[0] - axis[0] * v[2]) * sinphi,
        axis[2] * along + v[2] * cosphi + (-axis[1] * v[0] + axis[0] * v[1]) * sinphi,
    ]


def _random_rotations(count: int) -> list[tuple[list[float], list[float], float]]:
    """Vectors, unit axes and angles of every sign and scale, zeros and signed zeros included."""
    rs = random.Random(20240611)
    special = [0.0, -0.0, 1.0, -1.0, 1e-300, 1e300]
    cases = []
    for _ in range(count):
        v = [rs.choice(special) if rs.random() < 0.1 else rs.gauss(0, 10) ** 3 for _ in range(3)]
        axis = [rs.choice(special[:4]) if rs.random() < 0.1 else rs.gauss(0, 1) for _ in range(3)]
        norm = math.sqrt(sum(x * x for x in axis)) or 1.0
        axis = [x / norm for x in axis]
        phi = (
            rs.choice([0.0, -0.0, math.pi, math.pi / 2]) if rs.random() < 0.1 else rs.uniform(-7, 7)
        )
        cases.append((v, axis, phi))
    return cases


def _bits(values: list[float]) -> list[str]:
    return [x.hex() for x in values]


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


def test_rotate_about_axis_is_the_c_rotate_axis_bit_for_bit() -> None:
    for v, axis, phi in _random_rotations(5000):
        got = _bits(rotate_about_axis(v, axis, phi))
        assert got == _bits(_c_rotate_axis(v, axis, phi)), (v, axis, phi)


def test_rotate_axis_matches_rotate_about_axis_where_sin_and_cos_agree() -> None:
    cases = _random_rotations(2000)
    v = torch.tensor([c[0] for c in cases], dtype=F64)
    axis = torch.tensor([c[1] for c in cases], dtype=F64)
    phi = torch.tensor([c[2] for c in cases], dtype=F64)
    rotated = rotate_axis(v, axis, phi).tolist()
    same_trig = (torch.sin(phi) == torch.tensor([math.sin(c[2]) for c in cases], dtype=F64)) & (
        torch.cos(phi) == torch.tensor([math.cos(c[2]) for c in cases], dtype=F64)
    )
    compared = 0
    for case, out, same in zip(cases, rotated, same_trig.tolist(), strict=True):
        if same:
            assert _bits(out) == _bits(rotate_about_axis(*case)), case
            compared += 1
    assert compared > len(cases) // 2


def test_axis_angle_matrix_rotates_like_rotate_axis() -> None:
    cases = _random_rotations(200)
    axes = torch.tensor([c[1] for c in cases], dtype=F64)
    angles = torch.tensor([c[2] for c in cases], dtype=F64)
    matrices = axis_angle_matrix(axes, torch.cos(angles), torch.sin(angles))
    v = torch.tensor([[0.3, -1.2, 2.0]], dtype=F64).expand(len(cases), 3)
    expected = rotate_axis(v, axes, angles)
    assert torch.allclose(torch.einsum("nij,nj->ni", matrices, v), expected, atol=1e-13)
    eye = torch.eye(3, dtype=F64).expand(len(cases), 3, 3)
    assert torch.allclose(matrices @ matrices.transpose(-1, -2), eye, atol=1e-14)


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
        # The differentiable form against the value form: rounding apart at most.
        torch.testing.assert_close(a.detach(), b, rtol=1e-15, atol=1e-300)


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
