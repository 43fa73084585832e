"""The render kernel: one pure function from (Params, Static) to an image.

- :func:`render` -- the image, chunk by chunk (:mod:`._image`);
- :func:`evaluate_pixels` -- one chunk with every intermediate (:mod:`._chunk`), built from the
  stages of :mod:`._stages` (geometry, cuts, polarization, Miller indices) and
  :mod:`._intensity` (structure factors, accumulation, pixel values);
- :func:`render_sparse` -- chosen pixels only, at a cost that scales with them
  (:mod:`._sparse`);
- :class:`RenderConstants` -- what a render computes once (:mod:`._constants`);
- :class:`RunState` -- the C program's state carried from chunk to chunk (:mod:`._state`);
- :func:`kernel_in_cache`, :func:`kernel_package`, :func:`compiled_chunk` -- the compiled
  kernels, from :mod:`nb_core.kernels` (loaded on first use).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from nb_core.render._chunk import (
    Evaluation,
    chunk_values,
    evaluate_pixels,
    lattice_factor_signed,
    render_pixels,
)
from nb_core.render._constants import RenderConstants, render_constants, water_background
from nb_core.render._image import (
    COMPILED_MAX_EVALUATIONS,
    DEFAULT_MAX_EVALUATIONS,
    ProgressFn,
    chunk_plan,
    padded_index,
    render,
    rendered_mask,
    rendered_pixels,
    solid_angle_total,
)
from nb_core.render._sparse import flat_pixel_indices, render_sparse, roi_bounds
from nb_core.render._state import RunState

if TYPE_CHECKING:
    from nb_core.kernels import compiled_chunk, kernel_in_cache, kernel_package

#: Names of :mod:`nb_core.kernels`, which imports this package: bound on first use.
_FROM_KERNELS = ("compiled_chunk", "kernel_in_cache", "kernel_package")


def __getattr__(name: str) -> Any:
    if name not in _FROM_KERNELS:
        raise AttributeError(f"module 'nb_core.render' has no attribute {name!r}")
    value = getattr(importlib.import_module("nb_core.kernels"), name)
    globals()[name] = value
    return value


__all__ = [
    "COMPILED_MAX_EVALUATIONS",
    "DEFAULT_MAX_EVALUATIONS",
    "Evaluation",
    "ProgressFn",
    "RenderConstants",
    "RunState",
    "chunk_plan",
    "chunk_values",
    "compiled_chunk",
    "evaluate_pixels",
    "flat_pixel_indices",
    "kernel_in_cache",
    "kernel_package",
    "lattice_factor_signed",
    "padded_index",
    "render",
    "render_constants",
    "render_pixels",
    "render_sparse",
    "rendered_mask",
    "rendered_pixels",
    "roi_bounds",
    "solid_angle_total",
    "water_background",
]
