"""The detector: pixel counts, beam centre and pivot per convention, axes, and its frame."""

from __future__ import annotations

import math

import numpy as np
import torch

from nb_core.errors import InputError
from nb_core.geometry.detector import detector_frame
from nb_core.params import Params, Static
from nb_core.resolve._conventions import Vec, convention_vectors, cross, unit
from nb_core.resolve._report import DetectorReport, FrameReport, Resolved, float64_tensor
from nb_core.settings import Pivot, Settings
from nb_core.units import RTD

__all__ = ["frame_report", "resolve_detector"]


def detector_pixels(settings: Settings) -> tuple[int, int, float, float, float]:
    """Pixel counts from ``-detpixels``, else from the detector size.

    Args:
        settings: The user's settings.

    Returns:
        ``(fpixels, spixels, detsize_f, detsize_s, pixel_size)``; sizes in m.

    Raises:
        InputError: The detector has no pixels.
    """
    pixel_size = settings.pixel_mm / 1000.0
    detsize_f = settings.detsize_mm[0] / 1000.0
    detsize_s = settings.detsize_mm[1] / 1000.0
    fpixels, spixels = settings.detpixels
    if fpixels:
        detsize_f = pixel_size * fpixels
    if spixels:
        detsize_s = pixel_size * spixels
    fpixels = math.ceil(detsize_f / pixel_size - 0.5)
    spixels = math.ceil(detsize_s / pixel_size - 0.5)
    if fpixels <= 0 or spixels <= 0:
        raise InputError(f"the detector has {fpixels} x {spixels} pixels", "-detpixels")
    return fpixels, spixels, detsize_f, detsize_s, pixel_size


def check_mask_size(
    mask: np.ndarray | None, fpixels: int, spixels: int, settings: Settings
) -> None:
    """Refuse a ``-mask`` image of another size than the detector.

    Args:
        mask: ``(spixels, fpixels)`` bool mask, or None.
        fpixels: Detector pixels along fast.
        spixels: Detector pixels along slow.
        settings: The user's settings (for the mask's name).

    Raises:
        InputError: The sizes differ.
    """
    if mask is not None and tuple(mask.shape) != (spixels, fpixels):
        raise InputError(
            f"the mask is {mask.shape[1]} x {mask.shape[0]} pixels but the "
            f"detector is {fpixels} x {spixels} (fast x slow); expected a mask of the "
            "detector's size (the mask sets it unless -detpixels follows)",
            settings.mask_file or "-mask",
        )


def close_point(
    settings: Settings, pixel_size: float, detsize_f: float, detsize_s: float
) -> tuple[float, float, float, float]:
    """The near point: from ``-ORGX/-ORGY``, ``-Xclose/-Yclose``, else the detector centre.

    Args:
        settings: The user's settings.
        pixel_size: Pixel edge (m).
        detsize_f: Detector size along fast (m).
        detsize_s: Detector size along slow (m).

    Returns:
        ``(fclose, sclose, xclose, yclose)`` (m).
    """
    nan = math.nan
    fclose = (settings.orgx - 0.5) * pixel_size if settings.orgx is not None else nan
    sclose = (settings.orgy - 0.5) * pixel_size if settings.orgy is not None else nan
    if math.isnan(fclose):
        fclose = (detsize_f - 0 * pixel_size) / 2.0
    if math.isnan(sclose):
        sclose = (detsize_s + 0 * pixel_size) / 2.0
    xclose = settings.xclose_mm / 1000.0 if settings.xclose_mm is not None else fclose
    yclose = settings.yclose_mm / 1000.0 if settings.yclose_mm is not None else sclose
    return fclose, sclose, xclose, yclose


def beam_centre_and_pivot(
    settings: Settings,
    pixel_size: float,
    detsize_f: float,
    detsize_s: float,
    close: tuple[float, float],
) -> tuple[float, float, Pivot]:
    """Xbeam, Ybeam: as given, else the convention's default; and the pivot it fixes.

    ADXV, MOSFLM and DENZO pivot about the beam spot (MOSFLM and DENZO swap fast and slow
    and shift by half a pixel); XDS and DIALS about the sample; CUSTOM keeps ``-pivot``.

    Args:
        settings: The user's settings.
        pixel_size: Pixel edge (m).
        detsize_f: Detector size along fast (m).
        detsize_s: Detector size along slow (m).
        close: ``(xclose, yclose)`` (m), the default of the other conventions.

    Returns:
        ``(xbeam, ybeam, pivot)``; lengths in m.
    """
    xbeam = settings.xbeam_mm / 1000.0 if settings.xbeam_mm is not None else math.nan
    ybeam = settings.ybeam_mm / 1000.0 if settings.ybeam_mm is not None else math.nan
    convention = settings.convention
    pivot = settings.pivot
    if convention == "adxv":
        xbeam = (detsize_f + pixel_size) / 2.0 if math.isnan(xbeam) else xbeam
        ybeam = (detsize_s - pixel_size) / 2.0 if math.isnan(ybeam) else ybeam
        pivot = "beam"
    elif convention in ("mosflm", "denzo"):
        xbeam = (detsize_s + pixel_size) / 2.0 if math.isnan(xbeam) else xbeam
        ybeam = (detsize_f + pixel_size) / 2.0 if math.isnan(ybeam) else ybeam
        pivot = "beam"
    else:
        xbeam = close[0] if math.isnan(xbeam) else xbeam
        ybeam = close[1] if math.isnan(ybeam) else ybeam
        if convention in ("xds", "dials"):
            pivot = "sample"
    return xbeam, ybeam, pivot


