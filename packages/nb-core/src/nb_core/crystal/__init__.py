"""Crystal: cell to vectors, missetting, spindle rotation, mosaic domains."""

from nb_core.crystal.lattice import (
    CrystalBasis,
    cell_report,
    crystal_basis,
    lattice_vectors,
    mosaic_matrices,
    reciprocal_from_cell,
    spindle_angles,
)

__all__ = [
    "CrystalBasis",
    "cell_report",
    "crystal_basis",
    "lattice_vectors",
    "mosaic_matrices",
    "reciprocal_from_cell",
    "spindle_angles",
]
