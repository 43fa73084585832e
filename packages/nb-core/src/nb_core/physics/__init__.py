"""Physics kernels: lattice transforms, structure factors, polarization."""

from nb_core.physics.lattice_factors import (
    lattice_factor_sq,
    nearest_index,
    sin_cos_pi,
    sinc3_of_square,
    sincg,
)
from nb_core.physics.polarization import polarization_factor
from nb_core.physics.structure_factors import (
    interpolation_out_of_range,
    lookup_nearest,
    lookup_tricubic,
)

__all__ = [
    "interpolation_out_of_range",
    "lattice_factor_sq",
    "lookup_nearest",
    "lookup_tricubic",
    "nearest_index",
    "polarization_factor",
    "sin_cos_pi",
    "sinc3_of_square",
    "sincg",
]
