"""Reading a DIALS experiment list of one single-panel experiment into nb's records.

Every value is checked; a missing or malformed one is an :class:`InputError` naming the file
and the key (``run.expt: detector[0].panels[0].origin: expected three finite numbers``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, read_input_bytes
from nb_core.io._dials import (
    DialsBeam,
    DialsExperiment,
    DialsPanel,
    DialsSweep,
    Vec3,
    from_dials,
)

__all__ = ["experiment_matrix", "is_experiment_list", "read_experiment_list"]

#: Largest experiment list read (a single experiment is a few kB).
_LIMIT = 64 << 20


class _Reader:
    """Typed access to the JSON document, with errors naming the file and the key."""

    def __init__(self, path: PathLike) -> None:
        self.path = path

    def fail(self, key: str, what: str) -> InputError:
        return InputError(f"{self.path}: {key}: {what}", source=self.path)

    def mapping(self, value: Any, key: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(key, "expected a JSON object")
        return value

    def field(self, obj: Mapping[str, Any], name: str, key: str) -> Any:
        if name not in obj:
            raise self.fail(f"{key}.{name}" if key else name, "missing")
        return obj[name]

    def number(self, value: Any, key: str, *, positive: bool = False) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or (positive and value <= 0):
            raise self.fail(key, f"expected a {'positive' if positive else 'finite'} number")
        return float(value)

    def vector(self, value: Any, key: str, size: int = 3, *, nonzero: bool = True) -> np.ndarray:
        if not isinstance(value, list) or len(value) != size:
            raise self.fail(key, f"expected {size} finite numbers")
        array = np.array([self.number(v, key) for v in value], dtype=np.float64)
        if nonzero and not np.any(array):
            raise self.fail(key, "expected a non-zero vector")
        return array

    def model(self, document: Mapping[str, Any], entry: Mapping[str, Any], name: str) -> Any:
        """The model an experiment names by index (None when it names none)."""
        index = entry.get(name)
        if index is None:
            return None
        models = document.get(name)
        if not isinstance(index, int) or not isinstance(models, list):
            raise self.fail(f"experiment[0].{name}", f"expected an index into the {name} list")
        if not 0 <= index < len(models):
            raise self.fail(f"experiment[0].{name}", f"index {index} is not in the {name} list")
        return self.mapping(models[index], f"{name}[{index}]")


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / math.sqrt(float(np.dot(vector, vector)))


def _length(v: np.ndarray) -> float:
    """The length as nb computes it (``sqrt(x*x + y*y + z*z)`` in float64)."""
    return math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])


def _exact_unit(vector: np.ndarray) -> np.ndarray:
    """``vector``'s direction with a length that nb computes as exactly 1.0.

    nb takes an ``-odet_vector`` as given only when its length is exactly 1; this nudges the
    unit vector's components by a few units in the last place until it is.
    """
    out = _unit(vector)
    if _length(out) == 1.0:
        return out
    for index in np.argsort(-np.abs(out)):
        for steps in (1, -1, 2, -2, 3, -3, 4, -4):
            trial = out.copy()
            for _ in range(abs(steps)):
                trial[index] = np.nextafter(trial[index], np.inf if steps > 0 else -np.inf)
            if _length(trial) == 1.0:
                return trial
    return out


def _frame(
    reader: _Reader, node: Mapping[str, Any], key: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fast = _unit(reader.vector(reader.field(node, "fast_axis", key), f"{key}.fast_axis"))
    slow = _unit(reader.vector(reader.field(node, "slow_axis", key), f"{key}.slow_axis"))
    origin = reader.vector(reader.field(node, "origin", key), f"{key}.origin", nonzero=False)
    if np.linalg.norm(np.cross(fast, slow)) < 1e-6:
        raise reader.fail(f"{key}.slow_axis", "is parallel to the fast axis")
    return fast, slow, origin


def _panel_path(reader: _Reader, node: Mapping[str, Any], key: str) -> list[tuple[Any, str]]:
    """The hierarchy nodes from ``node`` down to panel 0, with their keys."""
    children = node.get("children", [])
    if not isinstance(children, list):
        raise reader.fail(f"{key}.children", "expected a list")
    for i, child in enumerate(children):
        child_key = f"{key}.children[{i}]"
        child = reader.mapping(child, child_key)
        if "panel" in child:
            if child["panel"] == 0:
                return [(node, key)]
            continue
        below = _panel_path(reader, child, child_key)
        if below:
            return [(node, key), *below]
    return []


def _global_frame(
    reader: _Reader, detector: Mapping[str, Any], panel: Mapping[str, Any], key: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The panel's fast and slow axes and origin (mm) in the lab, through its hierarchy."""
    fast, slow, origin = _frame(reader, panel, f"{key}.panels[0]")
    if "hierarchy" not in detector:
        return fast, slow, origin
    root = reader.mapping(detector["hierarchy"], f"{key}.hierarchy")
    path = _panel_path(reader, root, f"{key}.hierarchy")
    if not path:
        raise reader.fail(f"{key}.hierarchy", "does not hold panel 0")
    for node, node_key in reversed(path):
        f_p, s_p, o_p = _frame(reader, node, node_key)
        basis = np.stack([f_p, s_p, _unit(np.cross(f_p, s_p))], axis=1)
        fast, slow, origin = basis @ fast, basis @ slow, o_p + basis @ origin
    return fast, slow, origin


