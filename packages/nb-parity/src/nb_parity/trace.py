"""Parse the C program's ``-printout`` pixel block and diff two of them field by field."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = ["FIELDS", "FieldDiff", "diff_printout", "parse_printout"]

_NUM = r"([-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan|-nan))"

#: Fields of the block, in the order the C program prints them.
FIELDS: dict[str, str] = {
    "pixel_index": rf"^\s*(\d+)\s+(\d+) : stol = {_NUM} or {_NUM}",
    "position": rf"^at {_NUM} {_NUM} {_NUM}",
    "hkl": rf"^hkl= {_NUM} {_NUM} {_NUM}\s+hkl0= ([-\d]+) ([-\d]+) ([-\d]+)",
    "F": rf"^\s*F_cell={_NUM}\s+F_latt={_NUM}\s+I = {_NUM}",
    "I/steps": rf"^I/steps\s+{_NUM}",
    "polar": rf"^polar\s+{_NUM}",
    "omega": rf"^omega\s+{_NUM}",
    "capfrac": rf"^capfrac\s+{_NUM}",
    "pixel": rf"^pixel\s+{_NUM}",
    "a,b,c x": rf"^X:\s*{_NUM}\s+{_NUM}\s+{_NUM}",
    "a,b,c y": rf"^Y:\s*{_NUM}\s+{_NUM}\s+{_NUM}",
    "a,b,c z": rf"^Z:\s*{_NUM}\s+{_NUM}\s+{_NUM}",
}

#: Names of the numbers of each field (for messages).
NAMES: dict[str, tuple[str, ...]] = {
    "pixel_index": ("fpixel", "spixel", "stol", "stol(beam x)"),
    "position": ("x", "y", "z"),
    "hkl": ("h", "k", "l", "h0", "k0", "l0"),
    "F": ("F_cell", "F_latt", "I"),
    "I/steps": ("I/steps",),
    "polar": ("polar",),
    "omega": ("omega",),
    "capfrac": ("capfrac",),
    "pixel": ("pixel",),
    "a,b,c x": ("a_x", "b_x", "c_x"),
    "a,b,c y": ("a_y", "b_y", "c_y"),
    "a,b,c z": ("a_z", "b_z", "c_z"),
}


def parse_printout(text: str) -> dict[str, list[float]]:
    """Numbers of one ``-printout`` block (the first block in ``text``).

    Args:
        text: Printed text containing the block.

    Returns:
        Field name to its numbers; the cell rows are those after "real-space cell vectors".
    """
    out: dict[str, list[float]] = {}
    compiled = {k: re.compile(v) for k, v in FIELDS.items()}
    for line in text.splitlines():
        for name, pattern in compiled.items():
            if name in out:
                continue
            m = pattern.search(line)
            if m:
                out[name] = [float(g.replace("-nan", "nan")) for g in m.groups()]
                break
    return out


@dataclass(frozen=True)
class FieldDiff:
    """The first number that differs between two blocks.

    Attributes:
        field: Field name (a key of :data:`FIELDS`).
        name: Name of the number within the field.
        ours: nb's value.
        theirs: The reference value.
    """

    field: str
    name: str
    ours: float
    theirs: float

    def __str__(self) -> str:
        return f"{self.field}: {self.name} = {self.ours:.10g} (reference {self.theirs:.10g})"


def diff_printout(
    ours: dict[str, list[float]],
    theirs: dict[str, list[float]],
    *,
    rel: float = 2e-5,
    abs_: float = 2e-6,
) -> FieldDiff | None:
    """The first field, in print order, where two parsed blocks disagree.

    Two numbers agree when ``|a - b| <= abs_ + rel * max(|a|, |b|)`` (the C program prints six
    significant digits for most fields).

    Returns:
        The first disagreement, or None.
    """
    for field in FIELDS:
        if field not in theirs:
            continue
        a = ours.get(field)
        if a is None or len(a) != len(theirs[field]):
            return FieldDiff(field, "missing", math.nan, theirs[field][0])
        for name, x, y in zip(NAMES[field], a, theirs[field], strict=True):
            if math.isnan(x) and math.isnan(y):
                continue
            if not abs(x - y) <= abs_ + rel * max(abs(x), abs(y)):
                return FieldDiff(field, name, x, y)
    return None