def region_of_interest(settings: Settings, fpixels: int, spixels: int) -> tuple[int, int, int, int]:
    """``-roi`` bounds, a negative bound replaced by the detector's edge.

    Returns:
        ``(xmin, xmax, ymin, ymax)`` inclusive pixel bounds.
    """
    whole = (0, fpixels, 0, spixels)
    if settings.roi is None:
        return whole
    xmin, xmax, ymin, ymax = (v if v >= 0 else d for v, d in zip(settings.roi, whole, strict=True))
    return xmin, xmax, ymin, ymax


def detector_axes(settings: Settings) -> tuple[Vec, Vec, Vec, tuple[str, ...]]:
    """The unit fast, slow and normal axes before rotations.

    A normal that is not of unit length is replaced by ``fdet × sdet`` (with a warning).

    Returns:
        ``(fdet, sdet, odet, notes)``: ``(3,)`` unit vectors and the C program's warning.
    """
    vectors = convention_vectors(settings)
    fdet, _ = unit(vectors["fdet"])
    sdet, _ = unit(vectors["sdet"])
    odet, odet_length = unit(vectors["odet"])
    notes: tuple[str, ...] = ()
    if odet_length != 1.0:
        notes = ("WARNING: auto-generating odet_vector",)
        odet, _ = unit(cross(fdet, sdet))
    return fdet, sdet, odet, notes


def resolve_detector(settings: Settings, mask: np.ndarray | None) -> Resolved[DetectorReport]:
    """The detector's pixels, size, beam centre, pivot, axes and rotations.

    Args:
        settings: The user's settings.
        mask: ``(spixels, fpixels)`` bool mask from ``-mask``, or None.

    Returns:
        Its parameters (lengths in m, angles in rad; the mask as a bool tensor), static
        options and report.

    Raises:
        InputError: No pixels, or a mask of another size.
    """
    s = settings
    fpixels, spixels, detsize_f, detsize_s, pixel_size = detector_pixels(s)
    check_mask_size(mask, fpixels, spixels, s)
    fclose, sclose, xclose, yclose = close_point(s, pixel_size, detsize_f, detsize_s)
    xbeam, ybeam, pivot = beam_centre_and_pivot(
        s, pixel_size, detsize_f, detsize_s, (xclose, yclose)
    )
    roi = region_of_interest(s, fpixels, spixels)
    fdet, sdet, odet, notes = detector_axes(s)
    close_mm = s.close_distance_mm
    params = dict(
        pixel_size=pixel_size,
        distance=s.distance_mm / 1000.0,
        close_distance=close_mm / 1000.0 if close_mm is not None else 0.0,
        beam_center=[xbeam, ybeam],
        close_center=[fclose, sclose],
        detsize=[detsize_f, detsize_s],
        detector_rotation=[x / RTD for x in s.detector_rot_deg],
        twotheta=s.twotheta_deg / RTD,
        fdet=fdet,
        sdet=sdet,
        odet=odet,
        twotheta_axis=convention_vectors(s)["twotheta"],
        pix0=list(s.pix0_vector) if s.pix0_vector is not None else [0.0, 0.0, 0.0],
    )
    tensors = {k: float64_tensor(v) for k, v in params.items()}
    mask_tensor = None if mask is None else torch.as_tensor(np.asarray(mask, dtype=bool))
    static = dict(
        fpixels=fpixels,
        spixels=spixels,
        convention=s.convention,
        pivot=pivot,
        close_distance_given=close_mm is not None,
        roi=roi,
        point_pixel=s.point_pixel,
        curved_detector=s.curved_detector,
        pix0_given=s.pix0_vector is not None,
    )
    report = DetectorReport(
        fpixels=fpixels,
        spixels=spixels,
        pixel_size=pixel_size,
        detsize=(detsize_f, detsize_s),
        xbeam=xbeam,
        ybeam=ybeam,
        xclose=xclose,
        yclose=yclose,
        twotheta=s.twotheta_deg / RTD,
        roi=roi,
        notes=notes,
    )
    return Resolved({**tensors, "mask": mask_tensor}, static, report)


def _vec3(tensor: torch.Tensor) -> tuple[float, float, float]:
    x, y, z = tensor.tolist()
    return float(x), float(y), float(z)


def frame_report(params: Params, static: Static) -> FrameReport:
    """The rotated detector and its beam-centre values, from float64 parameters.

    Args:
        params: The experiment's parameters before the cast to the render dtype.
        static: Its static options.

    Returns:
        The frame's values (see :class:`FrameReport`).
    """
    frame = detector_frame(params, static)
    beam64 = params.beam.double()
    xds_beam = [float(torch.dot(v, beam64)) for v in (frame.fdet, frame.sdet, frame.odet)]
    return FrameReport(
        fdet=_vec3(frame.fdet),
        sdet=_vec3(frame.sdet),
        odet=_vec3(frame.odet),
        pix0=_vec3(frame.pix0),
        distance=float(frame.distance),
        close_distance=float(frame.close_distance),
        fbeam=float(frame.fbeam),
        sbeam=float(frame.sbeam),
        fclose=float(frame.fclose),
        sclose=float(frame.sclose),
        orgx=float(frame.orgx),
        orgy=float(frame.orgy),
        dials_origin=_vec3(frame.dials_origin),
        xds_incident_beam=(xds_beam[0], xds_beam[1], xds_beam[2]),
    )