def _panel(reader: _Reader, detector: Mapping[str, Any], key: str) -> DialsPanel:
    panels = reader.field(detector, "panels", key)
    if not isinstance(panels, list) or len(panels) != 1:
        count = len(panels) if isinstance(panels, list) else "no"
        raise reader.fail(f"{key}.panels", f"holds {count} panels; nb models one flat panel")
    panel = reader.mapping(panels[0], f"{key}.panels[0]")
    where = f"{key}.panels[0]"
    fast, slow, origin_mm = _global_frame(reader, detector, panel, key)
    size = reader.vector(reader.field(panel, "image_size", where), f"{where}.image_size", 2)
    if np.any(size < 1) or np.any(size != np.round(size)):
        raise reader.fail(f"{where}.image_size", "expected two whole numbers of pixels >= 1")
    pixel = reader.vector(reader.field(panel, "pixel_size", where), f"{where}.pixel_size", 2)
    if np.any(pixel <= 0) or abs(pixel[0] - pixel[1]) > 1e-12 * pixel[0]:
        raise reader.fail(f"{where}.pixel_size", "expected one positive size along fast and slow")
    thickness = reader.number(panel.get("thickness", 0.0), f"{where}.thickness")
    mu = reader.number(panel.get("mu", 0.0), f"{where}.mu")
    fast_nb, slow_nb = np.array(from_dials(fast)), np.array(from_dials(slow))
    origin = np.array(from_dials(origin_mm)) / 1000.0
    normal = _unit(np.cross(_unit(fast_nb), _unit(slow_nb)))
    if float(np.dot(origin, normal)) < 0.0:
        normal = -normal
    if float(np.dot(origin, normal)) == 0.0:
        raise reader.fail(f"{where}.origin", "the panel's plane passes through the sample")
    return DialsPanel(
        fdet=_vec3(fast_nb),
        sdet=_vec3(slow_nb),
        odet=_vec3(_exact_unit(normal)),
        origin=_vec3(origin),
        pixel_size=float(pixel[0]) / 1000.0,
        fpixels=int(size[0]),
        spixels=int(size[1]),
        thickness=max(thickness, 0.0) / 1000.0,
        mu=max(mu, 0.0) * 1000.0,
    )


def _vec3(vector: np.ndarray) -> Vec3:
    return float(vector[0]), float(vector[1]), float(vector[2])


def _beam(reader: _Reader, beam: Mapping[str, Any], key: str) -> DialsBeam:
    toward_source = reader.vector(reader.field(beam, "direction", key), f"{key}.direction")
    direction = -np.array(from_dials(_unit(toward_source)))
    wavelength = reader.number(
        reader.field(beam, "wavelength", key), f"{key}.wavelength", positive=True
    )
    fraction = reader.number(beam.get("polarization_fraction", 0.5), f"{key}.polarization_fraction")
    if not 0.0 <= fraction <= 1.0:
        raise reader.fail(f"{key}.polarization_fraction", "expected a fraction from 0 to 1")
    normal_dials = beam.get("polarization_normal", [0.0, 1.0, 0.0])
    normal = np.array(from_dials(reader.vector(normal_dials, f"{key}.polarization_normal")))
    e_vector = np.cross(direction, _unit(normal))
    if np.linalg.norm(e_vector) < 1e-6:
        raise reader.fail(f"{key}.polarization_normal", "is along the beam")
    flux = reader.number(beam.get("flux", 0.0), f"{key}.flux")
    return DialsBeam(
        direction=_vec3(direction),
        wavelength=wavelength * 1e-10,
        polar_axis=_vec3(_unit(e_vector)),
        polarization=2.0 * fraction - 1.0,
        flux=flux,
    )


def _rotation(reader: _Reader, value: Any, key: str) -> np.ndarray:
    matrix = reader.vector(value, key, 9).reshape(3, 3)
    if np.abs(matrix @ matrix.T - np.eye(3)).max() > 1e-6 or np.linalg.det(matrix) < 0:
        raise reader.fail(key, "expected a rotation matrix (nine numbers, row by row)")
    return matrix


