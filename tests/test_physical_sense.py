"""Values without physical sense: one line naming the flag or file, exit 2, nothing written.

Each case once crashed with a traceback (ZeroDivisionError, a NaN converted to an integer, a
tensor size mismatch) or exited 0 with an image of NaNs, infinities or negative photon counts.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from nb_cli import main
from nb_core.io import write_smv

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
CELL = ["-cell", "50", "60", "70", "90", "90", "90"]
REST = ["-default_F", "100", "-N", "2", "-detpixels", "16", "-noprogress", "-seed", "1"]
BASE = [*CELL, *REST]


@contextlib.contextmanager
def _scratch(tmp_path: Path) -> Iterator[Path]:
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


def _run(command: str, argv: list[str]) -> tuple[int, list[str]]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main([command, *argv])
    return code, err.getvalue().strip().splitlines()


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _assert_refused(code: int, lines: list[str], name: str) -> None:
    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"nb: error: {name}: "), lines[0]


def _write_inputs(folder: Path) -> None:
    write_smv(folder / "mask16.img", np.ones((16, 16), dtype=np.uint16), [("PIXEL_SIZE", "0.1")])
    matrices = {
        "zero.mat": "0 0 0\n0 0 0\n0 0 0\n",
        "singular.mat": "0.01 0.02 0.03\n0.02 0.04 0.06\n0 0 0.01\n",
        "huge.mat": "1e300 0 0\n0 1e300 0\n0 0 1e300\n",
        "tiny.mat": "1e-300 0 0\n0 1e-300 0\n0 0 1e-300\n",
        "denormal.mat": "4e-320 0 0\n0 4e-320 0\n0 0 4e-320\n",
    }
    for name, text in matrices.items():
        (folder / name).write_text(text)
    (folder / "sources.txt").write_text("-10 0 0 1 1e-10\n-10 0.01 0 1 0\n")


FLAG_CASES = [
    (["-lambda", "0"], "-lambda"),
    (["-lambda", "-0"], "-lambda"),
    (["-energy", "0"], "-energy"),
    (["-distance", "0"], "-distance"),
    (["-distance", "1e-400"], "-distance"),
    (["-pixel", "0"], "-pixel"),
    (["-close_distance", "0"], "-close_distance"),
    (["-beam_vector", "0", "0", "0"], "-beam_vector"),
    (["-fdet_vector", "0", "0", "0"], "-fdet_vector"),
    (["-sdet_vector", "0", "0", "0"], "-sdet_vector"),
    (["-spindle_axis", "0", "0", "0"], "-spindle_axis"),
    (["-polar_vector", "0", "0", "0"], "-polar_vector"),
    (["-beam_vector", "0", "1", "0"], "-beam_vector"),
    (["-detector_roty", "90"], "-detector_roty"),
    (["-flux", "1e12", "-beamsize", "0"], "-beamsize"),
    (["-water", "-1"], "-water"),
    (["-flux", "-1"], "-flux"),
    (["-fluence", "-1"], "-fluence"),
    (["-osc", "0", "-phistep", "1"], "-osc"),
    (["-dispersion", "250"], "-dispersion"),
    (["-mask", "mask16.img", "-detpixels", "32"], "mask16.img"),
    (["-sourcefile", "sources.txt"], "sources.txt line 2"),
    # Physically possible magnitudes that overflow the float32 image: caught after the render.
    (["-distance", "1e308"], "-distance"),
    (["-misset", "1e300", "0", "0"], "-misset"),
    (["-default_F", "1e30"], "-default_F"),
    (["-water", "1e12"], "-water"),
]


@pytest.mark.parametrize(("extra", "name"), FLAG_CASES, ids=[" ".join(c[0]) for c in FLAG_CASES])
def test_simulate_refuses_flags_without_physical_sense(
    tmp_path: Path, extra: list[str], name: str
) -> None:
    with _scratch(tmp_path) as folder:
        _write_inputs(folder)
        before = _files(folder)
        code, lines = _run("simulate", [*BASE, *extra])
        _assert_refused(code, lines, name)
        assert _files(folder) == before


@pytest.mark.parametrize(
    ("cell", "fragment"),
    [
        (["1e30", "1e30", "1e30", "90", "90", "90"], "lengths must be from 0.01 to 1e+07 Å"),
        (["1e-300", "1", "1", "90", "90", "90"], "lengths must be from 0.01 to 1e+07 Å"),
        (["50", "60", "70", "90", "90", "180"], "angles must be between 0 and 180 degrees"),
        (["50", "60", "70", "30", "30", "90"], "close no cell"),
    ],
)
def test_simulate_refuses_cells(tmp_path: Path, cell: list[str], fragment: str) -> None:
    with _scratch(tmp_path) as folder:
        code, lines = _run("simulate", ["-cell", *cell, *REST])
        _assert_refused(code, lines, "-cell")
        assert fragment in lines[0]
        assert _files(folder) == {}


@pytest.mark.parametrize(
    ("matrix", "fragment"),
    [
        ("zero.mat", "the matrix is zero"),
        ("singular.mat", "the matrix is singular (determinant 0); expected three independent"),
        ("huge.mat", "cell edges 1e-300 1e-300 1e-300 Å"),
        ("tiny.mat", "cell edges 1e+300 1e+300 1e+300 Å"),
        ("denormal.mat", "cell edges inf inf inf Å"),
    ],
)
def test_simulate_refuses_matrices(tmp_path: Path, matrix: str, fragment: str) -> None:
    with _scratch(tmp_path) as folder:
        _write_inputs(folder)
        before = _files(folder)
        code, lines = _run("simulate", [*REST, "-mat", matrix])
        _assert_refused(code, lines, matrix)
        assert fragment in lines[0]
        assert _files(folder) == before


def test_a_zero_odet_vector_is_still_generated(tmp_path: Path) -> None:
    # The C program builds odet from fdet x sdet when it is not a unit vector.
    with _scratch(tmp_path) as folder:
        code, lines = _run("simulate", [*BASE, "-nonoise", "-nopgm", "-odet_vector", "0", "0", "0"])
        assert code == 0, lines
        image = np.fromfile(folder / "floatimage.bin", dtype="<f4")
        assert image.size == 256
        assert np.isfinite(image).all()
        assert float(image.max()) == pytest.approx(0.6266929, rel=1e-4)


@pytest.mark.parametrize(
    ("extra", "name"),
    [
        (["-lambda", "0"], "-lambda"),
        (["-beam_vector", "0", "0", "0"], "-beam_vector"),
        (["-mat", "singular.mat"], "singular.mat"),
    ],
)
def test_refine_refuses_flags_without_physical_sense(
    tmp_path: Path, extra: list[str], name: str
) -> None:
    with _scratch(tmp_path) as folder:
        _write_inputs(folder)
        code, lines = _run("simulate", [*BASE, "-nonoise", "-nopgm", "-intfile", "obs.img"])
        assert code == 0, lines
        before = _files(folder)
        flags = REST if extra[0] == "-mat" else BASE
        argv = ["obs.img", "--refine", "distance", "--max-iter", "1", *flags, *extra]
        code, lines = _run("refine", argv)
        _assert_refused(code, lines, name)
        assert _files(folder) == before


def test_compare_refuses_flags_without_physical_sense(tmp_path: Path) -> None:
    case = SHARED / "golden" / "cases" / "cubic_mosflm"
    if not case.is_dir():
        pytest.skip(f"{case} is missing")
    with _scratch(tmp_path) as folder:
        argv = ["--golden", str(case), "--outdir", "cmp", "--", *BASE, "-distance", "0"]
        code, lines = _run("compare", argv)
        _assert_refused(code, lines, "-distance")
        assert not (folder / "cmp").exists()
