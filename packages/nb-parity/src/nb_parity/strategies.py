"""Hypothesis strategies that draw valid nanoBragg command lines, with their input files.

:func:`geometries` draws a :class:`Geometry`: an argv that both the C program and ``nb
simulate`` accept, the files it names (``name -> bytes``) and the image size it renders. The
runners in :mod:`nb_parity.runs` take ``geometry.argv`` and ``geometry.files`` as they are and
pass the same argv to both programs, so every number is printed in a form that C ``atof`` and
Python ``float`` read as the same double (short positional decimals, or ``<decimal>e<exp>``).

The building blocks are strategies too (:func:`cells`, :func:`missets`, :func:`conventions`,
:func:`detector_rotations`, :func:`pivots`, :func:`beam_centres`, :func:`shapes`,
:func:`oversampling`, :func:`phi_sweeps`, :func:`mosaics`, :func:`polarizations`,
:func:`divergences`, :func:`dispersions`, :func:`sourcefiles`, :func:`detector_absorptions`,
:func:`hkl_files`, :func:`rois`, :func:`masks`, :func:`img_headers`, :func:`extras`). Each
returns a :class:`Part`: flag groups (one flag and its values each), files, and an upper bound
on the factor it multiplies the per-pixel work by. Every block can draw "nothing" and has
anchors (90-degree cells, no misset, the default MOSFLM convention, one step) that Hypothesis
shrinks towards. :func:`geometries` draws from three tiers, simplest first: :data:`SIMPLE_CUBIC`,
the simple case with one building block added (:func:`single_feature_geometries`), and
everything at once (:func:`full_geometries`), so failures shrink to short, readable command
lines.

Size: detectors are 16-72 pixels a side, and pixels x oversample^2 x sources x phi steps x
mosaic domains x sensor layers stays under :data:`MAX_EVALUATIONS` (an upper bound computed
with the C program's own step rules, including its automatic oversampling), so a case runs in
well under a second in either program.

Order: flags are drawn in a canonical order; sometimes the flag groups are permuted, which
exercises the C program's order-dependent rules (the last of ``-polar``/``-nopolar`` wins, a
convention flag after custom vectors discards them, ``-twotheta_axis`` also sets
``-twotheta`` and ``-misset_seed`` also sets ``-misset`` from the next three arguments,
``-detector_abs inf`` resets ``-detector_thick``). Flags that would override each other's
step counts (``-divergence`` with ``-hdivrange``, ``-divsteps`` with ``-hdivsteps``) are
never drawn together, so the work bound holds in any order.

Excluded, and why:

- Output, noise and console flags (``-floatfile``, ``-intfile``, ``-noisefile``, ``-pgmfile``,
  ``-nonoise``, ``-nopgm``, ``-noprogress``, ``-printout``, ``-seed``, ``-scale``, ``-adc``,
  ``-pgmscale``): the runners set the outputs themselves, and none of these changes the float
  image that the parity tests compare.
- A flag that reads values as the last argument (the C program then reads ``argv[argc]``):
  the runners always append their output flags, so no drawn flag is ever last.
- ``-misset random`` without ``-misset_seed``: the C program seeds it from the clock.
- ``-dump``, ``-mat``, ``-stol``/``-4stol``/``-Q``/``-stolout``, ``-coherent``, ``-xtalsize``
  and the other sample-size flags, ``-density``/``-MW``: a dump file is a second way to
  give the same structure factors; the matrix file, the sample-size flags and auto
  oversampling from them are not drawn (only the cell and N are); the amorphous-scattering
  files and ``-coherent``, ``-density``, ``-MW`` do not change the float image.
- Zero oscillation with ``-phistep`` (``-osc 0 -phistep x``): the C program then runs zero
  phi steps and divides by zero (a NaN image).
- Masks and ``-img`` headers whose size differs from the detector's: the C program then reads
  past the end of its mask buffer.
- Sourcefile lines without a trailing newline (the C program's reader then invents values),
  and sources far from the beam; beam vectors nearly perpendicular to the detector normal
  (``ratio`` near 0, where the C program divides by ``DBL_MIN``).
- Degenerate cells: angles are drawn 60-120 degrees with a 10-degree margin on the triangle
  inequalities and on alpha+beta+gamma < 360.
- Non-positive ``-mosaic_seed`` and ``-misset_seed`` values, ``-roi`` boxes outside the
  detector or empty, negative step counts.
"""

from __future__ import annotations

import functools
import math
import shlex
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from hypothesis import strategies as st

from nb_core.io import write_smv

__all__ = [
    "MAX_EVALUATIONS",
    "MAX_PIXELS",
    "MIN_PIXELS",
    "SIMPLE_CUBIC",
    "Cell",
    "Convention",
    "Geometry",
    "Part",
    "beam_centres",
    "cells",
    "conventions",
    "crystal_sizes",
    "default_fs",
    "detector_absorptions",
    "detector_rotations",
    "dispersions",
    "divergences",
    "extras",
    "fmt",
    "full_geometries",
    "geometries",
    "hkl_files",
    "hkl_text",
    "img_headers",
    "interpolations",
    "mask_bytes",
    "masks",
    "missets",
    "mosaics",
    "oversampling",
    "phi_sweeps",
    "pivots",
    "polarizations",
    "rois",
    "shapes",
    "single_feature_geometries",
    "smv_bytes",
    "sourcefiles",
    "wavelengths",
]

#: Upper bound on pixels x oversample^2 x sources x phi steps x domains x layers per case.
MAX_EVALUATIONS = 200_000
#: Smallest detector edge drawn (pixels).
MIN_PIXELS = 16
#: Largest detector edge drawn (pixels).
MAX_PIXELS = 72

Group = tuple[str, ...]
_BOOLS = st.booleans()
Vec3 = tuple[float, float, float]
VecLike = Sequence[float] | np.ndarray


# ---- the drawn command line -------------------------------------------------------------------


@dataclass(frozen=True)
class Geometry:
    """A valid nanoBragg command line, the files it reads and the image it renders.

    Attributes:
        argv: Flags and values (no program name, no output flags).
        files: Input files to place in the working folder: name -> content.
        fpixels: Image width (fast pixels).
        spixels: Image height (slow pixels).
    """

    argv: tuple[str, ...]
    files: Mapping[str, bytes] = field(default_factory=dict)
    fpixels: int = 0
    spixels: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", tuple(str(a) for a in self.argv))
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    def __hash__(self) -> int:
        return hash((self.argv, tuple(sorted(self.files.items())), self.fpixels, self.spixels))

    def __repr__(self) -> str:
        files = ", ".join(f"{name!r}: <{len(data)} bytes>" for name, data in self.files.items())
        return (
            f"{type(self).__name__}(argv={self.argv!r}, files={{{files}}}, "
            f"fpixels={self.fpixels}, spixels={self.spixels})"
        )

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        """Hypothesis's pretty printer: the short :meth:`__repr__` (no file contents)."""
        p.text(repr(self))  # type: ignore[attr-defined]

    def command(self, c_bin: str = "$NB_C_BIN", outdir: str = "out") -> str:
        """The ``nb compare`` command that reruns this case against the C program.

        Args:
            c_bin: The C binary (left unquoted, so that ``$NB_C_BIN`` expands).
            outdir: Folder for the comparison report.

        Returns:
            A shell command line.
        """
        args = " ".join(shlex.quote(a) for a in self.argv)
        return f"nb compare --c-bin {c_bin} --outdir {shlex.quote(outdir)} -- {args}"

    def write_files(self, folder: str | Path) -> Path:
        """Write :attr:`files` into ``folder`` (created if needed) and return it."""
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (out / name).write_bytes(data)
        return out

    def describe(self, *, max_text: int = 2000) -> str:
        """A ready-to-run description: the command, then each file (text files inline).

        Args:
            max_text: Largest text file shown in full (larger ones are summarized).

        Returns:
            Several lines of text.
        """
        lines = [self.command()]
        if self.files:
            lines.append("with these files in the working folder:")
        for name, data in self.files.items():
            text = _as_text(data)
            if text is not None and len(data) <= max_text:
                lines.append(f"cat > {name} <<'EOF'\n{text.rstrip(chr(10))}\nEOF")
            elif text is not None:
                count = text.count("\n")
                lines.append(f"{name}: {count} lines, {len(data)} bytes (see the saved copy)")
            else:
                lines.append(f"{name}: {len(data)} bytes of binary data (see the saved copy)")
        return "\n".join(lines)


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        return None
    return text if all(c.isprintable() or c in "\n\t" for c in text) else None


