"""The render kernel: one pure function from (Params, Static) to an image.

The C program loops, per pixel, over sensor layers, sub-pixels (slow, then fast), sources, phi
steps and mosaic domains. Here every one of those loops is a tensor dimension, and pixels are
processed in chunks so that peak memory stays bounded for any detector. The result matches the
C program's float image, quirks included (see :class:`nb_core.options.Quirks`).
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from torch import Tensor

from nb_core.crystal.lattice import crystal_basis, lattice_vectors
from nb_core.geometry.detector import DetectorFrame, detector_frame
from nb_core.geometry.pixels import capture_fractions, solid_angles, subpixel_positions
from nb_core.geometry.rotations import dot, unitize
from nb_core.params import Params, Static
from nb_core.physics.lattice_factors import (
    nearest_index,
    sinc3_of_square,
    sincg_sign,
    square_lattice_sq,
)
from nb_core.physics.polarization import polarization_factor
from nb_core.physics.structure_factors import (
    interpolation_out_of_range,
    lookup_nearest_padded,
    lookup_tricubic,
    pad_grid,
)
from nb_core.units import AVOGADRO, R_E_SQR

__all__ = [
    "DEFAULT_MAX_EVALUATIONS",
    "Evaluation",
    "compiled_chunk",
    "evaluate_pixels",
    "kernel_in_cache",
    "kernel_package",
    "lattice_factor_signed",
    "render",
    "render_pixels",
    "rendered_pixels",
    "solid_angle_total",
    "water_background",
]

#: Lattice evaluations held in memory at once (pixels x layers x sub-pixels x sources x phi x
#: domains); the chunk size follows from it.
DEFAULT_MAX_EVALUATIONS = 1 << 19
#: The same for the compiled kernel, which keeps no per-evaluation intermediates in memory:
#: larger chunks there mean fewer calls (measured fastest at 2M on the benchmark cases).
COMPILED_MAX_EVALUATIONS = 1 << 21

_WATER_F = 2.57
_WATER_MW = 18.0
#: Volume ratio correction of the ROUND shape (sphere vs cube).
_ROUND_SCALE = 0.723601254558268

ProgressFn = Callable[[int, int], None]


def water_background(params: Params) -> Tensor:
    """Photons per steradian from the water around the crystal, before normalisation.

    Args:
        params: Parameters (fluence, water_size).

    Returns:
        ``()`` the C program's ``I_bg``.
    """
    w = params.water_size
    return _WATER_F * _WATER_F * R_E_SQR * params.fluence * w * w * w * 1e6 * AVOGADRO / _WATER_MW


def rendered_pixels(params: Params, static: Static) -> Tensor:
    """Flat indices of the pixels the C program renders: inside the ROI and unmasked.

    Args:
        params: Parameters (mask).
        static: Static options (roi, fpixels, spixels).

    Returns:
        ``(N,)`` int64 flat indices (slow * fpixels + fast), in raster order.
    """
    xmin, xmax, ymin, ymax = static.roi
    dev = params.device
    fast = torch.arange(static.fpixels, device=dev)
    slow = torch.arange(static.spixels, device=dev)
    keep = ((slow >= ymin) & (slow <= ymax))[:, None] & ((fast >= xmin) & (fast <= xmax))[None, :]
    if params.mask is not None:
        keep = keep & params.mask.to(device=dev, dtype=torch.bool)
    return torch.nonzero(keep.reshape(-1), as_tuple=False).reshape(-1)


@dataclass(frozen=True)
class _Shared:
    """Per-render quantities computed once and used by every chunk."""

    frame: DetectorFrame
    lattice: Tensor  # (Phi, M, 3, 3) rows a, b, c (m)
    lattice_first: Tensor | None  # the same for the very first phi loop, if it differs
    first_differs: Tensor | None  # (Phi,) bool: steps where lattice_first differs
    reciprocal: Tensor  # (3, 3) rows a*, b*, c* (Å⁻¹)
    i_bg: Tensor  # ()
    padded_grid: Tensor | None  # (H + 2, K + 2, L + 2) amplitudes padded with default_F


def _shared(params: Params, static: Static) -> _Shared:
    frame = detector_frame(params, static)
    lattice = lattice_vectors(params, static)
    lattice_first = None
    first_differs = None
    if static.quirks.phi0 and static.phi_source_first != static.phi_source:
        lattice_first = lattice_vectors(params, static, first_loop=True)
        first_differs = torch.tensor(
            [a != b for a, b in zip(static.phi_source_first, static.phi_source, strict=True)],
            device=params.device,
        )
    basis = crystal_basis(params, static)
    return _Shared(
        frame=frame,
        lattice=lattice,
        lattice_first=lattice_first,
        first_differs=first_differs,
        reciprocal=basis.reciprocal.to(params.dtype),
        i_bg=water_background(params),
        padded_grid=pad_grid(params.f_grid, params.default_F) if static.has_hkl else None,
    )


def _lattice_factor_sq(
    hkl: Tensor, hkl0: Tensor, params: Params, static: Static, reciprocal: Tensor
) -> Tensor:
    """F_latt^2 for every evaluation.

    Args:
        hkl: ``(3, ...)`` fractional Miller indices, axis first.
        hkl0: ``(3, ...)`` nearest integers (``ceil(h - 0.5)``).
        params: Parameters (n_cells, fudge).
        static: Static options (shape).
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).

    Returns:
        ``(...)`` squared lattice factor.
    """
    delta = hkl - hkl0
    # Work on the evaluations in their storage order (pixels innermost, see
    # :func:`_miller_indices`), so that stacked per-axis results keep the layout of ``delta``.
    order, back = _storage_order(delta)
    lat = _lattice_factor_sq_ordered(delta.permute(0, *order), params, static, reciprocal)
    return lat.permute(back)


def _storage_order(t: Tensor) -> tuple[list[int], list[int]]:
    """The axes after the first in storage order (largest stride first), and the inverse.

    Returns:
        ``(order, back)``: ``t.permute(0, *order)`` lists the axes as they lie in memory (so
        that flattening them is a view); a result over the permuted axes 1.. is put back in
        the logical order by ``permute(back)`` (its axes counted from 0).
    """
    order = sorted(range(1, t.dim()), key=lambda d: -t.stride(d))
    back = [order.index(d) for d in range(1, t.dim())]
    return order, back


def _lattice_factor_sq_ordered(
    delta: Tensor, params: Params, static: Static, reciprocal: Tensor
) -> Tensor:
    n = params.n_cells
    if static.shape == "square":
        cells = static.integer_cells
        if n.requires_grad:
            cells = None  # refined counts are continuous
        return square_lattice_sq(delta, n, cells)
    nprod = n[0] * n[1] * n[2]
    if static.shape == "round":
        hrad_sqr = delta[0] ** 2 * n[0] ** 2 + delta[1] ** 2 * n[1] ** 2 + delta[2] ** 2 * n[2] ** 2
        lat = nprod * _ROUND_SCALE * sinc3_of_square(hrad_sqr * params.fudge)
        return lat * lat
    dstar = [
        delta[0] * reciprocal[0, k] + delta[1] * reciprocal[1, k] + delta[2] * reciprocal[2, k]
        for k in range(3)
    ]
    rad_star_sqr = (dstar[0] ** 2 + dstar[1] ** 2 + dstar[2] ** 2) * (
        n[0] * n[0] * n[1] * n[1] * n[2] * n[2]
    )
    if static.shape == "gauss":
        lat = nprod * torch.exp(-(rad_star_sqr / 0.63 * params.fudge))
    else:
        lat = nprod * (rad_star_sqr * params.fudge < 0.3969).to(delta.dtype)
    return lat * lat


def lattice_factor_signed(
    hkl: Tensor, params: Params, static: Static, reciprocal: Tensor
) -> Tensor:
    """F_latt with the C program's sign (for traces).

    Args:
        hkl: ``(3, ...)`` fractional Miller indices, axis first.
        params: Parameters.
        static: Static options.
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).

    Returns:
        ``(...)`` lattice factor.
    """
    hkl0 = nearest_index(hkl)
    magnitude = torch.sqrt(_lattice_factor_sq(hkl, hkl0, params, static, reciprocal))
    if static.shape != "square":
        return magnitude
    n = params.n_cells
    sign = torch.ones_like(magnitude)
    for axis in range(3):
        s = sincg_sign(hkl0[axis], n[axis])
        sign = sign * torch.where(n[axis] > 1.0, s, torch.ones_like(s))
    return sign * magnitude


def _miller_indices(scattering: Tensor, lattice: Tensor) -> Tensor:
    """``h_j = a_j . S`` for every evaluation, laid out ``(3, F, M, P, L, X, S)``.

    The phi steps and domains (few) come first and the pixel-side dimensions last, so that the
    per-evaluation work vectorizes along many pixels. Eagerly one matrix product
    ``(3 F M, 3) @ (3, evaluations)`` taken on the scattering vectors' own storage order
    (component-major from :func:`~nb_core.geometry.pixels.subpixel_positions`), whose
    backward is two more such products; under ``torch.compile`` three broadcast multiply-adds,
    which the compiler fuses into the lattice-factor loop instead of materializing them.

    Args:
        scattering: ``(P, L, X, S, 3)`` scattering vectors (1/m).
        lattice: ``(F, M, 3, 3)`` rows a, b, c (m) per phi step and domain.
    """
    if torch.compiler.is_compiling():
        s = scattering.permute(4, 0, 1, 2, 3)[:, None, None]  # (3, 1, 1, P, L, X, S)
        a = lattice.permute(2, 3, 0, 1)[..., None, None, None, None]  # (3j, 3k, F, M, 1, 1, 1, 1)
        return a[:, 0] * s[0] + a[:, 1] * s[1] + a[:, 2] * s[2]
    comp = scattering.movedim(-1, 0)  # (3, P, L, X, S)
    # Pixel-side axes in storage order: the flattening is then a view.
    order, back = _storage_order(comp)
    flat = comp.permute(0, *order).reshape(3, -1)
    n_phi, n_dom = lattice.shape[0], lattice.shape[1]
    rows = lattice.permute(2, 0, 1, 3).reshape(3 * n_phi * n_dom, 3)  # (j, F, M) x k
    hkl = rows.matmul(flat).reshape(3, n_phi, n_dom, *(comp.shape[d] for d in order))
    return hkl.permute(0, 1, 2, *(3 + b for b in back))


#: From the evaluation-outer layout (F, M, P, L, X, S) to the C program's loop order
#: (P, L, X, S, F, M), and back.
_TO_C_ORDER = (2, 3, 4, 5, 0, 1)
_FROM_C_ORDER = (4, 5, 0, 1, 2, 3)


def _first_true(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Index of the first True along the last axis (0 if none), and whether there is one.

    A min over positions rather than ``argmax``: inductor's parallel argmax of a boolean
    mask has been seen to return an out-of-range index on CPU.
    """
    n = mask.shape[-1]
    if n == 0:
        none = torch.zeros(mask.shape[:-1], dtype=torch.long, device=mask.device)
        return none, none.bool()
    order = torch.arange(n, device=mask.device)
    first = torch.where(mask, order, n).amin(dim=-1)
    return first.clamp(max=n - 1), first < n


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
        interpolation_disabled: ``()`` bool state after this chunk.
        first_loop_pending: ``()`` bool: the run's first phi loop is still to come.
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
    interpolation_disabled: Tensor
    first_loop_pending: Tensor


