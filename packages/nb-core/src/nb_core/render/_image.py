"""The image of an experiment: its pixels split into chunks, each chunk rendered in turn.

Pixels are processed in chunks so that peak memory stays bounded for any detector; the C
program's run-wide state (:class:`~nb_core.render.RunState`) is carried from one chunk to the
next. The result matches the C program's float image, quirks included (see
:class:`nb_core.options.Quirks`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from nb_core.geometry.detector import detector_frame
from nb_core.geometry.pixels import solid_angles, subpixel_positions
from nb_core.geometry.rotations import unitize
from nb_core.params import Params, Static
from nb_core.render._chunk import chunk_values
from nb_core.render._constants import render_constants
from nb_core.render._state import RunState

__all__ = [
    "COMPILED_MAX_EVALUATIONS",
    "DEFAULT_MAX_EVALUATIONS",
    "ProgressFn",
    "chunk_plan",
    "chunk_size",
    "padded_index",
    "render",
    "rendered_mask",
    "rendered_pixels",
    "solid_angle_total",
]

#: Lattice evaluations held in memory at once (pixels x layers x sub-pixels x sources x phi x
#: domains); the chunk size follows from it.
DEFAULT_MAX_EVALUATIONS = 1 << 19
#: The same for the compiled kernel, which keeps no per-evaluation intermediates in memory:
#: larger chunks there mean fewer calls (measured fastest at 2M on the benchmark cases).
COMPILED_MAX_EVALUATIONS = 1 << 21

#: ``progress(pixels done, pixels total)``, called after each chunk.
ProgressFn = Callable[[int, int], None]


def rendered_mask(params: Params, static: Static) -> Tensor:
    """The pixels the C program renders: inside the ROI and unmasked.

    Args:
        params: Parameters (mask).
        static: Static options (roi, fpixels, spixels).

    Returns:
        ``(spixels, fpixels)`` bool.
    """
    xmin, xmax, ymin, ymax = static.roi
    device = params.device
    fast = torch.arange(static.fpixels, device=device)
    slow = torch.arange(static.spixels, device=device)
    keep = ((slow >= ymin) & (slow <= ymax))[:, None] & ((fast >= xmin) & (fast <= xmax))[None, :]
    if params.mask is not None:
        keep = keep & params.mask.to(device=device, dtype=torch.bool)
    return keep


def rendered_pixels(params: Params, static: Static) -> Tensor:
    """Flat indices of the pixels the C program renders: inside the ROI and unmasked.

    Args:
        params: Parameters (mask).
        static: Static options (roi, fpixels, spixels).

    Returns:
        ``(N,)`` int64 flat indices (slow * fpixels + fast), in raster order.
    """
    keep = rendered_mask(params, static)
    return torch.nonzero(keep.reshape(-1), as_tuple=False).reshape(-1)


def chunk_size(static: Static, max_evaluations: int) -> int:
    """Pixels per chunk for a budget of lattice evaluations (1/16 of it with interpolation)."""
    per_pixel = max(1, static.evaluations_per_pixel)
    budget = max_evaluations // 16 if (static.interpolate and static.has_hkl) else max_evaluations
    return max(1, budget // per_pixel)


def chunk_plan(
    params: Params, static: Static, max_evaluations: int | None, compile: bool
) -> tuple[Tensor, int]:
    """The pixels a render evaluates and its chunk size.

    Args:
        params: Parameters.
        static: Static options.
        max_evaluations: Lattice evaluations per chunk (None: the eager or compiled default).
        compile: Whether the chunks run through the compiled kernel.

    Returns:
        ``(pixels, chunk)``: ``(N,)`` flat indices and the pixels per chunk (at most N, >= 1).
    """
    pixels = rendered_pixels(params, static)
    total = int(pixels.shape[0])
    if max_evaluations is None:
        max_evaluations = COMPILED_MAX_EVALUATIONS if compile else DEFAULT_MAX_EVALUATIONS
    return pixels, min(chunk_size(static, max_evaluations), max(total, 1))


def padded_index(index: Tensor, chunk: int) -> Tensor:
    """A chunk's pixel indices padded with its last pixel (evaluated again, then dropped).

    Args:
        index: ``(P,)`` flat pixel indices, ``1 <= P``.
        chunk: The length every compiled call takes.

    Returns:
        ``(max(P, chunk),)`` indices, so that one compiled shape serves every chunk.
    """
    count = int(index.shape[0])
    if count >= chunk:
        return index
    return torch.cat((index, index[-1:].expand(chunk - count)))


def render(
    params: Params,
    static: Static,
    *,
    max_evaluations: int | None = None,
    progress: ProgressFn | None = None,
    compile: bool = False,
    kernel_cache: str | os.PathLike[str] | None = None,
    on_compile: Callable[[Path | None], None] | None = None,
) -> Tensor:
    """Render the float image of an experiment.

    Args:
        params: Parameters (dtype and device of the result come from them).
        static: Static options.
        max_evaluations: Lattice evaluations per chunk; bounds peak memory. Default
            ``DEFAULT_MAX_EVALUATIONS`` eagerly, ``COMPILED_MAX_EVALUATIONS`` compiled.
        progress: Called with (pixels done, pixels total) after each chunk.
        compile: Run each chunk through the ``torch.compile``d kernel (same image; much
            faster on large jobs once compiled; gradients flow through it). Every chunk is
            padded to the same shape so that one compilation serves them all.
        kernel_cache: With ``compile`` and no gradient to track: a folder of ahead-of-time
            compiled kernels (see :mod:`nb_core.kernels`), loaded instead of tracing the
            kernel with ``torch.compile`` in this process. None: ``torch.compile``.
        on_compile: With ``compile``: called before the kernel is compiled, with the package
            file an ahead-of-time build writes or None (``torch.compile``); not called when
            the kernel loads from ``kernel_cache`` (see :func:`nb_core.kernels.chunk_kernel`).

    Returns:
        ``(spixels, fpixels)`` image in photons per pixel; pixels outside the ROI or masked
        are 0.
    """
    constants = render_constants(params, static)
    pixels, chunk = chunk_plan(params, static, max_evaluations, compile)
    total = int(pixels.shape[0])
    state = RunState.run_start(params.device)
    kernel = None
    if compile:
        from nb_core.kernels import chunk_kernel

        kernel = chunk_kernel(params, static, constants, pixels, chunk, kernel_cache, on_compile)
    values = []
    for start in range(0, total, chunk):
        index = pixels[start : start + chunk]
        count = int(index.shape[0])
        if kernel is not None:
            part, state = kernel(padded_index(index, chunk), state)
        else:
            part, state = chunk_values(index, params, static, constants, state)
        values.append(part[:count])
        if progress is not None:
            progress(min(start + chunk, total), total)
    return _image_of(values, pixels, params, static)


def _image_of(values: list[Tensor], pixels: Tensor, params: Params, static: Static) -> Tensor:
    """The ``(spixels, fpixels)`` image with the chunks' ``values`` at ``pixels``, 0 elsewhere."""
    npixels = static.fpixels * static.spixels
    flat = torch.zeros(npixels, dtype=params.dtype, device=params.device)
    if values:
        all_values = torch.cat(values)
        if int(pixels.shape[0]) == npixels:
            flat = all_values
        else:
            flat = flat.index_put((pixels,), all_values)
    return flat.reshape(static.spixels, static.fpixels)


def solid_angle_total(params: Params, static: Static) -> Tensor:
    """The C program's ``omega_sum / steps``: solid angle subtended by the rendered pixels (sr).

    Args:
        params: Parameters.
        static: Static options.

    Returns:
        ``()`` solid angle (sr).
    """
    frame = detector_frame(params, static)
    pixels = rendered_pixels(params, static)
    total = torch.zeros((), dtype=params.dtype, device=params.device)
    chunk = max(1, (1 << 20) // max(1, static.layers * static.subpixels))
    # Without -oversample_omega every sub-sample counts the first one's solid angle.
    first_only = not static.oversample_omega
    repeat = static.layers * static.subpixels if first_only else 1
    for start in range(0, int(pixels.shape[0]), chunk):
        index = pixels[start : start + chunk]
        positions = subpixel_positions(index, params, static, frame, first_only=first_only)
        _, airpath = unitize(positions)
        omega = solid_angles(airpath, params, static, frame)
        total = total + omega.sum() * repeat
    return total / static.steps
