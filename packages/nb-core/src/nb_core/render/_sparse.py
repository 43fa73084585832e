"""A chosen subset of an image's pixels, at a cost that scales with the subset.

Refinement needs the model only where the data says something (near spots): a few percent of
a detector. :func:`render_sparse` evaluates just those pixels, through the same chunk
function as :func:`~nb_core.render.render`, and gives them the values the full render gives.
"""

from __future__ import annotations

import torch
from torch import Tensor

from nb_core.autodiff import is_transformed
from nb_core.geometry.pixels import subpixel_positions
from nb_core.geometry.rotations import unitize
from nb_core.params import Params, Static
from nb_core.render._chunk import chunk_values
from nb_core.render._constants import RenderConstants, render_constants
from nb_core.render._image import DEFAULT_MAX_EVALUATIONS, ProgressFn, chunk_size
from nb_core.render._stages import resolution_cut, scattering_vectors
from nb_core.render._state import RunState

__all__ = ["flat_pixel_indices", "render_sparse", "rendered_among", "roi_bounds"]

#: Sub-sample and source pairs per block of the ``-dmin`` scan for the first phi loop.
_SCAN_SAMPLES = 1 << 16


def flat_pixel_indices(pixels: Tensor, static: Static, device: torch.device) -> Tensor:
    """Check a pixel selection and give it as flat indices.

    Args:
        pixels: ``(N,)`` integer flat indices ``slow * fpixels + fast`` (any order,
            repeats allowed), or a ``(spixels, fpixels)`` bool mask.
        static: Static options (detector size).
        device: Where the indices go.

    Returns:
        ``(N,)`` int64 flat indices; for a mask, its True pixels in raster order.

    Raises:
        ValueError: Not a tensor, a mask of another shape, indices that are not a 1-D integer
            tensor, or an index outside the detector.
    """
    npixels = static.spixels * static.fpixels
    if not isinstance(pixels, Tensor):
        raise ValueError(
            "pixels: expected a torch.Tensor of int64 flat indices or a (spixels, fpixels) "
            f"bool mask, got {type(pixels).__name__}"
        )
    if pixels.dtype == torch.bool:
        if tuple(pixels.shape) != (static.spixels, static.fpixels):
            raise ValueError(
                f"pixels: a bool mask must have the detector's shape "
                f"({static.spixels}, {static.fpixels}), got {tuple(pixels.shape)}"
            )
        return torch.nonzero(pixels.to(device).reshape(-1), as_tuple=False).reshape(-1)
    if pixels.dim() != 1 or pixels.dtype not in (torch.int64, torch.int32, torch.int16):
        raise ValueError(
            "pixels: flat indices must be a 1-D int64 tensor, got shape "
            f"{tuple(pixels.shape)} and dtype {str(pixels.dtype).removeprefix('torch.')}"
        )
    index = pixels.to(device=device, dtype=torch.int64)
    if index.numel() > 0:
        low, high = int(index.min()), int(index.max())
        if low < 0 or high >= npixels:
            bad = low if low < 0 else high
            raise ValueError(
                f"pixels: index {bad} is outside the detector (0 to {npixels - 1} for "
                f"{static.spixels} x {static.fpixels} pixels)"
            )
    return index


def rendered_among(index: Tensor, params: Params, static: Static) -> Tensor:
    """Which of the given pixels the full render evaluates: inside the ROI and unmasked.

    Args:
        index: ``(N,)`` int64 flat indices inside the detector.
        params: Parameters (mask).
        static: Static options (roi, fpixels).

    Returns:
        ``(N,)`` bool.
    """
    xmin, xmax, ymin, ymax = static.roi
    fast = index % static.fpixels
    slow = torch.div(index, static.fpixels, rounding_mode="floor")
    keep = (slow >= ymin) & (slow <= ymax) & (fast >= xmin) & (fast <= xmax)
    if params.mask is not None:
        keep = keep & params.mask.to(device=index.device).reshape(-1)[index].to(torch.bool)
    return keep


