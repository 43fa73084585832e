"""A hostile user: every class of bad input at once, and the promise nb makes about each.

Each example is one ``nb simulate`` run in a folder that already holds the outputs of an
earlier run. Whatever the input, the run either succeeds (exit 0, a complete set of finite
images, no temporary left) or fails as bad input (exit 2, exactly one line
``nb: error: ...``, every file in the folder as it was), and a refusal comes in well under a
second of nb's own time. Nothing escapes as a traceback (``main`` re-raises anything that is
not an ``InputError``) and no RuntimeWarning reaches the user (pytest turns warnings into
errors).

The classes drawn: numbers in every syntax the C program reads differently from Python;
physically meaningless values (zero wavelength, distance, pixel, zero vectors, negative
flux); input files (orientation matrices, SMV headers and masks, HKL and source files, an
unbounded device as input); output paths (missing folder, a folder, two flags naming one
file, a device node); jobs far too large for memory or time. The default suite runs a quick
sample; ``-m slow`` runs 1,200 examples.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from nb_cli import main

#: A small, valid job: 16 x 16 pixels, a few milliseconds to render.
BASE = [
    "-cell", "50", "60", "70", "90", "90", "90",
    "-lambda", "1", "-N", "2", "-default_F", "100",
    "-detpixels", "16", "-distance", "100", "-pixel", "0.1",
    "-seed", "1", "-noprogress", "-nopgm",
]  # fmt: skip

#: Outputs of an earlier run that every example finds in its folder.
EARLIER = {
    "floatimage.bin": b"earlier float image",
    "intimage.img": b"earlier int image",
    "noiseimage.img": b"earlier noise image",
    "Fdump.bin": b"earlier dump",
}

#: The seconds a refusal may take (nb's own time; the interpreter and torch are loaded).
REFUSAL_SECONDS = 2.0

INT_FLAGS = ["-detpixels", "-N", "-oversample", "-phisteps", "-seed", "-mosaic_domains"]
REAL_FLAGS = ["-distance", "-lambda", "-pixel", "-default_F", "-phi", "-osc", "-mosaic"]
HOSTILE_NUMBERS = [
    "inf", "-inf", "infinity", "nan", "NaN", "1e400", "-1e400", "1e-400", "1e308", "1e300",
    "1e30", "0", "-0", "-1", "1e3", "1_0", "4294967312", "2147483648", "-2147483649",
    "１６", "0x10", " 16", "16 ", "", "1e", "+", ".", "5e-324", "16abc",
]  # fmt: skip
MEANINGLESS = [
    ["-lambda", "0"], ["-lambda", "-0"], ["-energy", "0"], ["-distance", "0"],
    ["-distance", "1e-400"], ["-pixel", "0"], ["-close_distance", "0"],
    ["-beam_vector", "0", "0", "0"], ["-fdet_vector", "0", "0", "0"],
    ["-spindle_axis", "0", "0", "0"], ["-water", "-1"], ["-flux", "-1"],
    ["-flux", "1e12", "-beamsize", "0"], ["-distance", "1e308"],
    ["-cell", "1e30", "1e30", "1e30", "90", "90", "90"], ["-misset", "1e300", "0", "0"],
    ["-default_F", "1e30"], ["-water", "1e12"], ["-fluence", "-1"],
]  # fmt: skip
TOO_LARGE = [
    ["-detpixels", "200000"], ["-detpixels", "100000", "-oversample", "4"],
    ["-oversample", "100000"], ["-mosaic_domains", "1000000000", "-mosaic", "1"],
    ["-hdivsteps", "100000", "-vdivsteps", "100000", "-divergence", "1"],
    ["-dispsteps", "1000000000", "-dispersion", "1"], ["-phisteps", "2000000000", "-osc", "1"],
    ["-thicksteps", "1000000000", "-thick", "100"],
]  # fmt: skip
MATRIX_VALUES = ["0", "1e300", "1e-300", "5e-324", "nan", "inf", "0.01", "-0.02", "abc", ""]
HEADER_VALUES = ["0", "-1", "inf", "nan", "1e400", "1e-400", "abc", "", "0.1", "100", "1"]
HEADER_KEYS = ["PIXEL_SIZE", "DISTANCE", "WAVELENGTH", "BEAM_CENTER_X", "BEAM_CENTER_Y",
               "CLOSE_DISTANCE", "PHI", "OSC_RANGE", "SIZE1", "SIZE2", "HEADER_BYTES"]  # fmt: skip


#: A character device like /dev/null, made in each example's own folder (never the real one).
NULL_DEVICE = "null.dev"


@dataclass
class Case:
    """One drawn run: its argv and the files to lay in its folder first."""

    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)


def _set(argv: list[str], flag: str, *values: str) -> list[str]:
    """``argv`` with ``flag`` given ``values`` (replacing an earlier one of the same name)."""
    out = list(argv)
    if flag in out:
        i = out.index(flag)
        count = 6 if flag == "-cell" else 1
        del out[i : i + 1 + count]
    return [*out, flag, *values]


def _smv(header: dict[str, str], pixels: np.ndarray) -> bytes:
    lines = "".join(f"{key}={value};\n" for key, value in header.items())
    text = ("{\n" + lines + "}\f").encode("latin-1")
    return text.ljust(512, b" ") + pixels.astype("<u2").tobytes()


def _header(size: int = 16) -> dict[str, str]:
    return {
        "HEADER_BYTES": "512",
        "DIM": "2",
        "BYTE_ORDER": "little_endian",
        "TYPE": "unsigned_short",
        "SIZE1": str(size),
        "SIZE2": str(size),
        "PIXEL_SIZE": "0.1",
        "DISTANCE": "100",
        "WAVELENGTH": "1",
        "BEAM_CENTER_X": "0.8",
        "BEAM_CENTER_Y": "0.8",
    }


@st.composite
def bad_numbers(draw: st.DrawFn) -> Case:
    flag = draw(st.sampled_from(INT_FLAGS + REAL_FLAGS))
    return Case(_set(BASE, flag, draw(st.sampled_from(HOSTILE_NUMBERS))))


@st.composite
def meaningless(draw: st.DrawFn) -> Case:
    extra = draw(st.sampled_from(MEANINGLESS))
    return Case(_set(BASE, extra[0], *extra[1:]) if extra[0] == "-cell" else [*BASE, *extra])


@st.composite
def too_large(draw: st.DrawFn) -> Case:
    return Case([*BASE, *draw(st.sampled_from(TOO_LARGE))])


@st.composite
def bad_matrix(draw: st.DrawFn) -> Case:
    values = draw(st.lists(st.sampled_from(MATRIX_VALUES), min_size=9, max_size=9))
    text = "\n".join(" ".join(values[3 * i : 3 * i + 3]) for i in range(3)) + "\n"
    argv = BASE[7:]  # BASE without -cell and its six values
    return Case([*argv, "-mat", "bad.mat"], {"bad.mat": text.encode()})


@st.composite
def bad_header(draw: st.DrawFn) -> Case:
    header = _header()
    for key in draw(st.lists(st.sampled_from(HEADER_KEYS), min_size=1, max_size=3)):
        header[key] = draw(st.sampled_from(HEADER_VALUES))
    size = draw(st.sampled_from([16, 8, 32]))
    pixels = np.ones((size, size), dtype=np.uint16)
    which = draw(st.sampled_from(["-img", "-mask"]))
    return Case([*BASE, which, "hdr.img"], {"hdr.img": _smv(header, pixels)})


@st.composite
def bad_tables(draw: st.DrawFn) -> Case:
    kind = draw(st.sampled_from(["hkl", "sourcefile"]))
    if kind == "hkl":
        index = draw(st.sampled_from(["1000000000", "-1000000000", "100000", "nan", "1e3", "3"]))
        body = f"0 0 0 10\n{index} 1 1 20\n1 1 {index} 30\n"
        argv = list(BASE)
        i = argv.index("-default_F")
        del argv[i : i + 2]
        return Case([*argv, "-hkl", "big.hkl"], {"big.hkl": body.encode()})
    wavelength = draw(st.sampled_from(["0", "-1", "1e-400", "nan", "inf", "1e-10"]))
    body = f"-10 0 0 1 {wavelength}\n-10 0.01 0 1 1e-10\n"
    return Case([*BASE, "-sourcefile", "src.txt"], {"src.txt": body.encode()})


@st.composite
def unbounded_input(draw: st.DrawFn) -> Case:
    flag = draw(st.sampled_from(["-hkl", "-mat", "-sourcefile", "-img", "-mask"]))
    argv = BASE[7:] if flag == "-mat" else BASE
    return Case([*argv, flag, "/dev/zero"])


@st.composite
def bad_outputs(draw: st.DrawFn) -> Case:
    flag = draw(st.sampled_from(["-floatfile", "-intfile", "-noisefile"]))
    target = draw(
        st.sampled_from(["no/such/dir/out.img", "afolder", "intimage.img", NULL_DEVICE, "."])
    )
    files = {"afolder/keep": b"x"}
    argv = [*BASE, flag, target]
    if target == "intimage.img" and flag == "-intfile":
        argv = [*BASE, flag, target, "-floatfile", target]
    return Case(argv, files)


HOSTILE = st.one_of(
    bad_numbers(),
    meaningless(),
    too_large(),
    bad_matrix(),
    bad_header(),
    bad_tables(),
    unbounded_input(),
    bad_outputs(),
)


@contextlib.contextmanager
def _folder(files: dict[str, bytes]) -> Iterator[Path]:
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="nb-hostile-") as tmp:
        root = Path(tmp)
        for name, data in {**EARLIER, **files}.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        _make_null_device(root / NULL_DEVICE)
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(old)


def _make_null_device(path: Path) -> None:
    """A character device with /dev/null's numbers, where this user may make one."""
    null = os.stat("/dev/null")
    with contextlib.suppress(OSError):
        os.mknod(path, stat.S_IFCHR | 0o666, null.st_rdev)
        with open(path, "wb"):
            return
    with contextlib.suppress(OSError):  # no device nodes here (not root, or a nodev mount)
        path.unlink()