@dataclass(frozen=True, kw_only=True)
class Part:
    """A piece of a command line.

    Attributes:
        groups: Flag groups, each one flag and its values.
        files: Files the groups name: ``(name, content)`` pairs.
        factor: Upper bound on the factor this part multiplies the per-pixel work by.
    """

    groups: tuple[Group, ...] = ()
    files: tuple[tuple[str, bytes], ...] = ()
    factor: int = 1

    @property
    def argv(self) -> tuple[str, ...]:
        """The groups, flattened."""
        return tuple(token for group in self.groups for token in group)

    def flags(self) -> tuple[str, ...]:
        """The flag of each group."""
        return tuple(group[0] for group in self.groups)


@dataclass(frozen=True, kw_only=True)
class Cell(Part):
    """A ``-cell`` part and the cell it gives.

    Attributes:
        lengths: a, b, c (Å).
        angles: alpha, beta, gamma (degrees).
    """

    lengths: Vec3
    angles: Vec3


@dataclass(frozen=True, kw_only=True)
class Convention(Part):
    """A convention part.

    Attributes:
        name: ``mosflm``, ``xds``, ``adxv``, ``denzo``, ``dials`` or ``custom`` (what the
            groups select in their canonical order).
        beam: Unit vector along the beam (direction of propagation).
        custom: Whether custom vectors are given.
    """

    name: str
    beam: Vec3
    custom: bool = False


NOTHING = Part()

#: The simplest valid case: a primitive cubic cell, MOSFLM default convention, no files.
# fmt: off
SIMPLE_CUBIC = Geometry(
    argv=(
        "-cell", "100", "100", "100", "90", "90", "90",
        "-lambda", "1",
        "-N", "5",
        "-default_F", "100",
        "-detpixels", "32",
        "-distance", "100",
        "-pixel", "0.1",
        "-oversample", "1",
    ),
    files={},
    fpixels=32,
    spixels=32,
)
# fmt: on


# ---- numbers ----------------------------------------------------------------------------------


def fmt(value: float) -> str:
    """Print a float so that C ``atof`` and Python ``float`` read back exactly ``value``.

    The shortest positional decimal that identifies the double (no exponent, no ``-0``).

    Args:
        value: A finite float.

    Returns:
        The decimal text.
    """
    if value == 0:
        return "0"
    if not math.isfinite(value):
        raise ValueError(f"cannot print {value!r} as a command-line number")
    return str(np.format_float_positional(value, unique=True, trim="-"))


@functools.cache
def _decimal(lo: float, hi: float, places: int) -> st.SearchStrategy[float]:
    """Decimals with ``places`` digits in ``[lo, hi]``, shrinking towards 0 (or the bound).

    Cached: Hypothesis validates each new strategy object, which dominates drawing time.
    """
    scale = 10**places
    return st.integers(round(lo * scale), round(hi * scale)).map(lambda n: n / scale)


@functools.cache
def _choice(*options: Any) -> st.SearchStrategy[Any]:
    """``sampled_from(options)``, cached (shrinks towards the first option)."""
    return st.sampled_from(options)


