"""SMV header keys: the values the C program reads from ``-img``/``-mask`` files and writes.

Reading: :func:`apply_headers` applies the ``-mask`` file's header, then the ``-img`` file's,
before the flags (as the C program does). Each key of :data:`READ_KEYS` is read as the C
program's ``ValueOf`` reads it (``atof`` of the text after the key's last occurrence and its
``=``, so ``PIXEL_SIZE=0.1mm`` is 0.1); a value nb takes from a header must be finite, and the
pixel size, distances and wavelength positive. Such a value is refused even when a later flag
overrides it: the file is broken either way.

Writing: :func:`header_pairs` gives the keys of :data:`WRITTEN_KEYS` with their values
formatted as the C program formats them, from the plain numbers of a :class:`HeaderValues`;
:func:`nb_core.io.write_smv` writes them after its own format keys (``HEADER_BYTES`` ...
``SIZE2``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nb_core.errors import InputError
from nb_core.io import read_smv, smv_value_of
from nb_core.settings import Settings
from nb_core.units import RTD

__all__ = [
    "READ_KEYS",
    "WRITTEN_KEYS",
    "HeaderKey",
    "HeaderValues",
    "apply_header",
    "apply_headers",
    "header_pairs",
    "header_values",
]


@dataclass(frozen=True)
class HeaderKey:
    """A header key the C program takes from ``-img`` and ``-mask`` files.

    Attributes:
        name: The key, e.g. ``PIXEL_SIZE``.
        positive: The value must be positive (else only finite).
        valid: What a valid value is, for the error line.
    """

    name: str
    positive: bool
    valid: str


#: The header keys the C program reads, in the order nb checks them.
READ_KEYS: tuple[HeaderKey, ...] = (
    HeaderKey("PIXEL_SIZE", True, "a pixel size > 0 mm"),
    HeaderKey("DISTANCE", True, "a distance > 0 mm"),
    HeaderKey("CLOSE_DISTANCE", True, "a distance > 0 mm"),
    HeaderKey("WAVELENGTH", True, "a wavelength > 0 Å"),
    HeaderKey("BEAM_CENTER_X", False, "a finite beam centre in mm"),
    HeaderKey("BEAM_CENTER_Y", False, "a finite beam centre in mm"),
    HeaderKey("ORGX", False, "a finite origin in pixels"),
    HeaderKey("ORGY", False, "a finite origin in pixels"),
    HeaderKey("PHI", False, "a finite angle in degrees"),
    HeaderKey("OSC_RANGE", False, "a finite range in degrees"),
)

#: The header keys the C program writes after ``SIZE2``, in its order (:func:`header_pairs`).
WRITTEN_KEYS: tuple[str, ...] = (
    "PIXEL_SIZE",
    "DISTANCE",
    "WAVELENGTH",
    "BEAM_CENTER_X",
    "BEAM_CENTER_Y",
    "ADXV_CENTER_X",
    "ADXV_CENTER_Y",
    "MOSFLM_CENTER_X",
    "MOSFLM_CENTER_Y",
    "DENZO_X_BEAM",
    "DENZO_Y_BEAM",
    "DIALS_ORIGIN",
    "XDS_ORGX",
    "XDS_ORGY",
    "CLOSE_DISTANCE",
    "PHI",
    "OSC_START",
    "OSC_RANGE",
    "TWOTHETA",
    "DETECTOR_SN",
    "BEAMLINE",
)


@dataclass(frozen=True)
class HeaderValues:
    """The numbers of a resolved experiment that its SMV header reports.

    Attributes:
        pixel_size_m: Pixel size (m).
        distance_m: Sample to detector along the beam (m).
        wavelength_m: Central wavelength (m).
        xbeam_m: Direct-beam position, image X (m).
        ybeam_m: Direct-beam position, image Y (m).
        fbeam_m: Direct-beam position along the fast axis (m).
        sbeam_m: Direct-beam position along the slow axis (m).
        detsize_s_m: Detector size along the slow axis (m).
        dials_origin_mm: ``(3,)`` DIALS detector origin (mm).
        orgx_px: XDS origin, fast (pixels).
        orgy_px: XDS origin, slow (pixels).
        close_distance_m: Sample to detector plane along its normal (m).
        phi0_rad: First spindle angle (rad).
        osc_rad: Spindle oscillation range (rad).
        twotheta_rad: Detector two-theta angle (rad).
    """

    pixel_size_m: float
    distance_m: float
    wavelength_m: float
    xbeam_m: float
    ybeam_m: float
    fbeam_m: float
    sbeam_m: float
    detsize_s_m: float
    dials_origin_mm: tuple[float, float, float]
    orgx_px: float
    orgy_px: float
    close_distance_m: float
    phi0_rad: float
    osc_rad: float
    twotheta_rad: float


def header_pairs(values: HeaderValues) -> list[tuple[str, str]]:
    """The SMV header keys and values the C program writes (after SIZE1/SIZE2).

    Args:
        values: The numbers the header reports (m, mm, pixels, rad).

    Returns:
        ``(key, value)`` pairs of :data:`WRITTEN_KEYS`, values formatted as the C program
        formats them (``%g`` of mm, Å, pixels and degrees).
    """
    pixel = values.pixel_size_m
    fbeam, sbeam = values.fbeam_m, values.sbeam_m
    detsize_s = values.detsize_s_m
    percent_g = "{:g}".format  # C printf %g
    return [
        ("PIXEL_SIZE", percent_g(pixel * 1000.0)),
        ("DISTANCE", percent_g(values.distance_m * 1000.0)),
        ("WAVELENGTH", percent_g(values.wavelength_m * 1e10)),
        ("BEAM_CENTER_X", percent_g(values.xbeam_m * 1000.0)),
        ("BEAM_CENTER_Y", percent_g(values.ybeam_m * 1000)),
        ("ADXV_CENTER_X", percent_g(fbeam * 1000.0)),
        ("ADXV_CENTER_Y", percent_g((detsize_s - sbeam) * 1000)),
        ("MOSFLM_CENTER_X", percent_g((sbeam - 0.5 * pixel) * 1000.0)),
        ("MOSFLM_CENTER_Y", percent_g((fbeam - 0.5 * pixel) * 1000)),
        ("DENZO_X_BEAM", percent_g((sbeam - 0.0 * pixel) * 1000.0)),
        ("DENZO_Y_BEAM", percent_g((fbeam - 0.0 * pixel) * 1000)),
        ("DIALS_ORIGIN", ",".join(percent_g(x) for x in values.dials_origin_mm)),
        ("XDS_ORGX", percent_g(values.orgx_px)),
        ("XDS_ORGY", percent_g(values.orgy_px)),
        ("CLOSE_DISTANCE", percent_g(values.close_distance_m * 1000.0)),
        ("PHI", percent_g(values.phi0_rad * RTD)),
        ("OSC_START", percent_g(values.phi0_rad * RTD)),
        ("OSC_RANGE", percent_g(values.osc_rad * RTD)),
        ("TWOTHETA", percent_g(values.twotheta_rad * RTD)),
        ("DETECTOR_SN", "000"),
        ("BEAMLINE", "fake"),
    ]


def apply_headers(settings: Settings, args: Sequence[str], *, read: bool = True) -> None:
    """Apply the -mask then the -img SMV header values, before the flags (as the C program does).

    Args:
        settings: Updated in place: ``mask_file``, ``img_file`` and the header's values.
        args: The C program's arguments; the last argument containing ``-img`` (``-mask``)
            that has a value after it names the file.
        read: Read the files (False: only record their names).

    Raises:
        InputError: A file cannot be read as SMV, or a value it gives is not valid.
    """
    img = mask = None
    for i, arg in enumerate(args):
        if arg.startswith("-") and i + 1 < len(args):
            if "-img" in arg:
                img = args[i + 1]
            if "-mask" in arg:
                mask = args[i + 1]
    settings.mask_file = mask
    settings.img_file = img
    if not read:
        return
    if mask is not None:
        apply_header(settings, mask, is_mask=True)
    if img is not None:
        apply_header(settings, img, is_mask=False)


def apply_header(settings: Settings, path: str, *, is_mask: bool) -> None:
    """Set the detector size and the header's values, as the C program does for -img/-mask.

    Args:
        settings: Updated in place (mm, Å, pixels, degrees).
        path: The SMV file.
        is_mask: A -mask file (its BEAM_CENTER_Y counts from the other edge).

    Raises:
        InputError: The file cannot be read as SMV, or a value it gives is not valid.
    """
    image = read_smv(Path(path))
    values = header_values(image.header_text, path)
    width, height = image.data.shape[1], image.data.shape[0]
    settings.detpixels = (width, height)
    settings.pixel_mm = values.get("PIXEL_SIZE", settings.pixel_mm)
    detsize_s = settings.pixel_mm / 1000.0 * height
    settings.detsize_mm = (settings.pixel_mm * width, settings.pixel_mm * height)
    settings.distance_mm = values.get("DISTANCE", settings.distance_mm)
    settings.close_distance_mm = values.get("CLOSE_DISTANCE", settings.close_distance_mm)
    settings.lambda_A = values.get("WAVELENGTH", settings.lambda_A)
    settings.xbeam_mm = values.get("BEAM_CENTER_X", settings.xbeam_mm)
    if (ybeam := values.get("BEAM_CENTER_Y")) is not None:
        settings.ybeam_mm = (detsize_s - ybeam / 1000.0) * 1000.0 if is_mask else ybeam
    settings.orgx = values.get("ORGX", settings.orgx)
    settings.orgy = values.get("ORGY", settings.orgy)
    settings.phi_deg = values.get("PHI", settings.phi_deg)
    settings.osc_deg = values.get("OSC_RANGE", settings.osc_deg)


def header_values(header_text: str, path: str) -> dict[str, float]:
    """The values of :data:`READ_KEYS` a header gives, read as the C program reads them.

    Args:
        header_text: The SMV header.
        path: The file, for error lines.

    Returns:
        Each key that occurs, with its value (mm, Å, pixels or degrees).

    Raises:
        InputError: A value is not finite, or not positive where it must be.
    """
    values: dict[str, float] = {}
    for key in READ_KEYS:
        value = smv_value_of(header_text, key.name)
        if value is None:
            continue
        if not math.isfinite(value) or (key.positive and value <= 0):
            entry = _header_entry(header_text, key.name)
            read_as = "" if entry.startswith(key.name) else f" (read as {key.name})"
            raise InputError(f"header {entry}{read_as}: expected {key.valid}", path)
        values[key.name] = value
    return values


def _header_entry(header_text: str, key: str) -> str:
    """The header entry the C program's ``ValueOf`` reads for ``key`` (it takes the key's last
    occurrence, also inside a longer key): from that line's start to the value's ``;``."""
    text = header_text.split("\0", 1)[0]
    found = start = 0
    while (at := text.find(key, start)) >= 0:
        found, start = at, at + len(key)
    line_start = text.rfind("\n", 0, found) + 1
    equals = text.find("=", found + len(key))
    end = len(text) if equals < 0 else equals + 1
    if equals >= 0:
        stop = re.search(r"[;\n}]", text[end:])
        end += stop.start() if stop else len(text) - end
    entry = " ".join(text[line_start:end].split())
    entry = entry if len(entry) <= 60 else entry[:57] + "..."
    return entry if entry.isprintable() else repr(entry)[1:-1]
