"""Lattice factors, structure-factor lookup and polarization against known values."""

from __future__ import annotations

import math

import pytest
import torch

from nb_core.geometry.rotations import dot
from nb_core.physics import (
    lookup_nearest,
    lookup_tricubic,
    polarization_factor,
    sinc3_of_square,
    sincg,
)
from nb_core.physics.lattice_factors import (
    sincg_offset,
    sincg_sign,
    square_lattice_sq,
    square_lattice_sq_value,
)
from nb_core.physics.sincg import near_node, sincg_offset_and_slopes, sincg_taylor
from nb_core.physics.structure_factors import lookup_nearest_padded, pad_grid

F64 = torch.float64


def c_sincg(x: float, n: float) -> float:
    """The C program's sincg(x, N)."""
    return n if x == 0.0 else math.sin(x * n) / math.sin(x)


@pytest.mark.parametrize("h", [0.0, 0.013, 0.25, 0.49, 1.3, -2.7, 7.05, 15.5001, -31.2])
@pytest.mark.parametrize("n", [2.0, 5.0, 36.0])
def test_sincg_matches_the_c_formula(h: float, n: float) -> None:
    got = float(sincg(torch.tensor(h, dtype=F64), torch.tensor(n, dtype=F64)))
    assert got == pytest.approx(c_sincg(math.pi * h, n), rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("h", [0.0, 1.0, -3.0, 12.0])
@pytest.mark.parametrize("n", [2.0, 5.0, 47.0])
def test_sincg_at_integer_h_is_plus_minus_n_with_finite_gradients(h: float, n: float) -> None:
    ht = torch.tensor(h, dtype=F64, requires_grad=True)
    nt = torch.tensor(n, dtype=F64, requires_grad=True)
    value = sincg(ht, nt)
    expected = n * (-1.0) ** (h * (n - 1))
    assert float(value.detach()) == pytest.approx(expected)
    gh, gn = torch.autograd.grad(value, (ht, nt))
    assert float(gh) == pytest.approx(0.0, abs=1e-6)
    assert math.isfinite(float(gn))


def test_sincg_offset_is_magnitude_with_sign() -> None:
    h = torch.linspace(-6.4, 6.4, 257, dtype=F64)
    n = torch.tensor(7.0, dtype=F64)
    h0 = torch.ceil(h - 0.5)
    rebuilt = sincg_sign(h0, n) * sincg_offset(h - h0, n)
    assert torch.allclose(rebuilt, sincg(h, n), rtol=1e-9, atol=1e-9)


def test_sincg_gradcheck_through_integer_points() -> None:
    h = torch.tensor([0.0, 1e-12, 0.3, 2.0, -1.49], dtype=F64, requires_grad=True)
    n = torch.tensor(6.0, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: sincg_offset(a - torch.round(a.detach()), b), (h, n)
    )


def test_sinc3_matches_the_c_closed_form_and_is_smooth_at_zero() -> None:
    # Without gradients (float64) the value is the C program's 3 (sin x / x - cos x) / x^2 at
    # x = pi sqrt(u), cancellation near 0 included; 1 at exactly 0.
    for u in (0.0, 1e-18, 1e-8, 0.04, 0.5, 2.0):
        x = math.pi * math.sqrt(u)
        expected = 1.0 if x == 0 else 3.0 * (math.sin(x) / x - math.cos(x)) / (x * x)
        assert float(sinc3_of_square(torch.tensor(u, dtype=F64))) == expected
    # With gradients a series replaces the closed form near 0: accurate and smooth.
    u = torch.tensor([0.0, 1e-18, 1e-6, 0.2], dtype=F64, requires_grad=True)
    value = sinc3_of_square(u)
    x2 = math.pi**2 * 1e-6
    assert float(value[2].detach()) == pytest.approx(1 - x2 / 10 + x2**2 / 280, rel=1e-14)
    assert torch.autograd.gradcheck(sinc3_of_square, (u,))
    (g,) = torch.autograd.grad(value.sum(), u)
    assert float(g[0]) == pytest.approx(-(math.pi**2) / 10.0)


def _grid() -> torch.Tensor:
    h = torch.arange(-4, 5, dtype=F64)
    return (h[:, None, None] * 100 + h[None, :, None] * 10 + h[None, None, :]).contiguous()


def test_nearest_lookup_inside_and_outside() -> None:
    grid = _grid()
    hkl0 = torch.tensor([[1.0, -2.0, 3.0], [5.0, 0.0, 0.0], [-4.0, -4.0, -4.0]], dtype=F64)
    got = lookup_nearest(grid, (-4, -4, -4), hkl0, torch.tensor(7.0, dtype=F64))
    assert got.tolist() == [100 - 20 + 3, 7.0, -444.0]
    padded = pad_grid(grid, torch.tensor(7.0, dtype=F64))
    assert lookup_nearest_padded(padded, (-4, -4, -4), hkl0.T).tolist() == got.tolist()


def test_tricubic_reproduces_a_cubic_polynomial() -> None:
    # Lagrange interpolation on four nodes is exact for cubics.
    idx = torch.arange(-4, 5, dtype=F64)
    hh, kk, ll = torch.meshgrid(idx, idx, idx, indexing="ij")
    grid = hh**3 - 2 * kk**2 * ll + ll + 4
    pts = torch.tensor([[0.3, -0.7, 1.25], [1.9, 0.0, -1.5]], dtype=F64)
    got = lookup_tricubic(grid, (-4, -4, -4), pts.T.contiguous())
    h, k, l = pts.unbind(-1)
    assert torch.allclose(got, h**3 - 2 * k**2 * l + l + 4, atol=1e-10)


def test_polarization_unpolarized_and_kahn() -> None:
    incident = torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    axis = torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    # Scattering by 90 degrees in the horizontal plane (along y), E-vector along z.
    d = torch.tensor([0.0, 1.0, 0.0], dtype=F64)
    assert float(
        polarization_factor(torch.tensor(0.0, dtype=F64), incident, d, axis)
    ) == pytest.approx(0.5)
    # Fully polarized along z, scattering along y (perpendicular to E): factor 1.
    k1 = torch.tensor(1.0, dtype=F64)
    assert float(polarization_factor(k1, incident, d, axis)) == pytest.approx(1.0)
    # ... and scattering along z (parallel to E): factor 0.
    dz = torch.tensor([0.0, 0.0, 1.0], dtype=F64)
    assert float(polarization_factor(k1, incident, dz, axis)) == pytest.approx(0.0, abs=1e-15)
    # Forward scattering is 1 with finite gradients.
    d0 = torch.tensor([1.0, 0.0, 0.0], dtype=F64, requires_grad=True)
    value = polarization_factor(torch.tensor(0.5, dtype=F64), incident, d0, axis)
    assert float(value.detach()) == pytest.approx(1.0)
    (g,) = torch.autograd.grad(value, d0)
    assert torch.isfinite(g).all()


def test_square_lattice_sq_value_is_the_product_of_sincg_squares() -> None:
    delta = torch.tensor([[0.0, 0.1, -0.3], [0.25, 0.0, 0.5], [-0.2, 0.4, 0.0]], dtype=F64)
    n = torch.tensor([5.0, 8.0, 3.0], dtype=F64)
    expected = torch.ones(3, dtype=F64)
    for k in range(3):
        expected = expected * sincg_offset(delta[k], n[k]) ** 2
    for cells in (None, (5, 8, 3)):
        assert torch.allclose(square_lattice_sq_value(delta, n, cells), expected, rtol=1e-12)
    # on the node the factor is N^2 per axis: (5 * 8 * 3)^2 where every offset is 0
    on_node = square_lattice_sq_value(torch.zeros(3, 1, dtype=F64), n)
    assert float(on_node[0]) == pytest.approx(120.0**2, rel=1e-14)


def test_square_lattice_sq_derivatives_match_finite_differences() -> None:
    # offsets exactly on a node (0), near it, and far from it; continuous N
    delta = torch.tensor(
        [[0.0, 1e-12, 0.13, -0.41], [0.0, -0.2, 0.0, 0.31], [0.07, 0.0, -0.45, 0.0]],
        dtype=F64,
        requires_grad=True,
    )
    n = torch.tensor([5.0, 7.5, 3.2], dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(square_lattice_sq, (delta, n), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(square_lattice_sq, (delta, n))
    with torch.no_grad():
        plain = square_lattice_sq_value(delta, n)
    # The differentiable form against the value form: rounding apart at most.
    torch.testing.assert_close(square_lattice_sq(delta, n).detach(), plain, rtol=1e-14, atol=1e-300)


def test_dot_derivatives_match_finite_differences_with_broadcasting() -> None:
    x = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]], dtype=F64, requires_grad=True)
    y = torch.tensor([0.3, 0.7, -1.1], dtype=F64, requires_grad=True)
    assert dot(x, y).detach().tolist() == pytest.approx([0.3 - 1.4 - 0.55, 0.0])
    assert torch.autograd.gradcheck(dot, (x, y), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(dot, (x, y))


def test_square_lattice_sq_saved_slopes_equal_the_recomputed_ones() -> None:
    # A plain backward multiplies by slopes saved in the forward; a backward that is itself
    # differentiated recomputes them. Both must give the same gradient, near and on nodes.
    delta = torch.tensor(
        [
            [0.0, 1e-12, 3e-10, 0.13, -0.5],
            [0.2, 0.0, -1e-11, 0.31, 0.49],
            [0.07, 0.0, 0.0, -0.45, 0.0],
        ],
        dtype=F64,
        requires_grad=True,
    )
    n = torch.tensor([5.0, 7.5, 3.2], dtype=F64, requires_grad=True)
    weights = torch.tensor([1.0, -2.0, 0.5, 3.0, 0.25], dtype=F64)
    plain = torch.autograd.grad((square_lattice_sq(delta, n) * weights).sum(), (delta, n))
    graph = torch.autograd.grad(
        (square_lattice_sq(delta, n) * weights).sum(), (delta, n), create_graph=True
    )
    for a, b in zip(plain, graph, strict=True):
        assert torch.allclose(a, b.detach(), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_taylor_form_meets_the_closed_form_where_it_takes_over(dtype: torch.dtype) -> None:
    # Just outside the threshold of near_node the closed form is used; just inside, the
    # Taylor form: their values and slopes in n agree there (both formed in float64).
    threshold = 1e-9 if dtype == torch.float64 else 1e-4
    delta = torch.tensor([threshold * 1.01, -threshold * 1.01], dtype=F64)
    assert not near_node(delta.to(dtype)).any()
    assert near_node((delta * 0.98).to(dtype)).all()
    n = torch.tensor(7.5, dtype=F64)
    value, slope_d, slope_n = sincg_taylor(delta, n, with_n=True)
    closed, closed_slope_d, closed_slope_n = sincg_offset_and_slopes(delta, n, with_n=True)
    assert slope_n is not None
    assert closed_slope_n is not None
    assert torch.allclose(value, closed, rtol=1e-12)
    assert torch.allclose(slope_n, closed_slope_n, rtol=1e-9)
    if dtype == torch.float32:
        # At 1e-4 the closed-form slope has not yet lost its digits to cancellation.
        assert torch.allclose(slope_d, closed_slope_d, rtol=1e-6)