@functools.cache
def _ints(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``integers(lo, hi)``, cached."""
    return st.integers(lo, hi)


@functools.cache
def _anchored(anchor: Any, lo: float, hi: float, places: int) -> st.SearchStrategy[float]:
    """The anchor value or a decimal in ``[lo, hi]`` (shrinks to the anchor), cached."""
    return st.one_of(st.just(anchor), _decimal(lo, hi, places))


_CELL_LENGTHS = st.one_of(
    st.just((100.0, 100.0, 100.0)),
    st.tuples(_decimal(30, 150, 3), _decimal(30, 150, 3), _decimal(30, 150, 3)),
)
_CELL_ANGLES = st.one_of(
    st.just((90.0, 90.0, 90.0)),
    _decimal(90, 120, 3).map(lambda b: (90.0, b, 90.0)),
    st.just((90.0, 90.0, 120.0)),
    st.tuples(_decimal(60, 120, 3), _decimal(60, 120, 3), _decimal(60, 120, 3)).filter(
        lambda t: valid_cell_angles(*t)
    ),
)
_CELL_COUNTS = st.one_of(_ints(1, 9), st.just(0))
_DEFAULT_F = st.one_of(st.just(100.0), _decimal(1, 1000, 2), st.just(0.0))
_DISPERSION = st.one_of(_decimal(0.01, 5.0, 3), st.just(0.0))
_MOSAIC_SPREAD = st.one_of(_decimal(0.001, 2.0, 3), st.just(0.0))
_CUBE = st.tuples(_decimal(-1, 1, 3), _decimal(-1, 1, 3), _decimal(-1, 1, 3))


def _rarely(draw: st.DrawFn, percent: int) -> bool:
    """True about ``percent`` % of the time; shrinks to False."""
    return draw(_ints(0, 99)) >= 100 - percent


def _vec_group(flag: str, v: VecLike, places: int = 6) -> Group:
    return (flag, *(fmt(round(float(x), places) + 0.0) for x in v))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _rotation(ax: float, ay: float, az: float) -> np.ndarray:
    """The matrix of rotations about x, then y, then z (degrees)."""
    x, y, z = np.radians([ax, ay, az])
    rx = np.array([[1, 0, 0], [0, math.cos(x), -math.sin(x)], [0, math.sin(x), math.cos(x)]])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rz = np.array([[math.cos(z), -math.sin(z), 0], [math.sin(z), math.cos(z), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _perpendiculars(beam: VecLike) -> tuple[np.ndarray, np.ndarray]:
    b = _unit(np.asarray(beam, dtype=np.float64))
    helper = np.array([0.0, 0.0, 1.0]) if abs(b[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = _unit(np.cross(b, helper))
    return u, np.cross(b, u)


# ---- the C program's step rules (for the work bound only) -------------------------------------


def _phi_steps(osc: float | None, phistep: float | None, phisteps: int | None) -> int:
    """Phi steps the C program runs (ceil results get one step of margin)."""
    o = -1.0 if osc is None else osc
    s = -1.0 if phistep is None else phistep
    n = -1 if phisteps is None else phisteps
    if n < 0:
        if o < 0.0:
            return 1 if s <= 0.0 else 2
        if s <= 0.0:
            return 2
        return math.ceil(o / s) + 1
    if n == 0:
        n = 1
    if o < 0.0 and s > 0.0:
        return 2
    return n


def _axis(
    value: float | None,
    step: float | None,
    steps: int | None,
    *,
    value_default: float = -1.0,
    scale: float = 1000.0,
) -> tuple[int, float, float]:
    """(steps, range, step) of a divergence or dispersion axis after the C program's rules and
    sanity checks; ``value`` and ``step`` are in flag units, ``scale`` of them make the C
    program's unit (mrad per rad)."""
    v = value_default if value is None else value
    s = -1.0 if step is None else step
    n = -1 if steps is None else steps
    if n <= 0:
        if v < 0.0:
            if s <= 0.0:
                return 1, 0.0, 0.0
            v, n = s, 2
        elif s <= 0.0:
            s, n = v, 2
        else:
            n = math.ceil((v / scale) / (s / scale))
    elif v < 0.0:
        if s <= 0.0:
            v = scale
            s = v / n
        else:
            v, n = s, 2
    elif s <= 0.0:
        n = max(n, 2)
        s = v / (n - 1)
    if v <= 0.0 or s <= 0.0 or n <= 0:
        return 1, 0.0, 0.0
    return n, v, s


def _axis_steps(
    value: float | None, step: float | None, steps: int | None, *, value_default: float = -1.0
) -> int:
    """Steps of a (range, step, count) triple after the C program's rules."""
    return _axis(value, step, steps, value_default=value_default)[0]


def _divergence_sources(
    h: tuple[float | None, float | None, int | None],
    v: tuple[float | None, float | None, int | None],
    round_div: bool,
) -> tuple[int, int]:
    """(directions the C program keeps, upper bound on them) for divergence settings in mrad.

    The count follows the C program's elliptical cut (with its NaN when a range is 0); the
    bound is the full grid.
    """
    hn, hr, hs = _axis(*h)
    vn, vr, vs = _axis(*v)
    kept = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(hn):
            for j in range(vn):
                hd = (hs * i - hr / 2.0) / 1000.0
                vd = (vs * j - vr / 2.0) / 1000.0
                test = (
                    np.float64(hd * hd - (hs / 1000.0) ** 2 / 4.0 * (1 - hn % 2))
                    / np.float64(hr / 1000.0) ** 2
                )
                test += (
                    np.float64(vd * vd - (vs / 1000.0) ** 2 / 4.0 * (1 - vn % 2))
                    / np.float64(vr / 1000.0) ** 2
                )
                if not (round_div and bool(test * 4.0 > 1.1)):
                    kept += 1
    return kept, hn * vn


# ---- crystal ----------------------------------------------------------------------------------


def valid_cell_angles(alpha: float, beta: float, gamma: float, margin: float = 10.0) -> bool:
    """Whether three cell angles (degrees) make a well-conditioned triclinic cell.

    Args:
        alpha: Angle between b and c.
        beta: Angle between a and c.
        gamma: Angle between a and b.
        margin: Degrees kept away from each degenerate limit.

    Returns:
        alpha+beta+gamma < 360 and each angle < the sum of the other two, with the margin.
    """
    return (
        alpha + beta + gamma < 360.0 - margin
        and alpha < beta + gamma - margin
        and beta < alpha + gamma - margin
        and gamma < alpha + beta - margin
    )


@st.composite
def cells(draw: st.DrawFn) -> Cell:
    """``-cell a b c alpha beta gamma``: lengths 30-150 Å, valid triclinic angles.

    Anchors: 100 Å cubic, 90-degree angles, the monoclinic and hexagonal special cases;
    90-degree cells are sometimes written with three values (the angles then default to 90).
    """
    lengths = draw(_CELL_LENGTHS)
    angles = draw(_CELL_ANGLES)
    values = [fmt(x) for x in (*lengths, *angles)]
    if angles == (90.0, 90.0, 90.0) and _rarely(draw, 25):
        values = values[:3]
    return Cell(groups=(("-cell", *values),), lengths=lengths, angles=angles)


@st.composite
def crystal_sizes(draw: st.DrawFn) -> Part:
    """``-N`` or ``-Na``/``-Nb``/``-Nc`` (0-9 cells; 0 and 1 mean one cell, N <= 2 turns
    on interpolation when there is an HKL file)."""
    n = _CELL_COUNTS
    kind = draw(_choice("N", "each", "some", "none"))
    if kind == "N":
        return Part(groups=(("-N", str(draw(n))),))
    if kind == "none":
        return NOTHING
    groups = []
    for flag in ("-Na", "-Nb", "-Nc"):
        if kind == "each" or draw(_BOOLS):
            groups.append((flag, str(draw(n))))
    return Part(groups=tuple(groups))


def _sizes_of(part: Part) -> Vec3:
    """The (Na, Nb, Nc) a crystal-size part resolves to (at least 1 each)."""
    n = [1.0, 1.0, 1.0]
    for group in part.groups:
        value = max(1.0, float(group[1]))
        if group[0] == "-N":
            n = [value, value, value]
        else:
            n[["-Na", "-Nb", "-Nc"].index(group[0])] = value
    return (n[0], n[1], n[2])


@st.composite
def missets(draw: st.DrawFn) -> Part:
    """``-misset`` angles (degrees), or ``-misset random`` with a ``-misset_seed``.

    Anchors: no misset, ``-misset 0 0 0``. The seed usually comes first; after ``-misset
    random`` it also sets the angles from the next three arguments (a C quirk nb follows).
    """
    kind = draw(_choice("none", "zero", "angles", "random"))
    if kind == "none":
        return NOTHING
    if kind == "zero":
        return Part(groups=(("-misset", "0", "0", "0"),))
    if kind == "angles":
        angle = _decimal(-180, 180, 3)
        return Part(groups=(("-misset", *(fmt(draw(angle)) for _ in range(3))),))
    seed = ("-misset_seed", str(draw(_ints(1, 2**31 - 1))))
    rand = ("-misset", "random")
    return Part(groups=(rand, seed) if _rarely(draw, 20) else (seed, rand))


@st.composite
def wavelengths(draw: st.DrawFn) -> tuple[Part, float]:
    """``-lambda`` (0.5-3 Å, anchor 1), ``-wavelength`` or ``-energy`` (eV); also the Å value."""
    kind = draw(_choice("lambda", "energy", "wavelength"))
    if kind == "energy":
        ev = draw(_anchored(12398.42, 4000, 25000, 1))
        return Part(groups=(("-energy", fmt(ev)),)), 12398.42 / ev
    value = draw(_anchored(1.0, 0.5, 3.0, 4))
    return Part(groups=((f"-{kind}", fmt(value)),)), value


@st.composite
def default_fs(draw: st.DrawFn, *, required: bool = True) -> Part:
    """``-default_F`` (anchor 100); optional when an HKL file gives the structure factors."""
    if not required and draw(_BOOLS):
        return NOTHING
    value = draw(_DEFAULT_F)
    if required and value == 0.0:
        value = 100.0
    return Part(groups=(("-default_F", fmt(value)),))


def hkl_text(
    lo: tuple[int, int, int],
    hi: tuple[int, int, int],
    seed: int,
    *,
    fill: float = 1.0,
    fmax: float = 1000.0,
) -> str:
    """A P1 HKL file: ``h k l F`` lines over a box of indices, F random but reproducible.

    Args:
        lo: Smallest h, k, l.
        hi: Largest h, k, l.
        seed: Seed of the random amplitudes and of which reflections are listed.
        fill: Fraction of the box listed (the corners are always listed).
        fmax: Largest amplitude.

    Returns:
        The file's text, one reflection per line, each line ending in a newline.
    """
    rng = np.random.default_rng(seed)
    axes = [np.arange(a, b + 1) for a, b in zip(lo, hi, strict=True)]
    h, k, l = (g.reshape(-1) for g in np.meshgrid(*axes, indexing="ij"))
    keep = rng.random(h.size) < fill
    keep[0] = keep[-1] = True
    amplitudes = np.round(rng.uniform(0.0, fmax, h.size), 2)
    lines = [
        f"{hh} {kk} {ll} {fmt(float(f))}\n"
        for hh, kk, ll, f, use in zip(h, k, l, amplitudes, keep, strict=True)
        if use
    ]
    return "".join(lines)


@st.composite
def hkl_files(draw: st.DrawFn) -> Part:
    """``-hkl P1.hkl``: a small random P1 HKL file (optionally sparse)."""
    lo = tuple(-draw(_ints(0, 6)) for _ in range(3))
    hi = tuple(draw(_ints(0, 6)) for _ in range(3))
    seed = draw(_ints(0, 2**16))
    fill = draw(_choice(1.0, 0.6, 0.2))
    text = hkl_text((lo[0], lo[1], lo[2]), (hi[0], hi[1], hi[2]), seed, fill=fill)
    return Part(groups=(("-hkl", "P1.hkl"),), files=(("P1.hkl", text.encode()),))


@st.composite
def interpolations(draw: st.DrawFn) -> Part:
    """``-interpolate``, ``-nointerpolate`` or neither (automatic: on when any N <= 2)."""
    flag = draw(_choice("", "-interpolate", "-nointerpolate"))
    return Part(groups=((flag,),)) if flag else NOTHING


@st.composite
def shapes(draw: st.DrawFn) -> Part:
    """Crystal shape switch (square by default) and ``-fudge``."""
    flag = draw(
        _choice("", "-square_xtal", "-round_xtal", "-gauss_xtal", "-tophat_spots", "-binary_spots")
    )
    groups: list[Group] = [(flag,)] if flag else []
    if _rarely(draw, 30):
        groups.append(("-fudge", fmt(draw(_decimal(0.2, 3.0, 3)))))
    return Part(groups=tuple(groups))


# ---- beam, sweeps and sampling ----------------------------------------------------------------


@st.composite
def polarizations(draw: st.DrawFn) -> Part:
    """``-polar K`` (Kahn factor 0-1), ``-nopolar``, both (the later one wins), or neither."""
    kind = draw(_choice("none", "polar", "nopolar", "polar+nopolar", "nopolar+polar"))
    polar = ("-polar", fmt(draw(_decimal(0, 1, 3))))
    if kind == "none":
        return NOTHING
    if kind == "polar":
        return Part(groups=(polar,))
    if kind == "nopolar":
        return Part(groups=(("-nopolar",),))
    if kind == "polar+nopolar":
        return Part(groups=(polar, ("-nopolar",)))
    return Part(groups=(("-nopolar",), polar))


def _joint_or_split(
    draw: st.DrawFn,
    values: st.SearchStrategy[Any],
    flags: tuple[str, str, str],
    show: Callable[[Any], str],
    groups: list[Group],
) -> tuple[Any, Any]:
    """Draw one flag that sets both directions, or each of the two per-direction flags (or
    neither); append what was drawn to ``groups`` and return the (horizontal, vertical) values."""
    joint, horizontal, vertical = flags
    if draw(_BOOLS):
        value = draw(values)
        groups.append((joint, show(value)))
        return value, value
    h = v = None
    if draw(_BOOLS):
        h = draw(values)
        groups.append((horizontal, show(h)))
    if draw(_BOOLS):
        v = draw(values)
        groups.append((vertical, show(v)))
    return h, v


@st.composite
def divergences(draw: st.DrawFn, max_sources: int = 16) -> Part:
    """Beam divergence: ``-divergence``/``-hdivrange``/``-vdivrange`` (mrad), steps, step sizes,
    ``-round_div``/``-square_div``. ``factor`` bounds the number of divergence directions."""
    if max_sources <= 1 or not draw(_BOOLS):
        return NOTHING
    rng_mrad = _decimal(0.01, 2.0, 3)
    steps = _ints(1, 4)
    groups: list[Group] = []
    h_step = v_step = None
    h_range, v_range = _joint_or_split(
        draw, rng_mrad, ("-divergence", "-hdivrange", "-vdivrange"), fmt, groups
    )
    h_steps, v_steps = _joint_or_split(
        draw, steps, ("-divsteps", "-hdivsteps", "-vdivsteps"), str, groups
    )
    if _rarely(draw, 30):
        h_step = draw(_decimal(0.3, 1.0, 2)) * (h_range or 1.0)
        groups.append(("-hdivstep", fmt(round(h_step, 6))))
        h_step = round(h_step, 6)
    if _rarely(draw, 30):
        v_step = draw(_decimal(0.3, 1.0, 2)) * (v_range or 1.0)
        groups.append(("-vdivstep", fmt(round(v_step, 6))))
        v_step = round(v_step, 6)
    shape = draw(_choice("", "-round_div", "-square_div"))
    if shape:
        groups.append((shape,))
    kept, count = _divergence_sources(
        (h_range, h_step, h_steps), (v_range, v_step, v_steps), shape != "-square_div"
    )
    if count > max_sources or kept == 0:  # no source: the C program writes a NaN image
        return NOTHING
    return Part(groups=tuple(groups), factor=count)


@st.composite
def dispersions(draw: st.DrawFn, max_steps: int = 4) -> Part:
    """Spectral dispersion: ``-dispersion`` (percent) and ``-dispsteps``."""
    if max_steps <= 1 or not draw(_BOOLS):
        return NOTHING
    groups: list[Group] = []
    value = steps = None
    if draw(_ints(0, 9)) < 8:
        value = draw(_DISPERSION)
        groups.append(("-dispersion", fmt(value)))
    if draw(_BOOLS):
        steps = draw(_ints(1, min(4, max_steps)))
        groups.append(("-dispsteps", str(steps)))
    count = _axis_steps(value, None, steps, value_default=0.0)
    if count > max_steps:
        return NOTHING
    return Part(groups=tuple(groups), factor=count)


@st.composite
def sourcefiles(
    draw: st.DrawFn,
    beam: VecLike = (1.0, 0.0, 0.0),
    lambda_a: float = 1.0,
    max_sources: int = 4,
) -> Part:
    """``-sourcefile sources.txt``: 1-4 point sources about 10 m up the beam, within a few
    mrad of it, each line ``X Y Z [I [lambda]]`` (m, m, m, any, m)."""
    count = draw(_ints(1, max(1, min(4, max_sources))))
    b = _unit(np.asarray(beam, dtype=np.float64))
    u, v = _perpendiculars(b)
    mrad = _decimal(-2.0, 2.0, 3)
    lines = []
    for _ in range(count):
        pos = -10.0 * b + 10.0 * (draw(mrad) * 1e-3 * u + draw(mrad) * 1e-3 * v)
        cols = [fmt(round(float(x), 7) + 0.0) for x in pos]
        columns = draw(_choice(5, 3, 4))
        if columns >= 4:
            cols.append(fmt(draw(_anchored(1.0, 0.1, 5.0, 2))))
        if columns == 5:
            rel = draw(_decimal(-0.02, 0.02, 4))
            lam = round(lambda_a * (1.0 + rel), 6)
            cols.append(f"{fmt(lam)}e-10")
        lines.append(" ".join(cols) + "\n")
    text = "".join(lines)
    return Part(
        groups=(("-sourcefile", "sources.txt"),),
        files=(("sources.txt", text.encode()),),
        factor=count,
    )


@st.composite
def oversampling(draw: st.DrawFn, max_factor: int = 9) -> Part:
    """``-oversample N`` (1-3, N^2 <= max_factor) and the ``-oversample_thick/_polar/_omega``
    switches. ``factor`` is N^2."""
    top = max(1, min(3, math.isqrt(max(1, max_factor))))
    n = draw(_ints(1, top))
    groups: list[Group] = [("-oversample", str(n))]
    for switch in ("-oversample_thick", "-oversample_polar", "-oversample_omega"):
        if _rarely(draw, 20):
            groups.append((switch,))
    return Part(groups=tuple(groups), factor=n * n)


@st.composite
def phi_sweeps(draw: st.DrawFn, max_steps: int = 4) -> Part:
    """Spindle sweeps: ``-phi`` (start, anchor 0), ``-osc``, ``-phisteps``, ``-phistep``.

    Every combination the C program's rules resolve (osc alone: 2 steps; phisteps alone: a
    1-degree sweep; osc with phistep: ceil(osc/phistep) steps; ...). A sweep that lands
    exactly on phi = 0 reuses the previous rotation (a C quirk nb follows); the "crossing"
    form starts at -k x step so that a later step lands on (or next to) 0.
    """
    if max_steps <= 0 or not draw(_BOOLS):
        return NOTHING
    if max_steps >= 2 and _rarely(draw, 20):
        n = draw(_ints(2, min(4, max_steps)))
        step = draw(_anchored(1.0, 0.01, 2.0, 3))
        k = draw(_ints(1, n - 1))
        return Part(
            groups=(
                ("-phi", fmt(-round(k * step, 6))),
                ("-osc", fmt(round(n * step, 6))),
                ("-phisteps", str(n)),
            ),
            factor=n,
        )
    groups: list[Group] = []
    if draw(_BOOLS):
        groups.append(("-phi", fmt(draw(_anchored(0.0, -30, 30, 3)))))
    osc = phistep = phisteps = None
    form = draw(_choice("osc+steps", "osc", "steps", "step", "osc+step", "all"))
    if "osc" in form or form == "all":
        osc = draw(_anchored(1.0, 0.01, 5.0, 3))
        groups.append(("-osc", fmt(osc)))
    if "steps" in form or form == "all":
        phisteps = draw(_ints(0, 4))
        groups.append(("-phisteps", str(phisteps)))
    if form in ("step", "osc+step", "all"):
        if osc is not None and phisteps is None:
            phistep = round(osc / draw(_ints(1, 3)) * draw(_decimal(1.0, 1.5, 2)), 4)
        else:
            phistep = draw(_decimal(0.01, 2.0, 3))
        if phistep <= 0:
            phistep = 0.01
        groups.append(("-phistep", fmt(phistep)))
    count = _phi_steps(osc, phistep, phisteps)
    if count > max_steps:
        return NOTHING
    return Part(groups=tuple(groups), factor=count)


@st.composite
def mosaics(draw: st.DrawFn, max_domains: int = 6) -> Part:
    """Mosaicity: ``-mosaic`` (degrees), ``-mosaic_dom``, ``-mosaic_seed`` (aliases too).

    ``-mosaic`` alone makes 10 domains; ``-mosaic 0`` or ``-mosaic_dom`` alone make 1.
    """
    if max_domains <= 0 or not draw(_BOOLS):
        return NOTHING
    spread_flag = draw(_choice("-mosaic", "-mosaic_spread", "-mosaicity"))
    dom_flag = draw(_choice("-mosaic_dom", "-mosaic_domains"))
    groups: list[Group] = []
    spread = None
    if draw(_ints(0, 9)) < 9:
        spread = draw(_MOSAIC_SPREAD)
        groups.append((spread_flag, fmt(spread)))
    domains = None
    if draw(_ints(0, 9)) < 8:
        domains = draw(_ints(1, 6))
        groups.append((dom_flag, str(domains)))
    if draw(_BOOLS):
        groups.append(("-mosaic_seed", str(draw(_ints(1, 2**31 - 1)))))
    if spread is None or spread == 0.0:
        count = 1
    else:
        count = domains if domains is not None else 10
    if count > max_domains:
        return NOTHING
    return Part(groups=tuple(groups), factor=count)


@st.composite
def detector_absorptions(draw: st.DrawFn, max_layers: int = 4) -> Part:
    """Sensor absorption: ``-detector_abs``/``-detector_absorb`` (µm, ``inf`` or 0 for none),
    ``-detector_thick`` (µm), ``-thicksteps``/``-detector_thicksteps``."""
    if not draw(_BOOLS):
        return NOTHING
    groups: list[Group] = []
    if draw(_ints(0, 9)) < 8:
        value = draw(_choice("value", "value", "inf", "0"))
        if value == "value":
            value = fmt(draw(_decimal(20, 1000, 1)))
        groups.append((draw(_choice("-detector_abs", "-detector_absorb")), value))
    thick = None
    if draw(_ints(0, 9)) < 8:
        thick = draw(_decimal(10, 500, 1))
        groups.append(("-detector_thick", fmt(thick)))
    steps = None
    if draw(_BOOLS):
        steps = draw(_ints(1, 4))
        flag = draw(_choice("-thicksteps", "-detector_thicksteps"))
        groups.append((flag, str(steps)))
    count = 1 if thick is None else max(2, steps or 2)
    if count > max_layers:
        return NOTHING
    return Part(groups=tuple(groups), factor=count)


# ---- detector ---------------------------------------------------------------------------------

_BEAMS: dict[str, Vec3] = {
    "mosflm": (1.0, 0.0, 0.0),
    "denzo": (1.0, 0.0, 0.0),
    "xds": (0.0, 0.0, 1.0),
    "dials": (0.0, 0.0, 1.0),
    "adxv": (0.0, 0.0, 1.0),
}
#: (fdet, sdet, odet, beam) of the frames custom vectors start from.
_FRAMES: dict[str, tuple[Vec3, Vec3, Vec3, Vec3]] = {
    "mosflm": ((0.0, 0.0, 1.0), (0.0, -1.0, 0.0), (1.0, 0.0, 0.0), (1.0, 0.0, 0.0)),
    "xds": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.0, 0.0, 1.0)),
}


