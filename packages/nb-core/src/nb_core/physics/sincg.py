"""The row-of-cells transform ``sincg`` and its forms about a lattice node.

``sincg(h, n) = sin(pi n h) / sin(pi h)`` has a removable 0/0 at every integer ``h``. Each form
here works from the offset ``d = h - h0`` to the nearest integer ``h0``; within a small
``|d|`` (see :func:`near_node`) the closed form is replaced by its second-order Taylor form
(:func:`sincg_taylor`, with its slope :func:`sincg_taylor_slope`), so that values and
first and second derivatives stay finite there. That one Taylor form serves every function
of this module.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from nb_core.autodiff import tracks_gradient

__all__ = [
    "CHEBYSHEV_MAX_CELLS",
    "near_node",
    "nearest_index",
    "sin_cos_pi",
    "sincg",
    "sincg_chebyshev",
    "sincg_offset",
    "sincg_offset_and_slopes",
    "sincg_offset_and_slopes_differentiable",
    "sincg_sign",
    "sincg_taylor",
    "sincg_taylor_slope",
]

#: Largest integer cell count for which :func:`sincg_chebyshev` is used (its float32 error
#: grows with the count; below this it stays under 1e-5 of the peak).
CHEBYSHEV_MAX_CELLS = 12

#: Offsets from the node that is kept away from it where the Taylor form is used, so that the
#: closed form evaluated there (and discarded) stays finite, its gradient too.
_AWAY_FROM_NODE = 0.25


def nearest_index(h: Tensor) -> Tensor:
    """Nearest integer as the C program rounds it: ``ceil(h - 0.5)`` (no gradient)."""
    return torch.ceil(h.detach() - 0.5)


def sin_cos_pi(r: Tensor) -> tuple[Tensor, Tensor]:
    """``sin(pi r)`` and ``cos(pi r)``, exact (0 and ±1) at integers and half-integers.

    Args:
        r: ``(...)`` values.

    Returns:
        ``(sin(pi r), cos(pi r))``.
    """
    k = torch.round(r.detach())
    frac = r - k
    sign = 1.0 - 2.0 * torch.remainder(k, 2.0)
    return sign * torch.sin(math.pi * frac), sign * torch.cos(math.pi * frac)


def near_node(delta: Tensor) -> Tensor:
    """Where the Taylor form replaces the closed form: ``|d| < 1e-9`` (float64) or ``1e-4``.

    Args:
        delta: ``(...)`` offsets ``d = h - h0`` from the nearest integer.

    Returns:
        ``(...)`` bool, without gradient.
    """
    threshold = 1e-9 if delta.dtype == torch.float64 else 1e-4
    return torch.abs(delta.detach()) < threshold


def sincg_taylor_slope(delta: Tensor, n: Tensor) -> Tensor:
    """``df/dd = -(pi^2 / 3) n (n^2 - 1) d``: the slope of :func:`sincg_taylor`'s value.

    Args:
        delta: ``(...)`` offsets from the nearest integer (unitless).
        n: number of cells (unitless), broadcast against ``delta``.

    Returns:
        ``(...)`` slopes.
    """
    return ((-(math.pi**2) / 3.0) * n * (n * n - 1.0)) * delta


def sincg_taylor(
    delta: Tensor, n: Tensor, with_n: bool = False
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Second-order Taylor form of ``f = sin(pi n d) / sin(pi d)`` about ``d = 0``.

    ``f = n (1 - (pi d)^2 (n^2 - 1) / 6)``, ``df/dd`` (:func:`sincg_taylor_slope`) and
    ``df/dn = 1 - (pi d)^2 (3 n^2 - 1) / 6``: polynomials, finite for every ``d``, so they may be
    evaluated everywhere and selected with ``torch.where``.

    Args:
        delta: ``(...)`` offsets from the nearest integer (unitless).
        n: number of cells (unitless), broadcast against ``delta``.
        with_n: Whether to form ``df/dn`` (None otherwise).

    Returns:
        ``(f, df/dd, df/dn)``, each ``(...)``.
    """
    x2 = (math.pi * delta) ** 2
    value = n * (1.0 - x2 * (n * n - 1.0) / 6.0)
    slope_d = sincg_taylor_slope(delta, n)
    if not with_n:
        return value, slope_d, None
    return value, slope_d, 1.0 - x2 * ((3.0 * (n * n) - 1.0) / 6.0)


