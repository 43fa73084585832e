"""Sub-pixel positions, solid angles and sensor capture fractions."""

from __future__ import annotations

import torch
from torch import Tensor

from nb_core.autodiff import tracks_gradient
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
    fdet = size * (fpix[None, :] * o + sub[:, None]) + size / 2.0  # (oF, P)
    sdet = size * (spix[None, :] * o + sub[:, None]) + size / 2.0  # (oS, P)
    odet = torch.arange(layers, dtype=dtype, device=params.device) * params.detector_thickstep
    pos = _grid_positions(fdet, sdet, odet, frame.fdet, frame.sdet, frame.odet, frame.pix0)
    pos = pos.reshape(pixel_index.shape[0], layers, n_sub * n_sub, 3)
    if static.curved_detector:
        # The flat position's y and z components are used as angles (rad * distance).
        flat_y, flat_z = pos[..., 1], pos[..., 2]
        start = (frame.distance * params.beam).expand_as(pos)
        pos = rotate_axis(start, frame.sdet, flat_y / frame.distance)
        pos = rotate_axis(pos, frame.fdet, flat_z / frame.distance)
    return pos


def _grid_value(
    f: Tensor, s: Tensor, o: Tensor, fdet: Tensor, sdet: Tensor, odet: Tensor, pix0: Tensor
) -> Tensor:
    # Built as (3, L, oS, oF, P), pixels innermost, and returned as a (P, L, oS, oF, 3) view
    # of that storage: broadcasting then runs along the long pixel axis, every later
    # per-component read (x, y, z of a position) is contiguous, and elementwise operations
    # keep the layout.
    if torch.compiler.is_compiling():
        # The compiler fuses this into its loops; it vectorizes best over the plain layout.
        f_part = f.T[:, None, None, :, None] * fdet  # (P, 1, 1, oF, 3)
        s_part = s.T[:, None, :, None, None] * sdet  # (P, 1, oS, 1, 3)
        o_part = o[None, :, None, None, None] * odet  # (1, L, 1, 1, 3)
        return f_part + s_part + o_part + pix0
    f_part = fdet[:, None, None, None, None] * f[None, None, None, :, :]  # (3, 1, 1, oF, P)
    s_part = sdet[:, None, None, None, None] * s[None, None, :, None, :]  # (3, 1, oS, 1, P)
    o_part = odet[:, None, None, None, None] * o[None, :, None, None, None]  # (3, L, 1, 1, 1)
    grid = f_part + s_part + o_part + pix0[:, None, None, None, None]
    return grid.permute(4, 1, 2, 3, 0)


class _GridPositions(torch.autograd.Function):
    """``f fdet + s sdet + o odet + pix0`` on the (pixel, layer, sub-slow, sub-fast) grid.

    Autograd of the broadcast form reduces the gradient over middle axes (slow on CPU);
    here every reduction is one matrix-vector product over all sub-pixels.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(f, s, o, fdet, sdet, odet, pix0):  # type: ignore[override]
        return _grid_value(f, s, o, fdet, sdet, odet, pix0)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:  # type: ignore[override]
        ctx.save_for_backward(*inputs[:6])  # pix0 enters linearly with coefficient 1
        ctx.save_for_forward(*inputs[:6])

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        f, s, o, fdet, sdet, odet = ctx.saved_tensors
        need = ctx.needs_input_grad
        # Back to the (3, L, oS, oF, P) storage order of the forward (a view when the
        # gradient kept that layout): every reduction below runs along the pixel axis.
        g = grad.permute(4, 1, 2, 3, 0).contiguous()
        g_fp = g.sum(dim=(1, 2))  # (3, oF, P)
        g_sp = g.sum(dim=(1, 3))  # (3, oS, P)
        g_l = g.sum(dim=(2, 3, 4))  # (3, L)
        g_f = torch.einsum("k,kfp->fp", fdet, g_fp) if need[0] else None
        g_s = torch.einsum("k,ksp->sp", sdet, g_sp) if need[1] else None
        g_o = g_l.T.matmul(odet) if need[2] else None
        g_fdet = g_fp.reshape(3, -1).matmul(f.reshape(-1)) if need[3] else None
        g_sdet = g_sp.reshape(3, -1).matmul(s.reshape(-1)) if need[4] else None
        g_odet = g_l.matmul(o) if need[5] else None
        g_pix0 = g_l.sum(dim=1) if need[6] else None
        return g_f, g_s, g_o, g_fdet, g_sdet, g_odet, g_pix0

    @staticmethod
    def jvp(ctx, *tangents: Tensor | None) -> Tensor:  # type: ignore[override]
        f, s, o, fdet, sdet, odet = ctx.saved_tensors
        t_f, t_s, t_o, t_fdet, t_sdet, t_odet, t_pix0 = tangents
        zero_c = [torch.zeros_like(c) for c in (f, s, o)]
        zero_v = torch.zeros_like(fdet)
        out = _grid_value(
            t_f if t_f is not None else zero_c[0],
            t_s if t_s is not None else zero_c[1],
            t_o if t_o is not None else zero_c[2],
            fdet,
            sdet,
            odet,
            zero_v,
        )
        return out + _grid_value(
            f,
            s,
            o,
            t_fdet if t_fdet is not None else zero_v,
            t_sdet if t_sdet is not None else zero_v,
            t_odet if t_odet is not None else zero_v,
            t_pix0 if t_pix0 is not None else zero_v,
        )


def _grid_positions(
    f: Tensor, s: Tensor, o: Tensor, fdet: Tensor, sdet: Tensor, odet: Tensor, pix0: Tensor
) -> Tensor:
    """Positions on the sub-pixel grid (m).

    Args:
        f: ``(oF, P)`` fast coordinates (m).
        s: ``(oS, P)`` slow coordinates (m).
        o: ``(L,)`` layer depths (m).
        fdet: ``(3,)`` fast axis.
        sdet: ``(3,)`` slow axis.
        odet: ``(3,)`` detector normal.
        pix0: ``(3,)`` position of pixel (0, 0) (m).

    Returns:
        ``(P, L, oS, oF, 3)`` positions (m).
    """
    inputs = (f, s, o, fdet, sdet, odet, pix0)
    if tracks_gradient(*inputs):
        return _GridPositions.apply(*inputs)  # type: ignore[no-any-return]
    return _grid_value(*inputs)


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
