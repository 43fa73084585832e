"""Unit cell to lattice vectors, missetting, spindle rotation and mosaic domains."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.geometry.rotations import (
    axis_angle_matrix,
    cross,
    dot,
    rotate_axis,
    rotate_xyz,
    unitize,
)
from nb_core.params import Params, Static
from nb_core.units import DBL_MIN

__all__ = [
    "CrystalBasis",
    "crystal_basis",
    "lattice_vectors",
    "mosaic_matrices",
    "reciprocal_from_cell",
]


@dataclass(frozen=True)
class CrystalBasis:
    """The crystal at phi = 0 without mosaic rotation.

    Attributes:
        real: ``(3, 3)`` rows a, b, c (m).
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).
        volume: ``()`` cell volume (Å^3).
        cell: ``(6,)`` a, b, c (Å) and alpha, beta, gamma (rad) of the final vectors.
        reciprocal_cell: ``(6,)`` a*, b*, c* (Å⁻¹) and alpha*, beta*, gamma* (rad).
    """

    real: Tensor
    reciprocal: Tensor
    volume: Tensor
    cell: Tensor
    reciprocal_cell: Tensor


def _clamp_unit(x: Tensor) -> Tensor:
    return torch.clamp(x, -1.0, 1.0)


def _clamp_cos(x: Tensor) -> Tensor:
    # The C program replaces any cosine whose square exceeds 1 by +1.
    return torch.where(x * x > 1.0, torch.ones_like(x), x)


def reciprocal_from_cell(cell: Tensor) -> tuple[Tensor, Tensor]:
    """Default-orientation reciprocal vectors of a cell, as the C program builds them.

    a* lies along x, b* in the x-y plane.

    Args:
        cell: ``(6,)`` a, b, c (Å) and alpha, beta, gamma (rad).

    Returns:
        ``(reciprocal, volume)``: ``(3, 3)`` rows a*, b*, c* (Å⁻¹) and ``()`` volume (Å^3).
    """
    a, b, c, alpha, beta, gamma = cell.unbind()
    aavg = (alpha + beta + gamma) / 2
    skew = (
        torch.sin(aavg) * torch.sin(aavg - alpha) * torch.sin(aavg - beta) * torch.sin(aavg - gamma)
    )
    skew = torch.abs(skew)
    volume = 2.0 * a * b * c * torch.sqrt(torch.clamp(skew, min=0.0))
    volume = torch.where(volume <= 0.0, torch.full_like(volume, DBL_MIN), volume)
    v_star = 1.0 / volume
    as_len = torch.abs(b * c * torch.sin(alpha) * v_star)
    bs_len = torch.abs(c * a * torch.sin(beta) * v_star)
    cs_len = torch.abs(a * b * torch.sin(gamma) * v_star)
    as_len = torch.where(as_len <= 0.0, torch.full_like(as_len, DBL_MIN), as_len)
    bs_len = torch.where(bs_len <= 0.0, torch.full_like(bs_len, DBL_MIN), bs_len)
    cs_len = torch.where(cs_len <= 0.0, torch.full_like(cs_len, DBL_MIN), cs_len)
    sin_gamma_s = _clamp_unit(c * v_star / as_len / bs_len)
    cos_alpha_s = (torch.cos(beta) * torch.cos(gamma) - torch.cos(alpha)) / (
        torch.sin(beta) * torch.sin(gamma)
    )
    cos_beta_s = (torch.cos(gamma) * torch.cos(alpha) - torch.cos(beta)) / (
        torch.sin(gamma) * torch.sin(alpha)
    )
    cos_gamma_s = (torch.cos(alpha) * torch.cos(beta) - torch.cos(gamma)) / (
        torch.sin(alpha) * torch.sin(beta)
    )
    cos_alpha_s, cos_beta_s, cos_gamma_s = (
        _clamp_cos(cos_alpha_s),
        _clamp_cos(cos_beta_s),
        _clamp_cos(cos_gamma_s),
    )
    zero = torch.zeros_like(as_len)
    a_star = torch.stack((as_len, zero, zero))
    b_star = torch.stack((bs_len * cos_gamma_s, bs_len * sin_gamma_s, zero))
    c_star = torch.stack(
        (
            cs_len * cos_beta_s,
            cs_len * (cos_alpha_s - cos_beta_s * cos_gamma_s) / sin_gamma_s,
            cs_len * volume / (a * b * c * sin_gamma_s),
        )
    )
    return torch.stack((a_star, b_star, c_star)), volume


def _rescale(v: Tensor, magnitude: Tensor) -> Tensor:
    old = torch.sqrt(dot(v, v))
    old = torch.where(old <= 0.0, torch.ones_like(old), old)
    return magnitude / old * v


def _cell_parameters(
    x: Tensor, y: Tensor, z: Tensor, volume: Tensor, rx: Tensor, ry: Tensor, rz: Tensor
) -> Tensor:
    """Cell lengths and angles of three edge vectors, with the C program's clamps (report values).

    Args:
        x: ``(3,)`` first edge.
        y: ``(3,)`` second edge.
        z: ``(3,)`` third edge.
        volume: ``()`` volume of the cell the edges span.
        rx: ``(3,)`` reciprocal of the first edge (the other cell's first edge).
        ry: ``(3,)`` reciprocal of the second edge.
        rz: ``(3,)`` reciprocal of the third edge.

    Returns:
        ``(6,)`` three lengths (the unit of the edges) and three angles (rad).
    """
    len_x, len_y, len_z = (torch.sqrt(dot(v, v)) for v in (x, y, z))
    len_rx, len_ry, len_rz = (torch.sqrt(dot(v, v)) for v in (rx, ry, rz))
    sin_alpha = _clamp_unit(len_rx * volume / len_y / len_z)
    sin_beta = _clamp_unit(len_ry * volume / len_x / len_z)
    sin_gamma = _clamp_unit(len_rz * volume / len_x / len_y)
    cos_alpha = _clamp_cos(dot(y, z) / len_y / len_z)
    cos_beta = _clamp_cos(dot(x, z) / len_x / len_z)
    cos_gamma = _clamp_cos(dot(x, y) / len_x / len_y)
    return torch.stack(
        (
            len_x,
            len_y,
            len_z,
            torch.atan2(sin_alpha, cos_alpha),
            torch.atan2(sin_beta, cos_beta),
            torch.atan2(sin_gamma, cos_gamma),
        )
    )


def crystal_basis(params: Params, static: Static) -> CrystalBasis:
    """Real and reciprocal lattice vectors at phi = 0, as the C program derives them.

    The reciprocal vectors come from the cell (default orientation) or from the orientation
    matrix, are rotated by the missetting angles, turned into real-space vectors (forcing the
    cell's own lengths and volume when a cell was given) and regenerated from those.

    Args:
        params: Parameters (cell, reciprocal, misset).
        static: Static options (user_cell, has_matrix).

    Returns:
        The basis; real vectors in m, reciprocal in Å⁻¹.
    """
    cell_volume = None
    if static.user_cell:
        reciprocal, cell_volume = reciprocal_from_cell(params.cell)
    if static.has_matrix or not static.user_cell:
        reciprocal = params.reciprocal
    a_star, b_star, c_star = rotate_xyz(reciprocal, params.misset[None, :]).unbind(0)

    axb = cross(a_star, b_star)
    bxc = cross(b_star, c_star)
    cxa = cross(c_star, a_star)
    v_star = dot(a_star, bxc)
    if cell_volume is not None:
        bxc = _rescale(bxc, params.cell[0] / cell_volume)
        cxa = _rescale(cxa, params.cell[1] / cell_volume)
        axb = _rescale(axb, params.cell[2] / cell_volume)
        v_star = 1.0 / cell_volume
    volume = 1.0 / v_star
    a, b, c = bxc * volume, cxa * volume, axb * volume
    a_star, b_star, c_star = cross(b, c) * v_star, cross(c, a) * v_star, cross(a, b) * v_star
    cell_parameters = _cell_parameters(a, b, c, volume, a_star, b_star, c_star)
    reciprocal_cell_parameters = _cell_parameters(a_star, b_star, c_star, v_star, a, b, c)
    real = torch.stack((a, b, c)) * 1e-10
    return CrystalBasis(
        real=real,
        reciprocal=torch.stack((a_star, b_star, c_star)),
        volume=volume,
        cell=cell_parameters,
        reciprocal_cell=reciprocal_cell_parameters,
    )


def mosaic_matrices(params: Params) -> Tensor:
    """Rotation matrices of the mosaic domains (the C program's umats).

    Args:
        params: Parameters (mosaic_spread, mosaic_axes, mosaic_fractions).

    Returns:
        ``(M, 3, 3)`` matrices ``U`` with ``new = U @ old``.
    """
    angles = params.mosaic_spread * params.mosaic_fractions
    return axis_angle_matrix(params.mosaic_axes, torch.cos(angles), torch.sin(angles))


def spindle_angles(params: Params, static: Static, *, first_loop: bool = False) -> Tensor:
    """The angle each phi step rotates the lattice by, quirk included.

    With the phi0 quirk, a step whose angle is exactly 0 reuses the previous rotation
    (``Static.phi_source`` / ``Static.phi_source_first`` name which step; -1 means none).

    Args:
        params: Parameters (phi0, phistep).
        static: Static options.
        first_loop: The very first phi loop of the run (before any rotation happened).

    Returns:
        ``(Phi,)`` angles (rad).
    """
    tics = torch.arange(static.phisteps, dtype=params.dtype, device=params.device)
    phis = params.phi0 + params.phistep * tics
    source = static.phi_source_first if first_loop else static.phi_source
    if not source or not static.quirks.phi0:
        return phis
    index = torch.tensor([max(s, 0) for s in source], device=params.device)
    keep = torch.tensor([s >= 0 for s in source], device=params.device)
    return torch.where(keep, phis[index], torch.zeros_like(phis))


def lattice_vectors(params: Params, static: Static, *, first_loop: bool = False) -> Tensor:
    """Real-space lattice vectors for every phi step and mosaic domain.

    Args:
        params: Parameters.
        static: Static options.
        first_loop: Use the first-loop phi mapping (see :func:`spindle_angles`).

    Returns:
        ``(Phi, M, 3, 3)``: for each step and domain, rows a, b, c (m).
    """
    basis = crystal_basis(params, static)
    phis = spindle_angles(params, static, first_loop=first_loop)
    spindle, _ = unitize(params.spindle)
    rotated = rotate_axis(basis.real[None, :, :], spindle, phis[:, None])  # (Phi, 3, 3)
    umats = mosaic_matrices(params)  # (M, 3, 3)
    # a = U @ ap for each row vector: out[p, m, i, :] = sum_k U[m, :, k] * rotated[p, i, k]
    return torch.einsum("mjk,pik->pmij", umats, rotated)


def cell_report(basis: CrystalBasis) -> dict[str, list[float]]:
    """Plain numbers for a console report (Å, degrees)."""
    cell = basis.cell.detach().cpu().double().tolist()
    reciprocal = basis.reciprocal_cell.detach().cpu().double().tolist()
    deg = 180.0 / math.pi
    return {
        "cell": cell[:3] + [x * deg for x in cell[3:]],
        "reciprocal_cell": reciprocal[:3] + [x * deg for x in reciprocal[3:]],
    }
