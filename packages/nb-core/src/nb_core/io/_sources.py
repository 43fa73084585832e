"""Source files (``-sourcefile``): one x-ray source ``X Y Z I lambda`` per line."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, is_decimal, read_input_text, show

__all__ = ["SourceTable", "read_sourcefile"]

# The C program's read_text_file splits on these; '\r' is added so CRLF files read cleanly.
_DELIMITERS = " \t,;:!\r"
_SPLIT = re.compile(r"[ \t,;:!\r]+")
_COLUMNS = ("X", "Y", "Z", "I", "lambda")


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays do not compare to one bool
class SourceTable:
    """Point x-ray sources, one per non-blank line of a source file.

    Attributes:
        positions: ``(n, 3)`` float64 source positions (m), from the sample toward the source,
            as given (not normalised).
        intensities: ``(n,)`` float64 relative intensities.
        wavelengths: ``(n,)`` float64 wavelengths (m).
    """

    positions: np.ndarray
    intensities: np.ndarray
    wavelengths: np.ndarray

    def __len__(self) -> int:
        return int(self.positions.shape[0])


def read_sourcefile(
    path: PathLike,
    beam_vector: np.ndarray,
    lambda0_m: float,
    source_distance_m: float = 10.0,
) -> SourceTable:
    """Read a source file the way the C program's ``read_text_file`` does, but strictly.

    Each line holds up to five numbers ``X Y Z I lambda`` separated by any of space, tab,
    comma, semicolon, colon or ``!``. Missing trailing columns (and columns written ``nan``)
    take the C program's defaults: ``X, Y, Z = -source_distance_m * beam_vector``,
    ``I = 1.0``, ``lambda = lambda0_m``. ``lambda`` in the file is in metres. Blank lines and
    lines whose first non-delimiter character is ``#`` are skipped.

    Args:
        path: The source file.
        beam_vector: ``(3,)`` unit vector along the beam (from source toward sample).
        lambda0_m: Default wavelength (m).
        source_distance_m: Default distance of a source from the sample (m).

    Returns:
        The sources in file order.

    Raises:
        InputError: The file cannot be read, a token is not a number, a value is infinite,
            a line has more than five numbers, a source sits at the sample (0 0 0), has a
            negative intensity or a wavelength that is not positive, or there are no sources.
    """
    beam = np.asarray(beam_vector, dtype=np.float64).reshape(3)
    defaults = [*(-float(source_distance_m) * beam), 1.0, float(lambda0_m)]
    rows: list[list[float]] = []
    for number, line in enumerate(read_input_text(path), start=1):
        body = line.strip(_DELIMITERS)
        if not body or body.startswith("#"):
            continue
        where = f"{path} line {number}"
        tokens = _SPLIT.split(body)
        if len(tokens) > len(_COLUMNS):
            raise InputError(
                f"{where}: expected at most 5 numbers 'X Y Z I lambda', "
                f"got {len(tokens)}: {show(body)}",
                source=path,
            )
        row = list(defaults)
        for column, token in enumerate(tokens):
            if token.lower() == "nan":
                continue
            value = float(token) if is_decimal(token) else math.nan
            if not math.isfinite(value):
                raise InputError(
                    f"{where}: {_COLUMNS[column]} must be a finite number, got {show(token)}",
                    source=path,
                )
            row[column] = value
        _check_source(row, where, path)
        rows.append(row)
    if not rows:
        raise InputError(f"{path}: no sources (expected lines of 'X Y Z I lambda')", source=path)
    table = np.asarray(rows, dtype=np.float64)
    return SourceTable(
        positions=table[:, :3].copy(),
        intensities=table[:, 3].copy(),
        wavelengths=table[:, 4].copy(),
    )


def _check_source(row: list[float], where: str, path: PathLike) -> None:
    """Refuse a source that makes no physical sense (values as read: m, relative, m)."""
    x, y, z, intensity, wavelength = row
    if x == 0.0 and y == 0.0 and z == 0.0:
        raise InputError(
            f"{where}: the source is at the sample (0 0 0); expected X Y Z (m) pointing from "
            "the sample toward the source",
            source=path,
        )
    if intensity < 0.0:
        raise InputError(
            f"{where}: I must be zero or more, got {intensity:g}",
            source=path,
        )
    if wavelength <= 0.0:
        raise InputError(
            f"{where}: lambda must be a positive wavelength in metres (e.g. 1e-10), "
            f"got {wavelength:g}",
            source=path,
        )
