"""Property-based parity: nb and the C program on the same drawn command lines.

Hypothesis draws valid nanoBragg command lines and their input files
(:func:`nb_parity.strategies.geometries`); each one runs through the C binary (``NB_C_BIN``)
and through ``nb simulate`` in float64, and the float images must agree to the golden float64
tolerances (relative L2 <= 1e-6, max |nb - C| <= 1e-5 x max |C|; an all-zero C image needs an
all-zero nb image; non-finite pixels must be the same pixels with the same values), and both
programs must succeed.

The genuine nb bugs this test found are fixed; their minimal command lines stay pinned as
regression examples (:data:`FIXED_NB_BUGS`). A newly found, not yet fixed bug goes into
:data:`KNOWN_NB_BUGS`: its minimal command line is pinned as an expected failure, and drawn
command lines that hit it are rejected or, where it changes a single evaluation, allowed that
one pixel; move it to :data:`FIXED_NB_BUGS` once the engine is fixed.

On a failure Hypothesis shrinks the command line and notes a ready-to-run ``nb compare``
command, the files it reads (inline when small) and a folder holding a copy of them.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, example, given, note, reject, settings
from hypothesis.control import current_build_context, currently_in_test_context

from nb_cli.flags import parse_args
from nb_core.settings import Settings
from nb_parity.metrics import ImageMetrics, image_metrics
from nb_parity.runs import Run, run_c, run_nb
from nb_parity.strategies import SIMPLE_CUBIC, Geometry, geometries
from nb_parity.tolerances import TOLERANCE
from tests.live.conftest import LiveStats

pytestmark = pytest.mark.live

#: Examples per run: at least 300, more under a profile that asks for more (dev: 500), or
#: exactly ``NB_LIVE_EXAMPLES``.
LIVE_EXAMPLES = int(os.environ.get("NB_LIVE_EXAMPLES", max(300, settings().max_examples)))
TOL = TOLERANCE[torch.float64]


@dataclass
class Outcome:
    """One comparison of nb with the C program.

    Attributes:
        ok: Whether nb matches within tolerance.
        reason: What differs (empty when ``ok``).
        c: The C program's run.
        nb: nb's run.
        metrics: Float-image metrics over the finite pixels (None if an image is missing).
    """

    ok: bool
    reason: str
    c: Run
    nb: Run
    metrics: ImageMetrics | None = None


def _compare_images(test: np.ndarray, ref: np.ndarray) -> tuple[str, ImageMetrics | None]:
    """The reason two float images differ beyond the float64 tolerance ('' when they agree)."""
    if test.shape != ref.shape:
        return f"image shapes differ: nb {test.shape} vs C {ref.shape}", None
    finite = np.isfinite(ref)
    if not np.array_equal(finite, np.isfinite(test)):
        count = int(np.count_nonzero(finite != np.isfinite(test)))
        return f"{count} pixels are finite in one image and not in the other", None
    if not np.array_equal(test[~finite], ref[~finite], equal_nan=True):
        return "non-finite pixels differ", None
    m = image_metrics(np.where(finite, test, 0.0), np.where(finite, ref, 0.0))
    if m.ref_max == 0.0:
        if m.max_abs != 0.0:
            return f"the C image is all zero, nb's max |value| is {m.max_abs:.6g}", m
        return "", m
    if m.rel_l2 <= TOL.rel_l2 and m.max_rel <= TOL.max_rel:
        return "", m
    return (
        f"relative L2 {m.rel_l2:.3g} (limit {TOL.rel_l2:g}), "
        f"max |nb - C| / max |C| {m.max_rel:.3g} (limit {TOL.max_rel:g})",
        m,
    )


def _event(text: str) -> None:
    """Record a Hypothesis event when inside a test (compare() also runs outside one)."""
    if currently_in_test_context():
        event(text)


def compare(binary: str | os.PathLike[str], geometry: Geometry) -> Outcome:
    """Run both programs on a geometry and compare their float images and exit codes.

    Args:
        binary: The C binary.
        geometry: The command line and its files.

    Returns:
        The outcome.
    """
    files = dict(geometry.files)
    c = run_c(binary, geometry.argv, inputs=files, timeout=120.0)
    with warnings.catch_warnings(record=True) as caught:
        # Images that overflow to inf (the -oversample_omega quirk compounds 1/R^2 factors)
        # make nb's image statistics warn; that is not a parity question.
        warnings.simplefilter("always", RuntimeWarning)
        nb = run_nb(geometry.argv, inputs=files, dtype="float64")
    for warning in caught:
        _event(f"nb warned: {warning.category.__name__}: {warning.message}")
    if _refused_non_finite(c, nb):
        # Deliberate: the C program writes an image with NaN or infinite pixels and exits 0;
        # nb refuses such an image in one line and writes nothing.
        _event("nb refused the C program's non-finite image")
        return Outcome(True, "", c, nb)
    if (c.returncode == 0) != (nb.returncode == 0):
        tail = (nb.stdout if nb.returncode else c.stdout)[-400:]
        return Outcome(
            False, f"exit codes differ: C {c.returncode}, nb {nb.returncode}\n{tail}", c, nb
        )
    if c.returncode != 0:
        return Outcome(
            False,
            f"both programs rejected a drawn command (exit {c.returncode}, {nb.returncode})",
            c,
            nb,
        )
    if c.float_image is None or nb.float_image is None:
        return Outcome(False, "a float image is missing", c, nb)
    reason, metrics = _compare_images(nb.float_image, c.float_image)
    return Outcome(not reason, reason, c, nb, metrics)


def _refused_non_finite(c: Run, nb: Run) -> bool:
    """Whether C wrote a non-finite image and nb refused it as such (exit 2, one error line)."""
    if c.returncode != 0 or nb.returncode != 2 or c.float_image is None:
        return False
    last = (nb.stdout.strip().splitlines() or [""])[-1]  # after the lines printed before it
    return (
        not bool(np.isfinite(c.float_image).all())
        and last.startswith("nb: error: ")
        and "NaN and" in last
        and "infinite pixels" in last
    )


def _is_final() -> bool:
    try:
        return bool(current_build_context().is_final)
    except Exception:  # not inside a Hypothesis test
        return True


def check_parity(
    binary: str | os.PathLike[str],
    geometry: Geometry,
    stats: LiveStats | None = None,
    test: str = "",
    tolerate: Sequence[KnownBug] = (),
) -> Outcome:
    """Assert that nb matches the C program on ``geometry`` (see the module docstring).

    On failure (in Hypothesis's final, shrunk run) the files are saved to a fresh folder and a
    ready-to-run ``nb compare`` command is noted.

    Args:
        binary: The C binary.
        geometry: The command line and its files.
        stats: Where to count the comparison.
        test: Test name for the statistics.
        tolerate: Known bugs whose allowance a failing outcome may meet.

    Returns:
        The outcome (when it passes).

    Raises:
        AssertionError: nb and the C program disagree.
    """
    outcome = compare(binary, geometry)
    for bug in tolerate:
        if not outcome.ok and bug.tolerate is not None and bug.tolerate(outcome):
            _event(f"tolerated: the known nb bug {bug.name!r}")
            outcome = Outcome(True, "", outcome.c, outcome.nb, outcome.metrics)
    if stats is not None:
        stats.record(test, outcome.c.seconds, outcome.nb.seconds, ok=outcome.ok)
    if not outcome.ok:
        if _is_final():
            folder = Path(tempfile.mkdtemp(prefix="nb-live-failure-"))
            geometry.write_files(folder)
            (folder / "command.sh").write_text(geometry.describe() + "\n")
            note(f"To reproduce (files saved in {folder}):\ncd {folder}\n{geometry.describe()}")
        raise AssertionError(f"nb and C disagree: {outcome.reason}")
    return outcome


@dataclass(frozen=True)
class KnownBug:
    """A genuine nb engine bug the live test found, reported and not yet fixed.

    Drawn geometries it applies to are either rejected (so that the property keeps testing
    everything else) or, when ``tolerate`` is given, compared with that one documented
    allowance. Its minimal geometry is pinned on the property as an expected failure, so the
    suite documents it and notices the fix (the pinned example then passes, which fails the
    run: delete the entry).

    Attributes:
        name: Short name.
        reason: What differs and why (the C code that explains it).
        applies: Whether a parsed command line (drawn flags plus the runners' tail) hits it.
        example: The minimal failing geometry.
        tolerate: The allowance for a failing outcome (None: reject such geometries).
    """

    name: str
    reason: str
    applies: Callable[[Settings], bool]
    example: PinnedGeometry
    tolerate: Callable[[Outcome], bool] | None = None


class PinnedGeometry(Geometry):
    """A known bug's pinned example: never equal to a drawn :class:`Geometry` (equality checks
    the class), so a drawn twin of it is still filtered as the bug says."""


def _simple(*extra: str) -> PinnedGeometry:
    return PinnedGeometry(
        argv=(*SIMPLE_CUBIC.argv, *extra), files={}, fpixels=SIMPLE_CUBIC.fpixels, spixels=32
    )


def _interpolating(s: Settings) -> bool:
    """Whether tricubic interpolation is on: an HKL file and -interpolate, or automatic with
    some N <= 2."""
    auto = s.interpolate == 2 and min(s.n_cells) <= 2
    return bool(s.hkl_file) and (s.interpolate == 1 or auto)


def _sweeps(s: Settings) -> bool:
    """Whether the settings may make more than one phi step."""
    return s.osc_deg is not None or s.phistep_deg is not None or s.phisteps > 1


def _one_pixel_differs(outcome: Outcome) -> bool:
    """The images agree once the one pixel that differs most is left out (the allowance of
    known bugs that affect a single evaluation, hence a single pixel)."""
    test, ref = outcome.nb.float_image, outcome.c.float_image
    if test is None or ref is None or test.shape != ref.shape or not ref.size:
        return False
    a, b = test.astype(np.float64), ref.astype(np.float64)
    worst = np.unravel_index(np.argmax(np.abs(a - b)), a.shape)
    a[worst] = b[worst]
    return _compare_images(a, b)[0] == ""


#: Bugs this suite found in nb, now fixed; their minimal command lines stay pinned as
#: regression examples (they must now pass).
FIXED_NB_BUGS: tuple[KnownBug, ...] = (
    KnownBug(
        name="-oversample_thick without sensor thickness",
        reason=(
            "nb keeps the capture fraction at 1 when there is no sensor thickness; the C "
            "program, asked by -oversample_thick to recompute it at every sub-pixel, computes "
            "exp(-0*0*mu/p) - exp(-1*0*mu/p) = 0 (detector_thickstep is 0) and multiplies every "
            "pixel by 0: an all-zero image"
        ),
        applies=lambda s: s.oversample_thick and s.detector_thick_um <= 0.0,
        example=_simple("-oversample_thick"),
    ),
    KnownBug(
        name="F at the evaluation that switches interpolation off",
        reason=(
            "at the evaluation whose 4x4x4 block leaves the HKL grid, nb uses default_F; the C "
            "program sets F_cell = default_F and interpolate = 0, but its following "
            "'if(! interpolate)' block then runs in the same evaluation and replaces F_cell by "
            "the nearest-neighbour structure factor (one pixel differs)"
        ),
        applies=_interpolating,
        example=PinnedGeometry(
            argv=(
                *("-cell", "30", "30", "30", "90", "90", "90", "-N", "0", "-lambda", "1"),
                *("-default_F", "100", "-hkl", "P1.hkl", "-detpixels", "16"),
                *("-pixel", "0.1", "-distance", "100", "-oversample", "1"),
            ),
            files={"P1.hkl": b"0 0 0 269.79\n"},
            fpixels=16,
            spixels=16,
        ),
        tolerate=_one_pixel_differs,
    ),
    KnownBug(
        name="sinc3 near zero (-round_xtal)",
        reason=(
            "nb evaluates sinc3(x) by a Taylor series for x^2 < 1e-3; the C program computes "
            "3*(sin(x)/x - cos(x))/(x*x) for every x != 0, which cancels catastrophically for "
            "tiny x (a pixel on the exact direct beam, hkl ~ 1e-9, gets F_latt = 0 in C and "
            "0.7236*Na*Nb*Nc in nb)"
        ),
        applies=lambda s: s.shape == "round",
        example=PinnedGeometry(
            argv=(
                *("-cell", "100", "100", "100", "90", "90", "90", "-N", "0", "-lambda", "1"),
                *("-default_F", "100", "-detpixels", "65", "-pixel", "0.1"),
                *("-distance", "100", "-round_xtal", "-oversample", "1"),
            ),
            files={},
            fpixels=65,
            spixels=65,
        ),
        tolerate=_one_pixel_differs,
    ),
    KnownBug(
        name="first phi loop of the run under -dmin",
        reason=(
            "with the phi0 quirk (a step exactly at phi = 0 reuses the previous rotation), the "
            "C program's very first phi loop starts from the unrotated lattice; that loop is "
            "the first (pixel, sub-pixel, source) that passes the -dmin cut. nb applies the "
            "unrotated lattice only at the first sub-pixel of the first pixel, so when -dmin "
            "skips every source there, the first evaluated pixel differs"
        ),
        applies=lambda s: s.dmin_A > 0.0 and s.phi_deg == 0.0 and _sweeps(s),
        example=_simple("-phi", "0", "-osc", "1", "-phisteps", "2", "-dmin", "50"),
        tolerate=_one_pixel_differs,
    ),
)
#: What the runners append to every command line (the flags that follow the drawn ones).
RUNNER_TAIL = (
    "-floatfile",
    "float.bin",
    "-intfile",
    "int.img",
    "-noprogress",
    "-nonoise",
    "-nopgm",
)


#: With -oversample_omega and -point_pixel the C program's compounding multiplies the running
#: sum by 1/R^2 at every term, and the image overflows to inf: C writes it with exit 0, nb
#: refuses an image with non-finite pixels in one line (a deliberate difference, see
#: ``_refused_non_finite``).
OVERFLOW_TO_INF = Geometry(
    argv=(
        *("-cell", "100", "100", "100", "90", "90", "90", "-N", "0", "-lambda", "1"),
        *("-default_F", "100", "-detpixels", "16", "-pixel", "0.1", "-distance", "100"),
        *("-oversample", "2", "-oversample_omega", "-divergence", "0.01", "-hdivsteps", "3"),
        "-point_pixel",
    ),
    files={},
    fpixels=16,
    spixels=16,
)
#: A deliberate difference this test found (the strategies exclude it): divergence settings
#: that keep no source make the C program divide 0/0 and write a NaN image with exit 0; nb
#: refuses them with exit 2 ("no beam sources").
NO_SOURCES = Geometry(
    argv=(
        *("-cell", "100", "100", "100", "90", "90", "90", "-N", "0", "-lambda", "1"),
        *("-default_F", "100", "-detpixels", "16", "-pixel", "0.1", "-distance", "100"),
        *("-oversample", "1", "-hdivrange", "0.01", "-divsteps", "1", "-hdivstep", "0.003"),
    ),
    files={},
    fpixels=16,
    spixels=16,
)


#: Known, unfixed nb bugs (none at present): each is pinned as an expected failure, and drawn
#: command lines that hit it are rejected or allowed its tolerance.
KNOWN_NB_BUGS: tuple[KnownBug, ...] = ()


def known_bugs(geometry: Geometry) -> list[KnownBug]:
    """The known nb bugs a geometry hits (none for the pinned examples themselves)."""
    if isinstance(geometry, PinnedGeometry):
        return []
    parsed = parse_args([*geometry.argv, *RUNNER_TAIL], read_headers=False)
    return [bug for bug in KNOWN_NB_BUGS if bug.applies(parsed.settings)]


def _pin_known_bugs(test: Callable[..., None]) -> Callable[..., None]:
    for bug in FIXED_NB_BUGS:
        test = example(bug.example)(test)
    for bug in KNOWN_NB_BUGS:
        test = example(bug.example).xfail(
            reason=f"known nb bug: {bug.reason}", raises=AssertionError
        )(test)
    return test


@settings(
    max_examples=LIVE_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@_pin_known_bugs
@example(NO_SOURCES).xfail(
    reason="deliberate: C writes a NaN image from zero sources, nb exits 2", raises=AssertionError
)
@example(OVERFLOW_TO_INF)
@example(SIMPLE_CUBIC)
@given(geometry=geometries())
def test_nb_matches_c_on_drawn_geometries(
    c_binary: Path, live_stats: LiveStats, geometry: Geometry
) -> None:
    """nb's float64 image matches the C program's on every drawn command line."""
    bugs = known_bugs(geometry)
    for bug in bugs:
        if bug.tolerate is None:
            event(f"rejected: hits the known nb bug {bug.name!r}")
            reject()
    check_parity(
        c_binary, geometry, live_stats, "test_nb_matches_c_on_drawn_geometries", tolerate=bugs
    )
