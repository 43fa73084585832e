"""The C program's mosaic domain matrices, built as its main loop builds them (for tests).

nb itself never builds these matrices in numpy: the render takes the draws
(:func:`nb_core.rng.mosaic_draws`) and makes the matrices in torch
(:func:`nb_core.crystal.lattice.mosaic_matrices`). This reproduction checks the draws and the
matrix formula against numbers the C program printed.
"""

from __future__ import annotations

import numpy as np

from nb_core.crystal.orientation import c_axis_angle_matrix, cap_angles
from nb_core.rng import CRandom, Seed, mosaic_draws

__all__ = ["mosaic_umats"]


def mosaic_umats(mosaic_spread_rad: float, domains: int, rng: CRandom, seed: Seed) -> np.ndarray:
    """The mosaic domain orientations exactly as the C main loop builds them.

    Every domain makes one ``mosaic_rotation_umat`` call (three draws), including domain 0,
    whose matrix is then overwritten with the identity.

    Args:
        mosaic_spread_rad: Mosaic spread in radians (C double; the callee rounds it to float32).
        domains: Number of domains (the C program has already forced this to >= 1).
        rng: Shared state.
        seed: The mosaic seed variable (C default ``-12345678``); advanced by 3 * domains draws.

    Returns:
        (domains, 3, 3) float64 rotation matrices.
    """
    draw = mosaic_draws(max(int(domains), 0), rng, seed)
    umats = c_axis_angle_matrix(draw.axes, cap_angles(mosaic_spread_rad, draw.fractions))
    if umats.shape[0] > 0:
        umats[0] = np.eye(3)
    return umats
