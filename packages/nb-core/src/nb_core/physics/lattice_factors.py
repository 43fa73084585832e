"""Lattice transforms (spot shapes): sincg, sinc3, Gaussian and top-hat.

Every function is differentiable with finite gradients at its singular points: sincg at
integer h, sinc3 at 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "CHEBYSHEV_MAX_CELLS",
    "nearest_index",
    "sin_cos_pi",
    "sinc3_of_square",
    "sincg",
    "sincg_chebyshev",
    "sincg_offset",
    "sincg_sign",
    "square_lattice_sq",
    "square_lattice_sq_value",
]

#: Largest integer cell count for which :func:`sincg_chebyshev` is used (its float32 error
#: grows with the count; below this it stays under 1e-5 of the peak).
CHEBYSHEV_MAX_CELLS = 12


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


def sincg(h: Tensor, n: Tensor) -> Tensor:
    """Fourier transform of a row of ``n`` unit cells: ``sin(pi n h) / sin(pi h)``.

    Evaluated from the offset to the nearest integer, ``h = h0 + d``, so that float32 keeps its
    precision far from the origin and the value at integer ``h`` is the limit ``±n``:
    ``sincg = [sin(pi n d) cos(pi r) + cos(pi n d) sin(pi r)] / [(-1)^h0 sin(pi d)]`` with
    ``r = n h0 mod 2``. Gradients are finite at integer ``h`` (a second-order Taylor form is used
    for ``|d|`` below a dtype-dependent threshold).

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
    eps = 1e-9 if h.dtype == torch.float64 else 1e-4
    near = torch.abs(d.detach()) < eps
    d_safe = torch.where(near, torch.full_like(d, 0.25), d)
    pnd = math.pi * n * d_safe
    far = (torch.sin(pnd) * cos_r + torch.cos(pnd) * sin_r) / (sign * torch.sin(math.pi * d_safe))
    d_near = torch.where(near, d, torch.zeros_like(d))
    x2 = (math.pi * d_near) ** 2
    near_value = sign * cos_r * n * (1.0 - x2 * (n * n - 1.0) / 6.0)
    return torch.where(near, near_value, far)


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
    exact_c = u.dtype == torch.float64 and not (torch.is_grad_enabled() and u.requires_grad)
    if exact_c:
        near = x2 == 0
    else:
        near = x2.detach() < (0.5 if u.dtype != torch.float64 else 1e-3)
    x2_far = torch.where(near, torch.ones_like(x2), x2)
    x = torch.sqrt(x2_far) if not exact_c else math.pi * torch.sqrt(torch.where(near, 1.0, u))
    far = 3.0 * (torch.sin(x) / x - torch.cos(x)) / (x * x)
    x2_near = torch.where(near, x2, torch.zeros_like(x2))
    series = 1.0 - x2_near / 10.0 + x2_near**2 / 280.0 - x2_near**3 / 15120.0
    return torch.where(near, series, far)


def sincg_offset(delta: Tensor, n: Tensor) -> Tensor:
    """``sin(pi n d) / sin(pi d)`` at the offset ``d = h - h0`` from the nearest integer.

    For integer ``n`` this is ``|sincg(h, n)|`` up to the sign ``(-1)^(h0 (n - 1))`` (see
    :func:`sincg_sign`), which cancels in intensities; for ``n = 1`` it is exactly 1. For
    non-integer ``n`` (refinement) it is the smooth continuation around each lattice node,
    without the poles of ``sin(pi n h) / sin(pi h)``. At ``d = 0`` the value is ``n``; when a
    gradient is needed a second-order Taylor form is used there, so that first and second
    derivatives are finite and correct.

    Args:
        delta: ``(...)`` offsets from the nearest integer, in [-0.5, 0.5].
        n: number of cells, broadcast against ``delta``.

    Returns:
        ``(...)`` lattice factor magnitude.
    """
    needs_grad = torch.is_grad_enabled() and (delta.requires_grad or n.requires_grad)
    if not needs_grad:
        # No gradient: the 0/0 at d = 0 may be formed and replaced by its limit.
        zero = delta == 0
        x = math.pi * delta
        far = torch.sin(n * x) / torch.sin(x)
        return torch.where(zero, n, far)
    eps = 1e-9 if delta.dtype == torch.float64 else 1e-4
    near = torch.abs(delta.detach()) < eps
    d_safe = torch.where(near, torch.full_like(delta, 0.25), delta)
    x_safe = math.pi * d_safe
    far = torch.sin(n * x_safe) / torch.sin(x_safe)
    d_near = torch.where(near, delta, torch.zeros_like(delta))
    x2 = (math.pi * d_near) ** 2
    near_value = n * (1.0 - x2 * (n * n - 1.0) / 6.0)
    return torch.where(near, near_value, far)


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


def _near_eps(delta: Tensor) -> float:
    return 1e-9 if delta.dtype == torch.float64 else 1e-4


