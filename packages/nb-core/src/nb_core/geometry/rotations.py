"""Rotations of 3-vectors, in the order and form the C program uses them.

All tensor functions broadcast over leading dimensions: vectors are ``(..., 3)`` tensors in any
unit, angles are in radians. The axis-angle rotation exists in the two forms the C program
writes: applied to a vector (:func:`rotate_axis`, and :func:`rotate_about_axis` on plain
floats, the C ``rotate_axis``) and as a matrix (:func:`axis_angle_matrix`, the C
``mosaic_rotation_umat``). The two forms round differently, so each caller keeps its own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from nb_core.autodiff import tracks_gradient

__all__ = [
    "axis_angle_matrix",
    "cross",
    "dot",
    "rotate_about_axis",
    "rotate_axis",
    "rotate_xyz",
    "rotation_matrix_xyz",
    "unitize",
]


def _dot_xyz(x: Tensor, y: Tensor) -> Tensor:
    return x[..., 0] * y[..., 0] + x[..., 1] * y[..., 1] + x[..., 2] * y[..., 2]


def _unbroadcast(grad: Tensor, shape: torch.Size) -> Tensor:
    """Sum ``grad`` down to ``shape`` (the reverse of broadcasting)."""
    if grad.shape == shape:
        return grad
    extra = grad.dim() - len(shape)
    if extra > 0:
        grad = grad.sum(dim=tuple(range(extra)))
    dims = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    return grad.sum(dim=dims, keepdim=True) if dims else grad


class _Dot(torch.autograd.Function):
    """``x . y`` over the last axis with a backward that does not scatter into zeros.

    Autograd of the component-wise form allocates a zero-filled copy of each input per
    component read; here the gradients are ``grad * y`` and ``grad * x`` directly.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(x: Tensor, y: Tensor) -> Tensor:  # type: ignore[override]
        return _dot_xyz(x, y)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # type: ignore[override]
        x, y = inputs
        ctx.save_for_backward(x, y)
        ctx.save_for_forward(x, y)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor | None, Tensor | None]:  # type: ignore[override]
        x, y = ctx.saved_tensors
        grad_column = grad[..., None]
        grad_x = _unbroadcast(grad_column * y, x.shape) if ctx.needs_input_grad[0] else None
        grad_y = _unbroadcast(grad_column * x, y.shape) if ctx.needs_input_grad[1] else None
        return grad_x, grad_y

    @staticmethod
    def jvp(ctx, x_t: Tensor | None, y_t: Tensor | None) -> Tensor:  # type: ignore[override]
        x, y = ctx.saved_tensors
        out = _dot_xyz(x_t, y) if x_t is not None else None
        if y_t is not None:
            term = _dot_xyz(x, y_t)
            out = term if out is None else out + term
        assert out is not None
        return out


def dot(x: Tensor, y: Tensor) -> Tensor:
    """Inner product over the last axis, summed in x, y, z order.

    Args:
        x: ``(..., 3)`` vectors.
        y: ``(..., 3)`` vectors (broadcast against ``x``).

    Returns:
        ``(...)`` inner products.
    """
    if tracks_gradient(x, y):
        return _Dot.apply(x, y)  # type: ignore[no-any-return]
    return _dot_xyz(x, y)


def cross(x: Tensor, y: Tensor) -> Tensor:
    """Cross product ``x × y`` over the last axis, ``(..., 3)``."""
    return torch.stack(
        (
            x[..., 1] * y[..., 2] - x[..., 2] * y[..., 1],
            x[..., 2] * y[..., 0] - x[..., 0] * y[..., 2],
            x[..., 0] * y[..., 1] - x[..., 1] * y[..., 0],
        ),
        dim=-1,
    )


def _unitize_value(v: Tensor) -> tuple[Tensor, Tensor]:
    squared = _dot_xyz(v, v)
    nonzero = squared > 0
    safe_squared = torch.where(nonzero, squared, torch.ones_like(squared))
    safe_magnitude = torch.sqrt(safe_squared)
    magnitude = torch.where(nonzero, safe_magnitude, torch.zeros_like(squared))
    unit = torch.where(nonzero[..., None], v / safe_magnitude[..., None], torch.zeros_like(v))
    return unit, magnitude


def _inverse_or_zero(mag: Tensor) -> Tensor:
    nonzero = mag > 0
    return torch.where(nonzero, 1.0 / torch.where(nonzero, mag, 1.0), 0.0)


