"""Image agreement metrics used by golden replay, the compare tool and live parity."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["ImageMetrics", "image_metrics"]


@dataclass(frozen=True)
class ImageMetrics:
    """How closely a test image matches a reference image.

    Attributes:
        rel_l2: ``||test - ref|| / ||ref||`` (0 when both are zero, inf when only ref is).
        max_abs: ``max |test - ref|``.
        max_rel: ``max |test - ref| / max |ref|`` (the golden tolerance's form).
        rmse: Root mean square difference.
        correlation: Pearson correlation (1 when both are constant and equal).
        sum_ratio: ``sum(test) / sum(ref)``.
        ref_max: ``max |ref|``.
    """

    rel_l2: float
    max_abs: float
    max_rel: float
    rmse: float
    correlation: float
    sum_ratio: float
    ref_max: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict (for JSON)."""
        return asdict(self)


def image_metrics(test: np.ndarray, ref: np.ndarray) -> ImageMetrics:
    """Compare two images of the same shape.

    Args:
        test: Image under test.
        ref: Reference image.

    Returns:
        The metrics.
    """
    a = np.asarray(test, dtype=np.float64).reshape(-1)
    b = np.asarray(ref, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    diff = a - b
    norm_ref = float(np.linalg.norm(b))
    norm_diff = float(np.linalg.norm(diff))
    if norm_ref > 0:
        rel_l2 = norm_diff / norm_ref
    else:
        rel_l2 = 0.0 if norm_diff == 0 else math.inf
    max_abs = float(np.abs(diff).max()) if diff.size else 0.0
    ref_max = float(np.abs(b).max()) if b.size else 0.0
    if ref_max > 0:
        max_rel = max_abs / ref_max
    else:
        max_rel = 0.0 if max_abs == 0 else math.inf
    rmse = float(np.sqrt(np.mean(diff * diff))) if diff.size else 0.0
    sa, sb = float(a.std()), float(b.std())
    if sa > 0 and sb > 0:
        correlation = float(np.corrcoef(a, b)[0, 1])
    else:
        correlation = 1.0 if max_abs == 0 else 0.0
    total = float(b.sum())
    sum_ratio = float(a.sum()) / total if total != 0 else (1.0 if float(a.sum()) == 0 else math.inf)
    return ImageMetrics(rel_l2, max_abs, max_rel, rmse, correlation, sum_ratio, ref_max)
