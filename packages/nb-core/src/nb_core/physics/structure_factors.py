"""Structure-factor lookup: nearest grid point and tricubic Lagrange interpolation."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["interpolation_out_of_range", "lookup_nearest", "lookup_tricubic"]


def _flat_index(idx: Tensor, shape: tuple[int, int, int]) -> Tensor:
    return (idx[..., 0] * shape[1] + idx[..., 1]) * shape[2] + idx[..., 2]


def lookup_nearest(
    grid: Tensor, origin: tuple[int, int, int], hkl0: Tensor, default_F: Tensor
) -> Tensor:
    """Amplitude at integer Miller indices; ``default_F`` outside the grid.

    Args:
        grid: ``(H, K, L)`` amplitudes (electrons).
        origin: ``(h_min, k_min, l_min)`` of the grid.
        hkl0: ``(..., 3)`` integer-valued indices (float tensor).
        default_F: ``()`` amplitude outside the grid.

    Returns:
        ``(...)`` amplitudes.
    """
    shape = (grid.shape[0], grid.shape[1], grid.shape[2])
    org = torch.tensor(origin, dtype=hkl0.dtype, device=hkl0.device)
    upper = torch.tensor(shape, dtype=hkl0.dtype, device=hkl0.device)
    idx = hkl0 - org
    inside = ((idx >= 0) & (idx < upper)).all(dim=-1)
    safe = torch.where(inside[..., None], idx, torch.zeros_like(idx)).long()
    values = grid.reshape(-1)[_flat_index(safe, shape)]
    return torch.where(inside, values, default_F)


def interpolation_out_of_range(
    hkl: Tensor, origin: tuple[int, int, int], shape: tuple[int, int, int]
) -> Tensor:
    """Whether the 4x4x4 block around ``floor(hkl)`` would leave the grid (the C program's test).

    Args:
        hkl: ``(..., 3)`` fractional Miller indices.
        origin: ``(h_min, k_min, l_min)``.
        shape: ``(H, K, L)`` grid shape.

    Returns:
        ``(...)`` bool.
    """
    org = torch.tensor(origin, dtype=hkl.dtype, device=hkl.device)
    rng = torch.tensor(shape, dtype=hkl.dtype, device=hkl.device)
    h = hkl.detach()
    return ((h - org + 3 > rng) | (h - 2 < org)).any(dim=-1)


def _lagrange_weights(t: Tensor) -> Tensor:
    """Cubic Lagrange weights on nodes -1, 0, 1, 2 at offset ``t``: ``(..., 4)``."""
    tm1, tm2, tp1 = t - 1.0, t - 2.0, t + 1.0
    return torch.stack(
        (
            -t * tm1 * tm2 / 6.0,
            tp1 * tm1 * tm2 / 2.0,
            -tp1 * t * tm2 / 2.0,
            tp1 * t * tm1 / 6.0,
        ),
        dim=-1,
    )


def lookup_tricubic(grid: Tensor, origin: tuple[int, int, int], hkl: Tensor) -> Tensor:
    """Tricubic Lagrange interpolation on the 4x4x4 block around ``floor(hkl)``.

    Indices are clamped into the grid, so callers must mask points flagged by
    :func:`interpolation_out_of_range`.

    Args:
        grid: ``(H, K, L)`` amplitudes.
        origin: ``(h_min, k_min, l_min)``.
        hkl: ``(..., 3)`` fractional Miller indices.

    Returns:
        ``(...)`` interpolated amplitudes.
    """
    shape = (grid.shape[0], grid.shape[1], grid.shape[2])
    base = torch.floor(hkl.detach())
    t = hkl - base
    w = _lagrange_weights(t)  # (..., 3, 4)
    org = torch.tensor(origin, dtype=hkl.dtype, device=hkl.device)
    offsets = torch.arange(-1, 3, dtype=hkl.dtype, device=hkl.device)
    idx = (base - org)[..., None] + offsets  # (..., 3, 4)
    hi = torch.tensor(shape, dtype=hkl.dtype, device=hkl.device)[:, None] - 1
    idx = torch.minimum(torch.clamp(idx, min=0.0), hi).long()
    ih = idx[..., 0, :, None, None]
    ik = idx[..., 1, None, :, None]
    il = idx[..., 2, None, None, :]
    flat = (ih * shape[1] + ik) * shape[2] + il  # (..., 4, 4, 4)
    block = grid.reshape(-1)[flat]
    return torch.einsum("...i,...j,...k,...ijk->...", w[..., 0, :], w[..., 1, :], w[..., 2, :], block)