class _Unitize(torch.autograd.Function):
    """``v / |v|`` and ``|v|`` with a direct backward (zero gradient at the zero vector).

    The backward is ``(g_u - u (u . g_u)) / |v| + g_m u``: a handful of operations, where
    autograd of the guarded elementwise form records and replays a dozen.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(v: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        return _unitize_value(v)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # type: ignore[override]
        unit, mag = output
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(unit, mag)
        ctx.save_for_forward(unit, mag)

    @staticmethod
    def backward(ctx, g_unit: Tensor | None, g_mag: Tensor | None) -> Tensor | None:  # type: ignore[override]
        unit, mag = ctx.saved_tensors
        g_v = None
        if g_unit is not None:
            along = _dot_xyz(unit, g_unit)[..., None]
            g_v = (g_unit - unit * along) * _inverse_or_zero(mag)[..., None]
        if g_mag is not None:
            term = g_mag[..., None] * unit
            g_v = term if g_v is None else g_v + term
        return g_v

    @staticmethod
    def jvp(ctx, v_t: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        unit, mag = ctx.saved_tensors
        along = _dot_xyz(unit, v_t)
        unit_t = (v_t - unit * along[..., None]) * _inverse_or_zero(mag)[..., None]
        return unit_t, along


def unitize(v: Tensor) -> tuple[Tensor, Tensor]:
    """Unit vector and magnitude; a zero vector gives a zero vector, with finite gradients.

    Args:
        v: ``(..., 3)`` vectors.

    Returns:
        ``(unit, magnitude)``: ``(..., 3)`` unit vectors (zero where the magnitude is zero) and
        ``(...)`` magnitudes, in the unit of ``v``.
    """
    if tracks_gradient(v):
        return _Unitize.apply(v)  # type: ignore[no-any-return]
    return _unitize_value(v)


def rotate_xyz(v: Tensor, angles: Tensor) -> Tensor:
    """Rotate about lab x, then y, then z (right-handed), as the C program's ``rotate``.

    Args:
        v: ``(..., 3)`` vectors.
        angles: ``(..., 3)`` rotation angles about x, y, z (rad), broadcast against ``v``.

    Returns:
        ``(..., 3)`` rotated vectors.
    """
    x, y, z = v[..., 0], v[..., 1], v[..., 2]
    cx, sx = torch.cos(angles[..., 0]), torch.sin(angles[..., 0])
    cy, sy = torch.cos(angles[..., 1]), torch.sin(angles[..., 1])
    cz, sz = torch.cos(angles[..., 2]), torch.sin(angles[..., 2])
    y, z = y * cx + z * (-sx), y * sx + z * cx
    x, z = x * cy + z * sy, x * (-sy) + z * cy
    x, y = x * cz + y * (-sz), x * sz + y * cz
    x, y, z = torch.broadcast_tensors(x, y, z)
    return torch.stack((x, y, z), dim=-1)


def rotation_matrix_xyz(angles: Tensor) -> Tensor:
    """The matrix of :func:`rotate_xyz`: ``rotate_xyz(v, a) == R(a) @ v``.

    Args:
        angles: ``(..., 3)`` rotation angles about x, y, z (rad).

    Returns:
        ``(..., 3, 3)`` rotation matrices.
    """
    eye = torch.eye(3, dtype=angles.dtype, device=angles.device)
    eye = eye.expand(*angles.shape[:-1], 3, 3)
    # Columns of R are the images of the basis vectors.
    cols = rotate_xyz(eye.transpose(-1, -2), angles[..., None, :])
    return cols.transpose(-1, -2)


def rotate_axis(v: Tensor, axis: Tensor, phi: Tensor) -> Tensor:
    """Rotate ``v`` by ``phi`` about the unit vector ``axis`` (right-handed), as ``rotate_axis``.

    Args:
        v: ``(..., 3)`` vectors.
        axis: ``(..., 3)`` unit axes, broadcast against ``v``.
        phi: ``(...)`` angles (rad), broadcast against ``v[..., 0]``.

    Returns:
        ``(..., 3)`` rotated vectors.
    """
    sinphi = torch.sin(phi)[..., None]
    cosphi = torch.cos(phi)[..., None]
    along = dot(axis, v)[..., None] * (1.0 - cosphi)
    return axis * along + v * cosphi + cross(axis, v) * sinphi


def rotate_about_axis(v: Sequence[float], axis: Sequence[float], phi: float) -> list[float]:
    """:func:`rotate_axis` on plain floats: rotate ``v`` by ``phi`` about the unit ``axis``.

    The same operations in the same order as :func:`rotate_axis`, with libm ``sin`` and ``cos``
    (as the C program), so its result is the C ``rotate_axis`` bit for bit.

    Args:
        v: The 3 components of a vector (any unit).
        axis: The 3 components of a unit axis.
        phi: Angle (rad), right-handed about ``axis``.

    Returns:
        The 3 components of the rotated vector, in the unit of ``v``.
    """
    sinphi, cosphi = math.sin(phi), math.cos(phi)
    along = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - cosphi)
    across = (
        axis[1] * v[2] - axis[2] * v[1],
        axis[2] * v[0] - axis[0] * v[2],
        axis[0] * v[1] - axis[1] * v[0],
    )
    return [axis[i] * along + v[i] * cosphi + across[i] * sinphi for i in range(3)]


def axis_angle_matrix(axes: Tensor, cos_angle: Tensor, sin_angle: Tensor) -> Tensor:
    """Rotation matrices about unit axes, term for term as the C ``mosaic_rotation_umat``.

    The cosine and sine are inputs so that a caller can take them from torch (differentiable)
    or from libm (the C program's values, bit for bit).

    Args:
        axes: ``(n, 3)`` unit rotation axes.
        cos_angle: ``(n,)`` cosines of the rotation angles.
        sin_angle: ``(n,)`` sines of the rotation angles (right-handed about the axis).

    Returns:
        ``(n, 3, 3)`` matrices ``U`` with ``new = U @ old``; row i is the C ``umat[3i:3i+3]``.
    """
    v1, v2, v3 = axes[:, 0], axes[:, 1], axes[:, 2]
    t1 = cos_angle
    t2 = 1.0 - t1
    t8 = sin_angle
    t6 = t2 * v1
    t7 = t6 * v2
    t9 = t8 * v3
    t11 = t6 * v3
    t12 = t8 * v2
    t19 = t2 * v2 * v3
    t20 = t8 * v1
    rows = (
        torch.stack((t1 + t2 * (v1 * v1), t7 - t9, t11 + t12), dim=-1),
        torch.stack((t7 + t9, t1 + t2 * (v2 * v2), t19 - t20), dim=-1),
        torch.stack((t11 - t12, t19 + t20, t1 + t2 * (v3 * v3)), dim=-1),
    )
    return torch.stack(rows, dim=-2)