def _sincg_offset_parts(
    delta: Tensor, n: Tensor, with_n: bool = True
) -> tuple[Tensor, Tensor, Tensor | None]:
    """``f = sin(pi n d) / sin(pi d)`` and its derivatives ``df/dd`` and ``df/dn``.

    Within ``eps`` of ``d = 0`` the second-order Taylor forms are used (value ``n``, slope
    ``0``, curvature ``-pi^2 n (n^2 - 1) / 3``), as :func:`sincg_offset` does when a gradient
    is needed. Every expression is a differentiable torch operation, finite on both sides of
    each ``where`` (the Taylor forms are polynomials), so the derivatives can themselves be
    differentiated.

    Args:
        delta: ``(...)`` offsets from the nearest integer.
        n: number of cells, broadcast against ``delta``.
        with_n: Whether to form ``df/dn`` (None otherwise).

    Returns:
        ``(f, df/dd, df/dn)``, each ``(...)``.
    """
    near = torch.abs(delta.detach()) < _near_eps(delta)
    x = math.pi * torch.where(near, 0.25, delta)
    sin_x, cos_x = torch.sin(x), torch.cos(x)
    nx = n * x
    sin_nx, cos_nx = torch.sin(nx), torch.cos(nx)
    inv = 1.0 / sin_x
    f_far = sin_nx * inv
    fd_far = math.pi * (n * cos_nx - f_far * cos_x) * inv
    x2 = (math.pi * delta) ** 2
    n2 = n * n
    f_near = n * (1.0 - x2 * ((n2 - 1.0) / 6.0))
    fd_near = ((-(math.pi**2) / 3.0) * n * (n2 - 1.0)) * delta
    f = torch.where(near, f_near, f_far)
    fd = torch.where(near, fd_near, fd_far)
    if not with_n:
        return f, fd, None
    fn_far = x * cos_nx * inv
    fn_near = 1.0 - x2 * ((3.0 * n2 - 1.0) / 6.0)
    return f, fd, torch.where(near, fn_near, fn_far)


def _others(sq: list[Tensor]) -> list[Tensor]:
    """For three factors, the product of the two others for each."""
    return [sq[1] * sq[2], sq[0] * sq[2], sq[0] * sq[1]]


