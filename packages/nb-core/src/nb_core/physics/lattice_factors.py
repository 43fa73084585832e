"""Lattice transforms (spot shapes) and the choice among them.

:func:`lattice_factor_sq` decides, per crystal shape, how the squared lattice factor of every
evaluation is formed: the parallelepiped's ``sincg`` product (:mod:`.square_lattice`), the
sphere's ``sinc3`` (:func:`sinc3_of_square`), or the Gaussian and top-hat spots in reciprocal
space. Every form is differentiable with finite gradients at its singular points: sincg at
integer h, sinc3 at 0. The ``sincg`` forms themselves are in :mod:`.sincg`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nb_core.autodiff import tracks_gradient
from nb_core.layout import storage_order
from nb_core.physics.sincg import (
    CHEBYSHEV_MAX_CELLS,
    nearest_index,
    sin_cos_pi,
    sincg,
    sincg_chebyshev,
    sincg_offset,
    sincg_sign,
)
from nb_core.physics.square_lattice import square_lattice_sq, square_lattice_sq_value

__all__ = [
    "CHEBYSHEV_MAX_CELLS",
    "ROUND_SCALE",
    "lattice_factor_sq",
    "nearest_index",
    "signed_lattice_factor",
    "sin_cos_pi",
    "sinc3_of_square",
    "sincg",
    "sincg_chebyshev",
    "sincg_offset",
    "sincg_sign",
    "square_lattice_sq",
    "square_lattice_sq_value",
]

#: Volume ratio correction of the ROUND shape (sphere vs cube).
ROUND_SCALE = 0.723601254558268


def sinc3_of_square(u: Tensor) -> Tensor:
    """Fourier transform of a sphere, ``sinc3(x) = 3 (sin x - x cos x) / x^3``, at ``x = pi sqrt(u)``.

    In float64 without gradients this is the C program's closed form for every ``x != 0``
    (1 at ``x = 0``), its cancellation near 0 included, so that images match it. When a
    gradient is needed, or in float32, a series replaces the closed form near 0: working in
    ``u = x^2 / pi^2`` keeps the gradient finite at 0 (no sqrt singularity).

    Args:
        u: ``(...)`` squared radius in units where a reciprocal-lattice spacing is 1, >= 0.

    Returns:
        ``(...)`` transform, 1 at ``u = 0``.
    """
    x2 = (math.pi * math.pi) * u
    c_closed_form = u.dtype == torch.float64 and not tracks_gradient(u)
    if c_closed_form:
        near = x2 == 0
    else:
        near = x2.detach() < (0.5 if u.dtype != torch.float64 else 1e-3)
    x2_far = torch.where(near, torch.ones_like(x2), x2)
    x = torch.sqrt(x2_far) if not c_closed_form else math.pi * torch.sqrt(torch.where(near, 1.0, u))
    far = 3.0 * (torch.sin(x) / x - torch.cos(x)) / (x * x)
    x2_near = torch.where(near, x2, torch.zeros_like(x2))
    series = 1.0 - x2_near / 10.0 + x2_near**2 / 280.0 - x2_near**3 / 15120.0
    return torch.where(near, series, far)


def lattice_factor_sq(
    delta: Tensor,
    shape: str,
    n_cells: Tensor,
    fudge: Tensor,
    reciprocal: Tensor,
    integer_cells: tuple[int, int, int] | None,
) -> Tensor:
    """F_latt^2 of every evaluation, by crystal shape.

    Args:
        delta: ``(3, ...)`` offsets ``h - h0`` from the nearest Miller indices, axis first.
        shape: ``"square"``, ``"round"``, ``"gauss"`` or ``"tophat"``.
        n_cells: ``(3,)`` unit cells along a, b, c (unitless; continuous when refined).
        fudge: ``()`` the C program's ``-fudge`` factor on the spot size (unitless).
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).
        integer_cells: ``n_cells`` as Python ints when they are integers, or None.

    Returns:
        ``(...)`` squared lattice factor (unitless).
    """
    # Work on the evaluations in their storage order, so that per-axis results stacked by
    # the square shape's derivatives keep the layout of ``delta``.
    order, back = storage_order(delta)
    delta = delta.permute(0, *order)
    if shape == "square":
        if tracks_gradient(n_cells):
            integer_cells = None  # refined counts are continuous
        lattice_sq = square_lattice_sq(delta, n_cells, integer_cells)
    elif shape == "round":
        lattice_sq = _round_lattice_sq(delta, n_cells, fudge)
    else:
        lattice_sq = _reciprocal_space_lattice_sq(delta, shape, n_cells, fudge, reciprocal)
    return lattice_sq.permute(back)


def _round_lattice_sq(delta: Tensor, n_cells: Tensor, fudge: Tensor) -> Tensor:
    """F_latt^2 of the sphere: ``(Na Nb Nc ROUND_SCALE sinc3(pi |N delta|))^2``; ``delta`` (3, ...)."""
    n = n_cells
    cells_product = n[0] * n[1] * n[2]
    hrad_sqr = delta[0] ** 2 * n[0] ** 2 + delta[1] ** 2 * n[1] ** 2 + delta[2] ** 2 * n[2] ** 2
    lattice = cells_product * ROUND_SCALE * sinc3_of_square(hrad_sqr * fudge)
    return lattice * lattice


def _reciprocal_space_lattice_sq(
    delta: Tensor, shape: str, n_cells: Tensor, fudge: Tensor, reciprocal: Tensor
) -> Tensor:
    """F_latt^2 of the Gaussian or top-hat spot, from the reciprocal-space distance to the node.

    Args:
        delta: ``(3, ...)`` offsets from the nearest Miller indices.
        shape: ``"gauss"``, or any other for the top-hat.
        n_cells: ``(3,)`` unit cells along a, b, c.
        fudge: ``()`` spot-size factor.
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).

    Returns:
        ``(...)`` squared lattice factor.
    """
    n = n_cells
    cells_product = n[0] * n[1] * n[2]
    dstar = [
        delta[0] * reciprocal[0, k] + delta[1] * reciprocal[1, k] + delta[2] * reciprocal[2, k]
        for k in range(3)
    ]
    rad_star_sqr = (dstar[0] ** 2 + dstar[1] ** 2 + dstar[2] ** 2) * (
        n[0] * n[0] * n[1] * n[1] * n[2] * n[2]
    )
    if shape == "gauss":
        lattice = cells_product * torch.exp(-(rad_star_sqr / 0.63 * fudge))
    else:
        lattice = cells_product * (rad_star_sqr * fudge < 0.3969).to(delta.dtype)
    return lattice * lattice


def signed_lattice_factor(
    hkl: Tensor,
    shape: str,
    n_cells: Tensor,
    fudge: Tensor,
    reciprocal: Tensor,
    integer_cells: tuple[int, int, int] | None,
) -> Tensor:
    """F_latt with the C program's sign (for traces): ``sincg`` keeps its sign per axis, that
    of the node (:func:`sincg_sign`) times that of ``sin(pi n d) / sin(pi d)`` at the offset
    ``d`` (negative where ``|d| > 1/n`` past the first zero).

    Args:
        hkl: ``(3, ...)`` fractional Miller indices, axis first.
        shape: Crystal shape (see :func:`lattice_factor_sq`).
        n_cells: ``(3,)`` unit cells along a, b, c.
        fudge: ``()`` spot-size factor.
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).
        integer_cells: ``n_cells`` as Python ints, or None.

    Returns:
        ``(...)`` lattice factor (unitless).
    """
    hkl0 = nearest_index(hkl)
    magnitude = torch.sqrt(
        lattice_factor_sq(hkl - hkl0, shape, n_cells, fudge, reciprocal, integer_cells)
    )
    if shape != "square":
        return magnitude
    sign = torch.ones_like(magnitude)
    delta = hkl - hkl0
    for axis in range(3):
        offset = sincg_offset(delta[axis], n_cells[axis])
        axis_sign = sincg_sign(hkl0[axis], n_cells[axis]) * torch.sign(offset)
        sign = sign * torch.where(n_cells[axis] > 1.0, axis_sign, torch.ones_like(axis_sign))
    return sign * magnitude
