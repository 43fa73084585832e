"""MOSFLM orientation matrix files (``-mat``)."""

from __future__ import annotations

import math
import re

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, is_decimal, read_input_text, show
from nb_core.io._outputs import OutputSet, write_output

__all__ = ["matrix_text", "read_matrix", "write_matrix"]

_SPLIT = re.compile(r"[ \t\r\v\f]+")


def read_matrix(path: PathLike) -> np.ndarray:
    """Read the reciprocal cell from a MOSFLM ``A`` matrix file.

    The file starts with the matrix as three lines of three numbers::

        a*_x b*_x c*_x
        a*_y b*_y c*_y
        a*_z b*_z c*_z

    in Å⁻¹ multiplied by the wavelength in Å (so the caller divides by the wavelength). Like
    the C program (which reads them with ``fscanf("%lg")``), the first nine numbers of the
    file are taken whatever the line breaks between them; the rest of the file (missetting
    angles, U matrix, cell, ...) is ignored.

    Args:
        path: The matrix file.

    Returns:
        ``(3, 3)`` float64 whose rows are ``a*``, ``b*``, ``c*`` (wavelength-scaled), i.e. the
        transpose of the 3x3 block as laid out in the file.

    Raises:
        InputError: The file cannot be read, holds fewer than nine numbers, or one of the
            first nine entries is not a finite number.
    """
    numbers: list[float] = []
    for number, line in enumerate(read_input_text(path), start=1):
        body = line.strip(" \t\r\v\f")
        if not body:
            continue
        for token in _SPLIT.split(body):
            value = float(token) if is_decimal(token) else math.nan
            if not math.isfinite(value):
                raise InputError(
                    f"{path} line {number}: expected the numbers of the 3x3 A matrix, "
                    f"got {show(token)} in {show(body)}",
                    source=path,
                )
            numbers.append(value)
            if len(numbers) == 9:
                return np.array(numbers, dtype=np.float64).reshape(3, 3).T.copy()
    raise InputError(
        f"{path}: expected 9 numbers (3 lines of 'a*_i b*_i c*_i'), found {len(numbers)}",
        source=path,
    )


def matrix_text(reciprocal: np.ndarray) -> str:
    """A MOSFLM ``A`` matrix file's text (what :func:`read_matrix` and ``-mat`` read).

    Args:
        reciprocal: ``(3, 3)`` rows a*, b*, c*, wavelength-scaled (Å⁻¹ times the wavelength
            in Å), as :func:`read_matrix` returns them.

    Returns:
        Three lines ``a*_i b*_i c*_i`` (i = x, y, z), each number written so that it reads
        back to the same double.
    """
    columns = np.asarray(reciprocal, dtype=np.float64).reshape(3, 3).T
    return "".join(" ".join(repr(float(v)) for v in row) + "\n" for row in columns)


def write_matrix(path: PathLike, reciprocal: np.ndarray, into: OutputSet | None = None) -> None:
    """Write a MOSFLM ``A`` matrix file (see :func:`matrix_text`).

    Args:
        path: The file.
        reciprocal: ``(3, 3)`` rows a*, b*, c*, wavelength-scaled.
        into: The output set the file belongs to (None: written atomically on its own).
    """
    write_output(path, matrix_text(reciprocal).encode("ascii"), into)