def _sweep(
    reader: _Reader, goniometer: Mapping[str, Any] | None, scan: Mapping[str, Any] | None
) -> tuple[DialsSweep | None, np.ndarray]:
    """The sweep and the setting x fixed rotation the crystal carries at angle 0 (DIALS frame)."""
    if goniometer is None or scan is None:
        return None, np.eye(3)
    if "axes" in goniometer:
        raise reader.fail("goniometer[0].axes", "nb models a single-axis goniometer")
    axis = _unit(
        reader.vector(
            reader.field(goniometer, "rotation_axis", "goniometer[0]"),
            "goniometer[0].rotation_axis",
        )
    )
    identity = list(np.eye(3).ravel())
    fixed = _rotation(
        reader, goniometer.get("fixed_rotation", identity), "goniometer[0].fixed_rotation"
    )
    setting = _rotation(
        reader, goniometer.get("setting_rotation", identity), "goniometer[0].setting_rotation"
    )
    properties = scan.get("properties", scan)
    properties = reader.mapping(properties, "scan[0].properties")
    key = "scan[0].properties" if "properties" in scan else "scan[0]"
    oscillation = reader.field(properties, "oscillation", key)
    if isinstance(oscillation, list) and oscillation and isinstance(oscillation[0], list):
        oscillation = [oscillation[0][0], oscillation[0][1] if len(oscillation[0]) > 1 else 0.0]
    start, width = reader.vector(oscillation, f"{key}.oscillation", 2, nonzero=False)
    exposure = properties.get("exposure_time", [1.0])
    exposure = exposure[0] if isinstance(exposure, list) and exposure else exposure
    sweep = DialsSweep(
        spindle=from_dials(_unit(setting @ axis)),
        phi0=math.radians(start),
        osc=math.radians(width),
        exposure=reader.number(exposure, f"{key}.exposure_time", positive=True),
    )
    return sweep, setting @ fixed


def _crystal(
    reader: _Reader, crystal: Mapping[str, Any] | None, carried: np.ndarray
) -> tuple[Vec3, Vec3, Vec3] | None:
    if crystal is None:
        return None
    rows = []
    for name in ("real_space_a", "real_space_b", "real_space_c"):
        value = reader.vector(reader.field(crystal, name, "crystal[0]"), f"crystal[0].{name}")
        rows.append(_vec3(np.array(from_dials(carried @ value))))
    if abs(float(np.linalg.det(np.array(rows)))) < 1e-12:
        raise reader.fail("crystal[0]", "the real-space vectors span no volume")
    return rows[0], rows[1], rows[2]


def _parse(path: PathLike) -> Mapping[str, Any]:
    raw = read_input_bytes(path, limit=_LIMIT, kind="DIALS experiment list")
    try:
        document = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a DIALS experiment list (not UTF-8 text)", path) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path}: not a DIALS experiment list (bad JSON at line {exc.lineno} column "
            f"{exc.colno}: {exc.msg})",
            path,
        ) from None
    reader = _Reader(path)
    document = reader.mapping(document, "(top level)")
    if document.get("__id__") != "ExperimentList":
        raise reader.fail("__id__", "expected 'ExperimentList'")
    return document


def read_experiment_list(path: PathLike) -> DialsExperiment:
    """Read a DIALS experiment list of one experiment with one flat panel.

    Args:
        path: The ``.expt`` (JSON) file.

    Returns:
        Its beam, panel, crystal (real-space rows at scan angle 0, with the goniometer's
        setting and fixed rotations applied; None without a crystal) and sweep, in nb's lab
        frame.

    Raises:
        InputError: Unreadable, not JSON, more than one experiment or panel, a multi-axis
            goniometer, or a missing or malformed value (the message names the key).
    """
    document = _parse(path)
    reader = _Reader(path)
    experiments = reader.field(document, "experiment", "")
    if not isinstance(experiments, list) or len(experiments) != 1:
        count = len(experiments) if isinstance(experiments, list) else "no"
        raise reader.fail("experiment", f"holds {count} experiments; nb reads one")
    entry = reader.mapping(experiments[0], "experiment[0]")
    beam = reader.model(document, entry, "beam")
    detector = reader.model(document, entry, "detector")
    if beam is None or detector is None:
        raise reader.fail(f"experiment[0].{'beam' if beam is None else 'detector'}", "missing")
    sweep, carried = _sweep(
        reader, reader.model(document, entry, "goniometer"), reader.model(document, entry, "scan")
    )
    return DialsExperiment(
        beam=_beam(reader, beam, f"beam[{entry['beam']}]"),
        panel=_panel(reader, detector, f"detector[{entry['detector']}]"),
        real_space=_crystal(reader, reader.model(document, entry, "crystal"), carried),
        sweep=sweep,
    )


def is_experiment_list(path: PathLike) -> bool:
    """Whether a file starts like JSON (``{``), as an experiment list does (a matrix does not)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(256)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{"


def experiment_matrix(path: PathLike, lambda_A: float) -> np.ndarray:
    """The crystal of an experiment list as a MOSFLM ``-mat`` file gives it.

    Args:
        path: The experiment list.
        lambda_A: The wavelength the matrix is scaled by (Å), as in a MOSFLM file.

    Returns:
        ``(3, 3)`` rows a*, b*, c* (Å⁻¹) times ``lambda_A``, nb's lab frame (the layout
        :func:`nb_core.io.read_matrix` returns).

    Raises:
        InputError: The list cannot be read or holds no crystal.
    """
    experiment = read_experiment_list(path)
    if experiment.real_space is None:
        raise InputError(f"{path}: crystal: missing (the experiment has no crystal)", path)
    real = np.array(experiment.real_space, dtype=np.float64)
    reciprocal = np.linalg.inv(real).T  # rows a*, b*, c*: a* . a = 1
    return reciprocal * lambda_A
