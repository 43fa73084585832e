"""What each clause of the C program's argument loop does to the settings.

An action takes the settings and the arguments after the flag (padded with empty strings, so
that a missing value reads as the C program's ``atof("")``, 0) and updates the settings in
place, in the units of :class:`nb_core.settings.Settings` (mm, µm, Å, deg, mrad, pixels).
Numbers are read with C ``atof``/``atoi`` (validation has already refused what they would
read only in part). The factories (:func:`store`, :func:`chain`, ...) build the action a table
row names; the plain functions are the actions with a rule of their own.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from nb_cli.flags._c_numbers import c_atof, c_atoi
from nb_cli.flags._record import Action
from nb_core.settings import Settings

__all__ = [
    "cells_along",
    "chain",
    "convention",
    "custom_vector",
    "detector_absorb",
    "detector_pixels",
    "detector_rotation",
    "detector_size",
    "ignore",
    "negated_seed",
    "read_int",
    "read_real",
    "read_text",
    "sample_size",
    "set_cell",
    "set_cells_all",
    "set_divergence",
    "set_divsteps",
    "set_energy",
    "set_misset_angles",
    "set_misset_random",
    "set_noisefile",
    "set_pgmfile",
    "set_pgmscale",
    "set_pivot",
    "set_polarization",
    "set_printout_pixel",
    "set_roi",
    "store",
    "store_const",
    "store_with_pivot",
]

# ---- readers of the first value ---------------------------------------------------------------


def read_real(values: list[str]) -> float:
    """The first value, read with C ``atof``."""
    return c_atof(values[0])


def read_int(values: list[str]) -> int:
    """The first value, read with C ``atoi``."""
    return c_atoi(values[0])


def read_text(values: list[str]) -> str:
    """The first value as it is (a file name)."""
    return values[0]


def _read_vector(values: list[str]) -> tuple[float, float, float]:
    """The first three values, read with C ``atof``."""
    return (c_atof(values[0]), c_atof(values[1]), c_atof(values[2]))


# ---- factories ----------------------------------------------------------------------------------


def store(attr: str, read: Callable[[list[str]], object]) -> Action:
    """Set the settings field ``attr`` to what ``read`` reads from the values."""

    def act(settings: Settings, values: list[str]) -> None:
        setattr(settings, attr, read(values))

    return act


def store_const(attr: str, value: object) -> Action:
    """Set the settings field ``attr`` to ``value`` (a switch)."""

    def act(settings: Settings, values: list[str]) -> None:
        setattr(settings, attr, value)

    return act


def chain(*actions: Action) -> Action:
    """Run ``actions`` in turn on the same values."""

    def act(settings: Settings, values: list[str]) -> None:
        for action in actions:
            action(settings, values)
        return None

    return act


def store_with_pivot(attr: str, pivot: str) -> Action:
    """Set the real-valued field ``attr`` from the first value, then the pivot to ``pivot``."""
    return chain(store(attr, read_real), store_const("pivot", pivot))


def cells_along(axis: int) -> Action:
    """Set the unit-cell count along one axis (0: a, 1: b, 2: c)."""

    def act(settings: Settings, values: list[str]) -> None:
        counts = list(settings.n_cells)
        counts[axis] = float(c_atoi(values[0]))
        settings.n_cells = (counts[0], counts[1], counts[2])

    return act


def sample_size(*axes: int) -> Action:
    """Set the crystal size (mm) along the given axes (0: a, 1: b, 2: c)."""

    def act(settings: Settings, values: list[str]) -> None:
        size = list(settings.sample_size_mm)
        for axis in axes:
            size[axis] = c_atof(values[0])
        settings.sample_size_mm = (size[0], size[1], size[2])

    return act


def convention(name: str, pivot: str) -> Action:
    """Select a detector convention and the pivot it fixes."""

    def act(settings: Settings, values: list[str]) -> None:
        settings.convention = name  # type: ignore[assignment]
        settings.pivot = pivot  # type: ignore[assignment]

    return act


def custom_vector(attr: str) -> Action:
    """Set the vector field ``attr`` from three values; selects the CUSTOM convention."""

    def act(settings: Settings, values: list[str]) -> None:
        settings.convention = "custom"
        setattr(settings, attr, _read_vector(values))

    return act


def custom_vector_mm(attr: str) -> Action:
    """Set the vector field ``attr`` (m) from three values in mm; selects the CUSTOM convention."""

    def act(settings: Settings, values: list[str]) -> None:
        settings.convention = "custom"
        x, y, z = _read_vector(values)
        setattr(settings, attr, (x / 1000.0, y / 1000.0, z / 1000.0))

    return act


def detector_size(which: str) -> Action:
    """Set the detector size (mm): ``"f"`` fast, ``"s"`` slow, ``"b"`` both."""

    def act(settings: Settings, values: list[str]) -> None:
        fast, slow = settings.detsize_mm
        size = c_atof(values[0])
        settings.detsize_mm = (size if which in "fb" else fast, size if which in "sb" else slow)

    return act


def detector_pixels(which: str) -> Action:
    """Set the detector pixel count: ``"f"`` fast, ``"s"`` slow, ``"b"`` both."""

    def act(settings: Settings, values: list[str]) -> None:
        fast, slow = settings.detpixels
        count = c_atoi(values[0])
        settings.detpixels = (count if which in "fb" else fast, count if which in "sb" else slow)

    return act


def detector_rotation(axis: int) -> Action:
    """Set the detector rotation (deg) about one lab axis (0: x, 1: y, 2: z)."""

    def act(settings: Settings, values: list[str]) -> None:
        angles = list(settings.detector_rot_deg)
        angles[axis] = c_atof(values[0])
        settings.detector_rot_deg = (angles[0], angles[1], angles[2])

    return act


def negated_seed(attr: str) -> Action:
    """Set the seed field ``attr`` to minus the value, as the C program stores seeds."""

    def act(settings: Settings, values: list[str]) -> None:
        setattr(settings, attr, -c_atoi(values[0]))

    return act


# ---- actions with a rule of their own -------------------------------------------------------------


def ignore(settings: Settings, values: list[str]) -> None:
    """Do nothing (a flag accepted for compatibility, or one only reported)."""
    return None


def set_cells_all(settings: Settings, values: list[str]) -> None:
    """Set the unit-cell count along a, b and c."""
    count = float(c_atoi(values[0]))
    settings.n_cells = (count, count, count)


def set_cell(settings: Settings, values: list[str]) -> None:
    """Set up to six cell values (Å, deg); they end at the first value that starts with ``-``."""
    settings.user_cell = True
    cell = list(settings.cell)
    for k in range(6):
        if k >= len(values) or values[k].startswith("-"):
            break
        cell[k] = c_atof(values[k])
    settings.cell = (cell[0], cell[1], cell[2], cell[3], cell[4], cell[5])


def set_misset_random(settings: Settings, values: list[str]) -> bool:
    """A random orientation when the value contains ``rand``; True: the next argument."""
    if "rand" in values[0]:
        settings.misset_mode = "random"
        return True
    return False


def set_misset_angles(settings: Settings, values: list[str]) -> None:
    """Misset angles about x, y and z (deg) from three values."""
    settings.misset_mode = "angles"
    settings.misset_deg = _read_vector(values)


def set_pivot(settings: Settings, values: list[str]) -> None:
    """The pivot named by the value (``sample`` or ``beam``; the last match wins)."""
    if "sample" in values[0]:
        settings.pivot = "sample"
    if "beam" in values[0]:
        settings.pivot = "beam"


def detector_absorb(settings: Settings, values: list[str]) -> None:
    """The sensor attenuation depth (µm); ``inf`` or 0 also sets a zero thickness."""
    if "inf" in values[0] or c_atof(values[0]) == 0.0:
        settings.detector_thick_um = 0.0
        settings.detector_attenuation_um = math.inf
    else:
        settings.detector_attenuation_um = c_atof(values[0])


def set_polarization(settings: Settings, values: list[str]) -> None:
    """The Kahn polarization factor; turns the polarization correction on."""
    settings.polarization = c_atof(values[0])
    settings.nopolar = False


def set_roi(settings: Settings, values: list[str]) -> None:
    """The region of interest: XMIN XMAX YMIN YMAX (pixels, inclusive)."""
    settings.roi = (c_atoi(values[0]), c_atoi(values[1]), c_atoi(values[2]), c_atoi(values[3]))


def set_energy(settings: Settings, values: list[str]) -> None:
    """The wavelength (Å) from a photon energy (eV); infinite for 0 eV."""
    settings.lambda_A = 12398.42 / c_atof(values[0]) if c_atof(values[0]) != 0 else math.inf


def set_divergence(settings: Settings, values: list[str]) -> None:
    """The horizontal and vertical divergence range (mrad)."""
    settings.hdivrange_mrad = settings.vdivrange_mrad = c_atof(values[0])


def set_divsteps(settings: Settings, values: list[str]) -> None:
    """The horizontal and vertical divergence step counts."""
    settings.hdivsteps = settings.vdivsteps = c_atoi(values[0])


def set_printout_pixel(settings: Settings, values: list[str]) -> None:
    """The pixel (fast, slow) that ``-printout`` traces."""
    settings.printout_pixel = (c_atoi(values[0]), c_atoi(values[1]))


def set_pgmfile(settings: Settings, values: list[str]) -> None:
    """The PGM file name; turns the PGM picture on."""
    settings.pgmfile = values[0]
    settings.write_pgm = True


def set_noisefile(settings: Settings, values: list[str]) -> None:
    """The noise-image file name; turns the noise image on."""
    settings.noisefile = values[0]
    settings.write_noise = True


def set_pgmscale(settings: Settings, values: list[str]) -> None:
    """The PGM scale factor; turns the PGM picture on."""
    settings.pgm_scale = c_atof(values[0])
    settings.write_pgm = True
