"""Structure-factor text files (``-hkl``): one reflection ``h k l F`` per line."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass

import numpy as np

from nb_core.errors import InputError
from nb_core.io._atomic import PathLike, describe_bytes, is_decimal, read_input_bytes, show

__all__ = ["GRID_LIMIT", "FGrid", "HklTable", "check_grid_size", "grid_from_hkl", "read_hkl"]

# Largest |h|, |k|, |l| accepted: the C program reads the indices into C ints.
_INDEX_LIMIT = 2**31 - 1
#: Largest structure-factor grid (points) nb allocates: 2**28 float64 values = 2 GiB (a 600 Å
#: cell to 1.9 Å resolution fills 645**3 = 2**28 points).
GRID_LIMIT = 2**28
#: Largest HKL text file read (about 40 million reflections).
HKL_FILE_LIMIT = 1 << 30

_BLANK = " \t\r\v\f"
_SPLIT = re.compile(r"[ \t\r\v\f]+")
# Anything outside this set sends the file to the careful line-by-line parser.
_NOT_FAST = re.compile(r"[^0-9eE+\-. \t\r\n]")
_COMMENT_LINE = re.compile(r"^[ \t\r\v\f]*#[^\n]*", re.MULTILINE)


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays do not compare to one bool
class HklTable:
    """Reflections as read from an HKL text file, in file order.

    Attributes:
        indices: ``(n, 3)`` int64 Miller indices ``h, k, l``.
        amplitudes: ``(n,)`` float64 structure-factor amplitudes ``F`` (electrons).
    """

    indices: np.ndarray
    amplitudes: np.ndarray

    def __len__(self) -> int:
        return int(self.indices.shape[0])


@dataclass(frozen=True, eq=False)  # eq=False: numpy arrays do not compare to one bool
class FGrid:
    """Structure-factor amplitudes on a dense ``h, k, l`` grid (the C program's ``Fhkl``).

    Attributes:
        values: ``(H, K, L)`` float64 amplitudes (electrons); ``values[h - h_min, k - k_min,
            l - l_min]`` is ``F(h, k, l)``.
        h_min: Smallest ``h`` on the grid.
        k_min: Smallest ``k`` on the grid.
        l_min: Smallest ``l`` on the grid.
        count: Number of reflections the grid was made from (the C program's ``hkls``): lines
            read from an HKL file, or ``H * K * L`` for a grid read from a dump file.
    """

    values: np.ndarray
    h_min: int
    k_min: int
    l_min: int
    count: int

    @property
    def h_max(self) -> int:
        """Largest ``h`` on the grid."""
        return self.h_min + int(self.values.shape[0]) - 1

    @property
    def k_max(self) -> int:
        """Largest ``k`` on the grid."""
        return self.k_min + int(self.values.shape[1]) - 1

    @property
    def l_max(self) -> int:
        """Largest ``l`` on the grid."""
        return self.l_min + int(self.values.shape[2]) - 1


def read_hkl(path: PathLike) -> HklTable:
    """Read an HKL text file: whitespace-separated ``h k l F`` on each line.

    Blank lines and lines whose first non-blank character is ``#`` are skipped. ``h``, ``k``
    and ``l`` must be integers (written ``3``, ``-0`` or ``3.0``); ``F`` must be a finite
    number. Reflections are kept in file order, duplicates included (when the table is put
    on a grid the later line wins, as in the C program).

    Args:
        path: The HKL file.

    Returns:
        The reflections; ``len(table)`` is the number of lines read (the C program's ``hkls``).

    Raises:
        InputError: The file cannot be read, a line is not four numbers, an index is not an
            integer, ``F`` is not finite, or there are no reflections.
    """
    text = read_input_bytes(path, limit=HKL_FILE_LIMIT, kind="HKL file", text=True).decode(
        "latin-1"
    )
    rows = _fast_parse(text)
    if rows is None:
        rows = _careful_parse(text, path)
    if rows.shape[0] == 0:
        raise InputError(f"{path}: no reflections (expected lines of 'h k l F')", source=path)
    return HklTable(indices=rows[:, :3].astype(np.int64), amplitudes=rows[:, 3].copy())


def grid_from_hkl(table: HklTable, default_F: float) -> FGrid:
    """Put a reflection table on a dense grid, as the C program does after reading ``-hkl``.

    The grid spans ``[min, max]`` of each index over the table, is filled with ``default_F``
    and then set from the table in file order (a later duplicate overwrites an earlier one).

    Args:
        table: The reflections (at least one).
        default_F: Amplitude (electrons) of the grid points the table does not list.

    Returns:
        The grid; ``count`` is ``len(table)``.

    Raises:
        InputError: The table is empty, or its index ranges make a grid too large to hold.
    """
    idx = np.asarray(table.indices, dtype=np.int64).reshape(-1, 3)
    amps = np.asarray(table.amplitudes, dtype=np.float64).reshape(-1)
    if idx.shape[0] == 0 or idx.shape[0] != amps.shape[0]:
        raise InputError("hkl table: no reflections to put on a grid")
    lo = idx.min(axis=0)
    hi = idx.max(axis=0)
    nh, nk, nl = (int(n) for n in hi - lo + 1)
    check_grid_size(
        (int(lo[0]), int(hi[0]), int(lo[1]), int(hi[1]), int(lo[2]), int(hi[2])), "-hkl"
    )
    values = np.full((nh, nk, nl), float(default_F), dtype=np.float64)
    rel = idx - lo
    flat: np.ndarray = (rel[:, 0] * nk + rel[:, 1]) * nl + rel[:, 2]
    # Keep the last occurrence of each index (numpy leaves repeated fancy assignment unordered).
    order = np.arange(flat.shape[0])[::-1]
    _, first_in_reversed = np.unique(flat[order], return_index=True)
    last = order[first_in_reversed]
    values.reshape(-1)[flat[last]] = amps[last]
    return FGrid(
        values=values,
        h_min=int(lo[0]),
        k_min=int(lo[1]),
        l_min=int(lo[2]),
        count=int(idx.shape[0]),
    )


def check_grid_size(bounds: tuple[int, int, int, int, int, int], source: PathLike) -> None:
    """Refuse a structure-factor grid too large to hold, before it is allocated.

    The grid is refused when it has more than :data:`GRID_LIMIT` points, or when it and the
    copies a run makes of it (the dump file's padded copy and its bytes, the render's copy)
    would not fit in 80% of the memory available now.

    Args:
        bounds: ``(h_min, h_max, k_min, k_max, l_min, l_max)`` of the grid.
        source: The flag or file the grid comes from, for the message.

    Raises:
        InputError: The grid is too large.
    """
    from nb_core.cost import MEMORY_FRACTION, available_memory

    h_min, h_max, k_min, k_max, l_min, l_max = bounds
    cells = (h_max - h_min + 1) * (k_max - k_min + 1) * (l_max - l_min + 1)
    ranges = f"h {h_min}..{h_max}, k {k_min}..{k_max}, l {l_min}..{l_max}"
    size = describe_bytes(cells * 8)
    if cells > GRID_LIMIT:
        raise InputError(
            f"index ranges {ranges} make a grid of {cells} structure factors ({size} of "
            f"float64), too large: nb holds at most {GRID_LIMIT} "
            f"({describe_bytes(GRID_LIMIT * 8)}); check the file for a stray index",
            source,
        )
    need = cells * 8 * GRID_COPIES
    avail = available_memory()
    if need > MEMORY_FRACTION * avail:
        raise InputError(
            f"index ranges {ranges} make a grid of {cells} structure factors ({size}); "
            f"with its copies it needs {describe_bytes(need)}, more than "
            f"{MEMORY_FRACTION:.0%} of the {describe_bytes(avail)} of memory available",
            source,
        )


#: Copies of the grid a run holds at its busiest (float64 values, the dump file's padded copy,
#: its bytes and the file image they are joined into).
GRID_COPIES = 4


def _fast_parse(text: str) -> np.ndarray | None:
    """``(n, 4)`` float64 rows of a well-formed file, or None to fall back to the careful parser.

    Only accepts what :func:`_careful_parse` accepts with the same result.
    """
    if "#" in text:
        text = _COMMENT_LINE.sub("", text)
    if _NOT_FAST.search(text) is not None:
        return None
    if not text.strip():
        return np.zeros((0, 4), dtype=np.float64)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows = np.loadtxt(io.StringIO(text), dtype=np.float64, comments=None, ndmin=2)
    except ValueError:
        return None
    if rows.ndim != 2 or rows.shape[1] != 4:
        return None
    hkl = rows[:, :3]
    if not (
        np.isfinite(rows).all()
        and (hkl == np.round(hkl)).all()
        and (np.abs(hkl) <= _INDEX_LIMIT).all()
    ):
        return None
    return rows


def _careful_parse(text: str, path: PathLike) -> np.ndarray:
    """Parse line by line; raise an InputError naming the first bad line."""
    values: list[float] = []
    for number, line in enumerate(text.split("\n"), start=1):
        body = line.strip(_BLANK)
        if not body or body.startswith("#"):
            continue
        where = f"{path} line {number}"
        tokens = _SPLIT.split(body)
        if len(tokens) != 4 or not all(is_decimal(t) for t in tokens):
            raise InputError(
                f"{where}: expected 4 numbers 'h k l F', got {show(body)}", source=path
            )
        row = [float(t) for t in tokens]
        for name, token, value in zip("hkl", tokens, row[:3], strict=False):
            if not np.isfinite(value) or value != round(value):
                raise InputError(
                    f"{where}: Miller index {name}={token} is not an integer", source=path
                )
            if abs(value) > _INDEX_LIMIT:
                raise InputError(f"{where}: Miller index {name}={token} is too large", source=path)
        if not np.isfinite(row[3]):
            raise InputError(f"{where}: F={tokens[3]} is not a finite number", source=path)
        values.extend(row)
    return np.asarray(values, dtype=np.float64).reshape(-1, 4)