def _offset_value_and_slopes(
    delta: Tensor, n: Tensor, with_n: bool
) -> tuple[Tensor, Tensor, Tensor | None]:
    """``f = sin(pi n d) / sin(pi d)``, ``df/dd`` and ``df/dn`` in one pass, without autograd.

    The value is computed exactly as :func:`sincg_offset` computes it without gradients (``n``
    at ``d = 0``), so that an image rendered with gradients equals one rendered without.
    ``df/dd = pi (n cos(pi n d) - f cos(pi d)) / sin(pi d)`` cancels near ``d = 0`` and
    switches to its Taylor form within ``eps`` of it, as :func:`_sincg_offset_parts` does;
    ``df/dn = pi d cos(pi n d) / sin(pi d)`` is well conditioned down to its limit 1 at 0.

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
    near = torch.abs(delta) < _near_eps(delta)
    curvature = (-(math.pi**2) / 3.0) * n * (n * n - 1.0)
    fd = torch.where(near, delta * curvature, fd)
    if not with_n:
        return f, fd, None
    fn = torch.where(zero, 1.0, (x * cos_nx).mul_(inv))
    return f, fd, fn


class _SquareLatticeSq(torch.autograd.Function):
    """``prod_k sincg_offset(d_k, n_k)^2`` with hand-written derivatives.

    Autograd through the elementwise form records some thirty tensors per evaluation. This
    function forms the value and its slopes with respect to every offset (and cell count) in
    one pass of the forward, saves them, and its backward is then a multiplication: a
    backward pass stays a small multiple of the forward. When the backward itself is
    differentiated (``create_graph``, ``torch.func`` transforms) it recomputes the slopes
    from the saved inputs with differentiable operations instead. Forward-mode (``jvp``),
    vmap and double backward are supported.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(  # type: ignore[override]
        delta: Tensor, n: Tensor, cells: tuple[int, int, int] | None, with_n: bool
    ) -> tuple[Tensor, Tensor, Tensor]:
        # Runs without autograd: the same value as a render under torch.no_grad().
        parts = [_offset_value_and_slopes(delta[k], n[k], with_n) for k in range(3)]
        f = [p[0] for p in parts]
        if cells is None:
            value = (f[0] * f[0]) * (f[1] * f[1]) * (f[2] * f[2])
        else:
            value = square_lattice_sq_value(delta, n, cells)
        # d value / d x_k = 2 (f0 f1 f2) (product of the two other factors) df_k/dx
        pair = _others(f)
        twice = (f[0] * pair[0]).mul_(2.0)
        weight = [twice * pair[k] for k in range(3)]
        slopes_d = torch.stack([weight[k] * parts[k][1] for k in range(3)])
        if with_n:
            slopes_n = torch.stack([weight[k] * parts[k][2] for k in range(3)])  # type: ignore[operator]
        else:
            slopes_n = delta.new_zeros((3,))
        return value, slopes_d, slopes_n

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # type: ignore[override]
        delta, n, _, with_n = inputs
        _, slopes_d, slopes_n = output
        ctx.mark_non_differentiable(slopes_d, slopes_n)
        ctx.with_n = with_n
        ctx.save_for_backward(delta, n, slopes_d, slopes_n)
        ctx.save_for_forward(delta, n)

    @staticmethod
    def backward(
        ctx, grad: Tensor, _gd: Tensor, _gn: Tensor
    ) -> tuple[Tensor, Tensor | None, None, None]:  # type: ignore[override]
        delta, n, slopes_d, slopes_n = ctx.saved_tensors
        with_n = bool(ctx.needs_input_grad[1])
        if not torch.is_grad_enabled() and (ctx.with_n or not with_n):
            # Plain backward: the slopes saved by the forward.
            g_delta = grad * slopes_d
            grad_n = None
            if with_n:
                grad_n = (slopes_n.reshape(3, -1) @ grad.reshape(-1)).reshape(n.shape)
            return g_delta, grad_n, None, None
        # The backward is being differentiated (or the forward did not form the slopes in N):
        # recompute with differentiable operations.
        parts = [_sincg_offset_parts(delta[k], n[k], with_n) for k in range(3)]
        sq = [f * f for f, _, _ in parts]
        others = _others(sq)
        twice = 2.0 * grad
        g_delta = []
        g_n = []
        for k, (f, fd, fn) in enumerate(parts):
            common = (twice * others[k]) * f
            g_delta.append(common * fd)
            if fn is not None:
                g_n.append((common * fn).sum())
        grad_n = torch.stack(g_n).reshape(n.shape) if with_n else None
        return torch.stack(g_delta), grad_n, None, None

    @staticmethod
    def jvp(
        ctx, delta_t: Tensor, n_t: Tensor, _cells_t: None, _with_n_t: None
    ) -> tuple[Tensor, None, None]:  # type: ignore[override]
        delta, n = ctx.saved_tensors
        parts = [_sincg_offset_parts(delta[k], n[k]) for k in range(3)]
        sq = [f * f for f, _, _ in parts]
        others = _others(sq)
        out = None
        for k, (f, fd, fn) in enumerate(parts):
            assert fn is not None
            tangent = 2.0 * f * others[k] * (fd * delta_t[k] + fn * n_t[k])
            out = tangent if out is None else out + tangent
        assert out is not None
        return out, None, None


def square_lattice_sq_value(
    delta: Tensor, n: Tensor, cells: tuple[int, int, int] | None = None
) -> Tensor:
    """``prod_k sincg(h_k, N_k)^2`` evaluated for speed (no gradient of its own).

    Args:
        delta: ``(3, ...)`` offsets ``h - h0`` per axis.
        n: ``(3,)`` numbers of cells Na, Nb, Nc.
        cells: The same counts as Python ints when they are integers (then small counts use
            :func:`sincg_chebyshev`), or None.

    Returns:
        ``(...)`` squared lattice factor.
    """
    out = None
    for axis in range(3):
        if cells is not None and cells[axis] <= CHEBYSHEV_MAX_CELLS:
            factor = sincg_chebyshev(delta[axis], cells[axis])
        else:
            # For N = 1 the factor is exactly 1, as the C program's skip of that axis gives.
            factor = sincg_offset(delta[axis], n[axis])
        sq = factor * factor
        out = sq if out is None else out * sq
    assert out is not None
    return out


def square_lattice_sq(
    delta: Tensor, n: Tensor, cells: tuple[int, int, int] | None = None
) -> Tensor:
    """Squared lattice factor of the parallelepiped crystal, ``prod_k sincg(h_k, N_k)^2``.

    Works from the offsets to the nearest integers, where it is smooth (continuous ``N``
    included). The value is that of :func:`square_lattice_sq_value` (so an image rendered
    with gradients equals one rendered without); the derivatives with respect to both
    arguments are hand-written (see :class:`_SquareLatticeSq`) and finite at ``d = 0``.

    Args:
        delta: ``(3, ...)`` offsets ``h - h0`` per axis.
        n: ``(3,)`` numbers of cells Na, Nb, Nc.
        cells: Integer counts for the Chebyshev form of the value, or None.

    Returns:
        ``(...)`` squared lattice factor.
    """
    if not torch.is_grad_enabled() or not (delta.requires_grad or n.requires_grad):
        return square_lattice_sq_value(delta, n, cells)
    value, _, _ = _SquareLatticeSq.apply(delta, n, cells, n.requires_grad)  # type: ignore[misc]
    return value  # type: ignore[no-any-return]
