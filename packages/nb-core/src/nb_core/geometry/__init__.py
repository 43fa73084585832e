"""Detector geometry: rotations, conventions, pivots, pixel positions."""

from nb_core.geometry.detector import DetectorFrame, beam_and_close_positions, detector_frame
from nb_core.geometry.rotations import (
    cross,
    dot,
    rotate_axis,
    rotate_xyz,
    rotation_matrix_xyz,
    unitize,
)

__all__ = [
    "DetectorFrame",
    "beam_and_close_positions",
    "cross",
    "detector_frame",
    "dot",
    "rotate_axis",
    "rotate_xyz",
    "rotation_matrix_xyz",
    "unitize",
]
