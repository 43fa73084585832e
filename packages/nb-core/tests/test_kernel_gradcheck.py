"""Gradients of the pure kernels against finite differences, in float64 on every chosen device.

``test_gradients.py`` checks the whole image per refinable parameter; here each kernel the
image is built from is checked on its own, with inputs away from its non-smooth points (the
integer nodes of the tricubic interpolation, a cell that closes by a margin).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from nb_core.crystal import reciprocal_from_cell
from nb_core.geometry import cross, rotate_axis, rotation_matrix_xyz
from nb_core.physics import lookup_tricubic, polarization_factor

F64 = torch.float64


def _leaf(values: object, device: torch.device) -> Tensor:
    """A float64 tensor on ``device`` that requires its gradient."""
    return torch.tensor(values, dtype=F64, device=device, requires_grad=True)


def test_cross_product_gradients(device: torch.device) -> None:
    x = _leaf([[0.3, -1.2, 2.0], [1.0, 0.5, -0.7]], device)
    y = _leaf([[-0.4, 0.9, 1.1], [0.2, -2.0, 0.6]], device)
    assert torch.autograd.gradcheck(cross, (x, y))
    assert torch.autograd.gradgradcheck(cross, (x, y))


def test_rotation_about_an_axis_gradients(device: torch.device) -> None:
    v = _leaf([[0.1, 0.2, 0.3], [1.0, -0.5, 0.25]], device)
    axis = _leaf([0.0, 0.6, 0.8], device)  # unit length, rotated about as given
    phi = _leaf([0.3, -1.1], device)  # rad
    assert torch.autograd.gradcheck(rotate_axis, (v, axis, phi))
    assert torch.autograd.gradgradcheck(rotate_axis, (v, axis, phi))


def test_rotation_matrix_gradients(device: torch.device) -> None:
    angles = _leaf([[0.2, -0.4, 1.3], [math.pi / 3, 0.1, -0.7]], device)  # rad
    assert torch.autograd.gradcheck(rotation_matrix_xyz, (angles,))


def test_reciprocal_vectors_and_volume_gradients(device: torch.device) -> None:
    degrees = [85.0, 95.0, 105.0]
    cell = _leaf([70.0, 80.0, 90.0, *(math.radians(d) for d in degrees)], device)  # Å, rad
    assert torch.autograd.gradcheck(reciprocal_from_cell, (cell,))


def test_polarization_factor_gradients(device: torch.device) -> None:
    kahn = _leaf(0.3, device)
    incident = _leaf([1.0, 0.0, 0.0], device)
    diffracted = _leaf([[0.9, 0.3, -0.2], [0.5, -0.6, 0.4], [0.7, 0.1, 0.65]], device)
    axis = _leaf([0.0, 0.0, 1.0], device)
    inputs = (kahn, incident, diffracted, axis)
    assert torch.autograd.gradcheck(polarization_factor, inputs)
    assert torch.autograd.gradgradcheck(polarization_factor, inputs)


@pytest.mark.parametrize("wrt", ["amplitudes", "indices"])
def test_tricubic_interpolation_gradients(device: torch.device, wrt: str) -> None:
    generator = torch.Generator().manual_seed(7)
    grid = torch.rand((8, 8, 8), generator=generator, dtype=F64).to(device) * 100.0
    origin = (-4, -4, -4)
    # (3, 4) fractional Miller indices, each 0.1 or more from an integer node.
    hkl = torch.tensor(
        [[0.3, -1.6, 1.45, -0.2], [0.7, 0.25, -1.3, 1.8], [-0.55, 1.2, 0.35, -1.75]],
        dtype=F64,
        device=device,
    )
    if wrt == "amplitudes":
        grid.requires_grad_(True)
        assert torch.autograd.gradcheck(lambda g: lookup_tricubic(g, origin, hkl), (grid,))
    else:
        hkl.requires_grad_(True)
        assert torch.autograd.gradcheck(lambda h: lookup_tricubic(grid, origin, h), (hkl,))
