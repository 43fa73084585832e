"""Detector orientation and origin: conventions, pivots, rotations and two-theta."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.geometry.rotations import dot, rotate_axis, rotate_xyz
from nb_core.params import Params, Static
from nb_core.units import DBL_MIN

__all__ = ["DetectorFrame", "beam_and_close_positions", "detector_frame"]


@dataclass(frozen=True)
class DetectorFrame:
    """The detector after rotations, and the beam-centre values the C program reports.

    Attributes:
        fdet: ``(3,)`` fast-axis unit vector.
        sdet: ``(3,)`` slow-axis unit vector.
        odet: ``(3,)`` detector normal.
        pix0: ``(3,)`` vector from the sample to the corner of the first pixel (m).
        distance: ``()`` sample to detector along the beam (m).
        close_distance: ``()`` sample to detector plane along its normal (m).
        fbeam: ``()`` fast coordinate of the direct-beam spot (m).
        sbeam: ``()`` slow coordinate of the direct-beam spot (m).
        fclose: ``()`` fast coordinate of the near point (m).
        sclose: ``()`` slow coordinate of the near point (m).
        orgx: ``()`` XDS ORGX (pixels).
        orgy: ``()`` XDS ORGY (pixels).
        dials_origin: ``(3,)`` DIALS origin (mm).
        ratio: ``()`` cosine between the beam and the rotated normal before two-theta.
    """

    fdet: Tensor
    sdet: Tensor
    odet: Tensor
    pix0: Tensor
    distance: Tensor
    close_distance: Tensor
    fbeam: Tensor
    sbeam: Tensor
    fclose: Tensor
    sclose: Tensor
    orgx: Tensor
    orgy: Tensor
    dials_origin: Tensor
    ratio: Tensor


def beam_and_close_positions(
    params: Params, static: Static
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Map Xbeam/Ybeam onto the detector's fast/slow axes for the convention.

    Args:
        params: Parameters (uses beam_center, close_center, pixel_size, detsize).
        static: Static options (uses convention).

    Returns:
        ``(Fbeam, Sbeam, Fclose, Sclose)`` in m, before any rotation.
    """
    xbeam, ybeam = params.beam_center[0], params.beam_center[1]
    px = params.pixel_size
    conv = static.convention
    if conv == "adxv":
        fbeam, sbeam = xbeam, params.detsize[1] - ybeam
    elif conv == "mosflm":
        fbeam, sbeam = ybeam + 0.5 * px, xbeam + 0.5 * px
    elif conv == "denzo":
        fbeam, sbeam = ybeam + 0.0 * px, xbeam + 0.0 * px
    else:  # xds, dials, custom
        fbeam, sbeam = xbeam, ybeam
    if conv == "custom":
        fclose, sclose = xbeam, ybeam
    else:
        fclose, sclose = params.close_center[0], params.close_center[1]
    return fbeam, sbeam, fclose, sclose


def detector_frame(params: Params, static: Static) -> DetectorFrame:
    """Orient and place the detector as the C program does.

    Rotations apply about lab x, then y, then z, then two-theta about its axis. The BEAM pivot
    keeps the direct-beam spot at (Fbeam, Sbeam); the SAMPLE pivot keeps the near point at
    (Fclose, Sclose) before rotation and swings it with the detector.

    Args:
        params: Parameters.
        static: Static options (convention, pivot, close_distance_given, quirks).

    Returns:
        The rotated frame and the derived beam-centre values.
    """
    rot = params.detector_rotation
    axis = params.twotheta_axis
    tt = params.twotheta
    beam = params.beam
    fdet0, sdet0, odet0 = params.fdet, params.sdet, params.odet

    fbeam, sbeam, fclose, sclose = beam_and_close_positions(params, static)

    ratio = dot(beam, rotate_xyz(odet0, rot))
    ratio = torch.where(ratio == 0.0, torch.full_like(ratio, DBL_MIN), ratio)
    if static.close_distance_given:
        close_distance = params.close_distance
    else:
        close_distance = torch.abs(ratio * params.distance)
    distance = close_distance / ratio

    if static.pivot == "sample":
        pix0 = -fclose * fdet0 - sclose * sdet0 + close_distance * odet0
        pix0 = rotate_axis(rotate_xyz(pix0, rot), axis, tt)

    fdet = rotate_axis(rotate_xyz(fdet0, rot), axis, tt)
    sdet = rotate_axis(rotate_xyz(sdet0, rot), axis, tt)
    odet = rotate_axis(rotate_xyz(odet0, rot), axis, tt)

    if static.pivot == "beam":
        pix0 = -fbeam * fdet - sbeam * sdet + distance * beam
    if static.pix0_given and not static.quirks.pix0:
        pix0 = params.pix0

    fclose = -dot(pix0, fdet)
    sclose = -dot(pix0, sdet)
    close_distance = dot(pix0, odet)
    spot = close_distance / ratio * beam - pix0
    fbeam = dot(fdet, spot)
    sbeam = dot(sdet, spot)
    distance = close_distance / ratio

    px = params.pixel_size
    orgx = fclose / px + 0.5
    orgy = sclose / px + 0.5
    axes = torch.tensor(
        [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]], dtype=pix0.dtype, device=pix0.device
    )
    dials_origin = 1000.0 * dot(pix0[None, :], axes)
    return DetectorFrame(
        fdet=fdet,
        sdet=sdet,
        odet=odet,
        pix0=pix0,
        distance=distance,
        close_distance=close_distance,
        fbeam=fbeam,
        sbeam=sbeam,
        fclose=fclose,
        sclose=sclose,
        orgx=orgx,
        orgy=orgy,
        dials_origin=dials_origin,
        ratio=ratio,
    )
