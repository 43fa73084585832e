"""Polarization factor of the scattered beam."""

from __future__ import annotations

import torch
from torch import Tensor

from nb_core.geometry.rotations import cross, dot, unitize

__all__ = ["polarization_factor"]


def polarization_factor(kahn: Tensor, incident: Tensor, diffracted: Tensor, axis: Tensor) -> Tensor:
    """Kahn polarization factor, as the C program's ``polarization_factor``.

    ``0.5 (1 + cos^2 2θ - K cos(2 psi) sin^2 2θ)``, where psi is the angle of the diffracted ray
    projected onto the plane of the incident E and B vectors. ``cos(2 psi)`` is computed
    algebraically (no atan2), so gradients stay finite along the beam.

    Args:
        kahn: ``()`` Kahn factor (0 unpolarized, 1 fully polarized).
        incident: ``(..., 3)`` incident beam direction (any length).
        diffracted: ``(..., 3)`` diffracted beam direction (any length).
        axis: ``(3,)`` E-vector polarization axis.

    Returns:
        ``(...)`` polarization factor.
    """
    i, _ = unitize(incident)
    d, _ = unitize(diffracted)
    e_axis, _ = unitize(axis)
    cos2t = dot(i, d)
    cos2t_sq = cos2t * cos2t
    sin2t_sq = 1.0 - cos2t_sq
    b_in, _ = unitize(cross(e_axis.expand_as(i), i))
    e_in, _ = unitize(cross(i, b_in))
    e_out = dot(d, e_in)
    b_out = dot(d, b_in)
    den = e_out * e_out + b_out * b_out
    ok = den > 0
    den_safe = torch.where(ok, den, torch.ones_like(den))
    cos2psi = torch.where(ok, (e_out * e_out - b_out * b_out) / den_safe, torch.ones_like(den))
    return 0.5 * (1.0 + cos2t_sq - kahn * cos2psi * sin2t_sq)
