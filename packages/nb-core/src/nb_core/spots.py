"""The pixels worth rendering for a fit: predicted spots, an observed image's bright pixels.

A refinement needs the model only where photons are: near spots. :func:`spot_pixels` takes

- the model's spots, from a coarse prediction with one evaluation per pixel centre and phi
  step (no sub-pixels, sources or mosaic domains; :func:`predict_spots`): the spot cores
  (centres whose fractional Miller indices lie within ``lobe / N`` of a node, widened by how
  far the render's sub-samples, sources and mosaic domains can move them), and the fewest
  pixels that hold ``capture`` of the predicted photons (the streaks of the square crystal);
- with an observed image, its pixels above a robust background (median + ``sigmas`` times the
  MAD-estimated noise);

grows the cores and the bright pixels by ``margin`` pixels, and keeps what the full render
evaluates (inside the ROI and unmasked). The result feeds
:func:`~nb_core.render.render_sparse`; it is meant to be recomputed as the model moves, and
costs a few percent of a render.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from nb_core.geometry.pixels import solid_angles, subpixel_positions
from nb_core.geometry.rotations import dot, unitize
from nb_core.params import Params, Static
from nb_core.physics.lattice_factors import lattice_factor_sq, nearest_index
from nb_core.physics.polarization import polarization_factor
from nb_core.physics.structure_factors import lookup_nearest_padded
from nb_core.render import RenderConstants, render_constants, rendered_mask, roi_bounds

__all__ = [
    "DEFAULT_CAPTURE",
    "DEFAULT_LOBE",
    "DEFAULT_MARGIN",
    "DEFAULT_SIGMAS",
    "Prediction",
    "SpotSelection",
    "bright_pixels",
    "brightest",
    "dilate",
    "predict_spots",
    "spot_pixels",
]

#: Share of the predicted photons the brightest predicted pixels must hold.
DEFAULT_CAPTURE = 0.995
#: Main-lobe half-widths (``1/N`` in each fractional index) within which a pixel is a spot's.
DEFAULT_LOBE = 1.0
#: Pixels added around every marked pixel.
DEFAULT_MARGIN = 2
#: Noise levels above the background at which an observed pixel is bright.
DEFAULT_SIGMAS = 5.0
#: MAD to standard deviation of a normal distribution.
_MAD_TO_SIGMA = 1.4826
#: Pixel centres per block of the prediction (each takes 3 x phi steps indices).
_BLOCK_PIXELS = 1 << 16


@dataclass(frozen=True)
class SpotSelection:
    """The pixels chosen for a fit, and what chose them.

    Attributes:
        pixels: ``(N,)`` int64 sorted flat indices (slow * fpixels + fast), every one inside
            the ROI and unmasked.
        predicted: Pixels marked by the model's spots (before the margin).
        observed: Pixels marked by the observed image (before the margin; 0 without one).
        rendered: Pixels the full render evaluates (inside the ROI and unmasked).
    """

    pixels: Tensor
    predicted: int
    observed: int
    rendered: int

    @property
    def fraction(self) -> float:
        """The selected share of the rendered pixels (0 to 1)."""
        return int(self.pixels.shape[0]) / max(self.rendered, 1)


@dataclass(frozen=True)
class _Smearing:
    """How far the render's samples can move a pixel centre's fractional Miller indices.

    Attributes:
        lattice: ``(F, 3, 3)`` rows a, b, c (m) per phi step, averaged over mosaic domains.
        domains: ``(F, 3)`` largest distance of a domain's a, b, c from that average (m).
        inverse_wavelength: ``()`` mean 1/lambda over the sources (1/m).
        incident: ``(3,)`` mean incident wave vector (1/m).
        sources: ``()`` largest change of the scattering vector from one source to the mean
            (1/m).
        extent: ``()`` largest distance of a sub-sample from its pixel centre (m).
    """

    lattice: Tensor
    domains: Tensor
    inverse_wavelength: Tensor
    incident: Tensor
    sources: Tensor
    extent: Tensor


def _smearing(params: Params, static: Static, lattice: Tensor) -> _Smearing:
    """The spreads of :class:`_Smearing`; ``lattice`` ``(F, M, 3, 3)`` per phi and domain (m)."""
    mean = lattice.mean(dim=1)
    domains = (lattice - mean[:, None]).norm(dim=-1).amax(dim=1)
    inverse = 1.0 / (params.wavelength * params.source_wavelength_factors)  # (S,)
    wave = -params.source_directions * inverse[:, None]  # (S, 3) incident k / (2 pi)
    inverse_mean, wave_mean = inverse.mean(), wave.mean(dim=0)
    sources = ((inverse - inverse_mean).abs() + (wave - wave_mean).norm(dim=-1)).amax()
    half_diagonal = params.pixel_size * (math.sqrt(2.0) / 2.0)
    depth = params.detector_thickstep * max(static.layers - 1, 0)
    return _Smearing(mean, domains, inverse_mean, wave_mean, sources, half_diagonal + depth)


@dataclass(frozen=True)
class Prediction:
    """The model's spots at pixel centres, one evaluation per pixel and phi step.

    Attributes:
        photons: ``(spixels, fpixels)`` float32 coarse photons: ``F^2 F_latt^2`` at each centre
            summed over phi steps, times its solid angle and polarization factor (relative
            units; 0 outside the ROI).
        near_node: ``(spixels, fpixels)`` bool: at some phi step every fractional Miller
            index of the centre is within ``lobe / N`` of an integer plus the largest shift
            the render's sub-samples, sources and mosaic domains can give it.
    """

    photons: Tensor
    near_node: Tensor


def _centre_block(
    index: Tensor,
    params: Params,
    centres: Static,
    constants: RenderConstants,
    smearing: _Smearing,
    lobe_widths: Tensor,
) -> tuple[Tensor, Tensor]:
    """Coarse photons and near-node marks of a block of pixel centres: ``(P,)`` each."""
    positions = subpixel_positions(index, params, centres, constants.frame)[:, 0, 0]
    diffracted, airpath = unitize(positions)
    scattering = diffracted * smearing.inverse_wavelength - smearing.incident  # (P, 3) 1/m
    hkl = torch.einsum("fjk,pk->jfp", smearing.lattice, scattering)  # (3, F, P)
    hkl0 = nearest_index(hkl)
    offset = hkl - hkl0
    moved = smearing.sources + smearing.extent * smearing.inverse_wavelength / airpath  # (P,)
    # The largest over phi steps (a rotation keeps the lengths): one tolerance per pixel.
    lengths = smearing.lattice.norm(dim=-1).amax(dim=0)[:, None]  # (3, 1)
    domains = smearing.domains.amax(dim=0)[:, None]  # (3, 1)
    reach = lengths * moved + domains * dot(scattering, scattering).sqrt()  # (3, P)
    tolerance = (lobe_widths[:, None] + reach)[:, None]  # (3, 1, P)
    near = (offset.abs() <= tolerance).all(dim=0).any(dim=0)
    lattice_sq = lattice_factor_sq(
        offset, centres.shape, params.n_cells, params.fudge, constants.reciprocal, None
    )  # (F, P)
    if constants.padded_grid is not None:
        f_cell = lookup_nearest_padded(constants.padded_grid, centres.grid_origin, hkl0)
    else:
        f_cell = params.default_F
    omega = solid_angles(airpath, params, centres, constants.frame)
    polar = polarization_factor(
        params.polarization, smearing.incident, diffracted, params.polar_axis
    )
    photons = (f_cell * f_cell * lattice_sq).sum(dim=0) * omega
    if not centres.nopolar:
        photons = photons * polar
    return photons, near


def predict_spots(params: Params, static: Static, *, lobe: float = DEFAULT_LOBE) -> Prediction:
    """The model's spots from one evaluation per pixel centre and phi step (no gradients).

    No sub-pixels, sensor layers, sources or mosaic domains: the lattice is the average over
    the domains at each phi step, the beam the sources' mean wave vector; their spread only
    widens ``near_node``. Computed in float32 (a ranking and a tolerance test need no more),
    in blocks of pixels over the ROI.

    Args:
        params: Parameters.
        static: Static options.
        lobe: Main-lobe half-widths (``1/N`` along each axis) within which a centre is near
            a node. Spots of non-square shapes scale by ``1 / sqrt(fudge)``.

    Returns:
        The prediction.
    """
    device = params.device
    shape = (static.spixels, static.fpixels)
    photons = torch.zeros(shape, dtype=torch.float32, device=device)
    near = torch.zeros(shape, dtype=torch.bool, device=device)
    x0, x1, y0, y1 = roi_bounds(static)
    if x0 > x1 or y0 > y1:
        return Prediction(photons, near)
    with torch.no_grad():
        params = params.to(dtype=torch.float32)
        fudge = float(params.fudge)
        widen = 1.0 if static.shape == "square" or fudge <= 0 else max(1.0, fudge**-0.5)
        lobe_widths = lobe * widen / params.n_cells.clamp(min=1.0)  # (3,)
        constants = render_constants(params, static)
        smearing = _smearing(params, static, constants.lattice)
        centres = replace(static, oversample=1, layers=1, oversample_omega=False)
        columns = torch.arange(x0, x1 + 1, device=device)
        rows_per_block = max(1, _BLOCK_PIXELS // (x1 - x0 + 1))
        for row in range(y0, y1 + 1, rows_per_block):
            rows = torch.arange(row, min(row + rows_per_block, y1 + 1), device=device)
            index = (rows[:, None] * static.fpixels + columns[None, :]).reshape(-1)
            block = _centre_block(index, params, centres, constants, smearing, lobe_widths)
            window = (slice(row, row + rows.shape[0]), slice(x0, x1 + 1))
            photons[window] = block[0].reshape(rows.shape[0], -1)
            near[window] = block[1].reshape(rows.shape[0], -1)
    return Prediction(photons, near)


def brightest(photons: Tensor, keep: Tensor, capture: float) -> Tensor:
    """The fewest pixels that hold ``capture`` of the photons among ``keep``.

    Args:
        photons: ``(spixels, fpixels)`` non-negative values.
        keep: ``(spixels, fpixels)`` bool: the pixels considered.
        capture: Share of the photons to hold (0 to 1).

    Returns:
        ``(spixels, fpixels)`` bool.
    """
    values = torch.where(keep, photons, torch.zeros_like(photons)).reshape(-1)
    total = values.sum()
    if not bool(total > 0):
        return torch.zeros_like(keep)
    # Pixels below (1 - capture) total / count together hold at most the share left out:
    # the fewest pixels are among the others, and only those are sorted.
    floor = (1.0 - capture) * total / values.shape[0]
    candidates = torch.nonzero(values >= floor, as_tuple=False).reshape(-1)
    ordered, order = values[candidates].sort(descending=True)
    count = int((ordered.cumsum(0) < capture * total).sum()) + 1
    chosen = torch.zeros_like(values, dtype=torch.bool)
    chosen[candidates[order[:count]]] = True
    return chosen.reshape(keep.shape) & keep


def bright_pixels(
    observed: Tensor,
    within: Tensor | None = None,
    *,
    sigmas: float = DEFAULT_SIGMAS,
    sigma_floor: float = 1.0,
) -> Tensor:
    """Pixels of an observed image above its robust background.

    The background is the median of the pixels considered, its noise ``1.4826 * MAD`` but at
    least ``sqrt(median)`` (Poisson) and ``sigma_floor``; a pixel is bright above the median
    plus ``sigmas`` noise levels.

    Args:
        observed: ``(spixels, fpixels)`` image (photons or counts).
        within: ``(spixels, fpixels)`` bool: the pixels that set the background (None: all).
        sigmas: Noise levels above the background.
        sigma_floor: The smallest noise level, in the image's unit (1: one count).

    Returns:
        ``(spixels, fpixels)`` bool.
    """
    with torch.no_grad():
        values = observed.detach()
        sample = values[within] if within is not None else values.reshape(-1)
        if sample.numel() == 0:
            return torch.zeros_like(values, dtype=torch.bool)
        median = sample.median()
        mad = (sample - median).abs().median()
        noise = torch.maximum(_MAD_TO_SIGMA * mad, median.clamp(min=0.0).sqrt())
        noise = noise.clamp(min=sigma_floor)
        return values > median + sigmas * noise


def dilate(mask: Tensor, margin: int) -> Tensor:
    """Grow a ``(spixels, fpixels)`` bool mask by ``margin`` pixels (a square neighbourhood)."""
    if margin <= 0:
        return mask
    size = 2 * margin + 1
    grown = torch.nn.functional.max_pool2d(
        mask[None, None].to(torch.float32), size, stride=1, padding=margin
    )
    return grown[0, 0] > 0


def spot_pixels(
    params: Params,
    static: Static,
    *,
    observed: Tensor | None = None,
    margin: int = DEFAULT_MARGIN,
    capture: float = DEFAULT_CAPTURE,
    lobe: float = DEFAULT_LOBE,
    sigmas: float = DEFAULT_SIGMAS,
    sigma_floor: float = 1.0,
) -> SpotSelection:
    """The pixels worth rendering for a fit: predicted spots and observed bright pixels.

    - Spot cores: every pixel whose centre is near a node (:func:`predict_spots`), grown by
      ``margin`` pixels; a sample at the centre may miss a main lobe narrower than a pixel.
    - Streaks: the fewest pixels that hold ``capture`` of the coarse prediction's photons.
      The square crystal's lattice factor falls off as ``1/u^2`` along a*, b* and c* away
      from each node: about ``1 / (pi^2 u)`` of a spot's photons lie beyond ``u`` main-lobe
      half-widths along each axis, so a few percent of the photons are in streaks that no
      main-lobe test reaches. Not grown (a streak pixel next to a selected one holds little).
    - Observed: the image's bright pixels (:func:`bright_pixels`), grown by ``margin``.

    Everything is limited to the pixels the full render evaluates.

    Args:
        params: Parameters of the current model.
        static: Static options.
        observed: ``(spixels, fpixels)`` observed image, or None (prediction only).
        margin: Pixels added around every marked pixel (>= 0).
        capture: Share of the coarse predicted photons to hold (0 to 1).
        lobe: See :func:`predict_spots`.
        sigmas: See :func:`bright_pixels`.
        sigma_floor: See :func:`bright_pixels`.

    Returns:
        The selection: sorted flat indices inside the ROI and unmasked, and its counts.

    Raises:
        ValueError: A negative margin, a capture outside [0, 1] or an observed image of
            another shape.
    """
    if margin < 0:
        raise ValueError(f"margin: expected a number of pixels >= 0, got {margin}")
    if not 0.0 <= capture <= 1.0:
        raise ValueError(f"capture: expected a share from 0 to 1, got {capture}")
    shape = (static.spixels, static.fpixels)
    if observed is not None and tuple(observed.shape) != shape:
        raise ValueError(
            f"observed: expected an image of shape {shape}, got {tuple(observed.shape)}"
        )
    keep = rendered_mask(params, static)
    prediction = predict_spots(params, static, lobe=lobe)
    streaks = brightest(prediction.photons, keep, capture)
    cores = prediction.near_node & keep
    observed_count = 0
    if observed is not None:
        image = observed.detach().to(params.device)
        bright = bright_pixels(image, keep, sigmas=sigmas, sigma_floor=sigma_floor) & keep
        observed_count = int(bright.sum())
        cores = cores | bright
    chosen = (dilate(cores, margin) | streaks) & keep
    predicted = (streaks | prediction.near_node) & keep
    pixels = torch.nonzero(chosen.reshape(-1), as_tuple=False).reshape(-1)
    return SpotSelection(
        pixels=pixels,
        predicted=int(predicted.sum()),
        observed=observed_count,
        rendered=int(keep.sum()),
    )