def sincg(h: Tensor, n: Tensor) -> Tensor:
    """Fourier transform of a row of ``n`` unit cells: ``sin(pi n h) / sin(pi h)``.

    Evaluated from the offset to the nearest integer, ``h = h0 + d``, so that float32 keeps its
    precision far from the origin and the value at integer ``h`` is the limit ``±n``:
    ``sincg = [sin(pi n d) cos(pi r) + cos(pi n d) sin(pi r)] / [(-1)^h0 sin(pi d)]`` with
    ``r = n h0 mod 2``. Near a node the Taylor form (:func:`sincg_taylor`) is used, so gradients
    are finite at integer ``h``.

    Args:
        h: ``(...)`` fractional Miller index (unitless).
        n: number of cells (unitless), broadcast against ``h``; may be non-integer.

    Returns:
        ``(...)`` lattice factor, ``±n`` at integer ``h`` for integer ``n``.
    """
    h0 = nearest_index(h)
    d = h - h0
    r = torch.remainder(n * h0, 2.0)
    sin_r, cos_r = sin_cos_pi(r)
    sign = 1.0 - 2.0 * torch.remainder(h0, 2.0)
    near = near_node(d)
    d_away = torch.where(near, _AWAY_FROM_NODE, d)
    pnd = math.pi * n * d_away
    far = (torch.sin(pnd) * cos_r + torch.cos(pnd) * sin_r) / (sign * torch.sin(math.pi * d_away))
    taylor, _, _ = sincg_taylor(d, n)
    return torch.where(near, sign * cos_r * taylor, far)


def sincg_offset(delta: Tensor, n: Tensor) -> Tensor:
    """``sin(pi n d) / sin(pi d)`` at the offset ``d = h - h0`` from the nearest integer.

    For integer ``n`` this is ``|sincg(h, n)|`` up to the sign ``(-1)^(h0 (n - 1))`` (see
    :func:`sincg_sign`), which cancels in intensities; for ``n = 1`` it is exactly 1. For
    non-integer ``n`` (refinement) it is the smooth continuation around each lattice node,
    without the poles of ``sin(pi n h) / sin(pi h)``. At ``d = 0`` the value is ``n``; when a
    gradient is needed the Taylor form is used near it, so that first and second derivatives
    are finite and correct.

    Args:
        delta: ``(...)`` offsets from the nearest integer, in [-0.5, 0.5].
        n: number of cells, broadcast against ``delta``.

    Returns:
        ``(...)`` lattice factor magnitude.
    """
    needs_grad = tracks_gradient(delta, n)
    if not needs_grad:
        # No gradient: the 0/0 at d = 0 may be formed and replaced by its limit.
        zero = delta == 0
        x = math.pi * delta
        far = torch.sin(n * x) / torch.sin(x)
        return torch.where(zero, n, far)
    near = near_node(delta)
    x_away = math.pi * torch.where(near, _AWAY_FROM_NODE, delta)
    far = torch.sin(n * x_away) / torch.sin(x_away)
    taylor, _, _ = sincg_taylor(delta, n)
    return torch.where(near, taylor, far)


def sincg_sign(h0: Tensor, n: Tensor) -> Tensor:
    """Sign ``(-1)^(h0 (n - 1))`` with which ``sincg`` differs from :func:`sincg_offset`.

    Args:
        h0: ``(...)`` integer-valued nearest indices.
        n: integer-valued number of cells.

    Returns:
        ``(...)`` ±1.
    """
    return 1.0 - 2.0 * torch.remainder(h0 * (n - 1.0), 2.0)


