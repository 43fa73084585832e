"""The intensity stages of a chunk: structure factors, the sum over evaluations, pixel values.

Per-evaluation tensors are in the evaluation-outer layout ``(F, M, P, L, X, S)`` (see
:mod:`nb_core.render._stages`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.layout import first_true
from nb_core.params import Params, Static
from nb_core.physics.structure_factors import (
    interpolation_out_of_range,
    lookup_nearest_padded,
    lookup_tricubic,
)
from nb_core.render._constants import RenderConstants
from nb_core.render._stages import FROM_C_ORDER, TO_C_ORDER, SampleGeometry
from nb_core.render._state import RunState
from nb_core.units import R_E_SQR

__all__ = [
    "PixelFactors",
    "evaluation_terms",
    "intensity_sum",
    "pixel_factors",
    "pixel_values",
    "structure_factors",
]


def structure_factors(
    hkl: Tensor,
    hkl0: Tensor,
    active: Tensor,
    params: Params,
    static: Static,
    constants: RenderConstants,
    state: RunState,
) -> tuple[Tensor, Tensor, RunState]:
    """F_cell of every evaluation: ``default_F``, the nearest grid point, or tricubic.

    Args:
        hkl: ``(3, F, M, P, L, X, S)`` fractional Miller indices.
        hkl0: ``(3, F, M, P, L, X, S)`` nearest integer indices.
        active: ``(F, M, P, L, X, S)`` bool: evaluations the C program does not skip.
        params: Parameters (default_F, f_grid).
        static: Static options.
        constants: The render's shared quantities (the padded grid).
        state: The run's state before this chunk.

    Returns:
        ``(f_cell, f_cell_sq, state)``: ``(F, M, P, L, X, S)`` amplitudes (electrons;
        broadcast views where constant), their squares, and the state after this chunk.
    """
    if not static.has_hkl or constants.padded_grid is None:
        f_sq = (params.default_F * params.default_F).expand_as(active)
        return params.default_F.expand_as(active), f_sq, state
    f_nearest = lookup_nearest_padded(constants.padded_grid, static.grid_origin, hkl0)
    if not static.interpolate:
        return f_nearest, f_nearest * f_nearest, state
    grid_shape = (params.f_grid.shape[0], params.f_grid.shape[1], params.f_grid.shape[2])
    leaves_grid = interpolation_out_of_range(hkl, static.grid_origin, grid_shape) & active
    c_shape = tuple(leaves_grid.shape[i] for i in TO_C_ORDER)
    count = leaves_grid.numel()
    order = torch.arange(count, device=hkl.device).reshape(c_shape).permute(FROM_C_ORDER)
    first_leaving = torch.where(leaves_grid, order, torch.full_like(order, count)).min()
    # Interpolated before the first evaluation whose block leaves the grid; nearest from it
    # on (the C program switches interpolation off there, and its nearest-neighbour branch
    # then runs in that same evaluation).
    use_interpolation = ~state.interpolation_disabled & (order < first_leaving)
    f_interpolated = lookup_tricubic(params.f_grid, static.grid_origin, hkl)
    f_cell = torch.where(use_interpolation, f_interpolated, f_nearest)
    disabled = state.interpolation_disabled | leaves_grid.any()
    after = RunState(disabled, state.first_loop_pending, state.first_loop_over)
    return f_cell, f_cell * f_cell, after


def evaluation_terms(
    f_cell_sq: Tensor, lattice_sq: Tensor, passed: Tensor, static: Static
) -> Tensor:
    """Each evaluation's term of the sum: ``F_cell^2 F_latt^2``, 0 outside the ``-dmin`` cut.

    Args:
        f_cell_sq: ``(F, M, P, L, X, S)`` squared structure factors (electrons^2).
        lattice_sq: ``(F, M, P, L, X, S)`` squared lattice factors.
        passed: ``(P, L, X, S)`` bool: inside the ``-dmin`` cut.
        static: Static options.

    Returns:
        ``(F, M, P, L, X, S)`` terms.
    """
    term = f_cell_sq * lattice_sq
    if static.has_dmin:
        term = torch.where(passed[None, None], term, torch.zeros_like(term))
    return term


@dataclass(frozen=True)
class PixelFactors:
    """The factors that multiply a pixel's sum unless an ``-oversample_*`` switch asks otherwise.

    Attributes:
        polar: ``(P,)`` polarization factor of the first sub-sample and source that passes
            the cut (0 if none does).
        omega: ``(P,)`` solid angle of the first sub-sample (sr).
        capture: ``(P,)`` capture fraction of the last sensor layer's first sub-sample.
    """

    polar: Tensor
    omega: Tensor
    capture: Tensor


def pixel_factors(
    geometry: SampleGeometry, polar: Tensor, passed: Tensor, static: Static
) -> PixelFactors:
    """The per-pixel factors, cached from the first sub-sample as the C program caches them.

    Args:
        geometry: The sub-samples' geometry.
        polar: ``(P, L, X, S)`` polarization factors.
        passed: ``(P, L, X, S)`` bool: inside the ``-dmin`` cut.
        static: Static options.

    Returns:
        The factors.
    """
    npix = passed.shape[0]
    if static.has_dmin:
        first_index, any_pass = first_true(passed.reshape(npix, -1))
        polar_used = polar.reshape(npix, -1).gather(1, first_index[:, None])[:, 0]
        polar_used = torch.where(any_pass, polar_used, torch.zeros_like(polar_used))
    else:
        polar_used = polar[:, 0, 0, 0]
    if static.nopolar and not static.oversample_polar:
        polar_used = torch.ones_like(polar_used)
    return PixelFactors(
        polar=polar_used,
        omega=geometry.omega_first[:, 0, 0],
        capture=geometry.capture[:, -1, 0],
    )


def intensity_sum(
    term: Tensor,
    active: Tensor,
    geometry: SampleGeometry,
    polar: Tensor,
    water_background: Tensor,
    static: Static,
) -> Tensor:
    """The C program's ``I``: water background plus the sum of every evaluation's term.

    With an ``-oversample_*`` switch each active term is weighted by its sub-sample's factors;
    as in nanoBragg (unless ``-fix oversample``) those factors multiply the running sum after
    every term, so a term is weighted by the product of its own and every later factor.

    Args:
        term: ``(F, M, P, L, X, S)`` F_cell^2 F_latt^2 (0 where skipped).
        active: ``(F, M, P, L, X, S)`` bool: evaluations the C program does not skip.
        geometry: The sub-samples' geometry (solid angles, capture fractions).
        polar: ``(P, L, X, S)`` polarization factors.
        water_background: ``()`` the C program's ``I_bg``.
        static: Static options.

    Returns:
        ``(P,)`` accumulated sums.
    """
    npix = term.shape[2]
    if not static.compounding:
        return water_background + term.sum(dim=(0, 1)).reshape(npix, -1).sum(dim=1)
    weights = torch.ones((), dtype=term.dtype, device=term.device)
    if static.oversample_thick:
        weights = weights * geometry.capture[..., None, None, None]
    if static.oversample_polar:
        weights = weights * polar[..., None, None]
    if static.oversample_omega:
        weights = weights * geometry.omega[..., None, None, None]
    active_c_order = active.permute(TO_C_ORDER)
    weights = torch.where(active_c_order, weights, torch.ones_like(weights)).reshape(npix, -1)
    terms = term.permute(TO_C_ORDER).reshape(npix, -1)
    if static.quirks.oversample:
        later_products = torch.flip(torch.cumprod(torch.flip(weights, (1,)), dim=1), (1,))
        return water_background * later_products[:, 0] + (terms * later_products).sum(dim=1)
    return water_background * weights[:, 0] + (terms * weights).sum(dim=1)


def pixel_values(
    intensity: Tensor, factors: PixelFactors, params: Params, static: Static
) -> Tensor:
    """Photons per pixel: ``r_e^2 fluence I / steps`` times the cached per-pixel factors.

    Args:
        intensity: ``(P,)`` accumulated sums.
        factors: The per-pixel factors.
        params: Parameters (fluence, photons/m^2).
        static: Static options (steps, the ``-oversample_*`` switches).

    Returns:
        ``(P,)`` pixel values (photons).
    """
    value = R_E_SQR * params.fluence * intensity / static.steps
    if not static.oversample_thick:
        value = value * factors.capture
    if not static.oversample_polar:
        value = value * factors.polar
    if not static.oversample_omega:
        value = value * factors.omega
    return value
