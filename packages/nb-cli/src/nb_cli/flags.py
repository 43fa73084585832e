"""The nanoBragg command-line flags: one table for parsing, help text and the C binary's argv.

Each :class:`Flag` documents one flag (names, values, unit, default, help) and carries the
C program's own clauses for it: the substring test the C program applies to every argument
(``strstr``, optionally with a length check, or ``strcmp``) and what it does with the values
that follow. Parsing runs in two steps:

1. **Validation** walks argv and accepts only the documented names (``-flag`` or ``--flag``),
   with the right number of well-formed values; anything else is an :class:`InputError` that
   names the flag.
2. **Effects** replay the C program's own loop: for every argument that starts with ``-``,
   every clause whose test matches it acts, in the C program's order, on the raw arguments
   that follow (``atof``/``atoi`` semantics). This reproduces the C program's side effects
   (``-misset_seed`` also setting ``-misset`` from the next three arguments, ``-twotheta_axis``
   also setting ``-twotheta``). With the ``flags`` quirk fixed, an argument triggers only the
   clauses of the flag it names.

Numbers are validated with exactly the syntax that the C program's ``atoi``/``atof`` then read
in full, so that a value is either read whole or refused:

- an integer flag takes ASCII digits with an optional sign (no ``.``, exponent, ``_``,
  white space or non-ASCII digits) within C's ``int`` range, -2147483648 to 2147483647;
- a real-valued flag takes an ASCII decimal (:data:`nb_core.io._atomic.DECIMAL`: digits with
  an optional point, sign and exponent; no ``inf``, ``nan``, hex or white space) that is
  finite once converted (``1e400`` is refused; ``1e-400`` reads as 0).

A value that the C program would read only in part (``1e3`` as an integer is 1) or that
overflows is refused with a line that says what would be valid. Counts are range-checked where
the C program would misbehave or silently substitute another value; every value with a
defined meaning in the C program is kept:

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

SMV headers read by ``-img`` and ``-mask`` give their values as the C program's ``ValueOf``
reads them (``atof`` of the text after the key's last occurrence and its ``=``); a value nb
takes from a header must be finite, and the pixel size, distances and wavelength positive.
Such a value is refused even when a later flag overrides it: the file is broken either way.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nb_core.errors import InputError
from nb_core.io import read_smv, smv_value_of
from nb_core.io._atomic import DECIMAL
from nb_core.options import QUIRK_HELP, Quirks
from nb_core.settings import Settings

__all__ = [
    "FLAGS",
    "NB_OPTIONS",
    "Clause",
    "Flag",
    "ParsedArgs",
    "c_atof",
    "c_atoi",
    "flag_names",
    "parse_args",
    "to_c_argv",
]

Action = Callable[[Settings, "list[str]"], "bool | None"]
ValueKind = Literal["float", "int", "path", "word", "cell", "misset", "absorb", "pivot"]

# What C's atof reads after leading white space (C's isspace, ASCII only): a hex float, a
# decimal, inf or nan. re.ASCII: C reads no other script's digits.
_FLOAT_RE = re.compile(
    r"""[ \t\n\v\f\r]*(?:
        (?P<hex>[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?)
      | (?P<dec>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)
      | (?P<inf>[+-]?inf(?:inity)?)
      | (?P<nan>[+-]?nan)
    )""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
_INT_RE = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", re.ASCII)
#: The whole text of a valid integer value and of a valid real value.
_INT_FULL = re.compile(r"[+-]?[0-9]+", re.ASCII)
_DECIMAL_FULL = re.compile(DECIMAL, re.ASCII)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def c_atof(text: str) -> float:
    """C ``atof``: the longest numeric prefix after leading white space.

    Args:
        text: Text starting with the number.

    Returns:
        The value; 0.0 when no number starts the text; ±inf on overflow.
    """
    m = _FLOAT_RE.match(text)
    if not m:
        return 0.0
    if (hexa := m.group("hex")) is not None:
        try:
            return float.fromhex(hexa)
        except OverflowError:
            return -math.inf if hexa.startswith("-") else math.inf
    if m.group("nan") is not None:
        return math.nan
    return float(m.group("dec") or m.group("inf"))


def c_atoi(text: str) -> int:
    """C ``atoi``: the longest integer prefix after leading white space.

    Args:
        text: Text starting with the number.

    Returns:
        The value as a C ``int`` (wrapped to 32 bits, as this platform's conversion from
        ``long`` does); 0 when no integer starts the text.
    """
    m = _INT_RE.match(text)
    if not m:
        return 0
    value = int(m.group(1))
    return (value + 2**31) % 2**32 - 2**31


@dataclass(frozen=True)
class Clause:
    """One test-and-act block of the C program's argument loop.

    Attributes:
        patterns: Substrings (or exact names) the C program tests the argument against.
        needs: Arguments that must follow for the clause to act (the C ``argc > i+needs``).
        action: What the clause does with the arguments that follow.
        exact: Compare with ``strcmp`` instead of ``strstr``.
        length: Also require ``strlen(arg) == length``.
        min_length: Also require ``strlen(arg) > min_length``.
        stop: The C program ``continue``s to the next argument after acting.
    """

    patterns: tuple[str, ...]
    needs: int
    action: Action
    exact: bool = False
    length: int | None = None
    min_length: int | None = None
    stop: bool = False

    def matches(self, arg: str) -> bool:
        """Whether the C program's test fires for ``arg``."""
        if self.exact:
            hit = arg in self.patterns
        else:
            hit = any(p in arg for p in self.patterns)
        if hit and self.length is not None:
            hit = len(arg) == self.length
        if hit and self.min_length is not None:
            hit = len(arg) > self.min_length
        return hit


@dataclass(frozen=True)
class Flag:
    """A documented flag.

    Attributes:
        name: Canonical name, e.g. ``-distance``.
        values: Kinds of the values that follow (empty for a switch).
        metavar: Names of the values for help text.
        unit: Unit of the values.
        default: Default, as shown in help.
        group: Help section.
        help: One-line description.
        aliases: Other accepted names.
        clauses: The C program's clauses for this flag, in its order.
        nb_only: An nb option the C program does not know (never passed to it).
    """

    name: str
    values: tuple[ValueKind, ...]
    metavar: str
    unit: str
    default: str
    group: str
    help: str
    aliases: tuple[str, ...] = ()
    clauses: tuple[Clause, ...] = ()
    nb_only: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name and its aliases."""
        return (self.name, *self.aliases)


# ---- actions ---------------------------------------------------------------------------------


def _f(a: list[str], i: int = 0) -> float:
    return c_atof(a[i])


def _i(a: list[str], i: int = 0) -> int:
    return c_atoi(a[i])


def _vec(a: list[str]) -> tuple[float, float, float]:
    return (c_atof(a[0]), c_atof(a[1]), c_atof(a[2]))


def _set(attr: str, conv: Callable[[list[str]], object]) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        setattr(s, attr, conv(a))

    return act


def _seq(*actions: Action) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        for action in actions:
            action(s, a)
        return None

    return act


def _const(attr: str, value: object) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        setattr(s, attr, value)

    return act


def _n_axis(axis: int) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        n = list(s.n_cells)
        n[axis] = float(c_atoi(a[0]))
        s.n_cells = (n[0], n[1], n[2])

    return act


def _n_all(s: Settings, a: list[str]) -> None:
    n = float(c_atoi(a[0]))
    s.n_cells = (n, n, n)


def _cell(s: Settings, a: list[str]) -> None:
    s.user_cell = True
    cell = list(s.cell)
    for k in range(6):
        if k >= len(a) or a[k].startswith("-"):
            break
        cell[k] = c_atof(a[k])
    s.cell = (cell[0], cell[1], cell[2], cell[3], cell[4], cell[5])


def _misset_random(s: Settings, a: list[str]) -> bool:
    if "rand" in a[0]:
        s.misset_mode = "random"
        return True  # the C program moves on to the next argument
    return False


def _misset_angles(s: Settings, a: list[str]) -> None:
    s.misset_mode = "angles"
    s.misset_deg = _vec(a)


def _sample_axis(*axes: int) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        size = list(s.sample_size_mm)
        for axis in axes:
            size[axis] = c_atof(a[0])
        s.sample_size_mm = (size[0], size[1], size[2])

    return act


def _pivot(s: Settings, a: list[str]) -> None:
    if "sample" in a[0]:
        s.pivot = "sample"
    if "beam" in a[0]:
        s.pivot = "beam"


def _convention(name: str, pivot: str) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        s.convention = name  # type: ignore[assignment]
        s.pivot = pivot  # type: ignore[assignment]

    return act


def _custom_vector(attr: str) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        s.convention = "custom"
        setattr(s, attr, _vec(a))

    return act


def _absorb(s: Settings, a: list[str]) -> None:
    if "inf" in a[0] or c_atof(a[0]) == 0.0:
        s.detector_thick_um = 0.0
        s.detector_attenuation_um = math.inf
    else:
        s.detector_attenuation_um = c_atof(a[0])


def _detsize(which: str) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        f, sl = s.detsize_mm
        v = c_atof(a[0])
        s.detsize_mm = (v if which in "fb" else f, v if which in "sb" else sl)

    return act


def _detpixels(which: str) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        f, sl = s.detpixels
        v = c_atoi(a[0])
        s.detpixels = (v if which in "fb" else f, v if which in "sb" else sl)

    return act


def _roi(s: Settings, a: list[str]) -> None:
    s.roi = (c_atoi(a[0]), c_atoi(a[1]), c_atoi(a[2]), c_atoi(a[3]))


def _energy(s: Settings, a: list[str]) -> None:
    s.lambda_A = 12398.42 / c_atof(a[0]) if c_atof(a[0]) != 0 else math.inf


def _divergence(s: Settings, a: list[str]) -> None:
    s.hdivrange_mrad = s.vdivrange_mrad = c_atof(a[0])


def _divsteps(s: Settings, a: list[str]) -> None:
    s.hdivsteps = s.vdivsteps = c_atoi(a[0])


def _printout_pixel(s: Settings, a: list[str]) -> None:
    s.printout_pixel = (c_atoi(a[0]), c_atoi(a[1]))


def _neg_seed(attr: str) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        setattr(s, attr, -c_atoi(a[0]))

    return act


def _pgmfile(s: Settings, a: list[str]) -> None:
    s.pgmfile = a[0]
    s.write_pgm = True


def _noisefile(s: Settings, a: list[str]) -> None:
    s.noisefile = a[0]
    s.write_noise = True


def _pgmscale(s: Settings, a: list[str]) -> None:
    s.pgm_scale = c_atof(a[0])
    s.write_pgm = True


def _noop(s: Settings, a: list[str]) -> None:
    return None


def _rot(axis: int) -> Action:
    def act(s: Settings, a: list[str]) -> None:
        r = list(s.detector_rot_deg)
        r[axis] = c_atof(a[0])
        s.detector_rot_deg = (r[0], r[1], r[2])

    return act


def _c(*patterns: str, needs: int = 1, action: Action, **kw: object) -> Clause:
    return Clause(patterns=patterns, needs=needs, action=action, **kw)  # type: ignore[arg-type]


def _flag(
    name: str,
    values: tuple[ValueKind, ...],
    metavar: str,
    unit: str,
    default: str,
    group: str,
    help: str,
    *clauses: Clause,
    aliases: tuple[str, ...] = (),
) -> Flag:
    return Flag(name, values, metavar, unit, default, group, help, aliases, clauses)


F1: tuple[ValueKind, ...] = ("float",)
I1: tuple[ValueKind, ...] = ("int",)
P1: tuple[ValueKind, ...] = ("path",)
V3: tuple[ValueKind, ...] = ("float", "float", "float")
SW: tuple[ValueKind, ...] = ()

CRY, DET, BEAM, SF, OUT, SAMP, RUN = (
    "Crystal",
    "Detector",
    "Beam",
    "Structure factors",
    "Outputs",
    "Sampling",
    "Run",
)

#: Every flag of the C program, in the order its argument loop tests them.
FLAGS: tuple[Flag, ...] = (
    _flag(
        "-Na",
        I1,
        "N",
        "cells",
        "1",
        CRY,
        "unit cells along a",
        _c("-Na", action=_n_axis(0), stop=True),
    ),
    _flag(
        "-Nb",
        I1,
        "N",
        "cells",
        "1",
        CRY,
        "unit cells along b",
        _c("-Nb", action=_n_axis(1), stop=True),
    ),
    _flag(
        "-Nc",
        I1,
        "N",
        "cells",
        "1",
        CRY,
        "unit cells along c",
        _c("-Nc", action=_n_axis(2), stop=True),
    ),
    _flag(
        "-N",
        I1,
        "N",
        "cells",
        "1",
        CRY,
        "unit cells along a, b and c (0: an isolated cell, SAXS)",
        _c("-N", exact=True, action=_n_all, stop=True),
    ),
    _flag(
        "-cell",
        ("cell",),
        "a b c alpha beta gamma",
        "Å, deg",
        "",
        CRY,
        "unit cell (alternative to -mat); missing lengths copy a, missing angles are 90",
        _c("-cell", action=_cell),
    ),
    _flag(
        "-misset",
        ("misset",),
        "X Y Z | random",
        "deg",
        "0 0 0",
        CRY,
        "crystal rotations about x, y, z applied to the cell, or a random orientation",
        _c("-misset", action=_misset_random),
        _c("-misset", needs=3, action=_misset_angles),
    ),
    _flag(
        "-samplesize",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal size along a, b and c (sets N)",
        _c("-samplesize", "-sample_size", action=_sample_axis(0, 1, 2)),
        aliases=("-sample_size",),
    ),
    _flag(
        "-sample_thick",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal size along a (sets Na)",
        _c("-sample_thick", "-sample_x", action=_sample_axis(0)),
        aliases=("-sample_x",),
    ),
    _flag(
        "-sample_width",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal size along b (sets Nb)",
        _c("-sample_width", "-sample_y", "-width", action=_sample_axis(1)),
        aliases=("-sample_y", "-width"),
    ),
    _flag(
        "-sample_height",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal size along c (sets Nc)",
        _c("-sample_heigh", "-sample_z", "-heigh", action=_sample_axis(2)),
        aliases=("-sample_z", "-height"),
    ),
    _flag(
        "-xtalsize",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal full width along a, b and c (sets N)",
        _c("-xtalsize", "-xtal_size", action=_sample_axis(0, 1, 2)),
        aliases=("-xtal_size",),
    ),
    _flag(
        "-xtal_thick",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal size along a (sets Na)",
        _c("-xtal_thick", "-xtal_x", action=_sample_axis(0)),
        aliases=("-xtal_x",),
    ),
    _flag(
        "-xtal_width",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal size along b (sets Nb)",
        _c("-xtal_width", "-xtal_y", "-width", action=_sample_axis(1)),
        aliases=("-xtal_y",),
    ),
    _flag(
        "-xtal_height",
        F1,
        "MM",
        "mm",
        "",
        CRY,
        "crystal size along c (sets Nc)",
        _c("-xtal_heigh", "-xtal_z", "-heigh", action=_sample_axis(2)),
        aliases=("-xtal_z",),
    ),
    _flag(
        "-density",
        F1,
        "G_PER_CM3",
        "g/cm^3",
        "1.0",
        CRY,
        "sample density (reported only)",
        _c("-density", "-sample_den", action=_noop),
        aliases=("-sample_density",),
    ),
    _flag(
        "-MW",
        F1,
        "DALTON",
        "g/mol",
        "18",
        CRY,
        "molecular weight (reported only)",
        Clause(("-MW",), 1, _noop, exact=True),
        Clause(("-molec",), 1, _noop),
        aliases=("-molecular_weight",),
    ),
    _flag(
        "-Xbeam",
        F1,
        "MM",
        "mm",
        "centre",
        DET,
        "direct-beam position, image X (sets pivot beam)",
        _c("-Xbeam", action=_seq(_set("xbeam_mm", _f), _const("pivot", "beam"))),
    ),
    _flag(
        "-Ybeam",
        F1,
        "MM",
        "mm",
        "centre",
        DET,
        "direct-beam position, image Y (sets pivot beam)",
        _c("-Ybeam", action=_seq(_set("ybeam_mm", _f), _const("pivot", "beam"))),
    ),
    _flag(
        "-Xclose",
        F1,
        "MM",
        "mm",
        "centre",
        DET,
        "near point, fast axis (sets pivot sample)",
        _c("-Xclose", action=_seq(_set("xclose_mm", _f), _const("pivot", "sample"))),
    ),
    _flag(
        "-Yclose",
        F1,
        "MM",
        "mm",
        "centre",
        DET,
        "near point, slow axis (sets pivot sample)",
        _c("-Yclose", action=_seq(_set("yclose_mm", _f), _const("pivot", "sample"))),
    ),
    _flag(
        "-ORGX",
        F1,
        "PIXELS",
        "pixels",
        "centre",
        DET,
        "XDS origin, fast (sets pivot sample)",
        _c("-ORGX", action=_seq(_set("orgx", _f), _const("pivot", "sample"))),
    ),
    _flag(
        "-ORGY",
        F1,
        "PIXELS",
        "pixels",
        "centre",
        DET,
        "XDS origin, slow (sets pivot sample)",
        _c("-ORGY", action=_seq(_set("orgy", _f), _const("pivot", "sample"))),
    ),
    _flag(
        "-pivot",
        ("pivot",),
        "beam|sample",
        "",
        "beam",
        DET,
        "rotate the detector about the direct-beam spot or the sample (CUSTOM convention only)",
        _c("-pivot", action=_pivot),
    ),
    _flag(
        "-mosflm",
        SW,
        "",
        "",
        "on",
        DET,
        "MOSFLM convention (beam along +x, half-pixel shift)",
        _c("-mosflm", needs=0, action=_convention("mosflm", "beam")),
    ),
    _flag(
        "-xds",
        SW,
        "",
        "",
        "",
        DET,
        "XDS convention (beam along +z, pivot sample)",
        _c("-xds", needs=0, action=_convention("xds", "sample")),
    ),
    _flag(
        "-adxv",
        SW,
        "",
        "",
        "",
        DET,
        "ADXV convention",
        _c("-adxv", needs=0, action=_convention("adxv", "beam")),
    ),
    _flag(
        "-denzo",
        SW,
        "",
        "",
        "",
        DET,
        "DENZO convention",
        _c("-denzo", needs=0, action=_convention("denzo", "beam")),
    ),
    _flag(
        "-dials",
        SW,
        "",
        "",
        "",
        DET,
        "DIALS convention (pivot sample)",
        _c("-dials", needs=0, action=_convention("dials", "beam")),
    ),
    _flag(
        "-fdet_vector",
        V3,
        "X Y Z",
        "",
        "0 0 1",
        DET,
        "fast-axis unit vector (CUSTOM convention)",
        _c("-fdet_vector", needs=3, action=_custom_vector("fdet_vector")),
    ),
    _flag(
        "-sdet_vector",
        V3,
        "X Y Z",
        "",
        "0 -1 0",
        DET,
        "slow-axis unit vector (CUSTOM convention)",
        _c("-sdet_vector", needs=3, action=_custom_vector("sdet_vector")),
    ),
    _flag(
        "-odet_vector",
        V3,
        "X Y Z",
        "",
        "1 0 0",
        DET,
        "detector normal (CUSTOM; replaced by fast x slow unless exactly unit length)",
        _c("-odet_vector", needs=3, action=_custom_vector("odet_vector")),
    ),
    _flag(
        "-beam_vector",
        V3,
        "X Y Z",
        "",
        "1 0 0",
        BEAM,
        "beam direction (CUSTOM convention)",
        _c("-beam_vector", needs=3, action=_custom_vector("beam_vector")),
    ),
    _flag(
        "-polar_vector",
        V3,
        "X Y Z",
        "",
        "0 0 1",
        BEAM,
        "E-vector of the polarization (CUSTOM)",
        _c("-polar_vector", needs=3, action=_custom_vector("polar_vector")),
    ),
    _flag(
        "-spindle_axis",
        V3,
        "X Y Z",
        "",
        "0 0 1",
        CRY,
        "phi rotation axis (CUSTOM convention)",
        _c("-spindle_axis", needs=3, action=_custom_vector("spindle_axis")),
    ),
    _flag(
        "-twotheta_axis",
        V3,
        "X Y Z",
        "",
        "0 1 0",
        DET,
        "two-theta rotation axis (CUSTOM)",
        _c("-twotheta_axis", needs=3, action=_custom_vector("twotheta_axis")),
    ),
    _flag(
        "-pix0_vector",
        V3,
        "X Y Z",
        "m",
        "",
        DET,
        "sample to first pixel (CUSTOM); ignored by nanoBragg unless -fix pix0",
        _c("-pix0_vector", needs=3, action=_custom_vector("pix0_vector")),
    ),
    _flag(
        "-distance",
        F1,
        "MM",
        "mm",
        "100",
        DET,
        "sample to detector along the beam (sets pivot beam)",
        _c("-distance", action=_seq(_set("distance_mm", _f), _const("pivot", "beam"))),
    ),
    _flag(
        "-close_distance",
        F1,
        "MM",
        "mm",
        "",
        DET,
        "sample to detector plane along its normal (sets pivot sample)",
        _c(
            "-close_distance", action=_seq(_set("close_distance_mm", _f), _const("pivot", "sample"))
        ),
    ),
    _flag(
        "-detector_absorb",
        ("absorb",),
        "UM|inf",
        "µm",
        "inf",
        DET,
        "sensor attenuation depth ('inf' or 0: no absorption)",
        _c("-detector_abs", needs=0, action=_absorb),
        aliases=("-detector_abs",),
    ),
    _flag(
        "-detector_thick",
        F1,
        "UM",
        "µm",
        "0",
        DET,
        "sensor thickness",
        _c("-detector_thick", needs=0, length=15, action=_set("detector_thick_um", _f)),
    ),
    _flag(
        "-detector_thicksteps",
        I1,
        "N",
        "",
        "auto",
        DET,
        "sensor layers",
        _c("-detector_thicksteps", needs=0, action=_set("thicksteps", _i)),
        _c("-thicksteps", needs=0, action=_set("thicksteps", _i)),
        aliases=("-thicksteps",),
    ),
    _flag(
        "-twotheta",
        F1,
        "DEG",
        "deg",
        "0",
        DET,
        "detector swing about the two-theta axis (sets pivot sample)",
        _c("-twotheta", action=_seq(_set("twotheta_deg", _f), _const("pivot", "sample"))),
    ),
    _flag(
        "-detector_rotx",
        F1,
        "DEG",
        "deg",
        "0",
        DET,
        "detector rotation about lab x",
        _c("-detector_rotx", action=_rot(0)),
    ),
    _flag(
        "-detector_roty",
        F1,
        "DEG",
        "deg",
        "0",
        DET,
        "detector rotation about lab y",
        _c("-detector_roty", action=_rot(1)),
    ),
    _flag(
        "-detector_rotz",
        F1,
        "DEG",
        "deg",
        "0",
        DET,
        "detector rotation about lab z",
        _c("-detector_rotz", action=_rot(2)),
    ),
    _flag(
        "-detsize",
        F1,
        "MM",
        "mm",
        "102.4",
        DET,
        "detector edge (square)",
        _c("-detsize", length=8, action=_detsize("b")),
    ),
    _flag(
        "-detsize_f",
        F1,
        "MM",
        "mm",
        "102.4",
        DET,
        "detector size along fast",
        _c("-detsize_f", action=_detsize("f")),
    ),
    _flag(
        "-detsize_s",
        F1,
        "MM",
        "mm",
        "102.4",
        DET,
        "detector size along slow",
        _c("-detsize_s", action=_detsize("s")),
    ),
    _flag(
        "-detpixels",
        I1,
        "N",
        "pixels",
        "1024",
        DET,
        "detector pixels per edge (square)",
        _c("-detpixels", length=10, action=_detpixels("b")),
    ),
    _flag(
        "-detpixels_f",
        I1,
        "N",
        "pixels",
        "",
        DET,
        "detector pixels along fast",
        _c("-detpixels_f", "-detpixels_x", action=_detpixels("f")),
        aliases=("-detpixels_x",),
    ),
    _flag(
        "-detpixels_s",
        I1,
        "N",
        "pixels",
        "",
        DET,
        "detector pixels along slow",
        _c("-detpixels_s", "-detpixels_y", action=_detpixels("s")),
        aliases=("-detpixels_y",),
    ),
    _flag(
        "-curved_det",
        SW,
        "",
        "",
        "off",
        DET,
        "every pixel at the same distance from the sample",
        _c("-curved_det", needs=1, action=_const("curved_detector", True)),
    ),
    _flag(
        "-pixel",
        F1,
        "MM",
        "mm",
        "0.1",
        DET,
        "pixel size",
        _c("-pixel", action=_set("pixel_mm", _f)),
    ),
    _flag(
        "-point_pixel",
        SW,
        "",
        "",
        "off",
        DET,
        "solid angle as 1/R^2 (no obliquity)",
        _c("-point_pixel", needs=0, action=_const("point_pixel", True)),
    ),
    _flag(
        "-polar",
        F1,
        "K",
        "",
        "0",
        BEAM,
        "Kahn polarization factor",
        _c("-polar", length=6, action=_seq(_set("polarization", _f), _const("nopolar", False))),
    ),
    _flag(
        "-nopolar",
        SW,
        "",
        "",
        "off",
        BEAM,
        "no polarization correction",
        _c("-nopolar", needs=0, action=_const("nopolar", True)),
    ),
    _flag(
        "-oversample_thick",
        SW,
        "",
        "",
        "off",
        SAMP,
        "capture fraction at every sub-pixel",
        _c("-oversample_thick", needs=0, stop=True, action=_const("oversample_thick", True)),
    ),
    _flag(
        "-oversample_polar",
        SW,
        "",
        "",
        "off",
        SAMP,
        "polarization at every sub-pixel",
        _c("-oversample_polar", needs=0, stop=True, action=_const("oversample_polar", True)),
    ),
    _flag(
        "-oversample_omega",
        SW,
        "",
        "",
        "off",
        SAMP,
        "solid angle at every sub-pixel",
        _c("-oversample_omega", needs=0, stop=True, action=_const("oversample_omega", True)),
    ),
    _flag(
        "-oversample",
        I1,
        "N",
        "",
        "auto",
        SAMP,
        "sub-pixels per pixel edge",
        _c("-oversample", action=_set("oversample", _i)),
    ),
    _flag(
        "-roi",
        ("int", "int", "int", "int"),
        "XMIN XMAX YMIN YMAX",
        "pixels",
        "all",
        DET,
        "render only this region (inclusive)",
        _c("-roi", needs=4, action=_roi),
    ),
    _flag(
        "-lambda",
        F1,
        "A",
        "Å",
        "1.0",
        BEAM,
        "wavelength",
        _c("-lambda", "-wave", action=_set("lambda_A", _f)),
        aliases=("-wavelength",),
    ),
    _flag(
        "-energy",
        F1,
        "EV",
        "eV",
        "",
        BEAM,
        "photon energy (sets -lambda)",
        _c("-energy", action=_energy),
    ),
    _flag(
        "-fluence",
        F1,
        "PH_PER_M2",
        "photons/m^2",
        "1.25932e+29",
        BEAM,
        "integrated beam fluence",
        _c("-fluence", action=_set("fluence", _f)),
    ),
    _flag(
        "-flux",
        F1,
        "PH_PER_S",
        "photons/s",
        "0",
        BEAM,
        "flux (with -exposure and -beamsize)",
        _c("-flux", action=_set("flux", _f)),
    ),
    _flag(
        "-exposure",
        F1,
        "S",
        "s",
        "1",
        BEAM,
        "exposure time (with -flux)",
        _c("-exposure", action=_set("exposure_s", _f)),
    ),
    _flag(
        "-beamsize",
        F1,
        "MM",
        "mm",
        "0.1",
        BEAM,
        "beam size (with -flux); clips the crystal",
        _c("-beamsize", action=_set("beamsize_mm", _f)),
    ),
    _flag(
        "-mosaic",
        F1,
        "DEG",
        "deg",
        "0",
        CRY,
        "isotropic mosaic spread",
        Clause(("-mosaic",), 1, _set("mosaic_deg", _f), length=7),
        Clause(("-mosaici", "-mosaic_spr"), 1, _set("mosaic_deg", _f)),
        aliases=("-mosaicity", "-mosaic_spread"),
    ),
    _flag(
        "-mosaic_domains",
        I1,
        "N",
        "",
        "10 with a spread",
        CRY,
        "mosaic domains",
        _c("-mosaic_dom", action=_set("mosaic_domains", _i)),
        aliases=("-mosaic_dom",),
    ),
    _flag(
        "-dispersion",
        F1,
        "PERCENT",
        "%",
        "0",
        BEAM,
        "spectral width delta-lambda/lambda",
        _c("-dispersion", action=_set("dispersion_pct", _f)),
    ),
    _flag(
        "-dispsteps",
        I1,
        "N",
        "",
        "auto",
        BEAM,
        "wavelengths across the dispersion",
        _c("-dispsteps", action=_set("dispsteps", _i)),
    ),
    _flag(
        "-divergence",
        F1,
        "MRAD",
        "mrad",
        "0",
        BEAM,
        "horizontal and vertical divergence",
        _c("-divergence", action=_divergence),
    ),
    _flag(
        "-hdivrange",
        F1,
        "MRAD",
        "mrad",
        "0",
        BEAM,
        "horizontal divergence",
        _c("-hdivrange", action=_set("hdivrange_mrad", _f)),
    ),
    _flag(
        "-vdivrange",
        F1,
        "MRAD",
        "mrad",
        "0",
        BEAM,
        "vertical divergence",
        _c("-vdivrange", action=_set("vdivrange_mrad", _f)),
    ),
    _flag(
        "-hdivstep",
        F1,
        "MRAD",
        "mrad",
        "auto",
        BEAM,
        "horizontal divergence step",
        _c("-hdivstep", length=9, action=_set("hdivstep_mrad", _f)),
    ),
    _flag(
        "-hdivsteps",
        I1,
        "N",
        "",
        "auto",
        BEAM,
        "horizontal divergence steps",
        _c("-hdivsteps", action=_set("hdivsteps", _i)),
    ),
    _flag(
        "-vdivstep",
        F1,
        "MRAD",
        "mrad",
        "auto",
        BEAM,
        "vertical divergence step",
        _c("-vdivstep", length=9, action=_set("vdivstep_mrad", _f)),
    ),
    _flag(
        "-vdivsteps",
        I1,
        "N",
        "",
        "auto",
        BEAM,
        "vertical divergence steps",
        _c("-vdivsteps", action=_set("vdivsteps", _i)),
    ),
    _flag(
        "-divsteps",
        I1,
        "N",
        "",
        "auto",
        BEAM,
        "divergence steps, both directions",
        _c("-divsteps", action=_divsteps),
    ),
    _flag(
        "-round_div",
        SW,
        "",
        "",
        "on",
        BEAM,
        "cut the divergence grid to an ellipse",
        _c("-round_div", needs=0, action=_const("round_div", True)),
    ),
    _flag(
        "-square_div",
        SW,
        "",
        "",
        "off",
        BEAM,
        "full divergence grid",
        _c("-square_div", needs=0, action=_const("round_div", False)),
    ),
    _flag(
        "-adc",
        F1,
        "COUNTS",
        "ADU",
        "40",
        OUT,
        "offset added to integer images",
        _c("-adc", action=_set("adc_offset", _f)),
    ),
    _flag(
        "-phi",
        F1,
        "DEG",
        "deg",
        "0",
        CRY,
        "first spindle angle",
        _c("-phi", length=4, action=_set("phi_deg", _f)),
    ),
    _flag(
        "-osc",
        F1,
        "DEG",
        "deg",
        "auto",
        CRY,
        "spindle oscillation range",
        _c("-osc", action=_set("osc_deg", _f)),
    ),
    _flag(
        "-phistep",
        F1,
        "DEG",
        "deg",
        "auto",
        CRY,
        "spindle step",
        _c("-phistep", length=8, action=_set("phistep_deg", _f)),
    ),
    _flag(
        "-phisteps",
        I1,
        "N",
        "",
        "auto",
        CRY,
        "spindle steps",
        _c("-phisteps", action=_set("phisteps", _i)),
    ),
    _flag(
        "-dmin",
        F1,
        "A",
        "Å",
        "0",
        SAMP,
        "skip scattering beyond this resolution",
        _c("-dmin", action=_set("dmin_A", _f)),
    ),
    _flag(
        "-mat",
        P1,
        "FILE",
        "",
        "",
        CRY,
        "MOSFLM orientation matrix (three reciprocal vectors x lambda)",
        _c("-mat", action=_set("matrix_file", lambda a: a[0])),
    ),
    _flag(
        "-hkl",
        P1,
        "FILE",
        "",
        "",
        SF,
        "structure factors, one 'h k l F' per line (writes the dump file)",
        _c("-hkl", action=_set("hkl_file", lambda a: a[0])),
    ),
    _flag(
        "-default_F",
        F1,
        "F",
        "electrons",
        "0",
        SF,
        "structure factor of every unlisted hkl",
        _c("-default_F", action=_set("default_F", _f)),
    ),
    _flag(
        "-dump",
        P1,
        "FILE",
        "",
        "Fdump.bin",
        SF,
        "binary structure-factor dump, written with -hkl and read without",
        _c("-dump", action=_set("dump_file", lambda a: a[0])),
    ),
    _flag(
        "-img",
        P1,
        "FILE",
        "",
        "",
        DET,
        "take detector and beam values from this SMV header",
        _c("-img", action=_set("img_file", lambda a: a[0])),
    ),
    _flag(
        "-stolout",
        P1,
        "FILE",
        "",
        "",
        SF,
        "accepted for compatibility; unused",
        _c("-stolout", min_length=7, action=_noop),
    ),
    _flag(
        "-stol",
        P1,
        "FILE",
        "",
        "",
        SF,
        "amorphous-scatter table (read, unused by the render)",
        _c("-stol", length=5, action=_set("stol_file", lambda a: a[0])),
    ),
    _flag(
        "-4stol",
        P1,
        "FILE",
        "",
        "",
        SF,
        "amorphous-scatter table in 4 stol (unused)",
        _c("-4stol", length=6, action=_set("stol_file", lambda a: a[0])),
    ),
    _flag(
        "-Q",
        P1,
        "FILE",
        "",
        "",
        SF,
        "amorphous-scatter table in Q (unused)",
        _c("-Q", length=2, action=_set("stol_file", lambda a: a[0])),
    ),
    _flag(
        "-sourcefile",
        P1,
        "FILE",
        "",
        "",
        BEAM,
        "sources, one 'X Y Z I lambda(m)' per line",
        _c("-sourcefile", action=_set("source_file", lambda a: a[0])),
    ),
    _flag(
        "-floatfile",
        P1,
        "FILE",
        "",
        "floatimage.bin",
        OUT,
        "raw float32 image",
        _c("-floatfile", "-floatimage", action=_set("floatfile", lambda a: a[0])),
        aliases=("-floatimage",),
    ),
    _flag(
        "-intfile",
        P1,
        "FILE",
        "",
        "intimage.img",
        OUT,
        "noiseless SMV image (scaled)",
        _c("-intfile", "-intimage", action=_set("intfile", lambda a: a[0])),
        aliases=("-intimage",),
    ),
    _flag(
        "-pgmfile",
        P1,
        "FILE",
        "",
        "image.pgm",
        OUT,
        "8-bit PGM picture",
        _c("-pgmfile", "-pgmimage", action=_pgmfile),
        aliases=("-pgmimage",),
    ),
    _flag(
        "-noisefile",
        P1,
        "FILE",
        "",
        "noiseimage.img",
        OUT,
        "SMV image with Poisson noise",
        _c("-noisefile", "-noiseimage", action=_noisefile),
        aliases=("-noiseimage",),
    ),
    _flag(
        "-nonoise",
        SW,
        "",
        "",
        "off",
        OUT,
        "do not write the noise image",
        _c("-nonoise", needs=0, action=_const("write_noise", False)),
    ),
    _flag(
        "-nopgm",
        SW,
        "",
        "",
        "off",
        OUT,
        "do not write the PGM picture",
        _c("-nopgm", needs=0, action=_const("write_pgm", False)),
    ),
    _flag(
        "-scale",
        F1,
        "FACTOR",
        "",
        "auto",
        OUT,
        "intfile scale (default 55000/max)",
        _c("-scale", action=_set("intfile_scale", _f)),
    ),
    _flag(
        "-pgmscale",
        F1,
        "FACTOR",
        "",
        "auto",
        OUT,
        "PGM scale (default 250/(5 rmsd))",
        _c("-pgmscale", action=_pgmscale),
    ),
    _flag(
        "-coherent",
        SW,
        "",
        "",
        "off",
        BEAM,
        "accepted for compatibility; no effect",
        _c("-coherent", needs=0, action=_noop),
    ),
    _flag(
        "-printout",
        SW,
        "",
        "",
        "off",
        RUN,
        "print the pixel trace block (all pixels, or -printout_pixel)",
        _c("-printout", needs=0, action=_const("printout", True)),
    ),
    _flag(
        "-noprogress",
        SW,
        "",
        "",
        "",
        RUN,
        "no progress bar",
        _c("-noprogress", needs=0, action=_const("progress", False)),
    ),
    _flag(
        "-progress",
        SW,
        "",
        "",
        "on",
        RUN,
        "show a progress bar",
        _c("-progress", needs=0, action=_const("progress", True)),
    ),
    _flag(
        "-interpolate",
        SW,
        "",
        "",
        "auto",
        SF,
        "force tricubic structure-factor interpolation",
        _c("-interpolate", needs=0, action=_const("interpolate", 1)),
    ),
    _flag(
        "-nointerpolate",
        SW,
        "",
        "",
        "auto",
        SF,
        "no structure-factor interpolation",
        _c("-nointerpolate", needs=0, action=_const("interpolate", 0)),
    ),
    _flag(
        "-round_xtal",
        SW,
        "",
        "",
        "",
        CRY,
        "ellipsoidal crystal (sinc3 spots)",
        _c("-round_xtal", needs=0, action=_const("shape", "round")),
    ),
    _flag(
        "-square_xtal",
        SW,
        "",
        "",
        "on",
        CRY,
        "parallelepiped crystal (sincg spots)",
        _c("-square_xtal", needs=0, action=_const("shape", "square")),
    ),
    _flag(
        "-gauss_xtal",
        SW,
        "",
        "",
        "",
        CRY,
        "Gaussian spots",
        _c("-gauss_xtal", needs=0, action=_const("shape", "gauss")),
    ),
    _flag(
        "-tophat_spots",
        SW,
        "",
        "",
        "",
        CRY,
        "flat-topped spots",
        _c("-binary_spots", "-tophat_spots", needs=0, action=_const("shape", "tophat")),
        aliases=("-binary_spots",),
    ),
    _flag(
        "-fudge",
        F1,
        "FACTOR",
        "",
        "1",
        CRY,
        "spot-shape fudge factor",
        _c("-fudge", action=_set("fudge", _f)),
    ),
    _flag(
        "-printout_pixel",
        ("int", "int"),
        "FAST SLOW",
        "pixels",
        "",
        RUN,
        "pixel for -printout",
        _c("-printout_pixel", needs=2, action=_printout_pixel),
    ),
    _flag(
        "-seed",
        I1,
        "N",
        "",
        "time",
        RUN,
        "noise-image random seed",
        _c("-seed", action=_neg_seed("seed")),
    ),
    _flag(
        "-mosaic_seed",
        I1,
        "N",
        "",
        "12345678",
        RUN,
        "mosaic-domain random seed",
        _c("-mosaic_seed", action=_neg_seed("mosaic_seed")),
    ),
    _flag(
        "-misset_seed",
        I1,
        "N",
        "",
        "time",
        RUN,
        "-misset random seed",
        _c("-misset_seed", action=_neg_seed("misset_seed")),
    ),
    _flag(
        "-water",
        F1,
        "UM",
        "µm",
        "0",
        BEAM,
        "water around the crystal (background)",
        _c("-water", action=_set("water_um", _f)),
    ),
    _flag(
        "-mask", P1, "FILE", "", "", DET, "SMV image: zero pixels are skipped (header values apply)"
    ),
)

#: nb's own options for ``nb simulate`` (never passed to the C program).
NB_OPTIONS: tuple[Flag, ...] = (
    Flag(
        "-dtype",
        ("word",),
        "float32|float64",
        "",
        "float32",
        "nb",
        "floating precision",
        nb_only=True,
    ),
    Flag("-device", ("word",), "cpu|cuda", "", "cpu", "nb", "where to compute", nb_only=True),
    Flag(
        "-compile",
        ("word",),
        "auto|on|off",
        "",
        "auto",
        "nb",
        "fuse the kernel with torch.compile (auto: for jobs over 2e8 evaluations when a C++ "
        "compiler is present, and for any job whose kernel is already built; the first "
        "compilation takes about a minute and is kept in $NB_KERNEL_CACHE or "
        "~/.cache/nb/kernels, later runs load it in milliseconds)",
        nb_only=True,
    ),
    Flag(
        "-fix",
        ("word",),
        "NAME[,NAME]",
        "",
        "",
        "nb",
        "fix a C bug instead of reproducing it: " + ", ".join(QUIRK_HELP) + ", all",
        nb_only=True,
    ),
    Flag(
        "-outdir",
        ("path",),
        "DIR",
        "",
        ".",
        "nb",
        "folder for relative output and dump paths",
        nb_only=True,
    ),
    Flag("-quiet", (), "", "", "off", "nb", "print only warnings and errors", nb_only=True),
    Flag(
        "-force",
        (),
        "",
        "",
        "off",
        "nb",
        "render even when the cost estimate is over the limit (see 'Bad input' in the README)",
        nb_only=True,
    ),
)

_BY_NAME: dict[str, Flag] = {}
for _flag_entry in (*FLAGS, *NB_OPTIONS):
    for _name in _flag_entry.names:
        _BY_NAME[_name] = _flag_entry


def flag_names() -> list[str]:
    """Every accepted flag name (canonical and aliases), single-dash form."""
    return sorted(_BY_NAME)


def _canonical_token(token: str) -> str:
    return token[1:] if token.startswith("--") else token


@dataclass
class ParsedArgs:
    """The result of parsing a ``simulate`` argument list.

    Attributes:
        settings: The C program's settings after its argument loop (and -img/-mask headers).
        c_argv: The C program's arguments (nb-only options removed, ``--x`` written ``-x``).
        nb: nb's own options (``dtype``, ``device``, ``fix``, ``outdir``, ``quiet``, ``force``).
        quirks: Which C bugs to reproduce.
    """

    settings: Settings
    c_argv: list[str]
    nb: dict[str, str | bool] = field(default_factory=dict)
    quirks: Quirks = field(default_factory=Quirks)


def _is_number(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return not math.isnan(value)


_REAL_HINT = "write a decimal such as 12.5, -0.3 or 1e-3 (ASCII digits; no inf, nan or hex)"
_INT_HINT = "write ASCII digits with an optional sign (no '.', exponent, '_' or space)"

#: The smallest value of each count and seed flag (values up to INT_MAX are read), and what
#: the line says is valid.
_INT_MINIMUM: dict[str, tuple[int, str]] = {
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


def _real_value(flag: Flag, text: str) -> float:
    """The value of a real-valued flag: an ASCII decimal, finite once converted."""
    if _DECIMAL_FULL.fullmatch(text) is None:
        message = _unreadable("a number", text, c_atof(text), _FLOAT_RE.match(text))
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
        message = _unreadable("a whole number", text, c_atoi(text), _INT_RE.match(text), _INT_HINT)
        raise InputError(message, flag.name)
    value = int(text)
    low, what = _INT_MINIMUM.get(flag.name, (INT_MIN, "a whole number"))
    if not INT_MIN <= value <= INT_MAX:
        raise InputError(
            f"{_quoted(text)} is outside the C program's int range ({INT_MIN} to {INT_MAX}); "
            f"expected {what}",
            flag.name,
        )
    if value < low:
        raise InputError(f"expected {what}, got {_quoted(text)}", flag.name)
    return value


def _check_value(flag: Flag, kind: ValueKind, text: str) -> None:
    """Refuse ``text`` as a value of kind ``kind`` for ``flag`` unless it is well formed."""
    if kind == "float":
        _real_value(flag, text)
    elif kind == "int":
        _int_value(flag, text)
    elif kind == "absorb":
        if text != "inf" and _DECIMAL_FULL.fullmatch(text) is None:
            expected = "an attenuation depth in µm or 'inf' (no absorption)"
            raise InputError(_unreadable(expected, text, c_atof(text), None), flag.name)
        if text != "inf":
            _real_value(flag, text)
    elif kind == "pivot":
        if text not in ("beam", "sample"):
            raise InputError(f"expected 'beam' or 'sample', got {text!r}", flag.name)
    elif kind in ("path", "word") and text.startswith("-") and text in _BY_NAME:
        raise InputError(f"expected a value, got the flag {text!r}", flag.name)


def _consume(flag: Flag, args: Sequence[str], i: int) -> int:
    """Validate the values of ``flag`` at ``args[i]``; return the index after them."""
    j = i + 1
    for kind in flag.values:
        if kind == "cell":
            # Like the C program, the values end at the first argument that starts with '-'.
            start = j
            while j < len(args) and j - start < 6 and not args[j].startswith("-"):
                _real_value(flag, args[j])
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
                _check_value(flag, "float", args[j + k])
            j += 3
            continue
        if j >= len(args):
            need = len(flag.values)
            what = f"{need} value{'s' if need > 1 else ''} ({flag.metavar})"
            raise InputError(f"needs {what}", flag.name)
        _check_value(flag, kind, args[j])
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


def _unknown(token: str) -> InputError:
    close = difflib.get_close_matches(token, flag_names(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return InputError(f"unknown flag{hint}; see 'nb simulate --help'", token)


def _apply_headers(settings: Settings, args: list[str], *, read: bool = True) -> None:
    """Apply -mask then -img SMV header values, before the flags (as the C program does)."""
    img = mask = None
    for i, arg in enumerate(args):
        if arg.startswith("-") and i + 1 < len(args):
            if "-img" in arg:
                img = args[i + 1]
            if "-mask" in arg:
                mask = args[i + 1]
    settings.mask_file = mask
    settings.img_file = img
    if not read:
        return
    if mask is not None:
        _apply_header(settings, mask, is_mask=True)
    if img is not None:
        _apply_header(settings, img, is_mask=False)


#: The header keys the C program takes from -img and -mask files, whether the value must be
#: positive (else only finite), and what a valid value is.
_HEADER_KEYS: tuple[tuple[str, bool, str], ...] = (
    ("PIXEL_SIZE", True, "a pixel size > 0 mm"),
    ("DISTANCE", True, "a distance > 0 mm"),
    ("CLOSE_DISTANCE", True, "a distance > 0 mm"),
    ("WAVELENGTH", True, "a wavelength > 0 Å"),
    ("BEAM_CENTER_X", False, "a finite beam centre in mm"),
    ("BEAM_CENTER_Y", False, "a finite beam centre in mm"),
    ("ORGX", False, "a finite origin in pixels"),
    ("ORGY", False, "a finite origin in pixels"),
    ("PHI", False, "a finite angle in degrees"),
    ("OSC_RANGE", False, "a finite range in degrees"),
)


def _header_entry(header_text: str, key: str) -> str:
    """The header entry the C program's ``ValueOf`` reads for ``key`` (it takes the key's last
    occurrence, also inside a longer key): from that line's start to the value's ``;``."""
    text = header_text.split("\0", 1)[0]
    found = start = 0
    while (at := text.find(key, start)) >= 0:
        found, start = at, at + len(key)
    line_start = text.rfind("\n", 0, found) + 1
    equals = text.find("=", found + len(key))
    end = len(text) if equals < 0 else equals + 1
    if equals >= 0:
        stop = re.search(r"[;\n}]", text[end:])
        end += stop.start() if stop else len(text) - end
    entry = " ".join(text[line_start:end].split())
    entry = entry if len(entry) <= 60 else entry[:57] + "..."
    return entry if entry.isprintable() else repr(entry)[1:-1]


def _header_values(header_text: str, path: str) -> dict[str, float]:
    """The values of :data:`_HEADER_KEYS` a header gives, read as the C program reads them.

    Args:
        header_text: The SMV header.
        path: The file, for error lines.

    Returns:
        Each key that occurs, with its value (mm, Å, pixels or degrees).

    Raises:
        InputError: A value is not finite, or not positive where it must be.
    """
    values: dict[str, float] = {}
    for key, positive, what in _HEADER_KEYS:
        value = smv_value_of(header_text, key)
        if value is None:
            continue
        if not math.isfinite(value) or (positive and value <= 0):
            entry = _header_entry(header_text, key)
            read_as = "" if entry.startswith(key) else f" (read as {key})"
            raise InputError(f"header {entry}{read_as}: expected {what}", path)
        values[key] = value
    return values


def _apply_header(settings: Settings, path: str, *, is_mask: bool) -> None:
    """Set the detector size and the header's values, as the C program does for -img/-mask.

    Args:
        settings: Updated in place (mm, Å, pixels, degrees).
        path: The SMV file.
        is_mask: A -mask file (its BEAM_CENTER_Y counts from the other edge).

    Raises:
        InputError: The file cannot be read as SMV, or a value it gives is not valid.
    """
    image = read_smv(Path(path))
    values = _header_values(image.header_text, path)
    width, height = image.data.shape[1], image.data.shape[0]
    settings.detpixels = (width, height)
    settings.pixel_mm = values.get("PIXEL_SIZE", settings.pixel_mm)
    detsize_s = settings.pixel_mm / 1000.0 * height
    settings.detsize_mm = (settings.pixel_mm * width, settings.pixel_mm * height)
    settings.distance_mm = values.get("DISTANCE", settings.distance_mm)
    settings.close_distance_mm = values.get("CLOSE_DISTANCE", settings.close_distance_mm)
    settings.lambda_A = values.get("WAVELENGTH", settings.lambda_A)
    settings.xbeam_mm = values.get("BEAM_CENTER_X", settings.xbeam_mm)
    if (v := values.get("BEAM_CENTER_Y")) is not None:
        settings.ybeam_mm = (detsize_s - v / 1000.0) * 1000.0 if is_mask else v
    settings.orgx = values.get("ORGX", settings.orgx)
    settings.orgy = values.get("ORGY", settings.orgy)
    settings.phi_deg = values.get("PHI", settings.phi_deg)
    settings.osc_deg = values.get("OSC_RANGE", settings.osc_deg)


def parse_args(argv: Sequence[str], *, read_headers: bool = True) -> ParsedArgs:
    """Parse a ``simulate`` argument list the way the C program reads its own.

    Args:
        argv: Arguments after the command name (C flags and nb options, ``-x`` or ``--x``).
        read_headers: Read -img/-mask SMV headers (their values apply before the flags).

    Returns:
        The settings, the C argv and nb's own options.

    Raises:
        InputError: An unknown flag, a missing or malformed value, an unreadable header file.
    """
    args = [str(a) for a in argv]
    c_argv: list[str] = []
    nb: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        token = args[i]
        name = _canonical_token(token)
        if not token.startswith("-") or _is_number(token):
            raise InputError(f"unexpected argument {token!r} (values must follow their flag)")
        flag = _BY_NAME.get(name)
        if flag is None:
            raise _unknown(token)
        j = _consume(flag, args, i)
        if flag.nb_only:
            nb[flag.name[1:]] = args[i + 1] if flag.values else True
        else:
            c_argv.extend([name, *args[i + 1 : j]])
        i = j

    quirks = Quirks()
    fixes = str(nb.get("fix", "")) if nb.get("fix") else ""
    for item in filter(None, (x.strip() for x in fixes.split(","))):
        try:
            quirks = quirks.fix(item)
        except KeyError:
            raise InputError(
                f"unknown quirk {item!r}; choose from {', '.join(QUIRK_HELP)}, all", "-fix"
            ) from None

    settings = Settings()
    _apply_headers(settings, c_argv, read=read_headers)
    for i, arg in enumerate(c_argv):
        if not arg.startswith("-") or _is_number(arg):
            continue
        own = _BY_NAME.get(arg)
        for flag in FLAGS:
            stop = False
            for clause in flag.clauses:
                if quirks.flags:
                    if not clause.matches(arg) or len(c_argv) <= i + clause.needs:
                        continue
                elif own is not flag:
                    continue
                acted = clause.action(settings, c_argv[i + 1 :] + [""] * 8)
                if clause.stop or acted is True:
                    stop = True
                    break
            if stop:
                break
        if own is not None and own.name not in settings.given:
            settings.given.append(own.name)
    # The C program seeds with the clock unless told otherwise; -misset_seed defaults to the
    # clock value too (not to -seed).
    clock = -int(time.time())
    if settings.seed is None:
        settings.seed = clock
    if settings.misset_seed is None:
        settings.misset_seed = clock
    return ParsedArgs(settings=settings, c_argv=c_argv, nb=nb, quirks=quirks)


def to_c_argv(parsed: ParsedArgs, **outputs: str) -> list[str]:
    """The C program's argv for a parsed command, with output paths replaced.

    Args:
        parsed: A parsed command.
        **outputs: Output flags to set or replace, e.g. ``floatfile="float.bin"``.

    Returns:
        Arguments after the program name.
    """
    argv: list[str] = []
    args = parsed.c_argv
    replace = {f"-{k}": v for k, v in outputs.items()}
    i = 0
    while i < len(args):
        flag = _BY_NAME[args[i]]
        j = _consume(flag, args, i)
        if flag.name in replace or any(a in replace for a in flag.names):
            i = j
            continue
        argv.extend(args[i:j])
        i = j
    for name, value in replace.items():
        argv.extend([name, value])
    return argv
