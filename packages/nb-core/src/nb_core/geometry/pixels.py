"""Sub-pixel positions, solid angles and sensor capture fractions."""

from __future__ import annotations

import torch
from torch import Tensor

from nb_core.geometry.detector import DetectorFrame
from nb_core.geometry.rotations import dot, rotate_axis
from nb_core.params import Params, Static

__all__ = ["capture_fractions", "solid_angles", "subpixel_positions"]


def subpixel_positions(
    pixel_index: Tensor,
    params: Params,
    static: Static,
    frame: DetectorFrame,
    *,
    first_only: bool = False,
) -> Tensor:
    """Lab-frame position of every sub-pixel of every sensor layer.

    Sub-pixels are ordered slow-major (sub-slow, then sub-fast), as the C program loops.

    Args:
        pixel_index: ``(P,)`` flat pixel indices (slow * fpixels + fast).
        params: Parameters (pixel_size, detector_thickstep).
        static: Static options (fpixels, oversample, layers, curved_detector).
        frame: The rotated detector.
        first_only: Only the first sub-pixel of the first layer (where the C program takes
            the per-pixel factors).

    Returns:
        ``(P, L, oversample^2, 3)`` positions (m) relative to the sample; ``(P, 1, 1, 3)``
        with ``first_only``.
    """
    dtype = params.dtype
    o = static.oversample
    n_sub = 1 if first_only else o
    layers = 1 if first_only else static.layers
    fpix = (pixel_index % static.fpixels).to(dtype)
    spix = torch.div(pixel_index, static.fpixels, rounding_mode="floor").to(dtype)
    sub = torch.arange(n_sub, dtype=dtype, device=params.device)
    size = params.pixel_size / o
    fdet = size * (fpix[:, None] * o + sub[None, :]) + size / 2.0  # (P, oF)
    sdet = size * (spix[:, None] * o + sub[None, :]) + size / 2.0  # (P, oS)
    odet = torch.arange(layers, dtype=dtype, device=params.device) * params.detector_thickstep
    f_part = fdet[:, None, None, :, None] * frame.fdet  # (P, 1, 1, oF, 3)
    s_part = sdet[:, None, :, None, None] * frame.sdet  # (P, 1, oS, 1, 3)
    o_part = odet[None, :, None, None, None] * frame.odet  # (1, L, 1, 1, 3)
    pos = f_part + s_part + o_part + frame.pix0
    pos = pos.reshape(pixel_index.shape[0], layers, n_sub * n_sub, 3)
    if static.curved_detector:
        # The flat position's y and z components are used as angles (rad * distance).
        flat_y, flat_z = pos[..., 1], pos[..., 2]
        start = (frame.distance * params.beam).expand_as(pos)
        pos = rotate_axis(start, frame.sdet, flat_y / frame.distance)
        pos = rotate_axis(pos, frame.fdet, flat_z / frame.distance)
    return pos


def solid_angles(airpath: Tensor, params: Params, static: Static, frame: DetectorFrame) -> Tensor:
    """Solid angle of a pixel seen from the sample (sr), the C program's ``omega_pixel``.

    Args:
        airpath: ``(...)`` sample to sub-pixel distance (m).
        params: Parameters (pixel_size).
        static: Static options (point_pixel).
        frame: The detector (close_distance).

    Returns:
        ``(...)`` solid angles (sr); ``1/R^2`` with ``point_pixel``.
    """
    if static.point_pixel:
        return 1.0 / airpath / airpath
    px = params.pixel_size
    return px * px / airpath / airpath * frame.close_distance / airpath


def capture_fractions(
    diffracted: Tensor, params: Params, static: Static, frame: DetectorFrame
) -> Tensor:
    """Fraction of photons absorbed in each sensor layer.

    Args:
        diffracted: ``(P, L, ...)`` unit diffracted directions, layer on axis 1.
        params: Parameters (detector_thickstep, detector_mu).
        static: Static options (layers, has_thickness).
        frame: The detector (odet).

    Returns:
        ``(P, L, ...)`` capture fractions; 1 when thickness is not modelled, unless
        ``-oversample_thick`` asks for them anyway (the C program then computes them for a
        zero-thickness layer: 0).
    """
    if not static.has_thickness and not static.oversample_thick:
        return torch.ones_like(diffracted[..., 0])
    parallax = dot(diffracted, frame.odet)
    shape = [1] * parallax.dim()
    shape[1] = static.layers
    tic = torch.arange(static.layers, dtype=parallax.dtype, device=parallax.device).reshape(shape)
    step, mu = params.detector_thickstep, params.detector_mu
    return torch.exp(-tic * step * mu / parallax) - torch.exp(-(tic + 1) * step * mu / parallax)
