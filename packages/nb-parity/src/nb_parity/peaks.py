"""Bragg peaks: find them in an image and match them between two images.

A peak is a pixel that is the largest in its 3 x 3 neighbourhood and lies above a threshold,
``max(5 * robust noise, 1e-3 * max)`` of the reference image by default. Matching pairs each
peak with the nearest local maximum of the other image within a radius (1 pixel by default).

To keep a spot that sits right at the threshold from counting as "missing" in the other image
because of a last-digit difference, a peak's partner may be any local maximum that rises above
the background (the median) by half as much as the threshold does (hysteresis): the peaks
counted are those above the threshold; their partners need only be clearly part of a spot.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "PeakMatch",
    "find_peaks",
    "local_maxima",
    "match_peaks",
    "peak_threshold",
    "robust_noise",
]

#: Noise multiples above the background that a peak must reach.
NOISE_SIGMAS = 5.0
#: Fraction of the image maximum that a peak must reach.
FRACTION_OF_MAX = 1e-3
#: Partners need rise above the background by this fraction of what the threshold does.
PARTNER_FRACTION = 0.5


def robust_noise(image: np.ndarray) -> float:
    """Robust standard deviation of an image: 1.4826 x the median absolute deviation.

    Args:
        image: ``(S, F)`` image (photons).

    Returns:
        The noise level (same unit as the image); 0 for an image that is mostly constant.
    """
    values = np.asarray(image, dtype=np.float64).reshape(-1)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0
    median = float(np.median(values))
    return 1.4826 * float(np.median(np.abs(values - median)))


def peak_threshold(
    image: np.ndarray,
    *,
    noise_sigmas: float = NOISE_SIGMAS,
    fraction_of_max: float = FRACTION_OF_MAX,
) -> float:
    """The level a peak must exceed: ``max(noise_sigmas * noise, fraction_of_max * max)``.

    Args:
        image: ``(S, F)`` image (photons).
        noise_sigmas: Multiple of :func:`robust_noise` above the median.
        fraction_of_max: Fraction of the image maximum.

    Returns:
        The threshold (photons); the noise term is measured above the median.
    """
    values = np.asarray(image, dtype=np.float64)
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.inf
    top = float(finite.max())
    median = float(np.median(finite))
    return max(median + noise_sigmas * robust_noise(finite), fraction_of_max * top)


def local_maxima(image: np.ndarray, threshold: float) -> np.ndarray:
    """Pixels above ``threshold`` that are >= each of their (up to) 8 neighbours.

    Args:
        image: ``(S, F)`` image.
        threshold: Strict lower bound on a maximum's value.

    Returns:
        ``(N, 2)`` int64 (slow, fast) indices, in raster order. Plateaus give every pixel of
        the plateau.
    """
    values = np.asarray(image, dtype=np.float64)
    if values.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {values.shape}")
    padded = np.pad(values, 1, mode="constant", constant_values=-np.inf)
    keep = values > threshold
    rows, cols = values.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == 0 and dx == 0:
                continue
            keep &= values >= padded[1 + dy : 1 + dy + rows, 1 + dx : 1 + dx + cols]
    return np.argwhere(keep).astype(np.int64)


def find_peaks(image: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Bragg peaks of an image.

    Args:
        image: ``(S, F)`` image (photons).
        threshold: Level a peak must exceed (default :func:`peak_threshold` of ``image``).

    Returns:
        ``(N, 2)`` int64 (slow, fast) indices.
    """
    level = peak_threshold(image) if threshold is None else threshold
    return local_maxima(image, level)