def roi_bounds(static: Static) -> tuple[int, int, int, int]:
    """The ROI clipped to the detector: ``(x0, x1, y0, y1)``, inclusive (empty if x0 > x1)."""
    xmin, xmax, ymin, ymax = static.roi
    x0, x1 = max(xmin, 0), min(xmax, static.fpixels - 1)
    y0, y1 = max(ymin, 0), min(ymax, static.spixels - 1)
    return x0, x1, y0, y1


def _rows_of_roi(params: Params, static: Static, first: int, count: int) -> Tensor:
    """Flat indices of the rendered pixels in ``count`` ROI rows from row ``first``."""
    x0, x1, _, _ = roi_bounds(static)
    device = params.device
    rows = torch.arange(first, first + count, device=device)
    index = (rows[:, None] * static.fpixels + torch.arange(x0, x1 + 1, device=device)).reshape(-1)
    if params.mask is not None:
        index = index[params.mask.to(device=device).reshape(-1)[index].to(torch.bool)]
    return index


def _first_passing_pixel(params: Params, static: Static, constants: RenderConstants) -> Tensor:
    """The flat index of the full render's first pixel with a sample inside the ``-dmin`` cut.

    The rows of the ROI are scanned in raster order, only their sub-sample directions (no
    lattice); the scan stops at the first row block that holds such a pixel, unless the
    parameters are batched or carry tangents (``torch.func``), where every row is scanned.

    Returns:
        ``()`` int64 flat index, -1 where no pixel passes.
    """
    x0, x1, y0, y1 = roi_bounds(static)
    per_pixel = max(1, static.layers * static.subpixels * static.sources)
    rows_per_block = max(1, _SCAN_SAMPLES // (per_pixel * max(1, x1 - x0 + 1)))
    first = torch.full((), -1, dtype=torch.int64, device=params.device)
    with torch.no_grad():
        for row in range(y0, y1 + 1, rows_per_block):
            index = _rows_of_roi(params, static, row, min(rows_per_block, y1 + 1 - row))
            if index.numel() == 0:
                continue
            diffracted, _ = unitize(subpixel_positions(index, params, static, constants.frame))
            _, scattering = scattering_vectors(diffracted, params)
            passes = resolution_cut(scattering, params, static).reshape(index.shape[0], -1)
            passing = passes.any(dim=1)
            candidate = torch.where(passing, index, index[-1] + 1).amin()
            found = passing.any()
            first = torch.where((first < 0) & found, candidate, first)
            if not is_transformed(first) and bool(found):
                break
    return first


def _first_rendered_pixel(params: Params, static: Static) -> int:
    """The flat index of the full render's first pixel (-1 for none), from the ROI and mask."""
    x0, x1, y0, y1 = roi_bounds(static)
    if x0 > x1 or y0 > y1:
        return -1
    if params.mask is None:
        return y0 * static.fpixels + x0
    window = params.mask[y0 : y1 + 1, x0 : x1 + 1].to(torch.bool)
    hits = torch.nonzero(window.reshape(-1), as_tuple=False)
    if hits.numel() == 0:
        return -1
    slow, fast = divmod(int(hits[0, 0]), x1 - x0 + 1)
    return (y0 + slow) * static.fpixels + x0 + fast


def start_state(
    unique: Tensor, params: Params, static: Static, constants: RenderConstants
) -> RunState:
    """The run's state before the first pixel of a sparse render.

    The phi0 quirk's first phi loop is pending iff the subset holds the pixel where the full
    render runs it: the first rendered pixel, or with ``-dmin`` the first one with a sample
    inside the cut. Interpolation starts on.

    Args:
        unique: ``(N,)`` sorted, distinct flat indices of rendered pixels.
        params: Parameters.
        static: Static options.
        constants: The render's shared quantities.

    Returns:
        The state.
    """
    device = params.device
    if constants.lattice_first is None or unique.numel() == 0:
        return RunState.after_first_loop(device)
    if not static.has_dmin:
        first = _first_rendered_pixel(params, static)
        held = first >= 0 and bool((unique == first).any())
        return RunState.run_start(device) if held else RunState.after_first_loop(device)
    first = _first_passing_pixel(params, static, constants)
    held = (unique == first).any() & (first >= 0)
    return RunState(torch.zeros((), dtype=torch.bool, device=device), held)


def render_sparse(
    params: Params,
    static: Static,
    pixels: Tensor,
    *,
    max_evaluations: int | None = None,
    progress: ProgressFn | None = None,
) -> Tensor:
    """Render only the given pixels, with the values the full :func:`render` gives them.

    The cost scales with the number of pixels asked for: the chunks of the full render run
    over them alone, and nothing is computed per detector pixel beyond index bookkeeping (the
    ``-mask`` window of the ROI is read to find the first rendered pixel, and with ``-dmin``
    the first phi loop's pixel is found by a scan of sub-sample directions, see below).
    Differentiable (autograd, ``torch.func.vmap``, ``jacfwd``, ``jacrev``) in every
    parameter, with the full render's derivatives at those pixels.

    The C program's run-wide state (:class:`~nb_core.render.RunState`) follows the full
    render wherever that is possible without rendering the rest:

    - the phi0 quirk (the run's very first phi loop rotates from the unrotated lattice) applies
      iff the subset holds the pixel where the full render runs that loop: its first rendered
      pixel in raster order, or with ``-dmin`` its first pixel with a sample inside the cut
      (found by scanning the sub-sample directions, no lattice, of the rows before it; of
      the whole ROI under a ``torch.func`` transform, whose values may differ per batch
      element). Only a run where the quirk changes that loop needs either. The values are
      then those of the full render at every pixel.
    - with ``-interpolate`` the C program switches interpolation off for the rest of the run
      at the first evaluation whose 4x4x4 block leaves the HKL grid. The sparse render starts
      with interpolation on and switches it off at the first such evaluation *in the subset*.
      Its values equal the full render's wherever the full render never switched
      interpolation off (every evaluation's block inside the grid: the usual case of a grid
      that covers the detector's resolution), and at pixels before the full render's switch.

    Args:
        params: Parameters (dtype and device of the result come from them).
        static: Static options.
        pixels: ``(N,)`` int64 flat indices ``slow * fpixels + fast`` (any order, repeats
            allowed), or a ``(spixels, fpixels)`` bool mask.
        max_evaluations: Lattice evaluations per chunk; bounds peak memory (default
            ``DEFAULT_MAX_EVALUATIONS``).
        progress: Called with (distinct pixels done, distinct pixels to render) after each
            chunk.

    Returns:
        ``(N,)`` photons, in the order of ``pixels`` (for a mask: its True pixels in raster
        order, ``image[mask]``); 0 for pixels outside the ROI or masked, as in the full render.

    Raises:
        ValueError: ``pixels`` is not a 1-D integer tensor or a mask of the detector's shape,
            or holds an index outside the detector.
    """
    index = flat_pixel_indices(pixels, static, params.device)
    keep = rendered_among(index, params, static)
    kept_at = torch.nonzero(keep, as_tuple=False).reshape(-1)
    unique, inverse = torch.unique(index[kept_at], sorted=True, return_inverse=True)
    out = torch.zeros(index.shape, dtype=params.dtype, device=params.device)
    total = int(unique.shape[0])
    if total == 0:
        return out
    constants = render_constants(params, static)
    state = start_state(unique, params, static, constants)
    budget = DEFAULT_MAX_EVALUATIONS if max_evaluations is None else max_evaluations
    chunk = min(chunk_size(static, budget), total)
    values = []
    for start in range(0, total, chunk):
        part, state = chunk_values(unique[start : start + chunk], params, static, constants, state)
        values.append(part)
        if progress is not None:
            progress(min(start + chunk, total), total)
    per_pixel = torch.cat(values)[inverse]
    if int(kept_at.shape[0]) == int(index.shape[0]):
        return per_pixel
    return out.index_put((kept_at,), per_pixel)
