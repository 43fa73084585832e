"""Pixel traces: every quantity the C program computes for one pixel.

:func:`trace_pixel` evaluates one pixel with the render kernel and keeps what the C program's
``-printout`` block shows: the values its variables hold after the pixel's loops end (the
last sub-pixel, source, phi step and domain it evaluated), plus the full per-evaluation
tensors for deeper inspection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.params import Params, Static
from nb_core.render import (
    Evaluation,
    RenderConstants,
    RunState,
    evaluate_pixels,
    lattice_factor_signed,
    render_constants,
    rendered_pixels,
)

__all__ = ["PixelTrace", "format_printout", "trace_pixel"]


@dataclass(frozen=True)
class PixelTrace:
    """What the C program's variables hold after one pixel's loops.

    Attributes:
        fpixel: Fast pixel index.
        spixel: Slow pixel index.
        stol: sin(theta)/lambda of the last sub-pixel and source (1/m).
        stol_beam_x: The C program's second stol, from the position assuming a beam along x (1/Å).
        position: ``(3,)`` last sub-pixel position (m).
        hkl: ``(3,)`` last fractional Miller indices.
        hkl0: ``(3,)`` nearest integer indices.
        f_cell: Last structure factor looked up.
        f_latt: Last lattice factor.
        intensity: Accumulated sum before normalisation (the C program's ``I``).
        intensity_per_step: ``intensity / steps``.
        polar: Polarization factor applied.
        omega: Solid angle applied (sr).
        capture: Capture fraction applied.
        pixel: Final pixel value (photons, float32 as stored).
        cell: ``(3, 3)`` last rotated real-space vectors a, b, c as rows (Å).
        evaluation: Every intermediate of the pixel (batch of one).
    """

    fpixel: int
    spixel: int
    stol: float
    stol_beam_x: float
    position: list[float]
    hkl: list[float]
    hkl0: list[int]
    f_cell: float
    f_latt: float
    intensity: float
    intensity_per_step: float
    polar: float
    omega: float
    capture: float
    pixel: float
    cell: list[list[float]]
    evaluation: Evaluation


def _last_true(mask: Tensor) -> int:
    flat = mask.reshape(-1)
    idx = torch.nonzero(flat, as_tuple=False)
    return int(idx[-1]) if idx.numel() else -1


def _state_before(
    flat: int, params: Params, static: Static, constants: RenderConstants
) -> RunState:
    """The run's state when the C program reaches pixel ``flat`` (raster index).

    Only interpolation and the phi0 quirk carry state; then every rendered pixel before
    ``flat`` is evaluated (cheap for the small images traces are used on).
    """
    state = RunState.run_start(params.device)
    stateful = (static.interpolate and static.has_hkl) or constants.lattice_first is not None
    pixels = rendered_pixels(params, static)
    before = pixels[pixels < flat]
    if stateful and before.numel():
        state = evaluate_pixels(before, params, static, constants=constants, state=state).state
    return state


def _last_evaluation(
    evaluation: Evaluation, params: Params, static: Static, constants: RenderConstants
) -> tuple[Tensor, float, Tensor, float]:
    """What the C program's loop variables hold after a traced pixel's last evaluation.

    Args:
        evaluation: The traced pixel's intermediates (a batch of one).
        params: Parameters.
        static: Static options.
        constants: The render's shared quantities.

    Returns:
        ``(hkl, f_latt, cell, f_cell)``: the ``(3,)`` fractional indices, signed lattice
        factor and ``(3, 3)`` rotated cell (Å) of the last evaluation inside the cut, and the
        structure factor of the last one not skipped (0 where there is none).
    """
    lattice_sq = evaluation.lattice_factor_sq[0]
    last = _last_true(evaluation.passed[0][..., None, None].expand_as(lattice_sq))
    active = evaluation.passed[0][..., None, None] & ((lattice_sq != 0) | static.has_water)
    last_cell = _last_true(active)
    if last >= 0:
        li, xi, si, fi, mi = _unravel(last, evaluation.lattice_factor_sq.shape[1:])
        hkl = evaluation.hkl[:, 0, li, xi, si, fi, mi]
        f_latt = float(lattice_factor_signed(hkl[:, None], params, static, constants.reciprocal)[0])
        cell = constants.lattice[fi, mi] * 1e10
    else:
        hkl = torch.zeros(3, dtype=params.dtype)
        f_latt = 0.0
        cell = constants.lattice[0, 0] * 1e10
    f_cells = evaluation.f_cell[0].expand_as(lattice_sq).reshape(-1)
    f_cell = float(f_cells[last_cell]) if last_cell >= 0 else 0.0
    return hkl, f_latt, cell, f_cell


def trace_pixel(params: Params, static: Static, fpixel: int, spixel: int) -> PixelTrace:
    """Trace one pixel.

    State carried from earlier pixels (interpolation switched off, the run's first phi loop
    done) is taken into account (see :func:`_state_before`).

    Args:
        params: Parameters.
        static: Static options.
        fpixel: Fast index.
        spixel: Slow index.

    Returns:
        The trace.
    """
    constants = render_constants(params, static)
    flat = spixel * static.fpixels + fpixel
    state = _state_before(flat, params, static, constants)
    index = torch.tensor([flat], device=params.device)
    evaluation = evaluate_pixels(index, params, static, constants=constants, state=state)
    wavelength = float(params.wavelength)
    position = evaluation.positions[0, -1, -1]
    scattering = evaluation.scattering[0, -1, -1, -1]
    stol = 0.5 * float(torch.linalg.vector_norm(scattering))
    twotheta = math.atan2(math.hypot(float(position[1]), float(position[2])), float(position[0]))
    hkl, f_latt, cell, f_cell = _last_evaluation(evaluation, params, static, constants)
    hkl0 = [math.ceil(float(x) - 0.5) for x in hkl]
    intensity = float(evaluation.intensity[0])
    polar = float(evaluation.polar_used[0])
    if static.oversample_polar:
        last_src = _last_true(evaluation.passed[0])
        polar = float(evaluation.polar[0].reshape(-1)[last_src]) if last_src >= 0 else 0.0
    omega = (
        float(evaluation.omega[0, -1, -1])
        if static.oversample_omega
        else float(evaluation.omega_used[0])
    )
    capture = (
        float(evaluation.capture[0, -1, -1])
        if static.oversample_thick
        else float(evaluation.capture_used[0])
    )
    return PixelTrace(
        fpixel=fpixel,
        spixel=spixel,
        stol=stol,
        stol_beam_x=math.sin(twotheta / 2.0) / (wavelength * 1e10),
        position=[float(x) for x in position],
        hkl=[float(x) for x in hkl],
        hkl0=hkl0,
        f_cell=f_cell,
        f_latt=f_latt,
        intensity=intensity,
        intensity_per_step=intensity / static.steps,
        polar=polar,
        omega=omega,
        capture=capture,
        pixel=float(torch.tensor(float(evaluation.value[0]), dtype=torch.float32)),
        cell=[[float(x) for x in row] for row in cell],
        evaluation=evaluation,
    )


def _unravel(index: int, shape: torch.Size) -> tuple[int, ...]:
    out = []
    for size in reversed(shape):
        out.append(index % size)
        index //= size
    return tuple(reversed(out))


def format_printout(trace: PixelTrace, pixel_value: float | None = None) -> list[str]:
    """The C program's ``-printout`` block for a traced pixel.

    Args:
        trace: The trace.
        pixel_value: The stored pixel value to print (default: the trace's own).

    Returns:
        Lines, as the C program prints them.
    """
    value = trace.pixel if pixel_value is None else pixel_value
    a, b, c = trace.cell
    lines = [
        f"{trace.fpixel:4d} {trace.spixel:4d} : stol = {trace.stol:g} or {trace.stol_beam_x:g}",
        f"at {trace.position[0]:g} {trace.position[1]:g} {trace.position[2]:g}",
        f"hkl= {trace.hkl[0]:f} {trace.hkl[1]:f} {trace.hkl[2]:f}  "
        f"hkl0= {trace.hkl0[0]} {trace.hkl0[1]} {trace.hkl0[2]}",
        f" F_cell={trace.f_cell:g}  F_latt={trace.f_latt:g}   I = {trace.intensity:g}",
        f"I/steps {trace.intensity_per_step:15.10g}",
        f"polar   {trace.polar:15.10g}",
        f"omega   {trace.omega:15.10g}",
        f"capfrac {trace.capture:15.10g}",
        f"pixel   {value:15.10g}",
        "real-space cell vectors (Angstrom):",
        "     %-10s  %-10s  %-10s" % ("a", "b", "c"),
        f"X: {a[0]:11.8f} {b[0]:11.8f} {c[0]:11.8f}",
        f"Y: {a[1]:11.8f} {b[1]:11.8f} {c[1]:11.8f}",
        f"Z: {a[2]:11.8f} {b[2]:11.8f} {c[2]:11.8f}",
    ]
    return lines
