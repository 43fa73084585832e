"""Tensor layout helpers shared by the render kernel and the lattice factors."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

__all__ = ["first_true", "storage_order", "unravel"]


def storage_order(t: Tensor) -> tuple[list[int], list[int]]:
    """The axes after the first in storage order (largest stride first), and the inverse.

    Args:
        t: ``(A, ...)`` any tensor.

    Returns:
        ``(order, back)``: ``t.permute(0, *order)`` lists the axes as they lie in memory (so
        that flattening them is a view); a result over the permuted axes 1.. is put back in
        the logical order by ``permute(back)`` (its axes counted from 0).
    """
    order = sorted(range(1, t.dim()), key=lambda d: -t.stride(d))
    back = [order.index(d) for d in range(1, t.dim())]
    return order, back


def first_true(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Index of the first True along the last axis (0 if none), and whether there is one.

    A min over positions rather than ``argmax``: inductor's parallel argmax of a boolean
    mask has been seen to return an out-of-range index on CPU.

    Args:
        mask: ``(..., N)`` bool.

    Returns:
        ``(index, found)``: ``(...)`` int64 and ``(...)`` bool.
    """
    n = mask.shape[-1]
    if n == 0:
        none = torch.zeros(mask.shape[:-1], dtype=torch.long, device=mask.device)
        return none, none.bool()
    order = torch.arange(n, device=mask.device)
    first = torch.where(mask, order, n).amin(dim=-1)
    return first.clamp(max=n - 1), first < n


def unravel(flat: Tensor, shape: Sequence[int]) -> tuple[Tensor, ...]:
    """Indices into ``shape`` of flat (row-major) positions ``flat``.

    The same as :func:`torch.unravel_index`, whose argument check imports sympy (about 0.9 s
    on the first call of a process).

    Args:
        flat: ``(...)`` int64 flat positions.
        shape: The shape they index.

    Returns:
        One ``(...)`` int64 index per axis of ``shape``.
    """
    out: list[Tensor] = []
    rest = flat
    for size in reversed(shape[1:]):
        out.append(torch.remainder(rest, size))
        rest = torch.div(rest, size, rounding_mode="floor")
    out.append(rest)
    return tuple(reversed(out))
