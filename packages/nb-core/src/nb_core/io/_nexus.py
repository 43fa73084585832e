"""NeXus NXmx images (``-nxsfile``): the float image with the experiment's geometry, via h5py.

One frame of float32 photons, ``/entry/data/data`` of shape ``(1, S, F)``, compressed with
bitshuffle/LZ4 when hdf5plugin is installed (gzip otherwise). The geometry follows the NXmx
application definition in NeXus' McStas frame (beam along +z, y up): the detector is one
``NXdetector_module`` whose ``module_offset`` depends on one translation from the sample to
the outer corner of the first pixel (the panel origin as dxtbx reads NXmx), and whose
``fast_pixel_direction`` and ``slow_pixel_direction`` give the pixel axes and size. A
rotation sweep is the sample's ``omega`` rotation (start, ``omega_end`` and
``omega_increment_set`` in degrees) about the spindle.

dxtbx takes the beam of an NXmx file to run exactly along +z, so the lab frame of the file is
DIALS' (:data:`nb_core.io.NB_TO_DIALS`) turned by the smallest rotation that brings nb's beam
onto DIALS' -z (:func:`nexus_frame`; none for a beam along nb's +x), then mapped to McStas by
``diag(-1, 1, -1)``.
"""

from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike
from nb_core.io._dials import NB_TO_DIALS, DialsExperiment
from nb_core.io._extras import import_extra
from nb_core.io._outputs import OutputSet, write_output

__all__ = ["MCSTAS_FROM_DIALS", "nexus_bytes", "nexus_frame", "read_nexus_image", "write_nexus"]

#: DIALS' (imgCIF) lab frame to NeXus' McStas frame (and back: it is its own inverse).
MCSTAS_FROM_DIALS = np.diag([-1.0, 1.0, -1.0])

_DETECTOR = "/entry/instrument/detector"


def nexus_frame(beam: tuple[float, float, float]) -> np.ndarray:
    """The rotation from nb's lab frame to the McStas frame of an NXmx file.

    Args:
        beam: ``(3,)`` unit beam direction in nb's lab frame.

    Returns:
        ``(3, 3)`` proper rotation ``R``: McStas vector = ``R @`` nb vector; ``R @ beam`` is
        ``(0, 0, 1)``.
    """
    b = NB_TO_DIALS @ np.asarray(beam, dtype=np.float64)
    b = b / np.linalg.norm(b)
    target = np.array([0.0, 0.0, -1.0])
    cos = float(np.dot(b, target))
    axis = np.cross(b, target)
    sin = float(np.linalg.norm(axis))
    if sin < 1e-15:
        align = np.eye(3) if cos > 0 else np.diag([1.0, -1.0, -1.0])  # half a turn about x
    else:
        k = axis / sin
        skew = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
        align = np.eye(3) + sin * skew + (1.0 - cos) * (skew @ skew)
    return MCSTAS_FROM_DIALS @ align @ NB_TO_DIALS


def _axis(group: Any, name: str, value: Any, units: str, **attrs: Any) -> None:
    """A transformation axis dataset with its NeXus attributes."""
    dataset = group.create_dataset(name, data=np.atleast_1d(np.asarray(value, dtype=np.float64)))
    dataset.attrs["units"] = units
    for key, item in attrs.items():
        dataset.attrs[key] = item


def _field(group: Any, name: str, value: float, units: str) -> None:
    """A scalar field with its units."""
    dataset = group.create_dataset(name, data=np.float64(value))
    dataset.attrs["units"] = units


def _nx_group(parent: Any, name: str, nx_class: str) -> Any:
    group = parent.create_group(name)
    group.attrs["NX_class"] = nx_class
    return group


def _data_options() -> dict[str, Any]:
    """Chunking and compression of the image: bitshuffle/LZ4 if available, else gzip."""
    try:
        import hdf5plugin
    except ImportError:
        return {"compression": "gzip", "shuffle": True}
    return dict(hdf5plugin.Bitshuffle(nelems=0, cname="lz4"))


