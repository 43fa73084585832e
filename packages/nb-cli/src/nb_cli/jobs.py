"""``nb jobs FILE``: one image per line of a jobs file, or per row of a table.

A jobs file holds one image's flags per line (shell quoting, ``#`` comments, blank lines
skipped). A ``.csv`` file is a table instead: its header names flags (``misset``, ``-seed``,
``flux``, ...), each cell holds that flag's values for one image (several values separated by
spaces; an empty cell leaves the flag out; a switch column takes ``1``/``yes``/``true`` or
``0``/``no``/``false``). Image k (1, 2, ... in file order) is the common flags followed by its
own, with ``-seed SEED + k - 1`` unless it gives a seed, and its own file names: names it gives
are kept (a ``#`` run in them becomes k), the rest are templated like a series' frames.
"""

from __future__ import annotations

import csv
import io
import shlex
from collections.abc import Sequence
from pathlib import Path

from nb_cli.batch import ImageJob
from nb_cli.flags import FLAG_BY_NAME, parse_args
from nb_cli.per_image import OUTPUT_FLAGS, given_flags, image_seed, output_flags, series_seed
from nb_core.datasets import number_width
from nb_core.errors import InputError
from nb_core.io._atomic import read_input_text

__all__ = ["job_lines", "read_jobs"]

_TRUE = frozenset(("1", "yes", "true", "on", "x"))
_FALSE = frozenset(("", "0", "no", "false", "off"))


def _table_lines(path: Path, lines: list[str]) -> list[tuple[int, list[str]]]:
    """The flags of each row of a CSV table, with the row's line number."""
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows:
        return []
    flags = []
    for column in rows[0]:
        name = column.strip()
        name = name if name.startswith("-") else f"-{name}"
        name = name[1:] if name.startswith("--") else name
        if name not in FLAG_BY_NAME:
            raise InputError(f"column {column.strip()!r} is not a flag of 'nb simulate'", path)
        flags.append(FLAG_BY_NAME[name])
    out = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(flags):
            raise InputError(f"line {number}: {len(row)} cells for {len(flags)} columns", path)
        tokens: list[str] = []
        for flag, cell in zip(flags, row, strict=False):
            value = cell.strip()
            if not flag.values:
                if value.lower() not in _TRUE | _FALSE:
                    raise InputError(
                        f"line {number}: {flag.name} takes yes or no, got {value!r}", path
                    )
                tokens += [flag.name] if value.lower() in _TRUE else []
            elif value:
                tokens += [flag.name, *value.split()]
        out.append((number, tokens))
    return out


def job_lines(path: str | Path) -> list[tuple[int, list[str]]]:
    """Each image's own flags in a jobs file, with the line they come from.

    Args:
        path: A jobs file (lines of flags) or a ``.csv`` table.

    Returns:
        ``(line number, flags)`` per image, in file order.

    Raises:
        InputError: The file cannot be read or a line cannot be split.
    """
    path = Path(path)
    lines = read_input_text(path, kind="jobs file")
    if path.suffix.lower() == ".csv":
        return _table_lines(path, lines)
    out = []
    for number, line in enumerate(lines, start=1):
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise InputError(f"line {number}: {exc}", path) from None
        if tokens:
            out.append((number, tokens))
    return out


def read_jobs(path: str | Path, common: Sequence[str] = ()) -> list[ImageJob]:
    """The images of a jobs file, each as the flags of a separate run.

    Args:
        path: The jobs file or table.
        common: Flags every image starts from.

    Returns:
        One job per line (or row).

    Raises:
        InputError: A bad line (named by file and line) or bad common flags.
    """
    common = [str(a) for a in common]
    first_seed = series_seed(parse_args(common))
    lines = job_lines(path)
    if not lines:
        raise InputError("holds no jobs", path)
    width = number_width(len(lines))
    jobs = []
    for number, (line, own) in enumerate(lines, start=1):
        try:
            parse_args(own, read_headers=False)
            argv = [*common, *own]
            parsed = parse_args(argv)
        except InputError as exc:
            raise InputError(f"line {line}: {exc}", path) from None
        given = given_flags(own)
        seed = [] if "-seed" in given else ["-seed", str(image_seed(first_seed, number))]
        names = output_flags(
            argv, parsed, number, width, own=[f for f in given if f in OUTPUT_FLAGS]
        )
        jobs.append(ImageJob(number, (*argv, *seed, *names)))
    return jobs
