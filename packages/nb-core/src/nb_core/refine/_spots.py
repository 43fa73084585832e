"""Spot positions: a wide capture range before the pixel fit.

A pixel loss only pulls a model spot toward an observed one where the two overlap, and
narrow spots of a model a few tenths of a degree off overlap nowhere. So a fit starts, as
indexing programs do, from spot positions: the observed spots' centroids are found
(:func:`find_spots`), each centroid's scattering vector is indexed with the model's lattice
at the middle of the spindle sweep, and the geometry is refined so that each scattering vector
lands on the lattice point of its (rounded) Miller index, measured across the Ewald sphere
(:func:`refine_spot_positions`). The indices are re-assigned as the model moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import Tensor

from nb_core.crystal.lattice import crystal_basis
from nb_core.geometry.detector import detector_frame
from nb_core.geometry.rotations import rotate_axis, unitize
from nb_core.model import Simulator
from nb_core.refine._gradient import parameter_steps
from nb_core.refine._levenberg import least_squares
from nb_core.refine._uncertainty import flatten_values

__all__ = ["GEOMETRY", "SHELLS", "Spots", "find_spots", "refine_spot_positions", "spot_mask"]

#: Parameters that move spots (the ones the spot stage refines).
GEOMETRY = (
    "distance",
    "Xbeam",
    "Ybeam",
    "detector_rotx",
    "detector_roty",
    "detector_rotz",
    "twotheta",
    "misset",
    "cell",
    "phi",
)


@dataclass(frozen=True)
class Spots:
    """Observed spots.

    Attributes:
        fast: ``(n,)`` centroid along the fast axis (pixels; pixel i's centre is i).
        slow: ``(n,)`` centroid along the slow axis (pixels).
        intensity: ``(n,)`` background-subtracted sum (image units).
        pixels: ``(n,)`` pixels in each spot.
        mask: ``(spixels, fpixels)`` bool, the spots' pixels.
    """

    fast: Tensor
    slow: Tensor
    intensity: Tensor
    pixels: Tensor
    mask: Tensor


def spot_mask(image: Tensor, *, sigmas: float = 4.0, valid: Tensor | None = None) -> Tensor:
    """Pixels that belong to a spot: their 3 x 3 neighbourhood sum stands above the background.

    The background is the median of the valid pixels; the threshold is ``sigmas`` Poisson
    standard deviations of the 3 x 3 background sum (at least one photon's worth).

    Args:
        image: ``(S, F)`` photons or counts.
        sigmas: Threshold in standard deviations.
        valid: ``(S, F)`` bool, the pixels that hold data (inside the ROI, unmasked); None
            for all.

    Returns:
        ``(S, F)`` bool.
    """
    valid = torch.ones_like(image, dtype=torch.bool) if valid is None else valid
    background = torch.median(image[valid]) if bool(valid.any()) else image.new_zeros(())
    image = torch.where(valid, image, background)
    local = nnf.avg_pool2d(image[None, None], 3, stride=1, padding=1, count_include_pad=False)
    local = local[0, 0] * 9.0
    expected = 9.0 * torch.clamp(background, min=0.0)
    threshold = expected + sigmas * torch.sqrt(torch.clamp(expected, min=1.0))
    return (local > threshold) & (image > background) & valid


def _labels(mask: Tensor) -> Tensor:
    """Connected components (8-neighbour) of a mask: each pixel labelled by its component."""
    index = torch.arange(1, mask.numel() + 1, dtype=torch.float64, device=mask.device)
    labels = torch.where(mask.reshape(-1), index, 0.0).reshape(1, 1, *mask.shape)
    keep = mask[None, None]
    for _ in range(mask.shape[0] + mask.shape[1]):
        grown = torch.where(keep, nnf.max_pool2d(labels, 3, stride=1, padding=1), 0.0)
        if torch.equal(grown, labels):
            break
        labels = grown
    return labels[0, 0].to(torch.int64)


def _valid_flat(valid: Tensor | None, image: Tensor) -> Tensor:
    if valid is None:
        return torch.ones(image.numel(), dtype=torch.bool, device=image.device)
    return valid.reshape(-1)


def find_spots(
    image: Tensor, *, sigmas: float = 4.0, min_pixels: int = 2, valid: Tensor | None = None
) -> Spots:
    """The spots of an image and their intensity-weighted centroids.

    Args:
        image: ``(S, F)`` photons or counts.
        sigmas: Threshold (see :func:`spot_mask`).
        min_pixels: Smallest spot kept.
        valid: ``(S, F)`` bool, the pixels that hold data; None for all.

    Returns:
        The spots.
    """
    image = image.detach()
    mask = spot_mask(image, sigmas=sigmas, valid=valid)
    # Pieces of one spot a pixel apart (side lobes, mosaic domains, phi steps) count as one.
    joined = nnf.max_pool2d(mask[None, None].double(), 3, stride=1, padding=1)[0, 0] > 0
    labels = torch.where(mask, _labels(joined), 0).reshape(-1)
    inside = labels > 0
    ids, inverse = torch.unique(labels[inside], return_inverse=True)
    background = torch.median(image.reshape(-1)[_valid_flat(valid, image)])
    weight = torch.clamp(image.reshape(-1)[inside] - background, min=0.0).double()
    flat = torch.nonzero(inside).reshape(-1)
    fast = (flat % image.shape[1]).double()
    slow = (flat // image.shape[1]).double()
    count = ids.numel()

    def total(values: Tensor) -> Tensor:
        return torch.zeros(count, dtype=torch.float64, device=image.device).index_add(
            0, inverse, values
        )

    intensity = total(weight)
    npix = total(torch.ones_like(weight))
    safe = torch.clamp(intensity, min=1e-300)
    keep = (npix >= min_pixels) & (intensity > 0)
    return Spots(
        fast=(total(weight * fast) / safe)[keep],
        slow=(total(weight * slow) / safe)[keep],
        intensity=intensity[keep],
        pixels=npix[keep],
        mask=mask,
    )


def _scattering_and_lattice(
    sim: Simulator, values: dict[str, Tensor], spots: Spots
) -> tuple[Tensor, Tensor, Tensor]:
    """Each spot's scattering vector, diffracted direction and the lattice at mid-sweep.

    Returns:
        ``(scattering, direction, reciprocal)``: ``(n, 3)`` Å⁻¹, ``(n, 3)`` unit vectors and
        ``(3, 3)`` rows a*, b*, c* (Å⁻¹) rotated to the middle of the spindle sweep.
    """
    params, _ = sim.params(values)
    static = sim.static
    frame = detector_frame(params, static)
    fast = (spots.fast.to(params.dtype) + 0.5) * params.pixel_size
    slow = (spots.slow.to(params.dtype) + 0.5) * params.pixel_size
    position = frame.pix0 + fast[:, None] * frame.fdet + slow[:, None] * frame.sdet
    direction, _ = unitize(position)
    incident, _ = unitize(params.beam)
    scattering = (direction - incident) / (params.wavelength * 1e10)
    basis = crystal_basis(params, static)
    middle = params.phi0 + params.phistep * (static.phisteps - 1) / 2.0
    spindle, _ = unitize(params.spindle)
    reciprocal = rotate_axis(basis.reciprocal, spindle, middle)
    return scattering, direction, reciprocal


def predicted_positions(
    sim: Simulator, values: dict[str, Tensor], hkl: Tensor
) -> tuple[Tensor, Tensor]:
    """Where each lattice point's diffracted ray meets the detector, at mid-sweep.

    The ray runs along ``s0 + G`` (``s0`` the incident wave vector, ``G`` the lattice point of
    the Miller index), the nearest direction on the Ewald sphere for a point just off it.

    Args:
        sim: The simulator.
        values: User-unit values of its trainable parameters.
        hkl: ``(n, 3)`` Miller indices.

    Returns:
        ``(positions, excitation)``: ``(n, 2)`` fast and slow positions (pixels; pixel i's
        centre is i) and ``(n,)`` each lattice point's distance outside the Ewald sphere
        (Å⁻¹).
    """
    params, _ = sim.params(values)
    frame = detector_frame(params, sim.static)
    incident, _ = unitize(params.beam)
    middle = params.phi0 + params.phistep * (sim.static.phisteps - 1) / 2.0
    spindle, _ = unitize(params.spindle)
    reciprocal = rotate_axis(crystal_basis(params, sim.static).reciprocal, spindle, middle)
    radius = 1.0 / (params.wavelength * 1e10)
    wave = incident * radius + hkl @ reciprocal  # (n, 3) Å⁻¹
    length = torch.linalg.vector_norm(wave, dim=1, keepdim=True)
    direction = wave / length
    reach = (frame.pix0 * frame.odet).sum() / (direction * frame.odet).sum(dim=1)
    offset = direction * reach[:, None] - frame.pix0
    fast = (offset * frame.fdet).sum(dim=1) / params.pixel_size - 0.5
    slow = (offset * frame.sdet).sum(dim=1) / params.pixel_size - 0.5
    return torch.stack((fast, slow), dim=1), length[:, 0] - radius


def reflecting_range(sim: Simulator, hkl: Tensor) -> Tensor:
    """``(n,)`` how far (Å⁻¹) a lattice point may lie off the Ewald sphere and still reflect.

    The spot's own width (one over the crystal size) plus what the mosaic spread and half the
    spindle sweep turn the point through.
    """
    with torch.no_grad():
        params, _ = sim.params({name: sim.values[name] for name in sim.names})
        basis = crystal_basis(params, sim.static)
        size = (params.n_cells * torch.linalg.vector_norm(basis.real, dim=1) * 1e10).mean()
        turn = params.mosaic_spread + params.phistep * sim.static.phisteps / 2.0
        length = torch.linalg.vector_norm(hkl @ basis.reciprocal, dim=1)
        return 1.0 / size + length * turn


def assign_indices(sim: Simulator, spots: Spots, tolerance: float) -> tuple[Tensor, Tensor, Tensor]:
    """Rounded Miller indices of the spots, which are within ``tolerance``, and ``|S|``.

    Returns:
        ``(hkl, close, resolution)``: ``(n, 3)`` indices, ``(n,)`` bool and ``(n,)`` length of
        each spot's scattering vector (Å⁻¹).
    """
    with torch.no_grad():
        values = {name: sim.values[name] for name in sim.names}
        scattering, _, reciprocal = _scattering_and_lattice(sim, values, spots)
        fractional = scattering @ torch.linalg.inv(reciprocal)
        nearest = torch.round(fractional)
        close = (fractional - nearest).abs().amax(dim=1) < tolerance
    return nearest, close, torch.linalg.vector_norm(scattering, dim=1)


#: Fraction of the spots (innermost first) each round of :func:`refine_spot_positions` uses:
#: low-resolution spots index correctly from further off, and pin the model for the rest.
SHELLS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


def refine_spot_positions(
    sim: Simulator, spots: Spots, *, iterations: int = 10, names: Sequence[str] | None = None
) -> tuple[int, float]:
    """Refine the spot-moving parameters so that observed spots sit on their lattice points.

    Only the trainable names in :data:`GEOMETRY` move; the others stay. Each round re-indexes
    the spots (a spot more than 0.25 of an index from an integer is left out of that round; a
    spot indexed once keeps its index), takes the innermost fraction :data:`SHELLS` of them, and takes Levenberg-Marquardt steps
    on the distance (pixels) between each observed centroid and its lattice point's
    predicted position.

    Args:
        sim: The simulator (updated in place).
        spots: Observed spots (at least as many as parameters).
        iterations: Steps per round.
        names: Only these of the simulator's names move (default: all its spot-moving ones).

    Returns:
        ``(spots used in the last round, weighted rms position residual in pixels)``.
    """
    allowed = GEOMETRY if names is None else tuple(n for n in names if n in GEOMETRY)
    free = [name for name in sim.names if name in allowed]
    theta, unflatten = flatten_values(sim)
    steps = parameter_steps(sim)
    anchor = (theta.clone(), 100.0 * torch.cat([steps[n].reshape(-1) for n in sim.names]).to(theta))
    chosen = torch.cat(
        [torch.full_like(sim.values[n].reshape(-1), n in free, dtype=torch.bool) for n in sim.names]
    )
    used, rms = 0, float("nan")
    assigned: Tensor | None = None
    known = torch.zeros(spots.fast.shape, dtype=torch.bool, device=spots.fast.device)
    for shell in SHELLS:
        hkl, close, resolution = assign_indices(sim, spots, 0.25)
        # A spot keeps the index it was first given: re-indexing every spot each round would
        # let the cell and the distance drift together into a finer lattice that fits too.
        if assigned is not None:
            hkl = torch.where(known[:, None], assigned, hkl)
        limit = torch.quantile(resolution, shell)
        close = close & (resolution <= limit)
        assigned, known = hkl, known | close
        used = int(close.sum())
        if used < max(8, 2 * int(chosen.sum())):
            continue
        theta, rms = _fit_positions(
            sim, spots, hkl, close, theta, chosen, unflatten, iterations, anchor
        )
    return used, rms


def _fit_positions(
    sim: Simulator,
    spots: Spots,
    hkl: Tensor,
    close: Tensor,
    theta: Tensor,
    chosen: Tensor,
    unflatten,
    iterations: int,
    anchor: tuple[Tensor, Tensor],
) -> tuple[Tensor, float]:
    """Levenberg-Marquardt steps on the spot residuals; writes the values into ``sim``.

    ``anchor`` is ``(start, width)``: a weak Gaussian prior on each value around the model's
    start (``width``, user units, far wider than a start's error), which keeps directions the
    spots hardly fix (the distance against the cell's scale at low angles) from running off.
    """
    start, prior = anchor

    # Strong spots count most: a weak spot is often a partial whose centroid sits off its
    # lattice point's mid-sweep prediction.
    weight = torch.sqrt(spots.intensity / torch.median(spots.intensity))
    weight = weight[close].to(theta)[:, None]

    observed = torch.stack((spots.fast, spots.slow), dim=1)[close].to(theta)

    width = reflecting_range(sim, hkl[close])[:, None]

    def residual(vec: Tensor) -> Tensor:
        full = torch.where(chosen, vec, theta.detach())
        predicted, excitation = predicted_positions(sim, unflatten(full), hkl[close])
        both = torch.cat((predicted - observed, excitation[:, None] / width), dim=1)
        return torch.cat(((weight * both).reshape(-1), ((vec - start) / prior)[chosen]))

    theta = least_squares(residual, theta, iterations, columns=chosen)
    with torch.no_grad():
        spot_part = residual(theta)[: -int(chosen.sum())] if bool(chosen.any()) else residual(theta)
    rms = float((spot_part**2).sum() / max(1, int(close.sum()))) ** 0.5
    with torch.no_grad():
        for name, value in unflatten(theta).items():
            sim.values[name].copy_(value)
    return theta, rms
