"""The unit cell as refinement sees it: lattice constraints and a cell taken from a matrix.

A refined cell is a few free numbers mapped linearly onto the six cell parameters
(a, b, c in Å; alpha, beta, gamma in degrees): a cubic cell has one free number (a), a
tetragonal two (a, c), and so on. :class:`CellConstraint` holds that map.

A model given by an orientation matrix (``-mat``) carries its cell inside the matrix. To
refine that cell, the matrix is split into the cell's reciprocal vectors in a standard orientation
(a* along x, b* in the x-y plane) and a rotation: ``reciprocal = default_reciprocal(cell) @ rotation``
(rows a*, b*, c*), so that a new cell keeps the crystal's orientation
(:func:`matrix_orientation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = [
    "LATTICES",
    "CellConstraint",
    "cell_of_reciprocal",
    "default_reciprocal",
    "matrix_orientation",
    "reciprocal_of_cell",
]

#: Lattice systems a refined cell may be held to, and the free cell parameters of each
#: (indices into a, b, c, alpha, beta, gamma); every other parameter follows from them.
_FREE: dict[str, tuple[int, ...]] = {
    "triclinic": (0, 1, 2, 3, 4, 5),
    "monoclinic": (0, 1, 2, 4),
    "orthorhombic": (0, 1, 2),
    "tetragonal": (0, 2),
    "hexagonal": (0, 2),
    "rhombohedral": (0, 3),
    "cubic": (0,),
}
LATTICES = tuple(_FREE)


@dataclass(frozen=True)
class CellConstraint:
    """A lattice system's cell as a linear map from its free parameters.

    ``cell = matrix @ free + offset`` (Å and degrees), e.g. tetragonal: ``free = (a, c)``,
    ``cell = (a, a, c, 90, 90, 90)``.

    Attributes:
        lattice: One of :data:`LATTICES`.
    """

    lattice: str = "triclinic"

    def __post_init__(self) -> None:
        if self.lattice not in _FREE:
            raise KeyError(f"unknown lattice {self.lattice!r}; choose from {', '.join(LATTICES)}")

    @property
    def free(self) -> tuple[int, ...]:
        """Indices (into a, b, c, alpha, beta, gamma) of the free parameters."""
        return _FREE[self.lattice]

    def matrix(self, like: Tensor) -> Tensor:
        """``(6, k)`` map from the free parameters to the cell (dtype and device of ``like``)."""
        rows = torch.zeros(6, len(self.free), dtype=like.dtype, device=like.device)
        for column, index in enumerate(self.free):
            rows[index, column] = 1.0
        tied = {"tetragonal": {1: 0}, "hexagonal": {1: 0}, "cubic": {1: 0, 2: 0}}
        tied["rhombohedral"] = {1: 0, 2: 0, 4: 3, 5: 3}
        for index, source in tied.get(self.lattice, {}).items():
            rows[index, self.free.index(source)] = 1.0
        return rows

    def offset(self, like: Tensor) -> Tensor:
        """``(6,)`` the fixed part of the cell (degrees for the fixed angles)."""
        fixed = {
            "monoclinic": {3: 90.0, 5: 90.0},
            "orthorhombic": {3: 90.0, 4: 90.0, 5: 90.0},
            "tetragonal": {3: 90.0, 4: 90.0, 5: 90.0},
            "hexagonal": {3: 90.0, 4: 90.0, 5: 120.0},
            "cubic": {3: 90.0, 4: 90.0, 5: 90.0},
        }.get(self.lattice, {})
        out = torch.zeros(6, dtype=like.dtype, device=like.device)
        for index, value in fixed.items():
            out[index] = value
        return out

    def expand(self, free: Tensor) -> Tensor:
        """The six cell parameters of the free ones.

        Args:
            free: ``(k,)`` free parameters (Å, degrees).

        Returns:
            ``(6,)`` a, b, c (Å), alpha, beta, gamma (degrees).
        """
        return self.matrix(free) @ free + self.offset(free)

    def reduce(self, cell: Tensor) -> Tensor:
        """The free parameters of a cell, averaging the values a constraint ties together.

        Args:
            cell: ``(6,)`` a, b, c (Å), alpha, beta, gamma (degrees).

        Returns:
            ``(k,)`` free parameters.
        """
        matrix = self.matrix(cell)
        counts = matrix.sum(dim=0)
        return (matrix.T @ cell) / counts


def cell_of_reciprocal(reciprocal: Tensor) -> Tensor:
    """The cell of reciprocal vectors: lengths (Å) and angles (rad) of the real-space edges.

    Args:
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹).

    Returns:
        ``(6,)`` a, b, c (Å) and alpha, beta, gamma (rad).
    """
    real = torch.linalg.inv(reciprocal).T  # rows a, b, c
    lengths = torch.linalg.vector_norm(real, dim=1)
    unit = real / lengths[:, None]
    cos = torch.stack(
        (
            (unit[1] * unit[2]).sum(),
            (unit[0] * unit[2]).sum(),
            (unit[0] * unit[1]).sum(),
        )
    )
    return torch.cat((lengths, torch.arccos(torch.clamp(cos, -1.0, 1.0))))


def default_reciprocal(cell: Tensor) -> Tensor:
    """Reciprocal vectors of a cell with a* along x and b* in the x-y plane.

    The lower-triangular factor of the reciprocal metric tensor, so that the vectors are
    exactly those of the cell (differentiable in the cell).

    Args:
        cell: ``(6,)`` a, b, c (Å) and alpha, beta, gamma (rad).

    Returns:
        ``(3, 3)`` rows a*, b*, c* (Å⁻¹).
    """
    lengths, angles = cell[:3], cell[3:]
    cos = torch.cos(angles)
    one = torch.ones_like(cos[0])
    cosine_matrix = torch.stack(
        (
            torch.stack((one, cos[2], cos[1])),
            torch.stack((cos[2], one, cos[0])),
            torch.stack((cos[1], cos[0], one)),
        )
    )
    metric = lengths[:, None] * cosine_matrix * lengths[None, :]
    inverse, singular = torch.linalg.inv_ex(metric)
    factor, info = torch.linalg.cholesky_ex(inverse)
    # A cell whose angles close no cell has no reciprocal vectors: NaN, never an exception.
    valid = (info == 0) & (singular == 0)
    return torch.where(valid, factor, torch.full_like(factor, torch.nan))


def matrix_orientation(reciprocal: Tensor) -> tuple[Tensor, Tensor]:
    """Split reciprocal vectors into their cell and the rotation from the default orientation.

    The rotation is the orthogonal matrix nearest to ``inv(B) @ reciprocal`` (its polar
    factor), where ``B = default_reciprocal(cell)``; for vectors of a real cell the two agree
    to rounding.

    Args:
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹), e.g. ``Params.reciprocal`` of ``-mat``.

    Returns:
        ``(cell, rotation)``: ``(6,)`` a, b, c (Å) and angles (rad); ``(3, 3)`` orthogonal
        ``Q`` with ``reciprocal ~= default_reciprocal(cell) @ Q``.
    """
    cell = cell_of_reciprocal(reciprocal)
    default = default_reciprocal(cell)
    nearly = torch.linalg.solve(default, reciprocal)
    left, _, right = torch.linalg.svd(nearly)
    return cell, left @ right


def reciprocal_of_cell(cell: Tensor, rotation: Tensor) -> Tensor:
    """Reciprocal vectors of a cell in the orientation ``rotation`` (see :func:`matrix_orientation`).

    Args:
        cell: ``(6,)`` a, b, c (Å) and alpha, beta, gamma (rad).
        rotation: ``(3, 3)`` orthogonal matrix.

    Returns:
        ``(3, 3)`` rows a*, b*, c* (Å⁻¹).
    """
    return default_reciprocal(cell) @ rotation