def sincg_chebyshev(delta: Tensor, n: int) -> Tensor:
    """``sin(pi n d) / sin(pi d)`` for an integer ``n``, as the Chebyshev polynomial
    ``U_{n-1}(cos(pi d))``.

    Equal to :func:`sincg_offset` for integer ``n`` (no division, no singular point), with one
    cosine and ``n - 2`` multiply-adds instead of two sines and a division.

    Args:
        delta: ``(...)`` offsets from the nearest integer.
        n: number of cells, a positive integer (Python int).

    Returns:
        ``(...)`` lattice factor magnitude.
    """
    if n <= 1:
        return torch.ones_like(delta)
    c2 = 2.0 * torch.cos(math.pi * delta)
    prev, cur = torch.ones_like(c2), c2
    for _ in range(n - 2):
        prev, cur = cur, c2 * cur - prev
    return cur


def sincg_offset_and_slopes_differentiable(
    delta: Tensor, n: Tensor, with_n: bool = True
) -> tuple[Tensor, Tensor, Tensor | None]:
    """``f = sin(pi n d) / sin(pi d)`` and its derivatives ``df/dd`` and ``df/dn``.

    Near ``d = 0`` the Taylor forms are used, as :func:`sincg_offset` does when a gradient is
    needed. Every expression is a differentiable torch operation, finite on both sides of each
    ``where``, so the derivatives can themselves be differentiated.

    Args:
        delta: ``(...)`` offsets from the nearest integer.
        n: number of cells, broadcast against ``delta``.
        with_n: Whether to form ``df/dn`` (None otherwise).

    Returns:
        ``(f, df/dd, df/dn)``, each ``(...)``.
    """
    near = near_node(delta)
    x = math.pi * torch.where(near, _AWAY_FROM_NODE, delta)
    sin_x, cos_x = torch.sin(x), torch.cos(x)
    nx = n * x
    sin_nx, cos_nx = torch.sin(nx), torch.cos(nx)
    inv = 1.0 / sin_x
    f_far = sin_nx * inv
    fd_far = math.pi * (n * cos_nx - f_far * cos_x) * inv
    f_near, fd_near, fn_near = sincg_taylor(delta, n, with_n)
    f = torch.where(near, f_near, f_far)
    fd = torch.where(near, fd_near, fd_far)
    if fn_near is None:
        return f, fd, None
    fn_far = x * cos_nx * inv
    return f, fd, torch.where(near, fn_near, fn_far)


def sincg_offset_and_slopes(
    delta: Tensor, n: Tensor, with_n: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """``f = sin(pi n d) / sin(pi d)``, ``df/dd`` and ``df/dn`` in one pass, without autograd.

    The value is computed exactly as :func:`sincg_offset` computes it without gradients (``n``
    at ``d = 0``), so that an image rendered with gradients equals one rendered without.
    ``df/dd = pi (n cos(pi n d) - f cos(pi d)) / sin(pi d)`` cancels near ``d = 0`` and takes
    the Taylor slope there; ``df/dn = pi d cos(pi n d) / sin(pi d)`` is well conditioned down to
    its limit 1 at 0.

    Args:
        delta: ``(...)`` offsets from the nearest integer.
        n: number of cells, broadcast against ``delta``.
        with_n: Whether to form ``df/dn`` (None otherwise).

    Returns:
        ``(f, df/dd, df/dn)``, each ``(...)``.
    """
    # No autograd runs through this function, so the far-field forms may be evaluated at d = 0
    # too (0/0 there); every such value is replaced by its limit below.
    zero = delta == 0
    x = math.pi * delta
    sin_x, cos_x = torch.sin(x), torch.cos(x)
    nx = n * x
    sin_nx, cos_nx = torch.sin(nx), torch.cos(nx)
    f_far = sin_nx / sin_x
    f = torch.where(zero, n, f_far)
    inv = torch.reciprocal(sin_x)
    fd = torch.addcmul(cos_nx * n, f_far, cos_x, value=-1.0).mul_(inv).mul_(math.pi)
    fd = torch.where(near_node(delta), sincg_taylor_slope(delta, n), fd)
    if not with_n:
        return f, fd, None
    fn = torch.where(zero, 1.0, (x * cos_nx).mul_(inv))
    return f, fd, fn
