"""Validation of a flag's values: each is read whole by the C program, in range, or refused.

Numbers are validated with exactly the syntax that the C program's ``atoi``/``atof`` then read
in full, so that a value is either read whole or refused:

- an integer flag takes ASCII digits with an optional sign (no ``.``, exponent, ``_``,
  white space or non-ASCII digits) within C's ``int`` range, -2147483648 to 2147483647;
- a real-valued flag takes an ASCII decimal (:data:`nb_core.io._atomic.DECIMAL`: digits with
  an optional point, sign and exponent; no ``inf``, ``nan``, hex or white space) that is
  finite once converted (``1e400`` is refused; ``1e-400`` reads as 0).

A value that the C program would read only in part (``1e3`` as an integer is 1) or that
overflows is refused with a line that says what would be valid. Counts are range-checked where
the C program would misbehave or silently substitute another value (:data:`COUNT_MINIMUM`);
every value with a defined meaning in the C program is kept:

- ``-detpixels``/``_f``/``_s`` at least 1 (0 makes the C program take the size from
  ``-detsize``, 1024 pixels by default; a negative count gives no image);
- ``-N``/``-Na``/``-Nb``/``-Nc`` at least 0 (0 and 1 both mean one cell; 0 also turns on
  automatic interpolation);
- ``-oversample``, ``-mosaic_domains``, ``-dispsteps``, ``-hdivsteps``, ``-vdivsteps``,
  ``-divsteps`` and ``-detector_thicksteps`` at least 0, where 0 means "automatic" as in the C
  program (a negative count is silently automatic there);
- ``-phisteps`` at least 0 (the C program reads 0 as one step, a negative count as automatic);
- the seeds from -2147483647 to 2147483647 (the C program negates them; -2147483648 has no
  negative in an ``int``);
- ``-roi`` boxes are not empty (``XMIN <= XMAX`` and ``YMIN <= YMAX`` where both are given;
  a negative value means the detector's edge, as in the C program).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from nb_cli.flags._c_numbers import FLOAT_PREFIX, INT_MAX, INT_MIN, INT_PREFIX, c_atof, c_atoi
from nb_cli.flags._record import Flag, ValueKind
from nb_cli.flags._table import FLAG_BY_NAME
from nb_core.errors import InputError
from nb_core.io._atomic import DECIMAL

__all__ = ["COUNT_MINIMUM", "check_value", "consume_values", "real_value"]

#: The whole text of a valid integer value and of a valid real value.
_INT_FULL = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL_FULL = re.compile(DECIMAL, re.ASCII)

_REAL_HINT = "write a decimal such as 12.5, -0.3 or 1e-3 (ASCII digits; no inf, nan or hex)"
_INT_HINT = "write ASCII digits with an optional sign (no '.', exponent, '_' or space)"

#: The smallest value of each count and seed flag (values up to INT_MAX are read), and what
#: the line says is valid.
COUNT_MINIMUM: dict[str, tuple[int, str]] = {
    **dict.fromkeys(("-N", "-Na", "-Nb", "-Nc"), (0, "a cell count >= 0 (0 and 1: one cell)")),
    **dict.fromkeys(
        ("-detpixels", "-detpixels_f", "-detpixels_s"),
        (1, "a pixel count >= 1 (to size the detector by -detsize, leave the flag out)"),
    ),
    "-oversample": (0, "sub-pixels per pixel edge >= 1, or 0 for automatic"),
    "-phisteps": (0, "a step count >= 1 (0 is read as 1; leave the flag out for automatic)"),
    **dict.fromkeys(
        (
            "-mosaic_domains",
            "-dispsteps",
            "-hdivsteps",
            "-vdivsteps",
            "-divsteps",
            "-detector_thicksteps",
        ),
        (0, "a count >= 1, or 0 for automatic"),
    ),
    **dict.fromkeys(
        ("-seed", "-mosaic_seed", "-misset_seed"),
        (-INT_MAX, f"a seed from {-INT_MAX} to {INT_MAX} (the C program negates it)"),
    ),
}


def _quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for an error line (escaped, shortened to ``limit`` characters)."""
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def _unreadable(
    expected: str, text: str, read: float, prefix: re.Match[str] | None, hint: str = _REAL_HINT
) -> str:
    """The error line for a number the C program would not read whole.

    Args:
        expected: What is valid ("a number", "a whole number").
        text: The value given.
        read: What the C program would read from it.
        prefix: The C reader's match at the start of ``text`` (None: it reads nothing).
        hint: The syntax nb accepts.

    Returns:
        The message: what is expected and what was given; for text that looks like a number,
        what the C program would read of it and the syntax nb accepts.
    """
    message = f"expected {expected}, got {_quoted(text)}"
    if prefix is not None and prefix.end() < len(text):
        message += f" (the C program would read only {read:.15g})"
    if any(c.isdigit() for c in text) or re.search("inf|nan", text, re.IGNORECASE):
        message += f"; {hint}"
    return message


