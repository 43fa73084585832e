"""The beam, detector and spindle vectors each convention fixes, and small vector helpers.

Vectors here are plain ``[x, y, z]`` lists of floats in the lab frame, as the C program holds
them while it resolves its flags; nothing here is a tensor.
"""

from __future__ import annotations

import math

import numpy as np

from nb_core.settings import Settings

__all__ = ["Vec", "beam_vector_for", "convention_vectors", "cross", "unit"]

Vec = list[float]

_CONVENTION_VECTORS: dict[str, dict[str, tuple[float, float, float]]] = {
    "adxv": {
        "beam": (0, 0, 1),
        "fdet": (1, 0, 0),
        "sdet": (0, -1, 0),
        "odet": (0, 0, 1),
        "twotheta": (-1, 0, 0),
        "polar": (1, 0, 0),
        "spindle": (1, 0, 0),
    },
    "mosflm": {
        "beam": (1, 0, 0),
        "odet": (1, 0, 0),
        "fdet": (0, 0, 1),
        "sdet": (0, -1, 0),
        "twotheta": (0, 0, -1),
        "polar": (0, 0, 1),
        "spindle": (0, 0, 1),
    },
    "xds": {
        "beam": (0, 0, 1),
        "fdet": (1, 0, 0),
        "sdet": (0, 1, 0),
        "odet": (0, 0, 1),
        "twotheta": (1, 0, 0),
        "polar": (1, 0, 0),
        "spindle": (1, 0, 0),
    },
    "dials": {
        "beam": (0, 0, 1),
        "fdet": (1, 0, 0),
        "sdet": (0, 1, 0),
        "odet": (0, 0, 1),
        "twotheta": (0, 1, 0),
        "polar": (0, 1, 0),
        "spindle": (0, 1, 0),
    },
}
_CONVENTION_VECTORS["denzo"] = _CONVENTION_VECTORS["mosflm"]


def unit(vector: Vec) -> tuple[Vec, float]:
    """The vector divided by its length, and the length (a zero vector stays zero).

    Args:
        vector: ``(3,)`` any unit.

    Returns:
        ``(3,)`` unit vector (unitless) and the length (the vector's unit).
    """
    length = math.sqrt(vector[0] * vector[0] + vector[1] * vector[1] + vector[2] * vector[2])
    if length != 0.0:
        return [vector[0] / length, vector[1] / length, vector[2] / length], length
    return [0.0, 0.0, 0.0], length


def cross(x: Vec, y: Vec) -> Vec:
    """The cross product ``x × y`` of two ``(3,)`` vectors."""
    return [x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]]


def convention_vectors(settings: Settings) -> dict[str, Vec]:
    """The beam, detector, two-theta, polarization and spindle vectors, before unitizing.

    A named convention fixes them; the CUSTOM convention takes them from the settings.

    Args:
        settings: The user's settings.

    Returns:
        ``{"beam", "fdet", "sdet", "odet", "twotheta", "polar", "spindle"}``: ``(3,)``
        vectors (unitless, not yet of unit length).
    """
    if settings.convention in _CONVENTION_VECTORS:
        return {
            k: [float(x) for x in v] for k, v in _CONVENTION_VECTORS[settings.convention].items()
        }
    return {
        "beam": list(settings.beam_vector),
        "fdet": list(settings.fdet_vector),
        "sdet": list(settings.sdet_vector),
        "odet": list(settings.odet_vector),
        "twotheta": list(settings.twotheta_axis),
        "polar": list(settings.polar_vector),
        "spindle": list(settings.spindle_axis),
    }


def beam_vector_for(settings: Settings) -> np.ndarray:
    """The unit beam direction the settings resolve to (used for sourcefile defaults).

    Args:
        settings: The user's settings.

    Returns:
        ``(3,)`` unit vector along the direction of propagation.
    """
    beam, _ = unit(convention_vectors(settings)["beam"])
    return np.asarray(beam, dtype=np.float64)
