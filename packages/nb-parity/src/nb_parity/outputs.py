"""Report files: JSON-safe values and writes that never leave a half-written file.

Every report nb-parity writes (compare, golden, refinement, trace) goes through these, so a
run that is interrupted leaves either the previous file or the complete new one.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nb_core.io import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["json_safe", "save_figure", "write_json", "write_text"]


def json_safe(value: object, *, nan: object = "nan") -> object:
    """``value`` with every non-finite float replaced, so that strict JSON readers accept it.

    Args:
        value: Nested dicts, lists, tuples, floats and numpy scalars.
        nan: What NaN becomes (``"nan"`` by default; None gives JSON ``null``). Infinities
            become ``"inf"`` and ``"-inf"``.

    Returns:
        The same structure with plain Python values.
    """
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return nan if math.isnan(value) else str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v, nan=nan) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, nan=nan) for v in value]
    return value


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file and a rename."""
    atomic_write_bytes(path, text.encode())
    return Path(path)


def write_json(path: str | Path, value: object, *, indent: int = 1, nan: object = "nan") -> Path:
    """Write ``value`` as JSON (non-finite floats replaced, see :func:`json_safe`)."""
    return write_text(path, json.dumps(json_safe(value, nan=nan), indent=indent) + "\n")


def save_figure(fig: Figure, path: str | Path, *, dpi: float | None = None) -> Path:
    """Render a matplotlib figure to PNG in memory, then write it atomically."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi if dpi is not None else "figure")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
