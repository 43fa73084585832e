"""Traces read the flags as the render and the C program do, substring side effects included.

``-misset random -misset_seed 7`` at the end of the flags: the C program matches ``-misset``
inside ``-misset_seed``, and with three arguments after it sets the misset angles from them
(7, then ``atof`` of the next two arguments: 0 for a flag). What follows the flags therefore
decides the orientation: the output flags ``nb compare`` adds, or the ``-printout
-printout_pixel F S`` of the C program's own trace run.
"""

from __future__ import annotations

import math
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from nb_cli import main
from nb_parity.compare import diff_trace
from nb_parity.pixel_trace import printout_flags, traced_settings_differ
from nb_parity.runs import run_c, run_nb

C_BIN = os.environ.get("NB_C_BIN")
needs_c = pytest.mark.skipif(not C_BIN, reason="NB_C_BIN is not set (the reference C binary)")

FLAGS = ["-cell", "50", "60", "70", "90", "90", "90", "-N", "3", "-default_F", "100"]
FLAGS += ["-detpixels", "64", "-pixel", "0.4", "-distance", "80", "-lambda", "1"]
FLAGS += ["-misset", "random", "-misset_seed", "7"]
PIXEL = (30, 30)


def _block(text: str) -> str:
    """The ``-printout`` block of :data:`PIXEL` in a console text."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  30   30 : stol"))
    return "\n".join(lines[start : start + 15])


def _cell_b(block: str) -> tuple[float, float, float]:
    """The cell vector b (Å) of a printout block (the second column of its X, Y, Z rows)."""
    rows = [line.split() for line in block.splitlines() if line[:2] in ("X:", "Y:", "Z:")]
    x, y, z = (float(row[2]) for row in rows[:3])
    return x, y, z


def _rotated_about_x(b: tuple[float, float, float], degrees: float) -> None:
    """b = 60 Å along y, rotated about x by ``degrees``."""
    angle = math.radians(degrees)
    np.testing.assert_allclose(b, (0.0, 60 * math.cos(angle), 60 * math.sin(angle)), atol=1e-6)


def test_trace_flags_are_those_of_the_c_programs_trace_run() -> None:
    traced = printout_flags(FLAGS, *PIXEL)
    assert traced[-4:] == ["-printout", "-printout_pixel", "30", "30"]
    assert traced_settings_differ(FLAGS, traced)  # the misset angles read the trace flags
    plain = FLAGS[:-4]
    assert not traced_settings_differ(plain, printout_flags(plain, *PIXEL))


def test_nb_trace_is_the_block_the_render_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["trace", "30", "30", "--", *FLAGS]) == 0
    out = capsys.readouterr().out
    assert out.startswith("note: the last flags read the arguments after them")
    traced = _block(out)
    # misset = (7, atof("-printout"), atof("-printout_pixel")) = (7, 0, 0) degrees
    _rotated_about_x(_cell_b(traced), 7.0)
    argv = [*printout_flags(FLAGS, *PIXEL), "-nonoise", "-nopgm", "-dtype", "float64"]
    assert main(["simulate", *argv]) == 0
    rendered = _block(capsys.readouterr().out)
    assert diff_trace(*PIXEL, traced, rendered).matches


def test_compare_traces_the_experiment_that_rendered_its_image() -> None:
    run = run_nb(FLAGS, dtype="float64", printout_pixel=PIXEL)
    assert run.float_image is not None
    # nb compare's output flags follow the user's: misset = (7, atof("-floatfile"), 0).
    assert run.argv[run.argv.index("-misset_seed") + 2] == "-floatfile"
    _rotated_about_x(_cell_b(run.printout), 7.0)
    pixel = float(run.printout.splitlines()[8].split()[1])
    assert pixel == pytest.approx(float(run.float_image[PIXEL[1], PIXEL[0]]), rel=1e-9)
    outside = run_nb(FLAGS, dtype="float64", printout_pixel=(64, 0))
    assert outside.printout == ""


@needs_c
def test_nb_trace_matches_the_c_programs_printout_pixel(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert C_BIN is not None
    monkeypatch.chdir(tmp_path)
    c_argv = [*printout_flags(FLAGS, *PIXEL), "-nonoise", "-nopgm"]
    c_out = subprocess.run(
        [C_BIN, *c_argv], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert main(["trace", "30", "30", "--", *FLAGS]) == 0
    diff = diff_trace(*PIXEL, _block(capsys.readouterr().out), c_out)
    assert diff.matches, diff.summary()


@needs_c
def test_compare_trace_matches_the_c_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert C_BIN is not None
    c = run_c(C_BIN, FLAGS, printout_pixel=PIXEL)
    nb = run_nb(FLAGS, dtype="float64", printout_pixel=PIXEL)
    assert diff_trace(*PIXEL, nb.printout, c.stdout).matches
    monkeypatch.chdir(tmp_path)
    argv = ["compare", "--c-bin", C_BIN, "--outdir", "out", "--trace", "30", "30", "--", *FLAGS]
    assert main(argv) == 0
    assert "Pixel (30, 30) trace: match." in capsys.readouterr().out


def test_traced_lattice_factor_has_the_sign_of_the_c_programs_sincg_product() -> None:
    import torch

    from nb_core.physics.lattice_factors import signed_lattice_factor

    generator = torch.Generator().manual_seed(3)
    hkl = torch.rand(3, 1000, generator=generator, dtype=torch.float64) * 6 - 3
    n_cells = torch.tensor([3.0, 4.0, 1.0], dtype=torch.float64)
    ours = signed_lattice_factor(
        hkl, "square", n_cells, torch.tensor(1.0, dtype=torch.float64), torch.eye(3), (3, 4, 1)
    )
    x = math.pi * hkl[:2]
    direct = (torch.sin(n_cells[:2, None] * x) / torch.sin(x)).prod(dim=0)  # N = 1 is skipped
    assert (direct < 0).sum() > 300
    torch.testing.assert_close(ours, direct, rtol=1e-9, atol=1e-9)