def _write_detector(instrument: Any, experiment: DialsExperiment, frame: np.ndarray) -> None:
    panel = experiment.panel
    detector = _nx_group(instrument, "detector", "NXdetector")
    detector["depends_on"] = f"{_DETECTOR}/transformations/origin"
    detector["description"] = "nb simulated pixel-array detector"
    detector["sensor_material"] = "Si"
    _field(detector, "sensor_thickness", panel.thickness, "m")
    _field(detector, "x_pixel_size", panel.pixel_size, "m")
    _field(detector, "y_pixel_size", panel.pixel_size, "m")
    origin = np.asarray(panel.origin, dtype=np.float64)
    normal = np.asarray(panel.odet, dtype=np.float64)
    close = float(np.dot(origin, normal))
    _field(detector, "distance", close, "m")
    beam = np.asarray(experiment.beam.direction, dtype=np.float64)
    spot = (close / float(np.dot(beam, normal))) * beam - origin  # corner to the beam spot
    _field(detector, "beam_center_x", float(np.dot(spot, panel.fdet)) / panel.pixel_size, "pixel")
    _field(detector, "beam_center_y", float(np.dot(spot, panel.sdet)) / panel.pixel_size, "pixel")
    exposure = experiment.sweep.exposure if experiment.sweep is not None else 1.0
    _field(detector, "count_time", exposure, "s")
    _field(detector, "frame_time", exposure, "s")
    transformations = _nx_group(detector, "transformations", "NXtransformations")
    length = float(np.linalg.norm(origin))
    direction = frame @ origin / length
    _axis(
        transformations,
        "origin",
        length,
        "m",
        transformation_type="translation",
        vector=direction,
        depends_on=".",
    )
    module = _nx_group(detector, "module", "NXdetector_module")
    module["data_origin"] = np.array([0, 0], dtype=np.int64)
    module["data_size"] = np.array([panel.spixels, panel.fpixels], dtype=np.int64)
    module["data_stride"] = np.array([1, 1], dtype=np.int64)
    zero = np.zeros(3)
    _axis(
        module,
        "module_offset",
        0.0,
        "m",
        transformation_type="translation",
        vector=np.array([1.0, 0.0, 0.0]),
        offset=zero,
        offset_units="m",
        depends_on=f"{_DETECTOR}/transformations/origin",
    )
    for name, vector in (
        ("fast_pixel_direction", panel.fdet),
        ("slow_pixel_direction", panel.sdet),
    ):
        _axis(
            module,
            name,
            panel.pixel_size,
            "m",
            transformation_type="translation",
            vector=frame @ np.asarray(vector),
            offset=zero,
            offset_units="m",
            depends_on=f"{_DETECTOR}/module/module_offset",
        )


def _write_beam(instrument: Any, experiment: DialsExperiment, frame: np.ndarray) -> None:
    beam = _nx_group(instrument, "beam", "NXbeam")
    _field(beam, "incident_wavelength", experiment.beam.wavelength * 1e10, "angstrom")
    e_vector = frame @ np.asarray(experiment.beam.polar_axis, dtype=np.float64)
    chi = math.atan2(e_vector[1], e_vector[0])
    k = experiment.beam.polarization
    stokes = [1.0, k * math.cos(2 * chi), k * math.sin(2 * chi), 0.0]
    beam["incident_polarization_stokes"] = np.array(stokes)
    if experiment.beam.flux > 0:
        _field(beam, "flux", experiment.beam.flux, "s-1")


