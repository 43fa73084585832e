"""The geometric stages of a chunk: sub-samples, scattering vectors, cuts, polarization, hkl.

Shapes: P pixels, L sensor layers, X sub-pixels, S sources, F phi steps, M mosaic domains.
The per-evaluation stages work in the evaluation-outer layout ``(F, M, P, L, X, S)`` (few phi
steps and domains first, so that the work vectorizes along many pixels); ``TO_C_ORDER`` gives
the C program's loop order ``(P, L, X, S, F, M)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.geometry.detector import DetectorFrame
from nb_core.geometry.pixels import capture_fractions, solid_angles, subpixel_positions
from nb_core.geometry.rotations import dot, unitize
from nb_core.layout import first_true, storage_order, unravel
from nb_core.params import Params, Static
from nb_core.physics.polarization import polarization_factor
from nb_core.render._constants import RenderConstants
from nb_core.render._state import RunState

__all__ = [
    "FROM_C_ORDER",
    "TO_C_ORDER",
    "SampleGeometry",
    "active_evaluations",
    "apply_first_phi_loop",
    "miller_indices",
    "polarization",
    "resolution_cut",
    "sample_geometry",
    "scattering_vectors",
]

#: From the evaluation-outer layout (F, M, P, L, X, S) to the C program's loop order
#: (P, L, X, S, F, M), and back.
TO_C_ORDER = (2, 3, 4, 5, 0, 1)
FROM_C_ORDER = (4, 5, 0, 1, 2, 3)


@dataclass(frozen=True)
class SampleGeometry:
    """Where each sub-sample of a pixel is and what it subtends.

    Attributes:
        positions: ``(P, L, X, 3)`` sub-pixel positions (m).
        diffracted: ``(P, L, X, 3)`` unit diffracted directions.
        diffracted_first: ``(P, 1, 1, 3)`` the same at each pixel's first sub-sample.
        omega: ``(P, L, X)`` solid angles (sr).
        omega_first: ``(P, 1, 1)`` the solid angle of each pixel's first sub-sample (sr).
        capture: ``(P, L, X)`` capture fractions (unitless).
    """

    positions: Tensor
    diffracted: Tensor
    diffracted_first: Tensor
    omega: Tensor
    omega_first: Tensor
    capture: Tensor


def sample_geometry(
    pixel_index: Tensor, params: Params, static: Static, frame: DetectorFrame, every_sample: bool
) -> SampleGeometry:
    """Positions, directions, solid angles and capture fractions of every sub-sample.

    Args:
        pixel_index: ``(P,)`` flat pixel indices.
        params: Parameters.
        static: Static options.
        frame: The detector frame.
        every_sample: Give every sub-sample its own solid angle (traces); False: only where
            the pixel value uses it (the first sub-sample unless ``-oversample_omega``).

    Returns:
        The geometry.
    """
    positions = subpixel_positions(pixel_index, params, static, frame)  # (P, L, X, 3)
    diffracted, airpath = unitize(positions)
    if every_sample:
        diffracted_first, airpath_first = diffracted[:, :1, :1], airpath[:, :1, :1]
    else:
        # The per-pixel factors come from the first sub-sample: take it from its own small
        # graph rather than slicing the full one (whose gradient would then be a mostly-zero
        # tensor of the full size).
        diffracted_first, airpath_first = unitize(
            subpixel_positions(pixel_index, params, static, frame, first_only=True)
        )
    omega_first = solid_angles(airpath_first, params, static, frame)  # (P, 1, 1)
    if not every_sample and not static.oversample_omega:
        omega = omega_first.expand(airpath.shape)
    else:
        omega = solid_angles(airpath, params, static, frame)  # (P, L, X)
    return SampleGeometry(
        positions=positions,
        diffracted=diffracted,
        diffracted_first=diffracted_first,
        omega=omega,
        omega_first=omega_first,
        capture=capture_fractions(diffracted, params, static, frame),  # (P, L, X)
    )


def scattering_vectors(diffracted: Tensor, params: Params) -> tuple[Tensor, Tensor]:
    """Incident directions and the scattering vector of every sub-sample and source.

    Args:
        diffracted: ``(P, L, X, 3)`` unit diffracted directions.
        params: Parameters (source directions, wavelength (m) and per-source factors).

    Returns:
        ``(incident, scattering)``: ``(S, 3)`` unit incident directions and
        ``(P, L, X, S, 3)`` scattering vectors (1/m).
    """
    incident = -params.source_directions  # (S, 3)
    wavelength = params.wavelength * params.source_wavelength_factors  # (S,)
    scattering = (diffracted[:, :, :, None, :] - incident) / wavelength[:, None]
    return incident, scattering


def resolution_cut(scattering: Tensor, params: Params, static: Static) -> Tensor:
    """Which sub-sample and source pairs pass the ``-dmin`` cut (all of them without it).

    Args:
        scattering: ``(P, L, X, S, 3)`` scattering vectors (1/m).
        params: Parameters (dmin, m).
        static: Static options.

    Returns:
        ``(P, L, X, S)`` bool.
    """
    if not static.has_dmin:
        return torch.ones(scattering.shape[:-1], dtype=torch.bool, device=params.device)
    stol = 0.5 * torch.sqrt(dot(scattering, scattering).detach())
    safe = torch.where(stol > 0, stol, torch.ones_like(stol))
    cutoff = torch.where(stol > 0, 0.5 / safe, torch.full_like(stol, math.inf))
    return ~((params.dmin > 0) & (params.dmin > cutoff))


def polarization(
    geometry: SampleGeometry,
    incident: Tensor,
    params: Params,
    static: Static,
    every_sample: bool,
) -> Tensor:
    """Polarization factor of every sub-sample and source.

    Args:
        geometry: The sub-samples' geometry.
        incident: ``(S, 3)`` incident directions.
        params: Parameters (Kahn factor, polarization axis).
        static: Static options.
        every_sample: Give every sub-sample its own factor (traces); False: compute it once
            per pixel where only the first sub-sample's is used (no ``-dmin`` and no
            ``-oversample_polar``), repeated over the others.

    Returns:
        ``(P, L, X, S)`` factors (unitless).
    """
    shape = (*geometry.diffracted.shape[:-1], incident.shape[0])
    if static.nopolar and not static.oversample_polar:
        return torch.ones(shape, dtype=params.dtype, device=params.device)
    if not every_sample and not static.has_dmin and not static.oversample_polar:
        first_polar = polarization_factor(
            params.polarization,
            incident[:1],
            geometry.diffracted_first[:, :, :, None, :],
            params.polar_axis,
        )
        return first_polar.expand(shape)
    diffracted = geometry.diffracted[:, :, :, None, :]
    return polarization_factor(params.polarization, incident, diffracted, params.polar_axis)


def miller_indices(scattering: Tensor, lattice: Tensor) -> Tensor:
    """``h_j = a_j . S`` for every evaluation, laid out ``(3, F, M, P, L, X, S)``.

    Eagerly one matrix product ``(3 F M, 3) @ (3, evaluations)`` taken on the scattering
    vectors' own storage order (component-major from
    :func:`~nb_core.geometry.pixels.subpixel_positions`), whose backward is two more such
    products; under ``torch.compile`` three broadcast multiply-adds, which the compiler fuses
    into the lattice-factor loop instead of materializing them.

    Args:
        scattering: ``(P, L, X, S, 3)`` scattering vectors (1/m).
        lattice: ``(F, M, 3, 3)`` rows a, b, c (m) per phi step and domain.

    Returns:
        ``(3, F, M, P, L, X, S)`` fractional Miller indices, axis first.
    """
    if torch.compiler.is_compiling():
        s = scattering.permute(4, 0, 1, 2, 3)[:, None, None]  # (3, 1, 1, P, L, X, S)
        a = lattice.permute(2, 3, 0, 1)[..., None, None, None, None]  # (3j, 3k, F, M, 1, 1, 1, 1)
        return a[:, 0] * s[0] + a[:, 1] * s[1] + a[:, 2] * s[2]
    components = scattering.movedim(-1, 0)  # (3, P, L, X, S)
    # Pixel-side axes in storage order: the flattening is then a view.
    order, back = storage_order(components)
    flat = components.permute(0, *order).reshape(3, -1)
    n_phi, n_domains = lattice.shape[0], lattice.shape[1]
    rows = lattice.permute(2, 0, 1, 3).reshape(3 * n_phi * n_domains, 3)  # (j, F, M) x k
    hkl = rows.matmul(flat).reshape(3, n_phi, n_domains, *(components.shape[d] for d in order))
    return hkl.permute(0, 1, 2, *(3 + b for b in back))


def apply_first_phi_loop(
    hkl: Tensor,
    scattering: Tensor,
    passed: Tensor,
    constants: RenderConstants,
    static: Static,
    state: RunState,
) -> tuple[Tensor, RunState]:
    """The phi0 quirk: the run's very first phi loop rotates from the unrotated lattice.

    That loop is the one at the run's first evaluation that passes the ``-dmin`` cut; where
    this chunk holds it, its Miller indices are replaced by those of ``lattice_first``.

    Args:
        hkl: ``(3, F, M, P, L, X, S)`` fractional Miller indices.
        scattering: ``(P, L, X, S, 3)`` scattering vectors (1/m).
        passed: ``(P, L, X, S)`` bool: inside the ``-dmin`` cut.
        constants: The render's shared quantities.
        static: Static options.
        state: The run's state before this chunk.

    Returns:
        ``(hkl, state)``: the indices and the state after this chunk.
    """
    pending = state.first_loop_pending
    flat_passed = passed.reshape(-1)
    if static.has_dmin:
        first_pass, any_pass = first_true(flat_passed[None])
    else:  # every evaluation passes
        first_pass = torch.zeros(1, dtype=torch.long, device=passed.device)
        any_pass = torch.full((1,), flat_passed.shape[0] > 0, device=passed.device)
    if (
        not state.first_loop_over
        and constants.lattice_first is not None
        and constants.first_differs is not None
        and passed.shape[0] > 0
    ):
        at = unravel(first_pass, passed.shape)  # four (1,) indices
        alternative = torch.einsum("k,fmjk->jfm", scattering[at][0], constants.lattice_first)
        order = torch.arange(flat_passed.shape[0], device=passed.device)
        mask = ((order == first_pass[0]) & any_pass[0] & pending).reshape(passed.shape)
        use = constants.first_differs[:, None, None, None, None, None] & mask[None, None]
        hkl = torch.where(use[None], alternative[..., None, None, None, None], hkl)
    # Without -dmin a chunk's first evaluation always passes: after it, the loop is over.
    over = state.first_loop_over or (not static.has_dmin and flat_passed.shape[0] > 0)
    after = RunState(state.interpolation_disabled, pending & ~any_pass[0], over)
    return hkl, after


def active_evaluations(passed: Tensor, lattice_sq: Tensor, static: Static) -> Tensor:
    """The evaluations the C program does not skip (for the switches that need them).

    Args:
        passed: ``(P, L, X, S)`` bool: inside the ``-dmin`` cut.
        lattice_sq: ``(F, M, P, L, X, S)`` squared lattice factors.
        static: Static options.

    Returns:
        ``(F, M, P, L, X, S)`` bool: passed, and (with ``-oversample_*`` compounding or
        interpolation) a non-zero lattice factor or water.
    """
    passed_evaluations = passed[None, None]
    if static.compounding or (static.interpolate and static.has_hkl):
        return passed_evaluations & ((lattice_sq != 0) | static.has_water)
    return passed_evaluations.expand_as(lattice_sq)
