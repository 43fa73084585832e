"""The C program's structure-factor dump (``Fdump.bin``), read back when no ``-hkl`` is given.

Layout: one text line ``"h_min h_max k_min k_max l_min l_max\\n"`` followed by a form feed
``\\f``, then ``(H + 1) * (K + 1) * (L + 1)`` little-endian float64 values in C order
``[h][k][l]``, where ``H = h_max - h_min + 1`` (likewise ``K``, ``L``). The C program allocates
one spare plane at the high end of each axis; those values stay 0.0.
"""

from __future__ import annotations

import re

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, open_input, read_upto, show
from nb_core.io._hkl import FGrid, check_grid_size
from nb_core.io._outputs import OutputSet, write_output

__all__ = ["read_fdump", "write_fdump"]

_HEADER_END = b"\n\f"
# The header is six C ints; anything longer than this is not a dump file.
_HEADER_SEARCH = 512
_INT = re.compile(r"[+-]?\d+")


def write_fdump(path: PathLike, grid: FGrid, *, into: OutputSet | None = None) -> None:
    """Write a grid as the C program's ``Fdump.bin`` (atomically).

    Args:
        path: The dump file to write.
        grid: The amplitudes; ``grid.values`` is ``(H, K, L)``. The spare high planes the C
            program writes are zeros.
        into: Stage the file in this set instead of writing it now.

    Raises:
        ValueError: ``grid.values`` is not a non-empty 3-d array.
        InputError: The file cannot be written.
    """
    values = np.asarray(grid.values, dtype=np.float64)
    if values.ndim != 3 or min(values.shape) < 1:
        raise ValueError(f"FGrid values must be a non-empty 3-d array, got shape {values.shape}")
    nh, nk, nl = values.shape
    padded = np.zeros((nh + 1, nk + 1, nl + 1), dtype="<f8")
    padded[:nh, :nk, :nl] = values
    bounds = (grid.h_min, grid.h_max, grid.k_min, grid.k_max, grid.l_min, grid.l_max)
    header = " ".join(str(int(b)) for b in bounds) + "\n\f"
    write_output(path, header.encode("ascii") + padded.tobytes(), into)


def read_fdump(path: PathLike) -> FGrid:
    """Read a ``Fdump.bin`` written by the C program or by :func:`write_fdump`.

    The pixel data start right after the ``\\n\\f`` that ends the header line. (The C program
    reads the header with ``fscanf("%d%d%d%d%d%d\\n\\f")``, whose whitespace directives also
    swallow any leading data bytes that happen to be whitespace; this reader does not.)

    Args:
        path: The dump file.

    Returns:
        The grid without the spare planes; ``count`` is ``H * K * L`` as in the C program.

    Raises:
        InputError: The file cannot be read, the header is not six integers with
            ``min <= max`` on each axis, the data are not exactly
            ``(H + 1) * (K + 1) * (L + 1)`` float64 values (a regular file's size is
            checked before its data are read; a stream is read no further), or the grid is
            too large to hold (see :func:`~nb_core.io._hkl.check_grid_size`).
    """
    handle, size = open_input(path)
    with handle:
        head = read_upto(handle, _HEADER_SEARCH, path)
        end = head.find(_HEADER_END)
        if end < 0:
            raise InputError(
                f"{path}: not a structure-factor dump "
                "(no header line ending in newline + form feed)",
                source=path,
            )
        header = head[:end].decode("latin-1")
        h_min, h_max, k_min, k_max, l_min, l_max = _header_bounds(path, header)
        nh, nk, nl = h_max - h_min + 1, k_max - k_min + 1, l_max - l_min + 1
        start = end + len(_HEADER_END)
        expected = (nh + 1) * (nk + 1) * (nl + 1) * 8
        if size is not None:
            _check_data_size(path, header, (nh, nk, nl), size - start, more=False)
        check_grid_size((h_min, h_max, k_min, k_max, l_min, l_max), path)
        data = head[start:] + read_upto(handle, expected + 1 - (len(head) - start), path)
        _check_data_size(path, header, (nh, nk, nl), len(data), more=size is None)
    padded = np.frombuffer(data, dtype="<f8").reshape(nh + 1, nk + 1, nl + 1)
    # A writable, native-order, C-contiguous copy without the spare planes.
    values = np.array(padded[:nh, :nk, :nl], dtype=np.float64, order="C")
    return FGrid(values=values, h_min=h_min, k_min=k_min, l_min=l_min, count=nh * nk * nl)


def _header_bounds(path: PathLike, header: str) -> tuple[int, int, int, int, int, int]:
    """The six index bounds of a dump header line, checked for ``min <= max`` on each axis."""
    tokens = header.split()
    if len(tokens) != 6 or not all(_INT.fullmatch(t) for t in tokens):
        raise InputError(
            f"{path}: dump header should be six integers "
            f"'h_min h_max k_min k_max l_min l_max', got {show(header)}",
            source=path,
        )
    h_min, h_max, k_min, k_max, l_min, l_max = (int(t) for t in tokens)
    if min(h_max - h_min, k_max - k_min, l_max - l_min) < 0:
        raise InputError(
            f"{path}: dump header has an empty index range: {show(header)}", source=path
        )
    return h_min, h_max, k_min, k_max, l_min, l_max


def _check_data_size(
    path: PathLike, header: str, shape: tuple[int, int, int], got: int, *, more: bool
) -> None:
    """Refuse dump data that are not ``(H + 1) * (K + 1) * (L + 1)`` float64 values."""
    nh, nk, nl = shape
    expected = (nh + 1) * (nk + 1) * (nl + 1) * 8
    if got != expected:
        raise InputError(
            f"{path}: dump data should be {expected} bytes ({nh + 1}x{nk + 1}x{nl + 1} "
            f"float64) for header {show(header)}, got {got}"
            + (" or more" if more and got > expected else ""),
            source=path,
        )
