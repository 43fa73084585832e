"""File-name templates of a data set: ``frame_#####.img`` gives ``frame_00001.img``, ..."""

from __future__ import annotations

import re
from pathlib import PurePath

__all__ = ["DEFAULT_WIDTH", "image_name", "number_width"]

#: Digits of an image number where a name gives no ``#`` run of its own.
DEFAULT_WIDTH = 5

_RUN = re.compile(r"#+")


def number_width(last: int) -> int:
    """Digits needed for image numbers up to ``last`` (at least :data:`DEFAULT_WIDTH`)."""
    return max(DEFAULT_WIDTH, len(str(last)))


def image_name(name: str, number: int, width: int = DEFAULT_WIDTH) -> str:
    """The file name of image ``number`` under a name template.

    The last run of ``#`` in the file's own name (not its folder) becomes the number,
    zero-padded to the run's length (more digits when the number needs them). A name
    without ``#`` gets ``_`` and the number padded to ``width`` before its extension, so
    that the default names (``floatimage.bin``, ...) give one file per image.

    Args:
        name: The template, e.g. ``"frames/lyso_#####.img"`` or ``"intimage.img"``.
        number: The image number (>= 0).
        width: Digits of the number for a name without ``#``.

    Returns:
        The name, e.g. ``"frames/lyso_00007.img"`` or ``"intimage_00007.img"``.
    """
    path = PurePath(name)
    base = path.name
    runs = list(_RUN.finditer(base))
    if runs:
        run = runs[-1]
        digits = f"{number:0{len(run.group())}d}"
        base = base[: run.start()] + digits + base[run.end() :]
    else:
        stem, suffix = (base, "") if not path.suffix else (base[: -len(path.suffix)], path.suffix)
        base = f"{stem}_{number:0{width}d}{suffix}"
    return base if path.parent == PurePath(".") else str(path.parent / base)