def _unravel(flat: Tensor, shape: Sequence[int]) -> tuple[Tensor, ...]:
    """Indices into ``shape`` of flat (row-major) positions ``flat``.

    The same as :func:`torch.unravel_index`, whose argument check imports sympy (about 0.9 s
    on the first call of a process).
    """
    out: list[Tensor] = []
    rest = flat
    for size in reversed(shape[1:]):
        out.append(torch.remainder(rest, size))
        rest = torch.div(rest, size, rounding_mode="floor")
    out.append(rest)
    return tuple(reversed(out))


def evaluate_pixels(
    pixel_index: Tensor,
    params: Params,
    static: Static,
    *,
    shared: _Shared | None = None,
    interpolation_disabled: Tensor | None = None,
    first_chunk: bool | Tensor = False,
    lean: bool = False,
) -> Evaluation:
    """Evaluate a set of pixels (one chunk) exactly as the C program does, keeping intermediates.

    Args:
        pixel_index: ``(P,)`` flat pixel indices, in raster order.
        params: Parameters.
        static: Static options.
        shared: Per-render quantities (computed if None).
        interpolation_disabled: ``()`` bool: whether an earlier chunk already switched the
            tricubic interpolation off (the C program does so for the rest of the run after the
            first evaluation whose 4x4x4 block leaves the grid).
        first_chunk: Whether the run's first phi loop is still to come (phi0 quirk): True for
            the first chunk, then the ``first_loop_pending`` state of the previous chunk; a
            bool or a ``()`` bool tensor.
        lean: Compute the polarization only where the pixel value uses it (the first
            sub-sample, unless ``-oversample_polar`` or ``-dmin``); ``Evaluation.polar`` then
            repeats that value. Renders set it; traces keep every sample's own factor.

    Returns:
        Every intermediate, the pixel values and the updated interpolation state.
    """
    sh = _shared(params, static) if shared is None else shared
    frame = sh.frame
    dtype, dev = params.dtype, params.device
    if interpolation_disabled is None:
        interpolation_disabled = torch.zeros((), dtype=torch.bool, device=dev)
    npix = pixel_index.shape[0]

    pos = subpixel_positions(pixel_index, params, static, frame)  # (P, L, X, 3)
    diffracted, airpath = unitize(pos)
    if lean:
        # The per-pixel factors come from the first sub-sample: take it from its own small
        # graph rather than slicing the full one (whose gradient would then be a mostly-zero
        # tensor of the full size).
        diffracted_first, airpath_first = unitize(
            subpixel_positions(pixel_index, params, static, frame, first_only=True)
        )
    else:
        diffracted_first, airpath_first = diffracted[:, :1, :1], airpath[:, :1, :1]
    omega_first = solid_angles(airpath_first, params, static, frame)  # (P, 1, 1)
    if lean and not static.oversample_omega:
        omega = omega_first.expand(airpath.shape)
    else:
        omega = solid_angles(airpath, params, static, frame)  # (P, L, X)
    capture = capture_fractions(diffracted, params, static, frame)  # (P, L, X)

    incident = -params.source_directions  # (Src, 3)
    lam = params.wavelength * params.source_wavelength_factors  # (Src,)
    scattering = (diffracted[:, :, :, None, :] - incident) / lam[:, None]  # (P, L, X, Src, 3)

    if static.has_dmin:
        stol = 0.5 * torch.sqrt(dot(scattering, scattering).detach())
        safe = torch.where(stol > 0, stol, torch.ones_like(stol))
        cutoff = torch.where(stol > 0, 0.5 / safe, torch.full_like(stol, math.inf))
        passed = ~((params.dmin > 0) & (params.dmin > cutoff))
    else:
        passed = torch.ones(scattering.shape[:-1], dtype=torch.bool, device=dev)

    if static.nopolar and not static.oversample_polar:
        polar = torch.ones(scattering.shape[:-1], dtype=dtype, device=dev)
    elif lean and not static.has_dmin and not static.oversample_polar:
        # Only the first sub-sample's factor is used: compute it once per pixel.
        first_polar = polarization_factor(
            params.polarization, incident[:1], diffracted_first[:, :, :, None, :], params.polar_axis
        )
        polar = first_polar.expand(scattering.shape[:-1])
    else:
        polar = polarization_factor(
            params.polarization, incident, diffracted[:, :, :, None, :], params.polar_axis
        )

    # Miller indices, axis first, evaluation-outer: (3, Phi, M, P, L, X, Src).
    hkl = _miller_indices(scattering, sh.lattice)
    pending = torch.as_tensor(first_chunk, device=dev)
    flat_passed = passed.reshape(-1)
    if static.has_dmin:
        first_pass, any_pass_chunk = _first_true(flat_passed[None])
    else:  # every evaluation passes
        first_pass = torch.zeros(1, dtype=torch.long, device=dev)
        any_pass_chunk = torch.full((1,), flat_passed.shape[0] > 0, device=dev)
    quirk_possible = first_chunk is not False  # a Python False: the first loop is long past
    if (
        quirk_possible
        and sh.lattice_first is not None
        and sh.first_differs is not None
        and npix > 0
    ):
        # The run's very first phi loop (at the first evaluation that passes the -dmin cut)
        # rotates from the unrotated lattice.
        at = _unravel(first_pass, passed.shape)  # four (1,) indices
        alt = torch.einsum("k,fmjk->jfm", scattering[at][0], sh.lattice_first)
        order = torch.arange(flat_passed.shape[0], device=dev)
        mask = ((order == first_pass[0]) & any_pass_chunk[0] & pending).reshape(passed.shape)
        use = sh.first_differs[:, None, None, None, None, None] & mask[None, None]
        hkl = torch.where(use[None], alt[..., None, None, None, None], hkl)
    pending = pending & ~any_pass_chunk[0]

    hkl0 = nearest_index(hkl)
    lat_sq = _lattice_factor_sq(hkl, hkl0, params, static, sh.reciprocal)  # (Phi, M, P, L, X, Src)
    passed_e = passed[None, None]
    need_active = static.compounding or (static.interpolate and static.has_hkl)
    if need_active:
        active = passed_e & ((lat_sq != 0) | static.has_water)
    else:
        active = passed_e.expand_as(lat_sq)

    if not static.has_hkl or sh.padded_grid is None:
        f_sq = (params.default_F * params.default_F).expand_as(lat_sq)
        f_cell = params.default_F.expand_as(lat_sq)
    else:
        f_near = lookup_nearest_padded(sh.padded_grid, static.grid_origin, hkl0)
        if static.interpolate:
            grid_shape = (params.f_grid.shape[0], params.f_grid.shape[1], params.f_grid.shape[2])
            oor = interpolation_out_of_range(hkl, static.grid_origin, grid_shape) & active
            c_shape = tuple(oor.shape[i] for i in _TO_C_ORDER)
            order = torch.arange(oor.numel(), device=dev).reshape(c_shape).permute(_FROM_C_ORDER)
            big = torch.full_like(order, oor.numel())
            first_oor = torch.where(oor, order, big).min()
            enabled = ~interpolation_disabled
            # Interpolated before the first evaluation whose block leaves the grid; nearest
            # from it on (the C program switches interpolation off there, and its nearest-
            # neighbour branch then runs in that same evaluation).
            use_interp = enabled & (order < first_oor)
            f_interp = lookup_tricubic(params.f_grid, static.grid_origin, hkl)
            f_cell = torch.where(use_interp, f_interp, f_near)
            interpolation_disabled = interpolation_disabled | oor.any()
        else:
            f_cell = f_near
        f_sq = f_cell * f_cell

    term = f_sq * lat_sq
    if static.has_dmin:
        term = torch.where(passed_e, term, torch.zeros_like(term))

    # Factors cached from the first sub-sample unless an -oversample_* switch asks otherwise.
    omega_used = omega_first[:, 0, 0]
    capture_used = capture[:, -1, 0]
    if static.has_dmin:
        # The factor of the first sub-sample and source that passes the cut (0 if none does).
        first_idx, any_pass = _first_true(passed.reshape(npix, -1))
        polar_used = polar.reshape(npix, -1).gather(1, first_idx[:, None])[:, 0]
        polar_used = torch.where(any_pass, polar_used, torch.zeros_like(polar_used))
    else:
        polar_used = polar[:, 0, 0, 0]
    if static.nopolar and not static.oversample_polar:
        polar_used = torch.ones_like(polar_used)

    i_bg = sh.i_bg
    if static.compounding:
        mult = torch.ones((), dtype=dtype, device=dev)
        if static.oversample_thick:
            mult = mult * capture[..., None, None, None]
        if static.oversample_polar:
            mult = mult * polar[..., None, None]
        if static.oversample_omega:
            mult = mult * omega[..., None, None, None]
        active_c = active.permute(_TO_C_ORDER)
        mult = torch.where(active_c, mult, torch.ones_like(mult)).reshape(npix, -1)
        terms = term.permute(_TO_C_ORDER).reshape(npix, -1)
        if static.quirks.oversample:
            suffix = torch.flip(torch.cumprod(torch.flip(mult, (1,)), dim=1), (1,))
            intensity = i_bg * suffix[:, 0] + (terms * suffix).sum(dim=1)
        else:
            intensity = i_bg * mult[:, 0] + (terms * mult).sum(dim=1)
    else:
        intensity = i_bg + term.sum(dim=(0, 1)).reshape(npix, -1).sum(dim=1)

    value = R_E_SQR * params.fluence * intensity / static.steps
    if not static.oversample_thick:
        value = value * capture_used
    if not static.oversample_polar:
        value = value * polar_used
    if not static.oversample_omega:
        value = value * omega_used
    return Evaluation(
        positions=pos,
        diffracted=diffracted,
        omega=omega,
        capture=capture,
        scattering=scattering,
        passed=passed,
        polar=polar,
        hkl=hkl.permute(0, *(i + 1 for i in _TO_C_ORDER)),
        lattice_factor_sq=lat_sq.permute(_TO_C_ORDER),
        active=active.permute(_TO_C_ORDER),
        f_cell=f_cell.permute(_TO_C_ORDER),
        term=term.permute(_TO_C_ORDER),
        intensity=intensity,
        value=value,
        polar_used=polar_used,
        omega_used=omega_used,
        capture_used=capture_used,
        interpolation_disabled=interpolation_disabled,
        first_loop_pending=pending,
    )


