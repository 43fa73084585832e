"""Random crystal orientations as the C program draws them: mosaic caps and ``-misset random``.

The draws come from :mod:`nb_core.rng`; the matrices are built with
:func:`nb_core.geometry.rotations.axis_angle_matrix` in float64 with libm ``cos`` and ``sin``,
so that every value is the C program's bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from nb_core.geometry.rotations import axis_angle_matrix
from nb_core.rng import CRandom, Seed, f32, mosaic_draws

__all__ = [
    "c_axis_angle_matrix",
    "cap_angles",
    "mosaic_rotation_umat",
    "random_misset",
    "rotation_from_uniforms",
    "umat2misset",
    "uniform_rotation",
]


def c_axis_angle_matrix(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """:func:`~nb_core.geometry.rotations.axis_angle_matrix` with the C program's libm trigonometry.

    Args:
        axes: ``(n, 3)`` unit axes.
        angles: ``(n,)`` angles (rad).

    Returns:
        ``(n, 3, 3)`` float64 matrices ``m`` with ``new = m @ old``; row i is
        ``umat[3i:3i+3]`` of the C code.
    """
    axes = np.asarray(axes, dtype=np.float64).reshape(-1, 3)
    angle_list = np.asarray(angles, dtype=np.float64).reshape(-1).tolist()
    # libm cos/sin element by element (vectorised versions may differ in the last bit)
    cos_angle = torch.tensor([math.cos(a) for a in angle_list], dtype=torch.float64)
    sin_angle = torch.tensor([math.sin(a) for a in angle_list], dtype=torch.float64)
    return axis_angle_matrix(torch.from_numpy(axes), cos_angle, sin_angle).numpy()


def cap_angles(mosaicity: float, fractions: np.ndarray) -> np.ndarray:
    """Rotation angles of mosaic-cap draws: ``float32(float32(mosaicity) * fraction)``.

    Args:
        mosaicity: Cap size (rad), passed as a C ``float``.
        fractions: ``(n,)`` angle fractions of :func:`nb_core.rng.mosaic_draws`.

    Returns:
        ``(n,)`` float64 angles (rad) holding float32 values.
    """
    mosaicity_f32 = f32(float(mosaicity))
    return np.array(
        [f32(mosaicity_f32 * fraction) for fraction in np.asarray(fractions).tolist()],
        dtype=np.float64,
    )


def mosaic_rotation_umat(mosaicity: float, rng: CRandom, seed: Seed) -> np.ndarray:
    """One exact C ``mosaic_rotation_umat`` call: a random rotation within a spherical cap.

    Args:
        mosaicity: Cap size in radians (passed as a C ``float``: rounded to float32).
        rng: Shared state.
        seed: The seed variable; three draws.

    Returns:
        (3, 3) float64 rotation matrix (rows = C ``umat[0..2]``, ``[3..5]``, ``[6..8]``).
    """
    draw = mosaic_draws(1, rng, seed)
    return c_axis_angle_matrix(draw.axes, cap_angles(mosaicity, draw.fractions))[0]


def _normalized_rows(*rows: float) -> list[tuple[float, float, float, float]]:
    """The three rows of a flat 3 x 3 matrix scaled to unit length (zero rows kept), each
    with its length before scaling."""
    out = []
    for i in range(3):
        x, y, z = rows[3 * i : 3 * i + 3]
        norm = math.sqrt(x * x + y * y + z * z)
        out.append((x / norm, y / norm, z / norm, norm) if norm > 0 else (x, y, z, norm))
    return out


def umat2misset(umat: np.ndarray) -> np.ndarray:
    """Missetting angles (rotx, roty, rotz) of a rotation matrix, exactly as the C ``umat2misset``.

    The rows are renormalised (a zero row is replaced by the cross product of the other two)
    before the angles are read off; the degenerate ``|uzx| >= 1`` case gives (pi, pi/2, ...).

    Args:
        umat: (3, 3) matrix (rows = C ``umat[0..2]``, ``[3..5]``, ``[6..8]``).

    Returns:
        (3,) float64 angles in radians (the C ``missets[1..3]``).
    """
    xx, xy, xz, yx, yy, yz, zx, zy, zz = np.asarray(umat, dtype=np.float64).reshape(9).tolist()
    sqrt = math.sqrt

    (xx, xy, xz, mx), (yx, yy, yz, my), (zx, zy, zz, mz) = _normalized_rows(
        xx, xy, xz, yx, yy, yz, zx, zy, zz
    )
    if mx >= 0 and my <= 0 and mz <= 0:
        yx, yy, yz = 0.0, 1.0, 0.0
        zx, zy, zz = 0.0, 0.0, 1.0
    if mx <= 0 and my >= 0 and mz <= 0:
        xx, xy, xz = 1.0, 0.0, 0.0
        zx, zy, zz = 0.0, 0.0, 1.0
    if mx <= 0 and my <= 0 and mz >= 0:
        xx, xy, xz = 1.0, 0.0, 0.0
        yx, yy, yz = 0.0, 1.0, 0.0

    def unit(a: float, b: float, c: float) -> tuple[float, float, float]:
        norm = sqrt(a * a + b * b + c * c)
        if norm > 0:
            return a / norm, b / norm, c / norm
        return a, b, c

    for _ in range(2):
        xcy = unit(xy * yz - xz * yy, xz * yx - xx * yz, xx * yy - xy * yx)
        ycz = unit(yy * zz - yz * zy, yz * zx - yx * zz, yx * zy - yy * zx)
        zcx = unit(zy * xz - zz * xy, zz * xx - zx * xz, zx * xy - zy * xx)
        if mx <= 0:
            xx, xy, xz = ycz
        if my <= 0:
            yx, yy, yz = zcx
        if mz <= 0:
            zx, zy, zz = xcy

    (xx, xy, xz, mx), (yx, yy, yz, my), (zx, zy, zz, mz) = _normalized_rows(
        xx, xy, xz, yx, yy, yz, zx, zy, zz
    )

    if zx * zx < 1.0:
        rotx = math.atan2(zy, zz)
        roty = math.atan2(-zx, sqrt(zy * zy + zz * zz))
        rotz = math.atan2(yx, xx)
    else:
        rotx = math.atan2(1, 1) * 4
        roty = math.atan2(1, 1) * 2
        rotz = math.atan2(xy, -yy)
    return np.array([rotx, roty, rotz], dtype=np.float64)


def uniform_rotation(rng: CRandom, seed: Seed) -> np.ndarray:
    """A rotation drawn uniformly over all orientations (Shoemake's quaternion method).

    Uses three ``ran1`` draws ``u1, u2, u3``: the unit quaternion
    ``(sqrt(1-u1) sin 2pi u2, sqrt(1-u1) cos 2pi u2, sqrt(u1) sin 2pi u3, sqrt(u1) cos 2pi u3)``
    is uniform on the 3-sphere, so its rotation is uniform over SO(3).

    Args:
        rng: Shared state.
        seed: The seed variable (three draws).

    Returns:
        (3, 3) float64 rotation matrix ``U`` with ``new = U @ old``.
    """
    return rotation_from_uniforms(rng.ran1(seed), rng.ran1(seed), rng.ran1(seed))


def rotation_from_uniforms(u1: float, u2: float, u3: float) -> np.ndarray:
    """The rotation of Shoemake's unit quaternion of three uniform numbers in [0, 1).

    Args:
        u1: First uniform number.
        u2: Second uniform number.
        u3: Third uniform number.

    Returns:
        (3, 3) float64 rotation matrix ``U`` with ``new = U @ old``; uniform over SO(3) when
        the three numbers are independent and uniform.
    """
    a, b = math.sqrt(1.0 - u1), math.sqrt(u1)
    x, y = a * math.sin(2 * math.pi * u2), a * math.cos(2 * math.pi * u2)
    z, w = b * math.sin(2 * math.pi * u3), b * math.cos(2 * math.pi * u3)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_misset(rng: CRandom, seed: Seed, *, degrees_quirk: bool = True) -> np.ndarray:
    """The missetting angles that ``-misset random`` produces.

    The C program calls ``mosaic_rotation_umat(90.0, ...)`` -- 90 meant as degrees, but the
    routine takes radians, so the rotation angle is ``90 * (1 - r3**2)**(1/3)`` *radians*, and
    the orientations it draws are not uniform. ``degrees_quirk=False`` (``-fix misset``) draws a
    uniformly random orientation instead (:func:`uniform_rotation`, three draws as well).

    Args:
        rng: Shared state.
        seed: The misset seed variable (three draws).
        degrees_quirk: True reproduces the C program; False draws a uniform orientation.

    Returns:
        (3,) float64 angles (rotx, roty, rotz) in radians.
    """
    if degrees_quirk:
        return umat2misset(mosaic_rotation_umat(90.0, rng, seed))
    return umat2misset(uniform_rotation(rng, seed))