def real_value(flag: Flag, text: str) -> float:
    """The value of a real-valued flag: an ASCII decimal, finite once converted."""
    if _DECIMAL_FULL.fullmatch(text) is None:
        message = _unreadable("a number", text, c_atof(text), FLOAT_PREFIX.match(text))
        raise InputError(message, flag.name)
    value = float(text)
    if not math.isfinite(value):
        raise InputError(
            f"{_quoted(text)} overflows to infinity; expected a finite number "
            f"(magnitude below 1.8e308)",
            flag.name,
        )
    return value


def _int_value(flag: Flag, text: str) -> int:
    """The value of an integer flag: ASCII digits and a sign, in C's int range and the flag's."""
    if _INT_FULL.fullmatch(text) is None:
        message = _unreadable(
            "a whole number", text, c_atoi(text), INT_PREFIX.match(text), _INT_HINT
        )
        raise InputError(message, flag.name)
    value = int(text)
    low, what = COUNT_MINIMUM.get(flag.name, (INT_MIN, "a whole number"))
    if not INT_MIN <= value <= INT_MAX:
        raise InputError(
            f"{_quoted(text)} is outside the C program's int range ({INT_MIN} to {INT_MAX}); "
            f"expected {what}",
            flag.name,
        )
    if value < low:
        raise InputError(f"expected {what}, got {_quoted(text)}", flag.name)
    return value


def check_value(flag: Flag, kind: ValueKind, text: str) -> None:
    """Refuse ``text`` as a value of kind ``kind`` for ``flag`` unless it is well formed."""
    if kind == "float":
        real_value(flag, text)
    elif kind == "int":
        _int_value(flag, text)
    elif kind == "absorb":
        if text != "inf" and _DECIMAL_FULL.fullmatch(text) is None:
            expected = "an attenuation depth in µm or 'inf' (no absorption)"
            raise InputError(_unreadable(expected, text, c_atof(text), None), flag.name)
        if text != "inf":
            real_value(flag, text)
    elif kind == "pivot":
        if text not in ("beam", "sample"):
            raise InputError(f"expected 'beam' or 'sample', got {text!r}", flag.name)
    elif kind in ("path", "word") and text.startswith("-") and text in FLAG_BY_NAME:
        raise InputError(f"expected a value, got the flag {text!r}", flag.name)


def consume_values(flag: Flag, args: Sequence[str], i: int) -> int:
    """Validate the values of ``flag`` at ``args[i]``; return the index after them."""
    j = i + 1
    for kind in flag.values:
        if kind == "cell":
            # Like the C program, the values end at the first argument that starts with '-'.
            start = j
            while j < len(args) and j - start < 6 and not args[j].startswith("-"):
                real_value(flag, args[j])
                j += 1
            if j == start:
                raise InputError("needs 1 to 6 values: a [b c alpha beta gamma]", flag.name)
            continue
        if kind == "misset":
            if j < len(args) and "rand" in args[j]:
                j += 1
                continue
            if j + 3 > len(args):
                raise InputError("needs three angles (deg) or 'random'", flag.name)
            for k in range(3):
                check_value(flag, "float", args[j + k])
            j += 3
            continue
        if j >= len(args):
            need = len(flag.values)
            what = f"{need} value{'s' if need > 1 else ''} ({flag.metavar})"
            raise InputError(f"needs {what}", flag.name)
        check_value(flag, kind, args[j])
        j += 1
    if flag.name == "-roi":
        _check_roi(flag, args[i + 1 : j])
    return j


def _check_roi(flag: Flag, values: Sequence[str]) -> None:
    """Refuse an empty ``-roi`` box (a negative bound means the detector's edge)."""
    xmin, xmax, ymin, ymax = (int(v) for v in values)
    for axis, low, high in (("X", xmin, xmax), ("Y", ymin, ymax)):
        if 0 <= high < low:
            raise InputError(
                f"the box is empty ({axis}MIN {low} > {axis}MAX {high}); expected "
                f"{axis}MIN <= {axis}MAX (pixels, inclusive; a negative value means the edge)",
                flag.name,
            )