def _snapshot(root: Path) -> dict[str, bytes]:
    files = (p for p in root.rglob("*") if p.is_file() and not p.is_symlink())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def _float_images(root: Path, argv: list[str]) -> list[Path]:
    named = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-floatfile"]
    paths = [Path(n) if Path(n).is_absolute() else root / n for n in named or ["floatimage.bin"]]
    return [p for p in paths if p.is_file()]


def check_promise(case: Case) -> None:
    """Run one case and hold nb to its promise (see the module docstring)."""
    with _folder(case.files) as root:
        before = _snapshot(root)
        err = io.StringIO()
        start = time.perf_counter()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["simulate", *case.argv])
        seconds = time.perf_counter() - start
        after = _snapshot(root)
        assert code in (0, 2), (code, err.getvalue())
        leftovers = [name for name in after if Path(name).name.startswith(".")]
        assert leftovers == [], f"temporaries left: {leftovers}"
        device = root / NULL_DEVICE
        if device.exists() or device.is_symlink():
            assert stat.S_ISCHR(device.lstat().st_mode), "a device node was replaced"
        if code == 2:
            lines = err.getvalue().strip().splitlines()
            assert len(lines) == 1, err.getvalue()
            assert lines[0].startswith("nb: error: "), lines[0]
            assert after == before, "a refused run changed the folder"
            assert seconds < REFUSAL_SECONDS, f"refusal took {seconds:.1f} s"
            return
        images = _float_images(root, case.argv)
        for path in images:
            pixels = np.fromfile(path, dtype="<f4")
            assert np.isfinite(pixels).all(), f"{path.name}: non-finite pixels with exit 0"
            assert pixels.size == 0 or math.isfinite(float(pixels.max()))


@pytest.mark.filterwarnings("error")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(Case([*BASE, "-lambda", "0"]))
@example(Case(_set(BASE, "-detpixels", "1e3")))
@example(Case([*BASE, "-intfile", "no/such/dir/x.img"]))
@example(Case([*BASE, "-hkl", "/dev/zero"]))
@given(HOSTILE)
def test_hostile_inputs_keep_the_promise(case: Case) -> None:
    check_promise(case)


@pytest.mark.slow
@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE)
def test_hostile_inputs_keep_the_promise_at_length(case: Case) -> None:
    check_promise(case)
