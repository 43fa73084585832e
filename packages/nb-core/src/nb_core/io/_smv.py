"""SMV (ADSC) images: a ``{ KEY=VALUE; ... }`` text header, then unsigned 16-bit pixels.

The C program writes its ``-intfile`` and ``-noisefile`` in this format and reads ``-mask``
and ``-img`` files from it, taking values out of the header with its ``ValueOf`` (emulated
by :func:`smv_value_of`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, describe_bytes, open_input, read_upto, show
from nb_core.io._outputs import OutputSet, write_output

__all__ = ["ATOF_PREFIX", "SmvImage", "c_atof", "read_smv", "smv_value_of", "write_smv"]

_BLOCK = 512
_C_SPACE = " \t\n\v\f\r"
_INT = re.compile(r"\+?\d+")
#: What C's strtod/atof reads after leading white space (C's isspace, ASCII only): a hex
#: float, a decimal, inf or nan. re.ASCII: C reads no other script's digits.
ATOF_PREFIX = re.compile(
    r"""[ \t\n\v\f\r]*(?:
        (?P<hex>[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?\d+)?)
      | (?P<dec>[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)
      | (?P<inf>[+-]?inf(?:inity)?)
      | (?P<nan>[+-]?nan(?:\([0-9a-z_]*\))?)
    )""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_RESERVED = ("HEADER_BYTES", "DIM", "BYTE_ORDER", "TYPE", "SIZE1", "SIZE2")


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays do not compare to one bool
class SmvImage:
    """An SMV image as read from disk.

    Attributes:
        header: ``KEY -> VALUE`` text of the header lines, the value without its ``;`` (a
            later line with the same key wins).
        header_text: The raw header, from the opening ``{`` to the closing ``}`` inclusive.
        header_bytes: The declared ``HEADER_BYTES``.
        data: ``(SIZE2, SIZE1)`` uint16 pixels (slow, fast), native byte order.
    """

    header: dict[str, str]
    header_text: str
    header_bytes: int
    data: np.ndarray

    def value(self, key: str) -> float | None:
        """The number in header line ``key`` (C ``atof`` of its value), or None if absent."""
        text = self.header.get(key)
        return None if text is None else c_atof(text)


def c_atof(text: str) -> float:
    """C's ``atof``: the longest numeric prefix of ``text`` after white space, else 0.0.

    Args:
        text: Text starting with the number.

    Returns:
        The value; 0.0 when no number starts the text; ±inf on overflow.
    """
    match = ATOF_PREFIX.match(text)
    if match is None:
        return 0.0
    if (hexa := match.group("hex")) is not None:
        try:
            return float.fromhex(hexa)
        except OverflowError:
            return -math.inf if hexa.startswith("-") else math.inf
    number = match.group("dec") or match.group("inf")
    if number is not None:
        return float(number)
    return math.nan


def smv_value_of(header_text: str, keyword: str) -> float | None:
    """The C program's ``ValueOf``: the number after the last ``keyword`` in a header.

    Emulated exactly: the last occurrence of ``keyword`` as a plain substring anywhere in the
    text (so ``DISTANCE`` also matches inside ``CLOSE_DISTANCE`` and ``ORGX`` inside
    ``XDS_ORGX``; occurrences are found left to right without overlap); then the first ``=``
    after it; then C ``atof`` of what follows. Text after a NUL character is invisible, as
    to C string functions.

    Args:
        header_text: The SMV header text.
        keyword: The key to look for (non-empty).

    Returns:
        None when ``keyword`` never occurs (the C program's NaN); 0.0 when no ``=`` follows
        it; else the number after the ``=`` (0.0 when there is none).
    """
    text = header_text.split("\0", 1)[0]
    if not keyword:
        return None
    after = -1
    start = 0
    while (found := text.find(keyword, start)) >= 0:
        after = start = found + len(keyword)
    if after < 0:
        return None
    equals = text.find("=", after)
    if equals < 0:
        return 0.0
    return c_atof(text[equals + 1 :])


def read_smv(path: PathLike) -> SmvImage:
    """Read an SMV image with unsigned 16-bit pixels.

    The header must start with ``{``, end with ``}`` and give ``HEADER_BYTES``, ``SIZE1``
    (fast pixels) and ``SIZE2`` (slow pixels) (or ``DETECTOR_DIMENSIONS`` for both);
    ``TYPE``, if given, must be ``unsigned_short`` and ``BYTE_ORDER``, if given,
    ``little_endian`` or ``big_endian`` (default little). Header lines are ``KEY=VALUE;``;
    a line without the ``;`` is accepted too (the C program writes ``DIALS_ORIGIN`` so).

    The pixels are the last ``2 * SIZE1 * SIZE2`` bytes of the file when those start at or
    after ``HEADER_BYTES`` and after the header's closing ``}`` (the C program's header can
    overrun its declared 512 bytes, pushing its pixels later); otherwise they start at
    ``HEADER_BYTES``.

    Args:
        path: The image file.

    Returns:
        The header and the ``(SIZE2, SIZE1)`` pixels.

    Raises:
        InputError: The file cannot be read, is not an SMV image, its header lacks or has
            bad sizes, type or byte order, has no ``}`` in its first 1 MiB or gives more than
            :data:`SMV_PIXEL_LIMIT` pixels, or the file is too short for its pixels (a
            regular file's size is checked before its pixels are read; a pipe is read no
            further than its header and pixels reach, and is refused if it goes on).
    """
    handle, size = open_input(path)
    with handle:
        head = _read_header(handle, path)
        close = head.find(b"}")
        header_text = head[: close + 1].decode("latin-1")
        header = _parse_header(header_text)
        header_bytes, fast, slow, order = _layout(path, header)
        need = 2 * fast * slow
        if size is None:
            _check_pixel_count(path, fast, slow)
            whole = _read_stream(handle, head, path, header_bytes, need)
            start = _pixel_start(path, len(whole), header_bytes, close, fast, slow)
            pixel_bytes = whole[start : start + need]
        else:
            start = _pixel_start(path, size, header_bytes, close, fast, slow)
            _check_pixel_count(path, fast, slow)
            try:
                handle.seek(start)
            except OSError as exc:
                raise InputError(f"{path}: cannot read ({exc.strerror})", source=path) from None
            pixel_bytes = read_upto(handle, need, path)
    if len(pixel_bytes) != need:
        raise InputError(f"{path}: SMV file ended before its {fast}x{slow} pixels", source=path)
    dtype = "<u2" if order == "little_endian" else ">u2"
    data = np.frombuffer(pixel_bytes, dtype=dtype).reshape(slow, fast).astype(np.uint16)
    return SmvImage(header=header, header_text=header_text, header_bytes=header_bytes, data=data)


#: Most header bytes searched for the closing ``}``.
SMV_HEADER_LIMIT = 1 << 20
#: Most pixels read from an SMV image (2**30: 2 GiB of 16-bit pixels, 32768 x 32768).
SMV_PIXEL_LIMIT = 1 << 30


def _read_header(handle: BinaryIO, path: PathLike) -> bytes:
    """The file's first bytes, up to and including the block that holds the closing ``}``."""
    head = read_upto(handle, _BLOCK, path)
    if not head.startswith(b"{"):
        raise InputError(f"{path}: not an SMV image (does not start with '{{')", source=path)
    while b"}" not in head:
        block = read_upto(handle, min(64 * _BLOCK, SMV_HEADER_LIMIT - len(head)), path)
        if not block:
            if len(head) >= SMV_HEADER_LIMIT:
                raise InputError(
                    f"{path}: SMV header has no closing '}}' in its first "
                    f"{describe_bytes(SMV_HEADER_LIMIT)}",
                    source=path,
                )
            raise InputError(f"{path}: SMV header has no closing '}}'", source=path)
        head += block
    return head


def _layout(path: PathLike, header: dict[str, str]) -> tuple[int, int, int, str]:
    """``(HEADER_BYTES, fast pixels, slow pixels, byte order)`` of a parsed header, checked."""

    def integer(key: str) -> int:
        text = header.get(key)
        if text is None:
            raise InputError(f"{path}: SMV header has no {key}", source=path)
        if _INT.fullmatch(text) is None or int(text) <= 0:
            raise InputError(
                f"{path}: SMV header {key} should be a positive integer, got {show(text)}",
                source=path,
            )
        return int(text)

    header_bytes = integer("HEADER_BYTES")
    if "SIZE1" not in header and "DETECTOR_DIMENSIONS" in header:
        fast = slow = integer("DETECTOR_DIMENSIONS")
    else:
        fast, slow = integer("SIZE1"), integer("SIZE2")
    kind = header.get("TYPE", "unsigned_short")
    if kind != "unsigned_short":
        raise InputError(
            f"{path}: SMV TYPE {show(kind)} is not supported (only unsigned_short)", source=path
        )
    order = header.get("BYTE_ORDER", "little_endian")
    if order not in ("little_endian", "big_endian"):
        raise InputError(
            f"{path}: SMV BYTE_ORDER should be little_endian or big_endian, got {show(order)}",
            source=path,
        )
    return header_bytes, fast, slow, order


def _check_pixel_count(path: PathLike, fast: int, slow: int) -> None:
    if fast * slow > SMV_PIXEL_LIMIT:
        raise InputError(
            f"{path}: SMV header gives {fast}x{slow} pixels; nb reads at most "
            f"{SMV_PIXEL_LIMIT} pixels ({describe_bytes(2 * SMV_PIXEL_LIMIT)}) from an image",
            source=path,
        )


def _read_stream(
    handle: BinaryIO, head: bytes, path: PathLike, header_bytes: int, need: int
) -> bytes:
    """All of a stream's bytes, read no further than its header and pixels can reach."""
    limit = max(header_bytes, len(head)) + need
    whole = head + read_upto(handle, limit + 1 - len(head), path)
    if len(whole) > limit:
        raise InputError(
            f"{path}: SMV stream goes on past its {header_bytes}-byte header and its "
            f"{need} bytes of pixels",
            source=path,
        )
    return whole


def _pixel_start(
    path: PathLike, size: int, header_bytes: int, close: int, fast: int, slow: int
) -> int:
    """Where the pixels of a ``size``-byte file start (see :func:`read_smv`)."""
    need = 2 * fast * slow
    start = size - need
    if start < header_bytes:
        raise InputError(
            f"{path}: SMV file is {size} bytes, too short for a {header_bytes}-byte header "
            f"and {fast}x{slow} 16-bit pixels ({header_bytes + need} bytes)",
            source=path,
        )
    if close + 1 > start:
        start = header_bytes
    return start


def write_smv(
    path: PathLike,
    data: np.ndarray,
    header: Sequence[tuple[str, str]],
    *,
    into: OutputSet | None = None,
) -> None:
    """Write an SMV image with unsigned 16-bit little-endian pixels (atomically).

    The header is ``{``, then ``HEADER_BYTES``, ``DIM=2``, ``BYTE_ORDER=little_endian``,
    ``TYPE=unsigned_short``, ``SIZE1``, ``SIZE2``, then each ``KEY=VALUE;`` of ``header``,
    then ``}`` and a form feed, padded with spaces to ``HEADER_BYTES``: the smallest
    multiple of 512 that holds it (so unlike the C program's, the header always fits).

    Args:
        path: The image file to write.
        data: ``(S, F)`` pixels (slow, fast): uint16, or integers within 0..65535.
        header: ``(KEY, VALUE)`` pairs after ``SIZE2``, values already formatted.
        into: Stage the file in this set instead of writing it now.

    Raises:
        ValueError: ``data`` is not 2-d 16-bit data, or a key or value cannot be written
            in an SMV header (``=``, ``;``, braces, line breaks; reserved keys).
        InputError: The file cannot be written.
    """
    pixels = _as_uint16(data)
    slow, fast = pixels.shape
    lines = []
    for key, value in header:
        key, value = str(key), str(value)
        if not key or any(c in key for c in "={};\n\r\f\0") or key.strip() != key:
            raise ValueError(f"cannot write SMV header key {key!r}")
        if key in _RESERVED:
            raise ValueError(f"SMV header key {key} is written by write_smv itself")
        if any(c in value for c in "{};\n\r\f\0"):
            raise ValueError(f"cannot write SMV header value {value!r} for {key}")
        lines.append(f"{key}={value};\n")
    body = "".join(lines)
    size = _BLOCK
    while True:
        text = (
            f"{{\nHEADER_BYTES={size};\nDIM=2;\nBYTE_ORDER=little_endian;\n"
            f"TYPE=unsigned_short;\nSIZE1={fast};\nSIZE2={slow};\n{body}}}\f"
        ).encode("latin-1")
        if len(text) <= size:
            break
        size = -(-len(text) // _BLOCK) * _BLOCK
    write_output(path, text.ljust(size, b" ") + pixels.astype("<u2").tobytes(), into)


def _parse_header(text: str) -> dict[str, str]:
    header: dict[str, str] = {}
    for line in text[1:-1].split("\n"):
        key, equals, value = line.partition("=")
        key = key.strip(_C_SPACE)
        if not equals or not key:
            continue
        value = value.strip(_C_SPACE)
        if value.endswith(";"):
            value = value[:-1].rstrip(_C_SPACE)
        header[key] = value
    return header


def _as_uint16(data: np.ndarray) -> np.ndarray:
    array = np.asarray(data)
    if array.ndim != 2:
        raise ValueError(f"SMV pixels must be a 2-d (slow, fast) array, got shape {array.shape}")
    if array.dtype == np.uint16:
        return array
    if array.dtype.kind not in "iub":
        raise ValueError(f"SMV pixels must be uint16 (or integers 0..65535), got {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > 65535):
        raise ValueError("SMV pixels must lie in 0..65535")
    return array.astype(np.uint16)
