"""DIALS experiment lists (``.expt``): the records nb writes and reads, and the JSON writer.

An experiment list is JSON as dxtbx's ``ExperimentList.as_json`` writes it and
``ExperimentListFactory.from_json_file`` reads it: one experiment whose beam, single-panel
detector, goniometer and scan (a rotation sweep only), crystal and image set are entries of
the top-level model lists.

The records of this module hold the geometry in nb's own lab frame and units (m, rad, unit
vectors). DIALS' lab frame is nb's turned by :data:`NB_TO_DIALS`, the rotation the C program
uses for its ``DIALS_ORIGIN`` header value: DIALS ``(x, y, z)`` = nb ``(z, y, -x)``, which
takes the MOSFLM beam (nb +x) to DIALS' -z and the MOSFLM spindle (nb +z) to DIALS' +x. It
only permutes and negates components, so a list written and read back gives nb's vectors bit
for bit. dxtbx places a panel by the outer corner of its first pixel (``origin``), as nb's
``pix0`` does, so pixel ``(f, s)`` has its centre at dxtbx pixel coordinate
``(f + 0.5, s + 0.5)``.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nb_core.io._atomic import PathLike
from nb_core.io._outputs import OutputSet, write_output

__all__ = [
    "NB_TO_DIALS",
    "DialsBeam",
    "DialsExperiment",
    "DialsPanel",
    "DialsSweep",
    "experiment_list_bytes",
    "write_experiment_list",
]

Vec3 = tuple[float, float, float]

#: Rows: DIALS' x, y and z axes in nb's lab frame (a proper rotation).
NB_TO_DIALS = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])


@dataclass(frozen=True)
class DialsBeam:
    """The incident beam.

    Attributes:
        direction: Unit vector along the direction of propagation (nb lab frame).
        wavelength: Wavelength (m).
        polar_axis: Unit E-vector of the polarized part (nb lab frame, normal to the beam).
        polarization: Kahn polarization factor (DIALS' fraction is ``(1 + K) / 2``).
        flux: Photons/s (0: not known).
    """

    direction: Vec3
    wavelength: float
    polar_axis: Vec3
    polarization: float
    flux: float = 0.0


@dataclass(frozen=True)
class DialsPanel:
    """A flat detector panel.

    Attributes:
        fdet: Unit fast axis (nb lab frame).
        sdet: Unit slow axis.
        odet: Unit normal, pointing away from the sample.
        origin: From the sample to the outer corner of pixel (0, 0) (m).
        pixel_size: Pixel edge (m), the same along fast and slow.
        fpixels: Pixels along the fast axis.
        spixels: Pixels along the slow axis.
        thickness: Sensor thickness (m; 0: not modelled).
        mu: Sensor attenuation coefficient (1/m; 0: not modelled).
        trusted_range: Lowest and highest valid pixel values of the image.
        gain: Counts per photon of the image.
        pedestal: Counts added to every pixel of the image.
    """

    fdet: Vec3
    sdet: Vec3
    odet: Vec3
    origin: Vec3
    pixel_size: float
    fpixels: int
    spixels: int
    thickness: float = 0.0
    mu: float = 0.0
    trusted_range: tuple[float, float] = (-1.0, 65535.0)
    gain: float = 1.0
    pedestal: float = 0.0


@dataclass(frozen=True)
class DialsSweep:
    """A rotation of the crystal during the exposure (a goniometer and a one-image scan).

    Attributes:
        spindle: Unit rotation axis, right-handed (nb lab frame).
        phi0: Spindle angle at the start of the exposure (rad).
        osc: Rotation during the exposure (rad).
        exposure: Exposure time (s).
    """

    spindle: Vec3
    phi0: float
    osc: float
    exposure: float = 1.0


@dataclass(frozen=True)
class DialsExperiment:
    """One experiment of an experiment list, in nb's lab frame.

    Attributes:
        beam: The incident beam.
        panel: The detector.
        real_space: Rows a, b, c of the unit cell (Å) at spindle angle 0 (None: no crystal).
        sweep: The rotation sweep (None: a still).
        image: The image file the list names (None: no image set); written relative to the
            list's folder when it lies in it.
        image_index: The image's index inside a multi-image file (NeXus: 0), or None.
    """

    beam: DialsBeam
    panel: DialsPanel
    real_space: tuple[Vec3, Vec3, Vec3] | None = None
    sweep: DialsSweep | None = None
    image: str | None = None
    image_index: int | None = None


def to_dials(vector: Vec3 | np.ndarray) -> list[float]:
    """A vector of nb's lab frame in DIALS' (exact: components are permuted and negated)."""
    x, y, z = (float(v) for v in vector)
    return [z + 0.0, y + 0.0, -x + 0.0]


def from_dials(vector: Vec3 | np.ndarray) -> Vec3:
    """A vector of DIALS' lab frame in nb's (the inverse of :func:`to_dials`)."""
    x, y, z = (float(v) for v in vector)
    return (-z + 0.0, y + 0.0, x + 0.0)


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / math.sqrt(float(np.dot(vector, vector)))


def _polarization_normal(beam: DialsBeam) -> np.ndarray:
    """The normal of the polarization plane (E-vector x beam, as nanoBragg's B vector); any
    normal to the beam when the E-vector lies along it (the polarized part is then undefined)."""
    direction = np.asarray(beam.direction, dtype=np.float64)
    normal = np.cross(np.asarray(beam.polar_axis, dtype=np.float64), direction)
    if np.linalg.norm(normal) < 1e-12:
        normal = np.cross(np.eye(3)[int(np.argmin(np.abs(direction)))], direction)
    return _unit(normal)


def _beam_dict(beam: DialsBeam) -> dict[str, object]:
    direction = np.asarray(beam.direction, dtype=np.float64)
    normal = _polarization_normal(beam)
    return {
        "direction": to_dials(-direction),
        "wavelength": beam.wavelength * 1e10,
        "divergence": 0.0,
        "sigma_divergence": 0.0,
        "polarization_normal": to_dials(normal),
        "polarization_fraction": (1.0 + beam.polarization) / 2.0,
        "flux": beam.flux,
        "transmission": 1.0,
    }


def _frame_dict(fast: list[float], slow: list[float], origin: list[float]) -> dict[str, object]:
    """The fields dxtbx writes for a detector node (a panel or the hierarchy's root)."""
    return {
        "name": "",
        "type": "",
        "fast_axis": fast,
        "slow_axis": slow,
        "origin": origin,
        "raw_image_offset": [0, 0],
        "image_size": [0, 0],
        "pixel_size": [0.0, 0.0],
        "trusted_range": [0.0, 0.0],
        "thickness": 0.0,
        "material": "",
        "mu": 0.0,
        "identifier": "",
        "mask": [],
        "gain": 1.0,
        "pedestal": 0.0,
        "px_mm_strategy": {"type": "SimplePxMmStrategy"},
    }


def _detector_dict(panel: DialsPanel) -> dict[str, object]:
    entry = _frame_dict(
        to_dials(panel.fdet), to_dials(panel.sdet), to_dials(np.asarray(panel.origin) * 1000.0)
    )
    pixel_mm = panel.pixel_size * 1000.0
    entry.update(
        name="Panel",
        type="SENSOR_PAD",
        image_size=[panel.fpixels, panel.spixels],
        pixel_size=[pixel_mm, pixel_mm],
        trusted_range=list(panel.trusted_range),
        thickness=panel.thickness * 1000.0,
        material="Si" if panel.thickness > 0.0 else "",
        mu=panel.mu / 1000.0,
        gain=panel.gain,
        pedestal=panel.pedestal,
    )
    root = _frame_dict([1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0])
    root["children"] = [{"panel": 0}]
    return {"panels": [entry], "hierarchy": root}


def _sweep_dicts(sweep: DialsSweep) -> tuple[dict[str, Any], dict[str, Any]]:
    identity = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    goniometer = {
        "rotation_axis": to_dials(sweep.spindle),
        "fixed_rotation": identity,
        "setting_rotation": identity,
    }
    scan = {
        "image_range": [1, 1],
        "batch_offset": 0,
        "oscillation": [math.degrees(sweep.phi0), math.degrees(sweep.osc)],
        "exposure_time": [sweep.exposure],
        "epochs": [0.0],
        "valid_image_ranges": {},
    }
    return goniometer, scan


def _image_name(image: str, folder: Path) -> str:
    """The image as the list names it: relative to the list's folder when it lies there."""
    path = Path(os.path.abspath(image))
    if path.parent == Path(os.path.abspath(folder)):
        return path.name
    return str(path)


def experiment_list_bytes(experiment: DialsExperiment, folder: PathLike = ".") -> bytes:
    """The experiment list of one experiment, as JSON bytes.

    Args:
        experiment: The experiment (nb's lab frame).
        folder: The folder the list is written to (image names are relative to it).

    Returns:
        UTF-8 JSON, dxtbx's layout.
    """
    entry: dict[str, object] = {"__id__": "Experiment", "identifier": "", "beam": 0}
    entry["detector"] = 0
    document: dict[str, object] = {"__id__": "ExperimentList", "experiment": [entry]}
    document["imageset"] = []
    if experiment.image is not None:
        imageset: dict[str, object] = {
            "__id__": "ImageSet",
            "images": [_image_name(experiment.image, Path(folder))],
            "mask": "",
            "gain": "",
            "pedestal": "",
            "dx": "",
            "dy": "",
            "params": {},
        }
        if experiment.image_index is not None:
            imageset["single_file_indices"] = [experiment.image_index]
        document["imageset"] = [imageset]
        entry["imageset"] = 0
    document["beam"] = [_beam_dict(experiment.beam)]
    document["detector"] = [_detector_dict(experiment.panel)]
    document["goniometer"], document["scan"] = [], []
    if experiment.sweep is not None:
        goniometer, scan = _sweep_dicts(experiment.sweep)
        document["goniometer"], document["scan"] = [goniometer], [scan]
        entry["goniometer"], entry["scan"] = 0, 0
    document["crystal"] = []
    if experiment.real_space is not None:
        a, b, c = (to_dials(v) for v in experiment.real_space)
        crystal = {"__id__": "crystal", "real_space_a": a, "real_space_b": b, "real_space_c": c}
        crystal["space_group_hall_symbol"] = " P 1"
        document["crystal"] = [crystal]
        entry["crystal"] = 0
    document["profile"], document["scaling_model"] = [], []
    return (json.dumps(document, indent=2) + "\n").encode()


def write_experiment_list(
    path: PathLike, experiment: DialsExperiment, *, into: OutputSet | None = None
) -> None:
    """Write a DIALS experiment list of one experiment (atomically).

    Args:
        path: The ``.expt`` file.
        experiment: The experiment (nb's lab frame).
        into: Stage the file in this set instead of writing it now.

    Raises:
        InputError: The file cannot be written.
    """
    folder = Path(os.path.abspath(path)).parent
    write_output(path, experiment_list_bytes(experiment, folder), into)
