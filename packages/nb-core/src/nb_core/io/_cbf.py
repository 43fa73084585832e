"""miniCBF images with the Pilatus header (``-cbffile``), written and read through fabio.

The file is what a Pilatus detector writes: a CIF text block whose
``_array_data.header_contents`` holds the Pilatus header lines (``# Pixel_size``,
``# Detector_distance``, ``# Wavelength``, ``# Beam_xy``, ``# Start_angle``,
``# Angle_increment``, ...), then the pixels as signed 32-bit integers packed with the
byte-offset scheme. dxtbx reads it as a detector facing the beam (fast +x, slow -y in DIALS'
frame) placed by ``Beam_xy`` (pixels, from the outer corner of the first pixel) and
``Detector_distance``; other geometry (tilts, two-theta) belongs in the experiment list.

Two lines of nb's own follow the Pilatus ones: ``# NB_intfile_scale S`` (counts per photon of
the pixels) and ``# NB_adc_offset A`` (counts added to every pixel), from which
:func:`read_cbf` turns the pixels back into photons.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike
from nb_core.io._extras import import_extra
from nb_core.io._outputs import OutputSet, write_output

__all__ = ["CbfHeader", "CbfImage", "cbf_bytes", "read_cbf", "write_cbf"]

#: Pilatus module layout (pixels) and the gaps between modules.
_MODULE, _GAP = (487, 195), (7, 17)


@dataclass(frozen=True)
class CbfHeader:
    """The values of a Pilatus header.

    Attributes:
        pixel_size: Pixel edge (m).
        distance: Sample to detector along the beam (m).
        wavelength: Wavelength (m).
        beam_xy: Direct-beam spot along fast and slow from the outer corner of the first
            pixel (pixels).
        start_angle: Spindle angle at the start of the exposure (rad).
        angle_increment: Rotation during the exposure (rad).
        exposure: Exposure time (s).
        thickness: Sensor thickness (m).
        polarization: Fraction of the beam polarized along its E-vector.
        twotheta: Detector two-theta (rad).
        flux: Photons/s.
        count_cutoff: Largest valid pixel value (counts).
        intfile_scale: Counts per photon of the pixels.
        adc_offset: Counts added to every pixel.
    """

    pixel_size: float
    distance: float
    wavelength: float
    beam_xy: tuple[float, float]
    start_angle: float = 0.0
    angle_increment: float = 0.0
    exposure: float = 1.0
    thickness: float = 0.0
    polarization: float = 0.5
    twotheta: float = 0.0
    flux: float = 0.0
    count_cutoff: int = 65535
    intfile_scale: float = 1.0
    adc_offset: float = 0.0


@dataclass(frozen=True)
class CbfImage:
    """A miniCBF image read back.

    Attributes:
        data: ``(S, F)`` int32 pixels (counts).
        header: The Pilatus header lines, ``{key: rest of the line}``.
        intfile_scale: Counts per photon (None: the file does not say).
        adc_offset: Counts added to every pixel (None: the file does not say).
    """

    data: np.ndarray
    header: dict[str, str]
    intfile_scale: float | None
    adc_offset: float | None


def _g(value: float) -> str:
    """A number with enough digits to read back within 1e-10 relative."""
    return f"{value:.12g}"


def fits_pilatus_modules(fpixels: int, spixels: int) -> bool:
    """Whether a detector is a whole number of Pilatus modules with their gaps."""
    for size, module, gap in zip((fpixels, spixels), _MODULE, _GAP, strict=True):
        count, rest = divmod(size, module)
        if count < 1 or rest != (count - 1) * gap:
            return False
    return True


def _header_lines(header: CbfHeader, pilatus: bool) -> list[str]:
    deg = math.degrees
    px = header.pixel_size
    name = "PILATUS (simulated by nb)" if pilatus else "nb simulated pixel-array detector"
    # dxtbx models a sensor of zero thickness only without the sensor line.
    sensor = (
        [f"# Silicon sensor, thickness {_g(header.thickness)} m"] if header.thickness > 0 else []
    )
    return [
        f"# Detector: {name}",
        "# 1970-01-01T00:00:00.000",  # a fixed time stamp: the same run gives the same file
        f"# Pixel_size {_g(px)} m x {_g(px)} m",
        *sensor,
        f"# Exposure_time {_g(header.exposure)} s",
        f"# Exposure_period {_g(header.exposure)} s",
        "# Tau = 0 s",
        f"# Count_cutoff {header.count_cutoff} counts",
        "# Threshold_setting: 0 eV",
        "# N_excluded_pixels = 0",
        "# Excluded_pixels: (nil)",
        "# Flat_field: (nil)",
        "# Trim_file: (nil)",
        "# Image_path: /",
        f"# Wavelength {_g(header.wavelength * 1e10)} A",
        f"# Detector_distance {_g(header.distance)} m",
        f"# Beam_xy ({_g(header.beam_xy[0])}, {_g(header.beam_xy[1])}) pixels",
        f"# Flux {_g(header.flux)}",
        f"# Start_angle {_g(deg(header.start_angle))} deg.",
        f"# Angle_increment {_g(deg(header.angle_increment))} deg.",
        f"# Detector_2theta {_g(deg(header.twotheta))} deg.",
        f"# Polarization {_g(header.polarization)}",
        "# Alpha 0 deg.",
        "# Kappa 0 deg.",
        f"# Phi {_g(deg(header.start_angle))} deg.",
        f"# Phi_increment {_g(deg(header.angle_increment))} deg.",
        "# Oscillation_axis X, CW",
        "# N_oscillations 1",
        f"# NB_intfile_scale {header.intfile_scale!r}",
        f"# NB_adc_offset {header.adc_offset!r}",
    ]


def cbf_bytes(pixels: np.ndarray, header: CbfHeader, *, needed_by: str = "-cbffile") -> bytes:
    """A miniCBF file of an image.

    The header convention is ``PILATUS_1.2`` for a detector made of whole Pilatus modules
    (dxtbx then masks the gaps between them) and ``GENERIC_MINI`` otherwise.

    Args:
        pixels: ``(S, F)`` counts (any integer type; stored as int32).
        header: The Pilatus header values.
        needed_by: The flag named if fabio is missing.

    Returns:
        The file's bytes.

    Raises:
        InputError: fabio is not installed.
    """
    compression = import_extra("fabio.compression", "cbf", needed_by)
    data = np.ascontiguousarray(pixels, dtype=np.int32)
    slow, fast = data.shape
    pilatus = fits_pilatus_modules(fast, slow)
    blob = bytes(compression.compByteOffset(data))
    digest = bytes(compression.md5sum(blob)).decode("ascii")
    convention = "PILATUS_1.2" if pilatus else "GENERIC_MINI"
    text = [
        "###CBF: VERSION 1.5, CBFlib v0.7.8 - written by nb",
        "",
        "data_nb_image",
        "",
        f'_array_data.header_convention "{convention}"',
        "_array_data.header_contents",
        ";",
        *_header_lines(header, pilatus),
        ";",
        "",
        "_array_data.data",
        ";",
        "--CIF-BINARY-FORMAT-SECTION--",
        "Content-Type: application/octet-stream;",
        '     conversions="x-CBF_BYTE_OFFSET"',
        "Content-Transfer-Encoding: BINARY",
        f"X-Binary-Size: {len(blob)}",
        "X-Binary-ID: 1",
        'X-Binary-Element-Type: "signed 32-bit integer"',
        "X-Binary-Element-Byte-Order: LITTLE_ENDIAN",
        f"Content-MD5: {digest}",
        f"X-Binary-Number-of-Elements: {data.size}",
        f"X-Binary-Size-Fastest-Dimension: {fast}",
        f"X-Binary-Size-Second-Dimension: {slow}",
        "X-Binary-Size-Padding: 4095",
        "",
        "",
    ]
    head = "\r\n".join(text).encode("ascii") + b"\x0c\x1a\x04\xd5"
    tail = b"\0" * 4095 + b"\r\n--CIF-BINARY-FORMAT-SECTION----\r\n;\r\n\r\n"
    return head + blob + tail


def write_cbf(
    path: PathLike, pixels: np.ndarray, header: CbfHeader, *, into: OutputSet | None = None
) -> None:
    """Write a miniCBF image (atomically).

    Args:
        path: The file.
        pixels: ``(S, F)`` counts.
        header: The Pilatus header values.
        into: Stage the file in this set instead of writing it now.

    Raises:
        InputError: fabio is missing, or the file cannot be written.
    """
    write_output(path, cbf_bytes(pixels, header), into)


def _header_dict(contents: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in contents.replace("\r", "").split("\n"):
        words = line.lstrip("# ").replace(":", " ").replace("=", " ").split(None, 1)
        if words:
            header[words[0]] = words[1].strip() if len(words) > 1 else ""
    return header


def _optional_number(header: dict[str, str], key: str, path: PathLike) -> float | None:
    if key not in header:
        return None
    text = header[key].split()[0] if header[key].split() else ""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InputError(f"{path}: header {key} {header[key]!r}: expected a finite number", path)
    return value


def read_cbf(path: PathLike, *, needed_by: str | None = None) -> CbfImage:
    """Read a miniCBF image with fabio.

    Args:
        path: The file.
        needed_by: The flag or file named if fabio is missing (default: the file).

    Returns:
        Its pixels, Pilatus header lines and nb's scale and offset when the file has them.

    Raises:
        InputError: fabio is missing, or the file is not a readable CBF image.
    """
    fabio = import_extra("fabio", "cbf", str(needed_by or path))
    try:
        image = fabio.open(str(path))
        data = np.asarray(image.data)
        contents = str(image.header.get("_array_data.header_contents", ""))
    except Exception as exc:  # fabio raises many kinds for a broken file
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise InputError(f"{path}: not a readable CBF image ({reason})", path) from None
    if data.ndim != 2:
        raise InputError(f"{path}: expected a 2-d image, got shape {data.shape}", path)
    header = _header_dict(contents)
    return CbfImage(
        data=data.astype(np.int32, copy=False),
        header=header,
        intfile_scale=_optional_number(header, "NB_intfile_scale", path),
        adc_offset=_optional_number(header, "NB_adc_offset", path),
    )