@st.composite
def conventions(draw: st.DrawFn) -> Convention:
    """The beam-centre convention: none (MOSFLM by default), ``-mosflm``, ``-xds``, ``-adxv``,
    ``-denzo``, ``-dials``, or custom vectors.

    Custom vectors: an orthonormal ``-fdet_vector``/``-sdet_vector`` pair (a rotated MOSFLM or
    XDS frame) with ``-odet_vector`` = fdet x sdet, a ``-beam_vector`` within 20 degrees of the
    detector normal, and optionally ``-spindle_axis``, ``-twotheta_axis``, ``-polar_vector``
    (perpendicular to the beam) and ``-pix0_vector`` (read and ignored by the C program);
    sometimes after a named convention flag, which then only sets the pivot.
    """
    name = draw(_choice("default", "mosflm", "xds", "adxv", "denzo", "dials", "custom"))
    if name == "default":
        return Convention(name="mosflm", beam=_BEAMS["mosflm"])
    if name != "custom":
        return Convention(groups=((f"-{name}",),), name=name, beam=_BEAMS[name])

    groups: list[Group] = []
    if _rarely(draw, 20):
        groups.append((draw(_choice("-mosflm", "-xds", "-adxv", "-denzo", "-dials")),))
    base = draw(_choice("mosflm", "xds"))
    f, s, o, beam = (np.asarray(v, dtype=np.float64) for v in _FRAMES[base])
    detector = base != "mosflm" or draw(_BOOLS)
    if detector and draw(_BOOLS):
        angle = _decimal(-180, 180, 3)
        rot = _rotation(draw(angle), draw(angle), draw(angle))
        f, s, o, beam = rot @ f, rot @ s, rot @ o, rot @ beam
    if draw(_BOOLS):
        tilt = _decimal(-20, 20, 3)
        beam = _rotation(draw(tilt), draw(tilt), 0.0) @ beam
        if float(np.dot(beam, o)) < 0.5:  # keep the beam well onto the detector
            beam = o.copy()
    if detector:
        groups.append(_vec_group("-fdet_vector", f))
        groups.append(_vec_group("-sdet_vector", s))
        groups.append(_vec_group("-odet_vector", np.cross(f, s)))
    if detector or draw(_BOOLS) or not np.allclose(beam, (1.0, 0.0, 0.0)):
        groups.append(_vec_group("-beam_vector", beam))
    if draw(_BOOLS):
        cube = draw(_CUBE)
        axis = _unit(np.asarray(cube) + np.array([0.0, 0.0, 1e-3]))
        groups.append(_vec_group("-spindle_axis", axis))
    if draw(_BOOLS):
        u, v = _perpendiculars(beam)
        a = math.radians(draw(_decimal(0, 360, 2)))
        groups.append(_vec_group("-twotheta_axis", math.cos(a) * u + math.sin(a) * v))
    if draw(_BOOLS):
        u, v = _perpendiculars(beam)
        a = math.radians(draw(_decimal(0, 360, 2)))
        groups.append(_vec_group("-polar_vector", math.cos(a) * u + math.sin(a) * v))
    if _rarely(draw, 25):
        groups.append(("-pix0_vector", *(fmt(draw(_decimal(-0.1, 0.1, 4))) for _ in range(3))))
    b = _unit(beam)
    return Convention(
        groups=tuple(groups),
        name="custom",
        beam=(float(b[0]), float(b[1]), float(b[2])),
        custom=True,
    )


