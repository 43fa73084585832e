"""Headerless float images (``-floatfile``) and 8-bit PGM previews (``-pgmfile``)."""

from __future__ import annotations

import math
import re

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, open_input, read_input_bytes, read_upto
from nb_core.io._outputs import OutputSet, write_output

__all__ = ["c_format_g", "read_float_image", "read_pgm", "write_float_image", "write_pgm"]

# PGM header fields: white space and '#' comments (to the end of the line) between them.
_PGM_SKIP = re.compile(rb"(?:[ \t\n\v\f\r]+|#[^\n\r]*)*")
_PGM_FIELD = re.compile(rb"\d+")


def write_float_image(path: PathLike, image: np.ndarray, *, into: OutputSet | None = None) -> None:
    """Write an image as raw float32, little-endian, fast index varying fastest (atomically).

    Args:
        path: The file to write.
        image: ``(S, F)`` pixel values (slow, fast), photons per pixel.
        into: Stage the file in this set instead of writing it now.

    Raises:
        ValueError: ``image`` is not 2-d.
        InputError: The file cannot be written.
    """
    array = np.asarray(image)
    if array.ndim != 2:
        raise ValueError(f"float image must be a 2-d (slow, fast) array, got shape {array.shape}")
    write_output(path, np.ascontiguousarray(array, dtype="<f4").tobytes(), into)


def read_float_image(path: PathLike, fpixels: int, spixels: int) -> np.ndarray:
    """Read a raw float32 little-endian image of known size.

    Args:
        path: The file.
        fpixels: Pixels along the fast axis (``F``).
        spixels: Pixels along the slow axis (``S``).

    Returns:
        ``(S, F)`` float32 pixels, native byte order.

    Raises:
        InputError: The file cannot be read or is not exactly ``4 * F * S`` bytes (a regular
            file's size is checked before it is read; a stream is read no further than that).
    """
    expected = 4 * int(fpixels) * int(spixels)
    handle, size = open_input(path)
    with handle:
        raw = b"" if size not in (None, expected) else read_upto(handle, expected + 1, path)
    got = len(raw) if size in (None, expected) else size
    if got != expected:
        more = " or more" if size is None and got > expected else ""
        raise InputError(
            f"{path}: float image should be {expected} bytes "
            f"({fpixels}x{spixels} float32), got {got}{more}",
            source=path,
        )
    return np.frombuffer(raw, dtype="<f4").reshape(int(spixels), int(fpixels)).astype(np.float32)


def c_format_g(value: float) -> str:
    """``value`` formatted as C's ``printf("%g")`` (and ``%lg``) formats it.

    Python's ``%g`` matches C's for finite values; infinities and NaN are spelled as glibc
    spells them (``inf``, ``-inf``, ``nan``, ``-nan``).
    """
    value = float(value)
    if math.isnan(value):
        return "-nan" if math.copysign(1.0, value) < 0 else "nan"
    return f"{value:g}"


def write_pgm(
    path: PathLike, pixels: np.ndarray, scale: float, *, into: OutputSet | None = None
) -> None:
    """Write an 8-bit binary PGM exactly as the C program writes its ``-pgmfile`` (atomically).

    The file is ``P5``, the size ``F S``, a comment ``# pixels scaled by <scale>`` (C ``%lg``),
    the maximum value ``255``, then the pixel bytes.

    Args:
        path: The file to write.
        pixels: ``(S, F)`` uint8 pixels (slow, fast).
        scale: The scale the pixels were multiplied by (for the comment line).
        into: Stage the file in this set instead of writing it now.

    Raises:
        ValueError: ``pixels`` is not a 2-d uint8 array.
        InputError: The file cannot be written.
    """
    array = np.asarray(pixels)
    if array.ndim != 2 or array.dtype != np.uint8:
        raise ValueError(
            f"PGM pixels must be a 2-d uint8 array, got {array.dtype} shape {array.shape}"
        )
    slow, fast = array.shape
    head = f"P5\n{fast} {slow}\n# pixels scaled by {c_format_g(scale)}\n255\n"
    write_output(path, head.encode("ascii") + np.ascontiguousarray(array).tobytes(), into)


def read_pgm(path: PathLike) -> np.ndarray:
    """Read an 8-bit binary PGM (``P5``), with or without comment lines in its header.

    Args:
        path: The file.

    Returns:
        ``(S, F)`` uint8 pixels (slow, fast).

    Raises:
        InputError: The file cannot be read, is not an 8-bit ``P5`` PGM, or is too short
            for its pixels.
    """
    raw = read_input_bytes(path)
    if not raw.startswith(b"P5"):
        raise InputError(f"{path}: not a binary PGM (does not start with 'P5')", source=path)
    pos = 2
    fields: list[int] = []
    for name in ("width", "height", "maximum value"):
        skip = _PGM_SKIP.match(raw, pos)
        field = None if skip is None or skip.end() == pos else _PGM_FIELD.match(raw, skip.end())
        if field is None:
            raise InputError(f"{path}: PGM header has no {name}", source=path)
        fields.append(int(field.group()))
        pos = field.end()
    width, height, maximum = fields
    if width < 1 or height < 1 or not 1 <= maximum <= 255:
        raise InputError(
            f"{path}: PGM header gives {width}x{height} pixels with maximum {maximum}; "
            "need a positive size and an 8-bit maximum (1..255)",
            source=path,
        )
    if pos >= len(raw) or raw[pos : pos + 1] not in (b" ", b"\t", b"\n", b"\v", b"\f", b"\r"):
        raise InputError(f"{path}: PGM header does not end in a white-space byte", source=path)
    start = pos + 1
    if len(raw) - start < width * height:
        raise InputError(
            f"{path}: PGM has {len(raw) - start} pixel bytes, expected {width}x{height}",
            source=path,
        )
    return (
        np.frombuffer(raw, dtype=np.uint8, count=width * height, offset=start)
        .reshape(height, width)
        .copy()
    )