@dataclass(frozen=True)
class PeakMatch:
    """How the peaks of two images pair up.

    Attributes:
        threshold: Level the peaks exceed (photons, from the reference image).
        radius: Largest distance of a match (pixels).
        n_test: Peaks in the image under test.
        n_ref: Peaks in the reference image.
        matched: Reference peaks with a partner in the test image.
        matched_test: Test peaks with a partner in the reference image.
        mean_distance: Mean distance of the reference peaks' matches (pixels; 0 when none).
        max_distance: Largest such distance (pixels).
        unmatched_ref: Up to 20 reference peaks without a partner, as (slow, fast).
        unmatched_test: Up to 20 test peaks without a partner, as (slow, fast).
    """

    threshold: float
    radius: float
    n_test: int
    n_ref: int
    matched: int
    matched_test: int
    mean_distance: float
    max_distance: float
    unmatched_ref: list[tuple[int, int]]
    unmatched_test: list[tuple[int, int]]

    @property
    def all_matched(self) -> bool:
        """Whether every peak of each image has a partner in the other."""
        return self.matched == self.n_ref and self.matched_test == self.n_test

    def as_dict(self) -> dict[str, object]:
        """Plain dict (for JSON)."""
        out = asdict(self)
        out["all_matched"] = self.all_matched
        out["unmatched_ref"] = [list(p) for p in self.unmatched_ref]
        out["unmatched_test"] = [list(p) for p in self.unmatched_test]
        return out


def _offsets(radius: float) -> list[tuple[int, int, float]]:
    """Integer offsets within ``radius``, nearest first."""
    r = math.floor(radius)
    out = [
        (dy, dx, math.hypot(dy, dx))
        for dy in range(-r, r + 1)
        for dx in range(-r, r + 1)
        if math.hypot(dy, dx) <= radius + 1e-12
    ]
    return sorted(out, key=lambda t: (t[2], t[0], t[1]))


def _nearest(
    peaks: np.ndarray, partners: np.ndarray, shape: tuple[int, int], radius: float
) -> np.ndarray:
    """Distance from each peak to its nearest partner within ``radius`` (inf where none)."""
    occupied = np.zeros(shape, dtype=bool)
    if partners.size:
        occupied[partners[:, 0], partners[:, 1]] = True
    best = np.full(len(peaks), np.inf)
    if not len(peaks):
        return best
    for dy, dx, dist in _offsets(radius):
        y = peaks[:, 0] + dy
        x = peaks[:, 1] + dx
        inside = (y >= 0) & (y < shape[0]) & (x >= 0) & (x < shape[1])
        hit = np.zeros(len(peaks), dtype=bool)
        hit[inside] = occupied[y[inside], x[inside]]
        best = np.where(hit & np.isinf(best), dist, best)
    return best


def match_peaks(
    test: np.ndarray,
    ref: np.ndarray,
    *,
    radius: float = 1.0,
    threshold: float | None = None,
) -> PeakMatch:
    """Find the peaks of two images and pair them up.

    Args:
        test: ``(S, F)`` image under test.
        ref: ``(S, F)`` reference image.
        radius: Largest distance of a match (pixels, Euclidean).
        threshold: Peak level (default :func:`peak_threshold` of ``ref``), used for both.

    Returns:
        Counts and distances.

    Raises:
        ValueError: The images differ in shape.
    """
    a = np.asarray(test, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    level = peak_threshold(b) if threshold is None else threshold
    finite = b[np.isfinite(b)]
    background = min(float(np.median(finite)), level) if finite.size else 0.0
    partner_level = background + PARTNER_FRACTION * (level - background)
    shape = (int(b.shape[0]), int(b.shape[1]))
    peaks_a, peaks_b = local_maxima(a, level), local_maxima(b, level)
    partners_a = local_maxima(a, partner_level)
    partners_b = local_maxima(b, partner_level)
    dist_b = _nearest(peaks_b, partners_a, shape, radius)
    dist_a = _nearest(peaks_a, partners_b, shape, radius)
    found_b = np.isfinite(dist_b)
    found_a = np.isfinite(dist_a)
    matched = int(found_b.sum())
    return PeakMatch(
        threshold=float(level),
        radius=float(radius),
        n_test=len(peaks_a),
        n_ref=len(peaks_b),
        matched=matched,
        matched_test=int(found_a.sum()),
        mean_distance=float(dist_b[found_b].mean()) if matched else 0.0,
        max_distance=float(dist_b[found_b].max()) if matched else 0.0,
        unmatched_ref=[(int(y), int(x)) for y, x in peaks_b[~found_b][:20]],
        unmatched_test=[(int(y), int(x)) for y, x in peaks_a[~found_a][:20]],
    )
