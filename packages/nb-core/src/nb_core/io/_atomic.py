"""File access shared by the readers and writers: atomic writes, checked reads, text helpers.

Every write goes to a temporary file in the target's own folder and is then moved onto the
target with :func:`os.replace`, so a reader never sees a half-written file and a failed
write leaves nothing behind. Every read turns an operating-system error into an
:class:`~nb_core.errors.InputError` that names the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from pathlib import Path

from nb_core.errors import InputError

__all__ = ["atomic_write_bytes"]

PathLike = str | Path

# A decimal number as C's strtod reads one (no hex, no inf/nan): optional sign, digits with an
# optional decimal point, optional exponent.
DECIMAL = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_DECIMAL_RE = re.compile(DECIMAL)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically.

    The bytes go to a new temporary file in the same folder (created with the usual
    ``0o666 & ~umask`` permissions), are flushed to disk, and the file is then renamed onto
    ``path`` with :func:`os.replace`. On any failure the temporary file is removed and the
    target is left as it was.

    Args:
        path: The file to write (created or replaced).
        data: The complete file contents.

    Raises:
        InputError: The file cannot be written (missing folder, no permission, disk full,
            the path is a folder, ...).
    """
    target = Path(path)
    folder = target.parent
    tmp: Path | None = None
    try:
        fd = -1
        for _ in range(100):
            tmp = folder / f".{target.name}.{secrets.token_hex(6)}.tmp"
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY, 0o666)
                break
            except FileExistsError:
                continue
        else:  # pragma: no cover - 100 random name collisions in a row
            raise FileExistsError(f"no free temporary name next to {target}")
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({_reason(exc)})", source=path) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


_O_BINARY = getattr(os, "O_BINARY", 0)


def read_input_bytes(path: PathLike) -> bytes:
    """All the bytes of an input file.

    Args:
        path: The file to read.

    Returns:
        The file contents.

    Raises:
        InputError: The file is missing, is a folder or cannot be read.
    """
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({_reason(exc)})", source=path) from None


def read_input_text(path: PathLike) -> list[str]:
    """The lines of a text input file, decoded byte for byte (Latin-1, never fails).

    Lines are split on ``\\n`` only (so line numbers match what an editor shows for
    ``\\n`` and ``\\r\\n`` files); a trailing ``\\r`` stays on its line and counts as blank
    space for the parsers.

    Args:
        path: The file to read.

    Returns:
        The lines, without their ``\\n``; line ``i`` (0-based) is line ``i + 1`` of the file.

    Raises:
        InputError: The file is missing, is a folder or cannot be read.
    """
    return read_input_bytes(path).decode("latin-1").split("\n")


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