@st.composite
def detector_rotations(draw: st.DrawFn) -> Part:
    """``-detector_rotx/y/z`` (up to 10 degrees each) and ``-twotheta`` (up to 30 degrees)."""
    groups: list[Group] = []
    rot = _decimal(-10, 10, 3)
    for flag in ("-detector_rotx", "-detector_roty", "-detector_rotz"):
        if _rarely(draw, 35):
            groups.append((flag, fmt(draw(rot))))
    if _rarely(draw, 35):
        groups.append(("-twotheta", fmt(draw(_decimal(-30, 30, 3)))))
    return Part(groups=tuple(groups))


@st.composite
def pivots(draw: st.DrawFn) -> Part:
    """``-pivot beam`` or ``-pivot sample`` (it only matters for custom vectors), or neither."""
    kind = draw(_choice("", "beam", "sample"))
    return Part(groups=(("-pivot", kind),)) if kind else NOTHING


@st.composite
def beam_centres(
    draw: st.DrawFn,
    detsize_f: float = 3.2,
    detsize_s: float = 3.2,
    fpixels: int = 32,
    spixels: int = 32,
) -> Part:
    """Beam centre: ``-Xbeam``/``-Ybeam`` (mm), ``-Xclose``/``-Yclose`` (mm) or
    ``-ORGX``/``-ORGY`` (pixels), within the middle of the detector, or none (the convention's
    default)."""
    kind = draw(_choice("none", "beam", "close", "org"))
    if kind == "none":
        return NOTHING
    groups: list[Group] = []
    edge = min(detsize_f, detsize_s)
    frac = _decimal(0.3, 0.7, 3)
    names = {
        "beam": ("-Xbeam", "-Ybeam"),
        "close": ("-Xclose", "-Yclose"),
        "org": ("-ORGX", "-ORGY"),
    }
    for flag, pixels in zip(names[kind], (fpixels, spixels), strict=True):
        if len(groups) == 0 or draw(_ints(0, 9)) < 8:
            if kind == "org":
                value = round(draw(frac) * pixels, 2)
            else:
                value = round(draw(frac) * edge, 4)
            groups.append((flag, fmt(value)))
    return Part(groups=tuple(groups))


