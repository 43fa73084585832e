"""One chunk of pixels, evaluated exactly as the C program evaluates it.

The C program loops, per pixel, over sensor layers, sub-pixels (slow, then fast), sources, phi
steps and mosaic domains. Here every one of those loops is a tensor dimension; the stages are
in :mod:`nb_core.render._stages` (geometry, cuts, polarization, Miller indices) and
:mod:`nb_core.render._intensity` (structure factors, accumulation, pixel values).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from nb_core.params import Params, Static
from nb_core.physics.lattice_factors import lattice_factor_sq, nearest_index, signed_lattice_factor
from nb_core.render._constants import RenderConstants, render_constants
from nb_core.render._intensity import (
    evaluation_terms,
    intensity_sum,
    pixel_factors,
    pixel_values,
    structure_factors,
)
from nb_core.render._stages import (
    TO_C_ORDER,
    active_evaluations,
    apply_first_phi_loop,
    miller_indices,
    polarization,
    resolution_cut,
    sample_geometry,
    scattering_vectors,
)
from nb_core.render._state import RunState

__all__ = [
    "Evaluation",
    "chunk_values",
    "evaluate_pixels",
    "lattice_factor_signed",
    "render_pixels",
]


@dataclass(frozen=True)
class Evaluation:
    """Every intermediate of a chunk of pixels, in the C program's loop order.

    Shapes: P pixels, L layers, X sub-pixels, S sources, F phi steps, M domains.

    Attributes:
        positions: ``(P, L, X, 3)`` sub-pixel positions (m).
        diffracted: ``(P, L, X, 3)`` unit diffracted directions.
        omega: ``(P, L, X)`` solid angles (sr).
        capture: ``(P, L, X)`` capture fractions.
        scattering: ``(P, L, X, S, 3)`` scattering vectors (1/m).
        passed: ``(P, L, X, S)`` bool: inside the -dmin cutoff.
        polar: ``(P, L, X, S)`` polarization factors.
        hkl: ``(3, P, L, X, S, F, M)`` fractional Miller indices, axis first.
        lattice_factor_sq: ``(P, L, X, S, F, M)`` F_latt^2.
        active: ``(P, L, X, S, F, M)`` bool: evaluations the C program does not skip.
        f_cell: ``(P, L, X, S, F, M)`` structure-factor amplitudes.
        term: ``(P, L, X, S, F, M)`` F_cell^2 F_latt^2 (0 where skipped).
        intensity: ``(P,)`` the accumulated sum (the C program's ``I``).
        value: ``(P,)`` pixel values (photons).
        polar_used: ``(P,)`` the polarization factor that multiplied the pixel.
        omega_used: ``(P,)`` the solid angle that multiplied the pixel.
        capture_used: ``(P,)`` the capture fraction that multiplied the pixel.
        state: The run's state after this chunk.
    """

    positions: Tensor
    diffracted: Tensor
    omega: Tensor
    capture: Tensor
    scattering: Tensor
    passed: Tensor
    polar: Tensor
    hkl: Tensor
    lattice_factor_sq: Tensor
    active: Tensor
    f_cell: Tensor
    term: Tensor
    intensity: Tensor
    value: Tensor
    polar_used: Tensor
    omega_used: Tensor
    capture_used: Tensor
    state: RunState


def evaluate_pixels(
    pixel_index: Tensor,
    params: Params,
    static: Static,
    *,
    constants: RenderConstants | None = None,
    state: RunState | None = None,
    every_sample: bool = True,
) -> Evaluation:
    """Evaluate a set of pixels (one chunk) exactly as the C program does, keeping intermediates.

    Args:
        pixel_index: ``(P,)`` flat pixel indices, in raster order.
        params: Parameters.
        static: Static options.
        constants: The render's shared quantities (computed if None).
        state: The run's state before this chunk (None: interpolation on, the first phi loop
            over, as for a chunk evaluated on its own).
        every_sample: Give every sub-sample its own solid angle and polarization factor
            (traces). False: only where the pixel value uses them, repeated over the others
            (renders).

    Returns:
        Every intermediate, the pixel values and the run's state after the chunk.
    """
    constants = render_constants(params, static) if constants is None else constants
    state = RunState.after_first_loop(params.device) if state is None else state
    geometry = sample_geometry(pixel_index, params, static, constants.frame, every_sample)
    incident, scattering = scattering_vectors(geometry.diffracted, params)
    passed = resolution_cut(scattering, params, static)
    polar = polarization(geometry, incident, params, static, every_sample)
    hkl = miller_indices(scattering, constants.lattice)  # (3, F, M, P, L, X, S)
    hkl, state = apply_first_phi_loop(hkl, scattering, passed, constants, static, state)
    hkl0 = nearest_index(hkl)
    lattice_sq = lattice_factor_sq(
        hkl - hkl0,
        static.shape,
        params.n_cells,
        params.fudge,
        constants.reciprocal,
        static.integer_cells,
    )  # (F, M, P, L, X, S)
    active = active_evaluations(passed, lattice_sq, static)
    f_cell, f_cell_sq, state = structure_factors(
        hkl, hkl0, active, params, static, constants, state
    )
    term = evaluation_terms(f_cell_sq, lattice_sq, passed, static)
    factors = pixel_factors(geometry, polar, passed, static)
    intensity = intensity_sum(term, active, geometry, polar, constants.water_background, static)
    return Evaluation(
        positions=geometry.positions,
        diffracted=geometry.diffracted,
        omega=geometry.omega,
        capture=geometry.capture,
        scattering=scattering,
        passed=passed,
        polar=polar,
        hkl=hkl.permute(0, *(i + 1 for i in TO_C_ORDER)),
        lattice_factor_sq=lattice_sq.permute(TO_C_ORDER),
        active=active.permute(TO_C_ORDER),
        f_cell=f_cell.permute(TO_C_ORDER),
        term=term.permute(TO_C_ORDER),
        intensity=intensity,
        value=pixel_values(intensity, factors, params, static),
        polar_used=factors.polar,
        omega_used=factors.omega,
        capture_used=factors.capture,
        state=state,
    )


def chunk_values(
    pixel_index: Tensor,
    params: Params,
    static: Static,
    constants: RenderConstants,
    state: RunState,
) -> tuple[Tensor, RunState]:
    """The pixel values of one chunk of a render, and the run's state after it.

    Args:
        pixel_index: ``(P,)`` flat pixel indices, in raster order.
        params: Parameters.
        static: Static options.
        constants: The render's shared quantities.
        state: The run's state before this chunk.

    Returns:
        ``(values, state)``: ``(P,)`` photons and the state after the chunk.
    """
    evaluation = evaluate_pixels(
        pixel_index, params, static, constants=constants, state=state, every_sample=False
    )
    return evaluation.value, evaluation.state


def render_pixels(
    pixel_index: Tensor,
    params: Params,
    static: Static,
    *,
    constants: RenderConstants | None = None,
    state: RunState | None = None,
) -> tuple[Tensor, RunState]:
    """Render a set of pixels (one chunk); see :func:`evaluate_pixels`.

    Returns:
        ``(values, state)``: ``(P,)`` pixel values (photons) and the run's state after them.
    """
    constants = render_constants(params, static) if constants is None else constants
    state = RunState.after_first_loop(params.device) if state is None else state
    return chunk_values(pixel_index, params, static, constants, state)


def lattice_factor_signed(
    hkl: Tensor, params: Params, static: Static, reciprocal: Tensor
) -> Tensor:
    """F_latt with the C program's sign (for traces); see
    :func:`~nb_core.physics.lattice_factors.signed_lattice_factor`.

    Args:
        hkl: ``(3, ...)`` fractional Miller indices, axis first.
        params: Parameters (n_cells, fudge).
        static: Static options (shape, integer_cells).
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).

    Returns:
        ``(...)`` lattice factor.
    """
    return signed_lattice_factor(
        hkl, static.shape, params.n_cells, params.fudge, reciprocal, static.integer_cells
    )
