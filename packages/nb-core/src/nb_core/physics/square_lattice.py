"""Squared lattice factor of the parallelepiped crystal, ``prod_k sincg(h_k, N_k)^2``.

The value is formed for speed (:func:`square_lattice_sq_value`); with gradients,
:func:`square_lattice_sq` gives the same value through an autograd function whose derivatives
are written by hand (:class:`_SquareLatticeSq`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from nb_core.autodiff import tracks_gradient
from nb_core.physics.sincg import (
    CHEBYSHEV_MAX_CELLS,
    sincg_chebyshev,
    sincg_offset,
    sincg_offset_and_slopes,
    sincg_offset_and_slopes_differentiable,
)

__all__ = ["square_lattice_sq", "square_lattice_sq_value"]


def _products_of_the_other_two(factors: list[Tensor]) -> list[Tensor]:
    """For three factors, the product of the two others for each."""
    return [factors[1] * factors[2], factors[0] * factors[2], factors[0] * factors[1]]


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
        parts = [sincg_offset_and_slopes(delta[k], n[k], with_n) for k in range(3)]
        f = [p[0] for p in parts]
        if cells is None:
            value = (f[0] * f[0]) * (f[1] * f[1]) * (f[2] * f[2])
        else:
            value = square_lattice_sq_value(delta, n, cells)
        # d value / d x_k = 2 (f0 f1 f2) (product of the two other factors) df_k/dx
        pair = _products_of_the_other_two(f)
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
        # The same tensors for both modes: torch.func's generated vmap rule keeps one record
        # of their batch dimensions.
        ctx.save_for_forward(delta, n, slopes_d, slopes_n)

    @staticmethod
    def backward(
        ctx, grad: Tensor, _grad_slopes_d: Tensor, _grad_slopes_n: Tensor
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
        parts = [sincg_offset_and_slopes_differentiable(delta[k], n[k], with_n) for k in range(3)]
        others = _products_of_the_other_two([f * f for f, _, _ in parts])
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
        delta, n = ctx.saved_tensors[:2]
        parts = [sincg_offset_and_slopes_differentiable(delta[k], n[k]) for k in range(3)]
        others = _products_of_the_other_two([f * f for f, _, _ in parts])
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
            :func:`~nb_core.physics.sincg.sincg_chebyshev`), or None.

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
    if not tracks_gradient(delta, n):
        return square_lattice_sq_value(delta, n, cells)
    value, _, _ = _SquareLatticeSq.apply(delta, n, cells, tracks_gradient(n))  # type: ignore[misc]
    return value  # type: ignore[no-any-return]