@st.composite
def rois(draw: st.DrawFn, fpixels: int = 32, spixels: int = 32) -> Part:
    """``-roi xmin xmax ymin ymax``: a non-empty box inside the detector (inclusive)."""
    xmin = draw(_ints(0, fpixels - 1))
    xmax = draw(_ints(xmin, fpixels - 1))
    ymin = draw(_ints(0, spixels - 1))
    ymax = draw(_ints(ymin, spixels - 1))
    return Part(groups=(("-roi", str(xmin), str(xmax), str(ymin), str(ymax)),))


def smv_bytes(data: np.ndarray, header: Sequence[tuple[str, str]]) -> bytes:
    """An SMV image (as :func:`nb_core.io.write_smv` writes it) as bytes.

    Args:
        data: ``(S, F)`` uint16 pixels.
        header: ``(KEY, VALUE)`` pairs after the sizes.

    Returns:
        The file's bytes.
    """
    with tempfile.TemporaryDirectory(prefix="nb-strategies-") as tmp:
        path = Path(tmp) / "image.img"
        write_smv(path, data, header)
        return path.read_bytes()


def mask_bytes(
    fpixels: int,
    spixels: int,
    seed: int = 0,
    *,
    fill: float = 1.0,
    header: Sequence[tuple[str, str]] = (),
) -> bytes:
    """An SMV mask: ``fill`` of the pixels non-zero (random but reproducible from ``seed``).

    Args:
        fpixels: Width.
        spixels: Height.
        seed: Seed of the pattern and of the non-zero values (1, 2 or 65535).
        fill: Fraction of pixels rendered (non-zero).
        header: More ``(KEY, VALUE)`` header pairs.

    Returns:
        The file's bytes.
    """
    rng = np.random.default_rng(seed)
    keep = rng.random((spixels, fpixels)) < fill
    values = rng.choice(np.array([1, 2, 65535], dtype=np.uint16), size=(spixels, fpixels))
    data = np.where(keep, values, 0).astype(np.uint16)
    return smv_bytes(data, header)