def render_pixels(
    pixel_index: Tensor,
    params: Params,
    static: Static,
    *,
    shared: _Shared | None = None,
    interpolation_disabled: Tensor | None = None,
    first_chunk: bool = False,
) -> tuple[Tensor, Tensor]:
    """Render a set of pixels (one chunk); see :func:`evaluate_pixels`.

    Returns:
        ``(values, interpolation_disabled)``: ``(P,)`` pixel values (photons) and the updated
        interpolation state.
    """
    dev = params.device
    if interpolation_disabled is None:
        interpolation_disabled = torch.zeros((), dtype=torch.bool, device=dev)
    first = torch.as_tensor(first_chunk, device=dev)
    values, disabled, _ = _chunk_values(
        pixel_index, params, static, shared, interpolation_disabled, first
    )
    return values, disabled


def _chunk_size(static: Static, max_evaluations: int) -> int:
    per_pixel = max(1, static.evaluations_per_pixel)
    budget = max_evaluations // 16 if (static.interpolate and static.has_hkl) else max_evaluations
    return max(1, budget // per_pixel)


def _chunk_values(
    pixel_index: Tensor,
    params: Params,
    static: Static,
    shared: _Shared | None,
    disabled: Tensor,
    first: bool | Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    ev = evaluate_pixels(
        pixel_index,
        params,
        static,
        shared=shared,
        interpolation_disabled=disabled,
        first_chunk=first,
        lean=True,
    )
    return ev.value, ev.interpolation_disabled, ev.first_loop_pending


_PARAM_FIELDS = tuple(f.name for f in fields(Params))


_FRAME_FIELDS = tuple(f.name for f in fields(DetectorFrame))
_SHARED_FIELDS = tuple(f.name for f in fields(_Shared) if f.name != "frame")


def _flatten_inputs(params: Params, shared: _Shared) -> list[Tensor | None]:
    """Params, the detector frame and the per-render quantities as one flat list of tensors."""
    return [
        *(getattr(params, name) for name in _PARAM_FIELDS),
        *(getattr(shared.frame, name) for name in _FRAME_FIELDS),
        *(getattr(shared, name) for name in _SHARED_FIELDS),
    ]


def _chunk_from_tensors(
    static: Static, pixel_index: Tensor, disabled: Tensor, first: Tensor, *values: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    # Everything travels as plain tensor arguments (not inside objects), so torch.compile
    # treats them as graph inputs and traces only the per-chunk kernel.
    n_params, n_frame = len(_PARAM_FIELDS), len(_FRAME_FIELDS)
    params = Params(**dict(zip(_PARAM_FIELDS, values[:n_params], strict=True)))  # type: ignore[arg-type]
    frame_values = dict(zip(_FRAME_FIELDS, values[n_params : n_params + n_frame], strict=True))
    frame = DetectorFrame(**frame_values)  # type: ignore[arg-type]
    rest = dict(zip(_SHARED_FIELDS, values[n_params + n_frame :], strict=True))
    shared = _Shared(frame=frame, **rest)  # type: ignore[arg-type]
    return _chunk_values(pixel_index, params, static, shared, disabled, first)


_COMPILED: dict[str, Callable[..., tuple[Tensor, Tensor, Tensor]]] = {}


def _call_without_static(
    kernel: Callable[..., tuple[Tensor, Tensor, Tensor]], static: Static, *inputs: Tensor | None
) -> tuple[Tensor, Tensor, Tensor]:
    # An ahead-of-time kernel has the static options compiled in.
    del static
    return kernel(*inputs)


def compiled_chunk() -> Callable[..., tuple[Tensor, Tensor, Tensor]]:
    """The chunk kernel compiled with ``torch.compile`` (one fused loop per chunk shape).

    Compiled once per process and per (static options, chunk shape, dtype, device); the
    inductor cache on disk makes later processes start fast. Call it as
    ``kernel(static, pixel_index, disabled, first, *params_fields)``.
    """
    fn = _COMPILED.get("chunk")
    if fn is None:
        fn = torch.compile(_chunk_from_tensors, dynamic=False)
        _COMPILED["chunk"] = fn
    return fn


def _padded(index: Tensor, chunk: int) -> Tensor:
    """Pad a chunk's pixel indices with its last pixel (evaluated again, then dropped) to
    ``chunk`` entries, so that one compiled shape serves every chunk."""
    count = int(index.shape[0])
    if count >= chunk:
        return index
    return torch.cat((index, index[-1:].expand(chunk - count)))


def _plan(
    params: Params, static: Static, max_evaluations: int | None, compile: bool
) -> tuple[Tensor, int]:
    """The pixels a render evaluates, ``(N,)`` flat indices, and its chunk size."""
    pixels = rendered_pixels(params, static)
    total = int(pixels.shape[0])
    if max_evaluations is None:
        max_evaluations = COMPILED_MAX_EVALUATIONS if compile else DEFAULT_MAX_EVALUATIONS
    return pixels, min(_chunk_size(static, max_evaluations), max(total, 1))


def _initial_state(params: Params) -> tuple[Tensor, Tensor]:
    """``(interpolation disabled, first phi loop pending)`` at the start of a run."""
    disabled = torch.zeros((), dtype=torch.bool, device=params.device)
    pending = torch.ones((), dtype=torch.bool, device=params.device)
    return disabled, pending


def kernel_package(
    params: Params,
    static: Static,
    kernel_cache: str | os.PathLike[str],
    *,
    max_evaluations: int | None = None,
) -> Path | None:
    """The package file ``render(..., compile=True, kernel_cache=...)`` would load or build.

    Args:
        params: Parameters.
        static: Static options.
        kernel_cache: Folder of the ahead-of-time compiled kernels.
        max_evaluations: The chunk budget the render would use (None: its compiled default).

    Returns:
        ``kernel_cache / "chunk-<key>.pt2"``, or None when the job renders no pixel.
    """
    from nb_core.kernels import kernel_path

    pixels, chunk = _plan(params, static, max_evaluations, compile=True)
    if pixels.shape[0] == 0:
        return None
    disabled, pending = _initial_state(params)
    field_values = _flatten_inputs(params, _shared(params, static))
    example = (_padded(pixels[:chunk], chunk), disabled, pending, *field_values)
    return kernel_path(static, example, kernel_cache)


def kernel_in_cache(
    params: Params,
    static: Static,
    kernel_cache: str | os.PathLike[str],
    *,
    max_evaluations: int | None = None,
) -> bool:
    """Whether ``render(..., compile=True, kernel_cache=...)`` would load a kernel already built.

    Args:
        params: Parameters.
        static: Static options.
        kernel_cache: Folder of the ahead-of-time compiled kernels.
        max_evaluations: The chunk budget the render would use (None: its compiled default).

    Returns:
        True when the package for this job's kernel is one nb wrote (its digest matches) in a
        folder only the current user may write to; see :func:`nb_core.kernels.package_in_cache`.
    """
    from nb_core.kernels import package_in_cache

    package = kernel_package(params, static, kernel_cache, max_evaluations=max_evaluations)
    return package is not None and package_in_cache(package)


def render(
    params: Params,
    static: Static,
    *,
    max_evaluations: int | None = None,
    progress: ProgressFn | None = None,
    compile: bool = False,
    kernel_cache: str | os.PathLike[str] | None = None,
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

    Returns:
        ``(spixels, fpixels)`` image in photons per pixel; pixels outside the ROI or masked
        are 0.
    """
    sh = _shared(params, static)
    pixels, chunk = _plan(params, static, max_evaluations, compile)
    total = int(pixels.shape[0])
    disabled, pending = _initial_state(params)
    field_values = _flatten_inputs(params, sh)
    kernel = None
    if compile:
        tracked = torch.is_grad_enabled() and any(
            t is not None and t.requires_grad for t in field_values
        )
        if kernel_cache is not None and not tracked and total > 0:
            from nb_core.kernels import aot_chunk_kernel

            example = (_padded(pixels[:chunk], chunk), disabled, pending, *field_values)
            bound = functools.partial(_chunk_from_tensors, static)
            aot = aot_chunk_kernel(bound, static, example, kernel_cache)
            kernel = functools.partial(_call_without_static, aot)
        else:
            kernel = compiled_chunk()
    values = []
    for start in range(0, total, chunk):
        index = pixels[start : start + chunk]
        count = int(index.shape[0])
        if compile:
            index = _padded(index, chunk)
        if kernel is not None:
            with warnings.catch_warnings():
                # Dynamo reads ``.grad`` of non-leaf inputs while tracing; torch warns about
                # its own access. Nothing of ours is at fault, so keep the warning quiet.
                warnings.filterwarnings("ignore", message="The .grad attribute of a Tensor")
                part, disabled, pending = kernel(static, index, disabled, pending, *field_values)
        else:
            # Without -dmin every evaluation passes, so the run's first phi loop is over after
            # the first chunk: later chunks say so as a Python bool and skip that quirk's work.
            first: bool | Tensor = pending if static.has_dmin or start == 0 else False
            part, disabled, pending = _chunk_values(index, params, static, sh, disabled, first)
        values.append(part[:count])
        if progress is not None:
            progress(min(start + chunk, total), total)
    npixels = static.fpixels * static.spixels
    flat = torch.zeros(npixels, dtype=params.dtype, device=params.device)
    if values:
        all_values = torch.cat(values)
        if total == npixels:
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
        pos = subpixel_positions(index, params, static, frame, first_only=first_only)
        _, airpath = unitize(pos)
        omega = solid_angles(airpath, params, static, frame)
        total = total + omega.sum() * repeat
    return total / static.steps
