"""Numbers on the command line and in SMV headers: read whole, in range, or refused in one line.

Every refusal goes through ``nb simulate`` in a scratch folder: exit code 2, one stderr line
``nb: error: <flag or file>: ...`` and no file written.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nb_cli import main
from nb_cli.flags import FLAGS, NB_OPTIONS, Flag, c_atof, c_atoi, parse_args, to_c_argv
from nb_cli.help import flag_help_rows
from nb_core.errors import InputError
from nb_core.io._atomic import DECIMAL

BASE = [
    *("-cell", "50", "60", "70", "90", "90", "90"),
    *("-default_F", "100", "-N", "2", "-detpixels", "16", "-noprogress"),
]
INT_FLAGS = [f for f in FLAGS if "int" in f.values]
REAL_FLAGS = [f for f in FLAGS if f.values and set(f.values) <= {"float", "cell", "misset"}]


@contextlib.contextmanager
def _scratch() -> Iterator[Path]:
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="nb-values-") as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


def _run(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["simulate", *argv])
    return code, err.getvalue()


def _refused(argv: list[str], name: str, files: dict[str, bytes] | None = None) -> str:
    """Run ``nb simulate BASE + argv``; assert a clean refusal naming ``name``; the line."""
    files = files or {}
    with _scratch() as folder:
        for file, data in files.items():
            (folder / file).write_bytes(data)
        code, err = _run([*BASE, *argv])
        left = {p.name for p in folder.iterdir()}
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"nb: error: {name}: "), lines[0]
    assert left == set(files), f"files were written: {sorted(left - set(files))}"
    return lines[0]


def _values(flag: Flag, text: str) -> list[str]:
    """``flag`` with ``text`` as its first value and valid values after it."""
    if flag.values == ("misset",):
        return [flag.name, text, "0", "0"]
    filler = {"int": "-1" if flag.name == "-roi" else "1", "float": "1", "cell": "1"}
    rest = [filler[kind] for kind in flag.values[1:]]
    return [flag.name, text, *rest]


# ---- integer flags: no partial read, no overflow ----------------------------------------------


@pytest.mark.parametrize("flag", INT_FLAGS, ids=lambda f: f.name)
@pytest.mark.parametrize("text", ["inf", "infinity", "1e400", "nan"])
def test_int_flags_refuse_non_finite_text(flag: Flag, text: str) -> None:
    line = _refused(_values(flag, text), flag.name)
    assert f"expected a whole number, got '{text}'" in line
    assert "ASCII digits with an optional sign" in line


@pytest.mark.parametrize(
    ("argv", "name", "says"),
    [
        (["-detpixels", "1e3"], "-detpixels", "the C program would read only 1)"),
        (["-detpixels", "1_0"], "-detpixels", "the C program would read only 1)"),
        (["-detpixels", "12.7"], "-detpixels", "the C program would read only 12)"),
        (["-detpixels", "4294967312"], "-detpixels", "outside the C program's int range"),
        (["-detpixels", "2147483648"], "-detpixels", "(-2147483648 to 2147483647)"),
        (["-N", "1e308"], "-N", "the C program would read only 1)"),
        (["-detpixels", "\uff11\uff16"], "-detpixels", "expected a whole number"),
        (["-detpixels", "0"], "-detpixels", "expected a pixel count >= 1"),
        (["-detpixels_f", "-5"], "-detpixels_f", "expected a pixel count >= 1"),
        (["-N", "-3"], "-N", "expected a cell count >= 0"),
        (["-oversample", "-2"], "-oversample", "or 0 for automatic"),
        (["-phisteps", "-1"], "-phisteps", "0 is read as 1"),
        (["-mosaic_domains", "-4"], "-mosaic_domains", "a count >= 1, or 0 for automatic"),
        (["-thicksteps", "-1"], "-detector_thicksteps", "or 0 for automatic"),
        (["-seed", "-2147483648"], "-seed", "a seed from -2147483647 to 2147483647"),
        (["-roi", "5", "2", "0", "15"], "-roi", "the box is empty (XMIN 5 > XMAX 2)"),
        (["-roi", "0", "15", "9", "3"], "-roi", "the box is empty (YMIN 9 > YMAX 3)"),
    ],
)
def test_int_values_are_read_whole_and_in_range(argv: list[str], name: str, says: str) -> None:
    assert says in _refused(argv, name)


# ---- real-valued flags ------------------------------------------------------------------------


@pytest.mark.parametrize("flag", REAL_FLAGS, ids=lambda f: f.name)
@pytest.mark.parametrize("text", ["inf", "1e400", "nan", "0x10", "1_0", "\uff15"])
def test_real_flags_refuse_non_decimal_or_overflowing_text(flag: Flag, text: str) -> None:
    line = _refused(_values(flag, text), flag.name)
    assert "finite number" in line if text == "1e400" else "expected a number" in line


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["-distance", "1_0"], "got '1_0' (the C program would read only 1); write a decimal"),
        (["-Xbeam", "3mm"], "got '3mm' (the C program would read only 3)"),
        (["-lambda", "-1e309"], "'-1e309' overflows to infinity; expected a finite number"),
        (["-detector_absorb", "infinite"], "expected an attenuation depth in µm or 'inf'"),
        (["-detector_absorb", "1e999"], "overflows to infinity"),
    ],
)
def test_real_values_say_what_is_valid(argv: list[str], says: str) -> None:
    assert says in _refused(argv, argv[0])


# ---- what stays accepted -------------------------------------------------------------------------


def test_values_with_a_defined_meaning_in_the_c_program_are_kept() -> None:
    s = parse_args(
        [
            *BASE,
            *("-N", "0", "-oversample", "0", "-phisteps", "0", "-mosaic_domains", "0"),
            *("-dispsteps", "0", "-divsteps", "0", "-thicksteps", "0"),
            *("-mosaic_seed", "-99", "-seed", "2147483647", "-misset_seed", "-2147483647"),
            *("-roi", "-1", "-1", "3", "-1", "-printout_pixel", "-2147483648", "2147483647"),
            *("-detector_absorb", "inf", "-distance", "+1.5e2", "-Xbeam", ".5", "-twotheta", "-0"),
            *("-detpixels_f", "007", "-pixel", "1e-400"),
        ]
    ).settings
    assert s.n_cells == (0.0, 0.0, 0.0)
    assert (s.oversample, s.phisteps, s.mosaic_domains) == (0, 0, 0)
    assert (s.dispsteps, s.hdivsteps, s.vdivsteps, s.thicksteps) == (0, 0, 0, 0)
    assert (s.mosaic_seed, s.seed, s.misset_seed) == (99, -2147483647, 2147483647)
    assert s.roi == (-1, -1, 3, -1)
    assert s.printout_pixel == (-2147483648, 2147483647)
    assert s.detector_attenuation_um == math.inf
    assert (s.distance_mm, s.xbeam_mm, s.twotheta_deg) == (150.0, 0.5, 0.0)
    assert s.detpixels == (7, 16)
    assert s.pixel_mm == 0.0  # underflows to 0, as in the C program (refused by the checks)


_TEXT = st.one_of(
    st.from_regex(rf"\A{DECIMAL}\Z", fullmatch=True),
    st.integers(-(2**40), 2**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.text(alphabet="0123456789+-.eE_ xXinfa\t\uff11\u0663", min_size=1, max_size=12),
)


def _refusal(argv: list[str]) -> str | None:
    """The InputError line for ``argv``, or None when it parses."""
    try:
        parse_args(argv)
    except InputError as error:
        return str(error)
    return None


@settings(max_examples=200, deadline=None)
@given(flag=st.sampled_from([*INT_FLAGS, *REAL_FLAGS]), text=_TEXT)
def test_every_accepted_number_is_read_whole_by_atoi_and_atof(flag: Flag, text: str) -> None:
    if flag.values == ("misset",) and "rand" in text:
        return
    refusal = _refusal([*BASE, *_values(flag, text)])
    if refusal is not None:
        assert refusal.startswith(f"{flag.name}: ")
        assert "\n" not in refusal
        return
    if "int" in flag.values:
        assert c_atoi(text) == int(text)
        assert -(2**31) <= int(text) < 2**31
    else:
        assert c_atof(text) == float(text)
        assert math.isfinite(float(text))


@settings(max_examples=100, deadline=None)
@given(text=_TEXT)
def test_accepted_values_reach_the_settings_unchanged(text: str) -> None:
    if _refusal([*BASE, "-detpixels", text]) is None:
        pixels = parse_args([*BASE, "-detpixels", text]).settings.detpixels
        assert pixels == (int(text), int(text))
    if _refusal([*BASE, "-distance", text]) is None:
        assert parse_args([*BASE, "-distance", text]).settings.distance_mm == float(text)


# ---- SMV headers --------------------------------------------------------------------------------


def _smv(entries: str, size: int = 16) -> bytes:
    header = (
        "{\nHEADER_BYTES=512;\nDIM=2;\nBYTE_ORDER=little_endian;\nTYPE=unsigned_short;\n"
        f"SIZE1={size};\nSIZE2={size};\n{entries}}}\n"
    ).encode()
    return header.ljust(512, b" ") + b"\x01\x00" * (size * size)


@pytest.mark.parametrize("flag", ["-img", "-mask"])
@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("PIXEL_SIZE=inf;", "header PIXEL_SIZE=inf: expected a pixel size > 0 mm"),
        ("PIXEL_SIZE=0;", "header PIXEL_SIZE=0: expected a pixel size > 0 mm"),
        ("PIXEL_SIZE=-0.1;", "header PIXEL_SIZE=-0.1: expected a pixel size > 0 mm"),
        ("BEAM_CENTER_X=nan;", "header BEAM_CENTER_X=nan: expected a finite beam centre in mm"),
        ("BEAM_CENTER_Y=-inf;", "header BEAM_CENTER_Y=-inf: expected a finite beam centre in mm"),
        ("WAVELENGTH=0;", "header WAVELENGTH=0: expected a wavelength > 0 Å"),
        ("WAVELENGTH=none;", "header WAVELENGTH=none: expected a wavelength > 0 Å"),
        ("DISTANCE=0;", "header DISTANCE=0: expected a distance > 0 mm"),
        (
            "CLOSE_DISTANCE=0;",
            "header CLOSE_DISTANCE=0 (read as DISTANCE): expected a distance > 0 mm",
        ),
        (
            "XDS_ORGX=1e999;",
            "header XDS_ORGX=1e999 (read as ORGX): expected a finite origin in pixels",
        ),
        ("PHI=nan;", "header PHI=nan: expected a finite angle in degrees"),
        ("OSC_RANGE=inf;", "header OSC_RANGE=inf: expected a finite range in degrees"),
    ],
)
def test_header_values_must_be_finite_and_physical(flag: str, entry: str, says: str) -> None:
    line = _refused([flag, "hdr.img"], "hdr.img", {"hdr.img": _smv(entry + "\n")})
    assert line == f"nb: error: hdr.img: {says}"


def test_header_values_are_read_as_the_c_program_reads_them() -> None:
    with _scratch() as folder:
        (folder / "hdr.img").write_bytes(
            _smv("PIXEL_SIZE=0.2mm;\nDISTANCE=90;\nCLOSE_DISTANCE=80;\nWAVELENGTH=1.5;\n", 8)
        )
        s = parse_args([*BASE[:-3], "-img", "hdr.img"]).settings
    assert s.pixel_mm == 0.2  # atof reads the number before "mm"
    assert s.distance_mm == 80.0  # the last "DISTANCE" is inside CLOSE_DISTANCE
    assert s.lambda_A == 1.5
    assert s.detpixels == (8, 8)
    assert s.detsize_mm == (1.6, 1.6)


# ---- -force -------------------------------------------------------------------------------------


def test_force_is_an_nb_switch_never_passed_to_the_c_program() -> None:
    parsed = parse_args([*BASE, "-force", "-distance", "90"])
    assert parsed.nb["force"] is True
    assert "-force" not in parsed.c_argv
    assert "-force" not in to_c_argv(parsed, floatfile="f.bin")
    assert "force" not in parse_args(BASE).nb
    force = next(f for f in NB_OPTIONS if f.name == "-force")
    assert force.nb_only
    assert force.values == ()
    assert "cost estimate" in force.help
    assert force in dict(flag_help_rows())["nb"]