@st.composite
def _header_pairs(
    draw: st.DrawFn,
    *,
    fpixels: int,
    spixels: int,
    pixel_mm: float,
    distance_mm: float,
    lambda_a: float,
    phi: bool,
) -> list[tuple[str, str]]:
    """Header lines an SMV mask or -img file may carry (the C program reads them as defaults).

    PIXEL_SIZE, DISTANCE/CLOSE_DISTANCE and WAVELENGTH repeat the drawn values; the beam
    centre, ORGX/ORGY, PHI/OSC_RANGE (only when ``phi``) and TWOTHETA (ignored by the C
    program) are drawn; a long COMMENT sometimes pushes the header past 512 bytes.
    """
    pairs: list[tuple[str, str]] = []
    frac = _decimal(0.3, 0.7, 3)
    edge = min(fpixels, spixels) * pixel_mm
    for key in (
        "PIXEL_SIZE",
        "DISTANCE",
        "CLOSE_DISTANCE",
        "WAVELENGTH",
        "BEAM_CENTER_X",
        "BEAM_CENTER_Y",
        "ORGX",
        "ORGY",
        "PHI",
        "OSC_RANGE",
        "TWOTHETA",
    ):
        if not _rarely(draw, 30):
            continue
        if key in ("PHI", "OSC_RANGE") and not phi:
            continue
        if key == "PIXEL_SIZE":
            value = pixel_mm
        elif key in ("DISTANCE", "CLOSE_DISTANCE"):
            value = distance_mm
        elif key == "WAVELENGTH":
            value = lambda_a
        elif key.startswith("BEAM_CENTER"):
            value = round(draw(frac) * edge, 4)
        elif key == "ORGX":
            value = round(draw(frac) * fpixels, 2)
        elif key == "ORGY":
            value = round(draw(frac) * spixels, 2)
        elif key == "PHI":
            value = draw(_decimal(-30, 30, 3))
        elif key == "OSC_RANGE":
            value = draw(_decimal(0.01, 3, 3))
        else:
            value = draw(_decimal(-30, 30, 3))
        pairs.append((key, fmt(value)))
    if _rarely(draw, 15):  # a header longer than 512 bytes (HEADER_BYTES=1024)
        pairs.append(("COMMENT", "padding " * 60))
    return pairs


@st.composite
def masks(
    draw: st.DrawFn, fpixels: int = 32, spixels: int = 32, header: Sequence[tuple[str, str]] = ()
) -> Part:
    """``-mask mask.img``: an SMV mask of the detector's size (anchor: every pixel on)."""
    fill = draw(_choice(1.0, 0.9, 0.5, 0.1))
    seed = draw(_ints(0, 2**16))
    data = mask_bytes(fpixels, spixels, seed, fill=fill, header=header)
    return Part(groups=(("-mask", "mask.img"),), files=(("mask.img", data),))


@st.composite
def img_headers(
    draw: st.DrawFn, fpixels: int = 32, spixels: int = 32, header: Sequence[tuple[str, str]] = ()
) -> Part:
    """``-img header.img``: an SMV image of the detector's size, read for its header only."""
    value = draw(_ints(0, 65535))
    data = smv_bytes(np.full((spixels, fpixels), value, dtype=np.uint16), header)
    return Part(groups=(("-img", "header.img"),), files=(("header.img", data),))


@st.composite
def extras(draw: st.DrawFn) -> Part:
    """``-water`` (µm), ``-dmin`` (Å), ``-point_pixel``, ``-curved_det`` and the beam's
    ``-fluence`` or ``-flux``/``-exposure``/``-beamsize``."""
    groups: list[Group] = []
    if _rarely(draw, 20):
        groups.append(("-water", fmt(draw(_decimal(0.001, 10, 3)))))
    if _rarely(draw, 20):
        groups.append(("-dmin", fmt(draw(_decimal(1, 30, 2)))))
    if _rarely(draw, 20):
        groups.append(("-point_pixel",))
    if _rarely(draw, 20):
        groups.append(("-curved_det",))
    if _rarely(draw, 10):
        mantissa = fmt(draw(_decimal(1, 9.99, 2)))
        groups.append(("-fluence", f"{mantissa}e{draw(_ints(20, 30))}"))
    elif _rarely(draw, 10):
        groups.append(("-flux", f"{fmt(draw(_decimal(1, 9.99, 2)))}e{draw(_ints(8, 14))}"))
        if draw(_BOOLS):
            groups.append(("-exposure", fmt(draw(_decimal(0.01, 10, 2)))))
        if draw(_BOOLS):
            groups.append(("-beamsize", fmt(draw(_decimal(0.005, 1, 3)))))
    return Part(groups=tuple(groups))


# ---- the whole command line -------------------------------------------------------------------


def _auto_oversample(
    cell: Cell, sizes: Vec3, lambda_a: float, distance_mm: float, pixel_mm: float
) -> int:
    """An upper bound on the C program's automatic oversampling for these values."""
    xtal = max(length * 1e-10 * n for length, n in zip(cell.lengths, sizes, strict=True))
    reciprocal_pixel = lambda_a * 1e-10 * (distance_mm / 1000.0) / (pixel_mm / 1000.0)
    return max(1, math.ceil(3.0 * xtal / reciprocal_pixel) + 1)


@st.composite
def _detector_groups(
    draw: st.DrawFn, fpixels: int, spixels: int, pixel_mm: float, from_header: bool
) -> list[Group]:
    """The detector-size flags (none when a header gives the size)."""
    if from_header and draw(_BOOLS):
        return []
    kinds = ["xy", "fs", "detsize", "mixed"]
    if fpixels == spixels:
        kinds = ["square", *kinds, "detsize_square"]
    kind = draw(_choice(*kinds))

    def size(n: int) -> str:
        return fmt(round(n * pixel_mm, 6))

    if kind == "square":
        return [("-detpixels", str(fpixels))]
    if kind == "detsize_square":
        return [("-detsize", size(fpixels))]
    if kind == "xy":
        return [("-detpixels_x", str(fpixels)), ("-detpixels_y", str(spixels))]
    if kind == "fs":
        return [("-detpixels_f", str(fpixels)), ("-detpixels_s", str(spixels))]
    if kind == "detsize":
        return [("-detsize_f", size(fpixels)), ("-detsize_s", size(spixels))]
    return [("-detpixels_x", str(fpixels)), ("-detsize_s", size(spixels))]


