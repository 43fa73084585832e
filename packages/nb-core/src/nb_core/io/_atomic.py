"""File access shared by the readers and writers: atomic writes, checked reads, text helpers.

Every write goes to a temporary file in the target's own folder and is then moved onto the
target with :func:`os.replace`, so a reader never sees a half-written file and a failed
write leaves nothing behind. Every read turns an operating-system error into an
:class:`~nb_core.errors.InputError` that names the file.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import BinaryIO

from nb_core.errors import InputError

__all__ = ["atomic_write_bytes"]

PathLike = str | Path

# A decimal number as C's strtod reads one (no hex, no inf/nan): optional sign, digits with an
# optional decimal point, optional exponent.
DECIMAL = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_DECIMAL_RE = re.compile(DECIMAL, re.ASCII)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a set of one file (:class:`~nb_core.io.OutputSet`).

    The bytes go to a new temporary ``.nb-partial.<pid>.<random>.<name>`` in the target's
    folder (created with the usual ``0o666 & ~umask`` permissions, or the replaced file's), are
    flushed to disk, and the temporary is then renamed onto ``path`` with :func:`os.replace`.
    On any failure the temporary is removed and the target is left as it was. A symbolic link
    is written through (the file it points to is replaced, the link stays); a FIFO or device is
    written directly, never replaced.

    Args:
        path: The file to write (created or replaced).
        data: The complete file contents.

    Raises:
        InputError: The file cannot be written (missing folder, no permission, disk full,
            the path is a folder, ...).
    """
    from nb_core.io._outputs import write_output  # _outputs builds on this module

    write_output(path, data)


_O_BINARY = getattr(os, "O_BINARY", 0)


#: Most bytes :func:`read_input_bytes` and :func:`read_input_text` read unless told otherwise.
DEFAULT_READ_LIMIT = 1 << 30
#: Bytes asked of the operating system at a time while reading a file of unknown size.
_READ_BLOCK = 1 << 20


def describe_bytes(count: int) -> str:
    """A byte count for a message: ``"512 bytes"``, ``"64 MiB"``, ``"7.45 GiB"``."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            value = count / size
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.3g} {unit}"
    return f"{count} bytes"


def open_input(path: PathLike) -> tuple[BinaryIO, int | None]:
    """Open an input file for reading.

    Args:
        path: The file.

    Returns:
        ``(handle, size)``: the open binary handle (the caller closes it) and the file's size
        in bytes for a regular file, None for a pipe, device or other stream.

    Raises:
        InputError: The file is missing, is a folder or cannot be opened.
    """
    try:
        handle = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({_reason(exc)})", source=path) from None
    try:
        info = os.fstat(handle.fileno())
    except OSError as exc:
        handle.close()
        raise InputError(f"{path}: cannot read ({_reason(exc)})", source=path) from None
    return handle, (int(info.st_size) if stat.S_ISREG(info.st_mode) else None)


def read_upto(handle: BinaryIO, count: int, path: PathLike) -> bytes:
    """At most ``count`` bytes from ``handle``, fewer only at the end of the file.

    Reads in blocks of at most 1 MiB, so that a stream never makes one large request.

    Args:
        handle: An open binary handle.
        count: Most bytes to read.
        path: The file's name, for the error message.

    Returns:
        The bytes read.

    Raises:
        InputError: The operating system reports a read error.
    """
    parts: list[bytes] = []
    left = max(0, int(count))
    try:
        while left > 0:
            block = handle.read(min(left, _READ_BLOCK))
            if not block:
                break
            parts.append(block)
            left -= len(block)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({_reason(exc)})", source=path) from None
    return b"".join(parts)


def read_input_bytes(
    path: PathLike,
    *,
    limit: int = DEFAULT_READ_LIMIT,
    kind: str = "input file",
    text: bool = False,
) -> bytes:
    """All the bytes of an input file, refusing one larger than ``limit``.

    A regular file's size is checked before anything is read; a pipe or device (``/dev/zero``)
    is read in 1 MiB blocks and refused as soon as it passes ``limit``.

    Args:
        path: The file to read.
        limit: Most bytes accepted.
        kind: What the file is (``"HKL file"``), for the error messages.
        text: Refuse the file at its first NUL byte (a text file holds none).

    Returns:
        The file contents.

    Raises:
        InputError: The file is missing, is a folder, cannot be read, is larger than
            ``limit`` or (with ``text``) holds a NUL byte.
    """
    handle, size = open_input(path)
    with handle:
        if size is not None and size > limit:
            raise InputError(_too_large(path, kind, limit, size), source=path)
        parts: list[bytes] = []
        total = 0
        while True:
            block = read_upto(handle, min(_READ_BLOCK, limit + 1 - total), path)
            if not block:
                break
            if text and b"\0" in block:
                where = total + block.index(b"\0")
                raise InputError(
                    f"{path}: {kind} holds a NUL byte at offset {where}; expected a text file",
                    source=path,
                )
            parts.append(block)
            total += len(block)
            if total > limit:
                raise InputError(_too_large(path, kind, limit, None), source=path)
    return b"".join(parts)


def read_input_text(path: PathLike, *, limit: int = 64 << 20, kind: str = "text file") -> list[str]:
    """The lines of a text input file, decoded byte for byte (Latin-1, never fails).

    Lines are split on ``\\n`` only (so line numbers match what an editor shows for
    ``\\n`` and ``\\r\\n`` files); a trailing ``\\r`` stays on its line and counts as blank
    space for the parsers.

    Args:
        path: The file to read.
        limit: Most bytes accepted (default 64 MiB).
        kind: What the file is, for the error messages.

    Returns:
        The lines, without their ``\\n``; line ``i`` (0-based) is line ``i + 1`` of the file.

    Raises:
        InputError: The file is missing, is a folder, cannot be read or is larger than
            ``limit``.
    """
    return read_input_bytes(path, limit=limit, kind=kind).decode("latin-1").split("\n")


def _too_large(path: PathLike, kind: str, limit: int, size: int | None) -> str:
    found = f"is {describe_bytes(size)}" if size is not None else "goes on past that size"
    return (
        f"{path}: nb reads at most {describe_bytes(limit)} for a {kind}, and this one {found} "
        "(check the file name)"
    )


def is_decimal(token: str) -> bool:
    """Whether ``token`` is exactly one decimal number (``3``, ``-0.5``, ``1e-10``, ``.5``)."""
    return _DECIMAL_RE.fullmatch(token) is not None


def show(text: str, limit: int = 60) -> str:
    """``text`` quoted for an error message: one line, printable, at most ``limit`` characters."""
    text = text.strip(" \t\r\v\f")
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    body = repr(text)[1:-1] if not text.isprintable() else text
    return f"'{body}'"


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
