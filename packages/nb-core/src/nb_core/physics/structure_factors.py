"""Structure-factor lookup: nearest grid point and tricubic Lagrange interpolation."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = [
    "interpolation_out_of_range",
    "lookup_nearest",
    "lookup_nearest_padded",
    "lookup_tricubic",
    "pad_grid",
]


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
        hkl: ``(3, ...)`` fractional Miller indices, axis first.
        origin: ``(h_min, k_min, l_min)``.
        shape: ``(H, K, L)`` grid shape.

    Returns:
        ``(...)`` bool.
    """
    h = hkl.detach()
    out = None
    for axis in range(3):
        x = h[axis]
        bad = (x - origin[axis] + 3 > shape[axis]) | (x - 2 < origin[axis])
        out = bad if out is None else out | bad
    assert out is not None
    return out


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
        hkl: ``(3, ...)`` fractional Miller indices, axis first.

    Returns:
        ``(...)`` interpolated amplitudes.
    """
    shape = (grid.shape[0], grid.shape[1], grid.shape[2])
    offsets = torch.arange(-1, 3, dtype=hkl.dtype, device=hkl.device)
    weights = []
    index = []
    for axis in range(3):
        base = torch.floor(hkl[axis].detach())
        weights.append(_lagrange_weights(hkl[axis] - base))  # (..., 4)
        idx = (base - origin[axis])[..., None] + offsets
        index.append(torch.clamp(idx, 0, shape[axis] - 1).long())
    ih = index[0][..., :, None, None]
    ik = index[1][..., None, :, None]
    il = index[2][..., None, None, :]
    flat = (ih * shape[1] + ik) * shape[2] + il  # (..., 4, 4, 4)
    block = grid.reshape(-1)[flat]
    return torch.einsum("...i,...j,...k,...ijk->...", weights[0], weights[1], weights[2], block)


def pad_grid(grid: Tensor, default_F: Tensor) -> Tensor:
    """The grid with one plane of ``default_F`` added on every side.

    Args:
        grid: ``(H, K, L)`` amplitudes.
        default_F: ``()`` amplitude outside the grid.

    Returns:
        ``(H + 2, K + 2, L + 2)`` padded grid (differentiable in both inputs).
    """
    # Out of place (a where, not a slice assignment), so that torch.func.vmap and jacfwd can
    # batch or differentiate the grid and default_F independently.
    sides = (1, 1, 1, 1, 1, 1)
    inside = torch.nn.functional.pad(torch.ones_like(grid, dtype=torch.bool), sides)
    return torch.where(inside, torch.nn.functional.pad(grid, sides), default_F)


def lookup_nearest_padded(padded: Tensor, origin: tuple[int, int, int], hkl0: Tensor) -> Tensor:
    """:func:`lookup_nearest` on a :func:`pad_grid` grid, with axis-first indices.

    Indices outside the grid are clamped onto the padding, which holds ``default_F``.

    Args:
        padded: ``(H + 2, K + 2, L + 2)`` padded amplitudes.
        origin: ``(h_min, k_min, l_min)`` of the unpadded grid.
        hkl0: ``(3, ...)`` integer-valued indices (float tensor), axis first.

    Returns:
        ``(...)`` amplitudes.
    """
    sh, sk, sl = padded.shape
    ih = torch.clamp(hkl0[0] - (origin[0] - 1), 0, sh - 1)
    ik = torch.clamp(hkl0[1] - (origin[1] - 1), 0, sk - 1)
    il = torch.clamp(hkl0[2] - (origin[2] - 1), 0, sl - 1)
    flat = ((ih * sk + ik) * sl + il).long()
    return padded.reshape(-1)[flat]
