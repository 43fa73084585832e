"""What a render computes once, before its first chunk, and every chunk then uses."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from nb_core.crystal.lattice import crystal_basis, lattice_vectors
from nb_core.geometry.detector import DetectorFrame, detector_frame
from nb_core.params import Params, Static
from nb_core.physics.structure_factors import pad_grid
from nb_core.units import AVOGADRO, R_E_SQR

__all__ = ["RenderConstants", "render_constants", "water_background"]

#: Structure factor of water (electrons) and its molecular weight (g/mol).
_WATER_F = 2.57
_WATER_MW = 18.0


def water_background(params: Params) -> Tensor:
    """Photons per steradian from the water around the crystal, before normalisation.

    Args:
        params: Parameters (fluence, water_size).

    Returns:
        ``()`` the C program's ``I_bg``.
    """
    w = params.water_size
    return _WATER_F * _WATER_F * R_E_SQR * params.fluence * w * w * w * 1e6 * AVOGADRO / _WATER_MW


@dataclass(frozen=True)
class RenderConstants:
    """Quantities of a render that every chunk of pixels shares.

    Attributes:
        frame: The detector frame.
        lattice: ``(F, M, 3, 3)`` rotated real-space rows a, b, c (m) per phi step and domain.
        lattice_first: The same for the run's very first phi loop where it differs (phi0
            quirk), else None.
        first_differs: ``(F,)`` bool: the phi steps where ``lattice_first`` differs, or None.
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).
        water_background: ``()`` the C program's ``I_bg`` (see :func:`water_background`).
        padded_grid: ``(H + 2, K + 2, L + 2)`` amplitudes padded with ``default_F``, or None
            without an HKL grid.
    """

    frame: DetectorFrame
    lattice: Tensor
    lattice_first: Tensor | None
    first_differs: Tensor | None
    reciprocal: Tensor
    water_background: Tensor
    padded_grid: Tensor | None


def render_constants(params: Params, static: Static) -> RenderConstants:
    """Compute the quantities every chunk of a render shares.

    Args:
        params: Parameters.
        static: Static options.

    Returns:
        The shared quantities.
    """
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
    return RenderConstants(
        frame=frame,
        lattice=lattice,
        lattice_first=lattice_first,
        first_differs=first_differs,
        reciprocal=basis.reciprocal.to(params.dtype),
        water_background=water_background(params),
        padded_grid=pad_grid(params.f_grid, params.default_F) if static.has_hkl else None,
    )