def _write_sample(entry: Any, experiment: DialsExperiment, frame: np.ndarray) -> None:
    sample = _nx_group(entry, "sample", "NXsample")
    sample["name"] = "nb crystal"
    sample["beam"] = entry["instrument/beam"]
    sweep = experiment.sweep
    if sweep is None:
        sample["depends_on"] = "."
        return
    sample["depends_on"] = "/entry/sample/transformations/omega"
    transformations = _nx_group(sample, "transformations", "NXtransformations")
    start, width = math.degrees(sweep.phi0), math.degrees(sweep.osc)
    _axis(
        transformations,
        "omega",
        start,
        "deg",
        transformation_type="rotation",
        vector=frame @ np.asarray(sweep.spindle, dtype=np.float64),
        depends_on=".",
    )
    _axis(transformations, "omega_end", start + width, "deg")
    _axis(transformations, "omega_increment_set", width, "deg")


def nexus_bytes(
    image: np.ndarray, experiment: DialsExperiment, *, needed_by: str = "-nxsfile"
) -> bytes:
    """An NXmx file of one float image and its geometry.

    Args:
        image: ``(S, F)`` photons (stored as float32).
        experiment: The beam, detector and sweep (nb's lab frame).
        needed_by: The flag named if h5py is missing.

    Returns:
        The HDF5 file's bytes.

    Raises:
        InputError: h5py is not installed.
    """
    h5py = import_extra("h5py", "nexus", needed_by)
    frame = nexus_frame(experiment.beam.direction)
    pixels = np.ascontiguousarray(image, dtype=np.float32)[None, :, :]
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.attrs["creator"] = "nb"
        handle.attrs["default"] = "entry"
        entry = _nx_group(handle, "entry", "NXentry")
        entry.attrs["default"] = "data"
        entry["definition"] = "NXmx"
        entry["start_time"] = "1970-01-01T00:00:00Z"
        entry["end_time_estimated"] = "1970-01-01T00:00:00Z"
        instrument = _nx_group(entry, "instrument", "NXinstrument")
        instrument["name"] = "nb"
        _write_beam(instrument, experiment, frame)
        _write_detector(instrument, experiment, frame)
        data = instrument["detector"].create_dataset(
            "data", data=pixels, chunks=pixels.shape, **_data_options()
        )
        data.attrs["units"] = "photons"
        group = _nx_group(entry, "data", "NXdata")
        group.attrs["signal"] = "data"
        group["data"] = data
        _write_sample(entry, experiment, frame)
    return buffer.getvalue()


def write_nexus(
    path: PathLike,
    image: np.ndarray,
    experiment: DialsExperiment,
    *,
    into: OutputSet | None = None,
) -> None:
    """Write an NXmx file of one float image (atomically).

    Args:
        path: The ``.nxs`` / ``.h5`` file.
        image: ``(S, F)`` photons.
        experiment: The beam, detector and sweep (nb's lab frame).
        into: Stage the file in this set instead of writing it now.

    Raises:
        InputError: h5py is missing, or the file cannot be written.
    """
    write_output(path, nexus_bytes(image, experiment), into)


def read_nexus_image(path: PathLike, *, needed_by: str | None = None) -> np.ndarray:
    """The first frame of an NXmx file's data (``/entry/data/data``, or the NXdata signal).

    Args:
        path: The file.
        needed_by: The flag or file named if h5py is missing (default: the file).

    Returns:
        ``(S, F)`` float64 pixels as stored (photons for a file nb wrote).

    Raises:
        InputError: h5py is missing, or the file holds no 2-d frame at that place.
    """
    h5py = import_extra("h5py", "nexus", str(needed_by or path))
    with contextlib.suppress(ImportError):
        import hdf5plugin  # noqa: F401  (registers the compression filters)
    try:
        with h5py.File(path, "r") as handle:
            group = handle["entry/data"]
            data = group[group.attrs.get("signal", "data")]
            frame = np.asarray(data[0] if data.ndim == 3 else data[()], dtype=np.float64)
    except (OSError, KeyError, TypeError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise InputError(f"{path}: not a readable NXmx image ({reason})", path) from None
    if frame.ndim != 2:
        raise InputError(f"{path}: expected a 2-d frame, got shape {frame.shape}", path)
    return frame
