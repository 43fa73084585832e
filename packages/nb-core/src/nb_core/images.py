"""From the float image to the C program's products: statistics, SMV counts, PGM bytes.

These work on the float32 image exactly as the C program stores it (``floatimage``), with its
rounding and clipping rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ImageStats",
    "image_statistics",
    "int_image",
    "intfile_scale",
    "pgm_image",
    "pgm_scale",
    "roi_mask",
]


@dataclass(frozen=True)
class ImageStats:
    """The statistics the C program prints after rendering.

    Attributes:
        max_I: Largest pixel value (photons), 0 if none is positive.
        max_x: Fast position of that pixel's last sub-pixel (m).
        max_y: Slow position of that pixel's last sub-pixel (m).
        mean: Mean over rendered pixels (ROI, unmasked).
        rms: Root mean square over rendered pixels (n - 1 normalisation).
        rmsd: Standard deviation about the mean over every ROI pixel (masked ones included).
        count: Rendered pixels.
    """

    max_I: float
    max_x: float
    max_y: float
    mean: float
    rms: float
    rmsd: float
    count: int


def roi_mask(shape: tuple[int, int], roi: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels inside an inclusive ROI ``(xmin, xmax, ymin, ymax)``: ``(S, F)`` bool."""
    spixels, fpixels = shape
    xmin, xmax, ymin, ymax = roi
    fast = np.arange(fpixels)
    slow = np.arange(spixels)
    return ((slow >= ymin) & (slow <= ymax))[:, None] & ((fast >= xmin) & (fast <= xmax))[None, :]


def image_statistics(
    image: np.ndarray,
    roi: tuple[int, int, int, int],
    mask: np.ndarray | None,
    pixel_size: float,
    oversample: int,
) -> ImageStats:
    """Statistics of a float image as the C program computes them.

    Args:
        image: ``(S, F)`` float32 image (photons).
        roi: Inclusive ``(xmin, xmax, ymin, ymax)``.
        mask: ``(S, F)`` bool, True where rendered; None for all.
        pixel_size: Pixel size (m), for the location of the maximum.
        oversample: Sub-pixels per edge, for the location of the maximum.

    Returns:
        The statistics.
    """
    # Non-finite or huge pixels must not print numpy's RuntimeWarnings (the caller reports them).
    with np.errstate(all="ignore"):
        img = np.asarray(image, dtype=np.float32)
        inside = roi_mask(img.shape, roi)
        rendered = inside if mask is None else inside & np.asarray(mask, dtype=bool)
        values = img[rendered].astype(np.float64)
        count = int(values.size)
        max_I, max_x, max_y = 0.0, 0.0, 0.0
        if count and float(values.max()) > 0.0:
            flat = np.where(rendered.reshape(-1), img.reshape(-1).astype(np.float64), -np.inf)
            index = int(np.argmax(flat))
            max_I = float(flat[index])
            slow, fast = divmod(index, img.shape[1])
            sub = pixel_size / oversample
            max_x = sub * (fast * oversample + oversample - 1) + sub / 2.0
            max_y = sub * (slow * oversample + oversample - 1) + sub / 2.0
        n = count if count > 0 else 1
        mean = float(values.sum()) / n
        n = count if count > 1 else 2
        rms = math.sqrt(float((values * values).sum()) / (n - 1))
        every = img[inside].astype(np.float64)
        m = every.size if every.size > 1 else 2
        rmsd = math.sqrt(float(((every - mean) ** 2).sum()) / (m - 1))
    return ImageStats(max_I, max_x, max_y, mean, rms, rmsd, count)


def intfile_scale(max_I: float, requested: float = 0.0) -> float:
    """Scale of the SMV integer image: ``requested`` if positive, else 55000 / max_I (or 1)."""
    if requested > 0.0:
        return requested
    return 55000.0 / max_I if max_I > 0.0 else 1.0


def int_image(
    image: np.ndarray, scale: float, adc_offset: float, roi: tuple[int, int, int, int]
) -> np.ndarray:
    """The C program's noiseless SMV pixels: ``floorf(clip(v * scale + adc, 0, 65535) + 0.5)``.

    Args:
        image: ``(S, F)`` float32 image (photons).
        scale: Counts per photon.
        adc_offset: Offset added to every pixel (counts).
        roi: Inclusive ROI; pixels outside are 0.

    Returns:
        ``(S, F)`` uint16 counts.
    """
    with np.errstate(all="ignore"):  # a huge -scale overflows to inf, which clips to 65535
        test = np.asarray(image, dtype=np.float32).astype(np.float64) * scale + adc_offset
        test = np.clip(test, 0.0, 65535.0)
        counts = np.floor((test + 0.5).astype(np.float32)).astype(np.uint16)
    return np.where(roi_mask(counts.shape, roi), counts, 0).astype(np.uint16)


def pgm_scale(stats: ImageStats, int_scale: float, requested: float = 0.0) -> float:
    """Scale of the PGM picture: ``requested`` if positive, else 250 / (5 rmsd) (or the int scale)."""
    if requested > 0.0:
        return requested
    return 250.0 / (5.0 * stats.rmsd) if stats.rmsd > 0.0 else int_scale


def pgm_image(image: np.ndarray, scale: float, roi: tuple[int, int, int, int]) -> np.ndarray:
    """The C program's PGM bytes: ``(unsigned char) min(v * scale, 255)``; 0 outside the ROI.

    Args:
        image: ``(S, F)`` float32 image (photons).
        scale: Grey levels per photon.
        roi: Inclusive ROI.

    Returns:
        ``(S, F)`` uint8 grey levels.
    """
    with np.errstate(all="ignore"):  # a huge -pgmscale overflows to inf, which clips to 255
        test = np.asarray(image, dtype=np.float32).astype(np.float64) * scale
        test = np.minimum(test, 255.0)
        grey = np.trunc(np.maximum(test, 0.0)).astype(np.uint8)
    return np.where(roi_mask(grey.shape, roi), grey, 0).astype(np.uint8)