@st.composite
def full_geometries(draw: st.DrawFn, max_evaluations: int = MAX_EVALUATIONS) -> Geometry:
    """Any valid command line the blocks can make, within the work bound.

    Args:
        draw: Hypothesis's draw function.
        max_evaluations: Bound on pixels x oversample^2 x sources x phi x domains x layers.

    Returns:
        The geometry.
    """
    cell = draw(cells())
    sizes_part = draw(crystal_sizes())
    sizes = _sizes_of(sizes_part)
    misset = draw(missets())
    wave_part, lambda_a = draw(wavelengths())
    hkl = draw(hkl_files()) if _rarely(draw, 30) else NOTHING
    default_f = draw(default_fs(required=not hkl.groups))
    interp = draw(interpolations()) if hkl.groups or _rarely(draw, 10) else NOTHING

    fpixels = draw(_ints(MIN_PIXELS, MAX_PIXELS))
    spixels = fpixels if draw(_BOOLS) else draw(_ints(MIN_PIXELS, MAX_PIXELS))
    pixel_mm = draw(_anchored(0.1, 0.05, 0.25, 4))
    distance_mm = draw(_anchored(100.0, 50, 300, 3))
    distance_flag = draw(_choice("-distance", "-distance", "-close_distance", ""))
    if distance_flag == "":
        distance_mm = 100.0
    has_mask = _rarely(draw, 15)
    has_img = _rarely(draw, 10)
    has_header = has_mask or has_img

    conv = draw(conventions())
    rotations = draw(detector_rotations())
    pivot = draw(pivots())
    centre = draw(
        beam_centres(fpixels * pixel_mm, spixels * pixel_mm, fpixels=fpixels, spixels=spixels)
    )
    shape = draw(shapes())

    budget = max(1, max_evaluations // (fpixels * spixels))
    auto = _auto_oversample(cell, sizes, lambda_a, distance_mm, pixel_mm)
    if not has_header and auto * auto <= budget and _rarely(draw, 30):
        over = Part(groups=(("-oversample", "0"),) if draw(_BOOLS) else (), factor=auto**2)
        names = ("-oversample_thick", "-oversample_polar", "-oversample_omega")
        switches = [(name,) for name in names if _rarely(draw, 15)]
        over = Part(groups=(*over.groups, *switches), factor=over.factor)
    else:
        over = draw(oversampling(max_factor=budget))
    budget //= over.factor

    absorb = draw(detector_absorptions(max_layers=min(4, budget)))
    budget //= absorb.factor
    phi = draw(phi_sweeps(max_steps=min(4, budget)))
    budget //= phi.factor
    mosaic = draw(mosaics(max_domains=min(10, budget)))
    budget //= mosaic.factor
    if _rarely(draw, 15):
        beam_parts = [draw(sourcefiles(conv.beam, lambda_a, max_sources=min(4, budget)))]
    else:
        div = draw(divergences(max_sources=min(16, budget)))
        disp = draw(dispersions(max_steps=min(4, budget // div.factor)))
        beam_parts = [div, disp]
    for part in beam_parts:
        budget //= part.factor
    polar = draw(polarizations())
    roi = draw(rois(fpixels, spixels)) if _rarely(draw, 15) else NOTHING
    extra = draw(extras())

    header_parts: list[Part] = []
    header_keys: set[str] = set()
    if has_header:
        phi_in_header = not phi.groups and budget >= 2
        for kind in (
            ("mask", "img") if has_mask and has_img else ("mask",) if has_mask else ("img",)
        ):
            pairs = draw(
                _header_pairs(
                    fpixels=fpixels,
                    spixels=spixels,
                    pixel_mm=pixel_mm,
                    distance_mm=distance_mm,
                    lambda_a=lambda_a,
                    phi=phi_in_header,
                )
            )
            header_keys.update(k for k, _ in pairs)
            if kind == "mask":
                header_parts.append(draw(masks(fpixels, spixels, pairs)))
            else:
                header_parts.append(draw(img_headers(fpixels, spixels, pairs)))

    detector: list[Group] = draw(_detector_groups(fpixels, spixels, pixel_mm, has_header))
    pixel_known = "PIXEL_SIZE" in header_keys or pixel_mm == 0.1
    if not (pixel_known and draw(_BOOLS)):
        detector.append(("-pixel", fmt(pixel_mm)))
    distance_in_header = bool({"DISTANCE", "CLOSE_DISTANCE"} & header_keys)
    if distance_flag and not (distance_in_header and draw(_BOOLS)):
        detector.append((distance_flag, fmt(distance_mm)))
    wave_groups = wave_part.groups
    if "WAVELENGTH" in header_keys and wave_part.flags()[0] != "-energy" and draw(_BOOLS):
        wave_groups = ()

    groups: list[Group] = [
        *cell.groups,
        *misset.groups,
        *sizes_part.groups,
        *wave_groups,
        *default_f.groups,
        *hkl.groups,
        *interp.groups,
        *detector,
        *conv.groups,
        *rotations.groups,
        *pivot.groups,
        *centre.groups,
        *shape.groups,
        *over.groups,
        *phi.groups,
        *mosaic.groups,
        *polar.groups,
        *(g for part in beam_parts for g in part.groups),
        *absorb.groups,
        *roi.groups,
        *(g for part in header_parts for g in part.groups),
        *extra.groups,
    ]
    if len(groups) > 1 and _rarely(draw, 20):
        groups = list(draw(st.permutations(groups)))
    files: dict[str, bytes] = {}
    for part in (hkl, *beam_parts, *header_parts):
        files.update(part.files)
    argv = tuple(token for group in groups for token in group)
    return Geometry(argv=argv, files=files, fpixels=fpixels, spixels=spixels)


@st.composite
def single_feature_geometries(draw: st.DrawFn) -> Geometry:
    """:data:`SIMPLE_CUBIC` with one building block added (or swapped in).

    The middle tier between the simple case and :func:`full_geometries`: a defect that one
    feature exposes is usually found here first, with a short command line.

    Returns:
        The geometry (32 x 32 pixels, MOSFLM unless the block is a convention).
    """
    base = list(SIMPLE_CUBIC.argv[:-2])  # without "-oversample 1"
    size = SIMPLE_CUBIC.fpixels
    budget = MAX_EVALUATIONS // (size * size)
    detsize = size * 0.1
    feature = draw(
        _choice(
            "rotations",
            "convention",
            "centre",
            "shape",
            "oversample",
            "phi",
            "mosaic",
            "polar",
            "divergence",
            "dispersion",
            "sources",
            "absorption",
            "hkl",
            "roi",
            "mask",
            "img",
            "extras",
            "misset",
            "cell",
            "pivot",
        )
    )
    blocks: dict[str, st.SearchStrategy[Part]] = {
        "rotations": detector_rotations(),
        "convention": conventions(),
        "centre": beam_centres(detsize, detsize, size, size),
        "shape": shapes(),
        "oversample": oversampling(max_factor=9),
        "phi": phi_sweeps(max_steps=4),
        "mosaic": mosaics(max_domains=10),
        "polar": polarizations(),
        "divergence": divergences(max_sources=16),
        "dispersion": dispersions(max_steps=4),
        "sources": sourcefiles((1.0, 0.0, 0.0), 1.0, max_sources=4),
        "absorption": detector_absorptions(max_layers=4),
        "hkl": hkl_files(),
        "roi": rois(size, size),
        "mask": masks(size, size),
        "img": img_headers(size, size),
        "extras": extras(),
        "misset": missets(),
        "cell": cells(),
        "pivot": pivots(),
    }
    part = draw(blocks[feature])
    assert part.factor <= budget
    groups: list[Group] = [("-oversample", "1")] if feature != "oversample" else []
    if feature == "cell":
        base = base[7:]  # the drawn cell replaces the cubic one
    if feature == "hkl":
        groups.extend(draw(interpolations()).groups)
    argv = (*base, *part.argv, *(token for group in groups for token in group))
    return Geometry(argv=argv, files=dict(part.files), fpixels=size, spixels=size)


def geometries(max_evaluations: int = MAX_EVALUATIONS) -> st.SearchStrategy[Geometry]:
    """Valid nanoBragg command lines and their files: :data:`SIMPLE_CUBIC`, the simple case
    with one building block (:func:`single_feature_geometries`), or anything
    :func:`full_geometries` draws. Failures shrink towards the simpler tiers.

    Args:
        max_evaluations: Bound on pixels x oversample^2 x sources x phi x domains x layers
            (for :func:`full_geometries`; the simpler tiers stay far below the default).

    Returns:
        The strategy.
    """
    return st.one_of(
        st.just(SIMPLE_CUBIC), single_feature_geometries(), full_geometries(max_evaluations)
    )
