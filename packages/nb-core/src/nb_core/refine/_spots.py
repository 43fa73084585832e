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

from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import Tensor

from nb_core.crystal.lattice import crystal_basis
from nb_core.geometry.detector import detector_frame
from nb_core.geometry.rotations import rotate_axis, unitize
from nb_core.model import Simulator
from nb_core.refine._uncertainty import flatten_values, quiet_forward_ad

__all__ = ["GEOMETRY", "Spots", "find_spots", "refine_spot_positions", "spot_mask"]

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


def spot_mask(image: Tensor, *, sigmas: float = 4.0) -> Tensor:
    """Pixels that belong to a spot: their 3 x 3 neighbourhood sum stands above the background.

    The background is the image's median; the threshold is ``sigmas`` Poisson standard
    deviations of the 3 x 3 background sum (at least one photon's worth).

    Args:
        image: ``(S, F)`` photons or counts.
        sigmas: Threshold in standard deviations.

    Returns:
        ``(S, F)`` bool.
    """
    background = torch.median(image)
    local = nnf.avg_pool2d(image[None, None], 3, stride=1, padding=1, count_include_pad=False)
    local = local[0, 0] * 9.0
    expected = 9.0 * torch.clamp(background, min=0.0)
    threshold = expected + sigmas * torch.sqrt(torch.clamp(expected, min=1.0))
    return (local > threshold) & (image > background)


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


def find_spots(image: Tensor, *, sigmas: float = 4.0, min_pixels: int = 2) -> Spots:
    """The spots of an image and their intensity-weighted centroids.

    Args:
        image: ``(S, F)`` photons or counts.
        sigmas: Threshold (see :func:`spot_mask`).
        min_pixels: Smallest spot kept.

    Returns:
        The spots.
    """
    image = image.detach()
    mask = spot_mask(image, sigmas=sigmas)
    labels = _labels(mask).reshape(-1)
    inside = labels > 0
    ids, inverse = torch.unique(labels[inside], return_inverse=True)
    weight = torch.clamp(image.reshape(-1)[inside] - torch.median(image), min=0.0).double()
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


def _assign(sim: Simulator, spots: Spots, tolerance: float) -> tuple[Tensor, Tensor]:
    """Rounded Miller indices ``(n, 3)`` of the spots and which are within ``tolerance``."""
    with torch.no_grad():
        values = {name: sim.values[name] for name in sim.names}
        scattering, _, reciprocal = _scattering_and_lattice(sim, values, spots)
        fractional = scattering @ torch.linalg.inv(reciprocal)
        nearest = torch.round(fractional)
        close = (fractional - nearest).abs().amax(dim=1) < tolerance
    return nearest, close


def refine_spot_positions(
    sim: Simulator, spots: Spots, *, rounds: int = 6, iterations: int = 8
) -> tuple[int, float]:
    """Refine the spot-moving parameters so that observed spots sit on their lattice points.

    Only the trainable names in :data:`GEOMETRY` move; the others stay. Each round re-indexes
    the spots (a spot more than 0.3 of an index from an integer is left out of that round) and
    takes Gauss-Newton steps on the residual across the Ewald sphere.

    Args:
        sim: The simulator (updated in place).
        spots: Observed spots (at least as many as parameters).
        rounds: Re-indexing rounds.
        iterations: Gauss-Newton steps per round.

    Returns:
        ``(spots used in the last round, rms residual in Å⁻¹)``.
    """
    free = [name for name in sim.names if name in GEOMETRY]
    theta, unflatten = flatten_values(sim)
    chosen = torch.cat(
        [torch.full_like(sim.values[n].reshape(-1), n in free, dtype=torch.bool) for n in sim.names]
    )
    used, rms = 0, float("nan")
    for _ in range(rounds):
        hkl, close = _assign(sim, spots, 0.3)
        used = int(close.sum())
        if used < max(3, int(chosen.sum())):
            break
        before = hkl.clone()
        theta, rms = _gauss_newton(sim, spots, hkl, close, theta, chosen, unflatten, iterations)
        hkl_after, close_after = _assign(sim, spots, 0.3)
        if torch.equal(hkl_after, before) and torch.equal(close_after, close):
            break
    return used, rms


def _gauss_newton(
    sim: Simulator,
    spots: Spots,
    hkl: Tensor,
    close: Tensor,
    theta: Tensor,
    chosen: Tensor,
    unflatten,  # noqa: ANN001
    iterations: int,
) -> tuple[Tensor, float]:
    """Damped Gauss-Newton steps on the spot residuals; writes the values into ``sim``."""

    def residual(vec: Tensor) -> Tensor:
        full = torch.where(chosen, vec, theta.detach())
        scattering, direction, reciprocal = _scattering_and_lattice(sim, unflatten(full), spots)
        miss = scattering[close] - hkl[close] @ reciprocal
        across = miss - (miss * direction[close]).sum(dim=1, keepdim=True) * direction[close]
        return across.reshape(-1) * 1e3

    rms = float("nan")
    for _ in range(iterations):
        with quiet_forward_ad():
            jac = torch.func.jacfwd(residual)(theta)[:, chosen]
        with torch.no_grad():
            r = residual(theta)
            normal = jac.T @ jac
            damping = 1e-6 * torch.diagonal(normal).max() * torch.eye(normal.shape[0]).to(normal)
            step = torch.linalg.lstsq(normal + damping, -(jac.T @ r)[:, None]).solution[:, 0]
            trial = theta.clone()
            trial[chosen] = theta[chosen] + step
            if float((residual(trial) ** 2).sum()) >= float((r**2).sum()):
                rms = float(torch.sqrt((r**2).mean())) * 1e-3
                break
            theta = trial
            rms = float(torch.sqrt((residual(theta) ** 2).mean())) * 1e-3
    with torch.no_grad():
        for name, value in unflatten(theta).items():
            sim.values[name].copy_(value)
    return theta, rms
