"""nanoBragg's other spellings: read with the C program's meaning, or accepted with a note.

The C program matches flags by substring, so ``-matrix`` is ``-mat``, ``-adcoffset`` is
``-adc`` and ``-pix0_vector_mm`` is ``-pix0_vector`` (in metres; its values then go unused, as
every ``-pix0_vector``'s do, but the CUSTOM convention it selects stays). ``-hdiv``, ``-vdiv``,
``-detsize_x``/``_y`` and ``-xdet_vector``/``-ydet_vector``/``-zdet_vector`` appear in
nanoBragg's README but no clause of the C program acts on them.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from nb_cli import main
from nb_cli.flags import FLAG_BY_NAME, parse_args, to_c_argv
from nb_core.errors import InputError
from nb_core.render import render
from nb_core.resolve import load_inputs, resolve
from nb_parity.metrics import image_metrics
from nb_parity.runs import run_c, run_nb

C_BIN = os.environ.get("NB_C_BIN")
needs_c = pytest.mark.skipif(not C_BIN, reason="NB_C_BIN is not set (the reference C binary)")

BASE = ["-cell", "70", "80", "90", "85", "95", "105", "-lambda", "1.2", "-N", "4"]
BASE += ["-default_F", "100", "-detpixels", "40", "-pixel", "0.3", "-distance", "70"]
MATRIX = "0.0119 -0.0042 0.0031\n0.0043 0.0110 -0.0040\n-0.0025 0.0037 0.0102\n"


def _image(argv: list[str]) -> np.ndarray:
    parsed = parse_args(argv)
    exp = resolve(parsed.settings, load_inputs(parsed.settings), quirks=parsed.quirks)
    with torch.no_grad():
        return render(exp.params, exp.static).numpy()


def _same_settings(a: list[str], b: list[str]) -> None:
    sa, sb = parse_args(a).settings, parse_args(b).settings
    sa.given, sb.given = [], []
    sa.seed = sb.seed = sa.misset_seed = sb.misset_seed = 0  # the clock
    assert sa == sb


def test_matrix_is_read_as_mat_and_adcoffset_as_adc(tmp_path: Path) -> None:
    mat = tmp_path / "A.mat"
    mat.write_text(MATRIX)
    _same_settings([*BASE, "-matrix", str(mat)], [*BASE, "-mat", str(mat)])
    _same_settings([*BASE, "-adcoffset", "12"], [*BASE, "-adc", "12"])
    assert parse_args([*BASE, "-matrix", str(mat), "-fix", "flags"]).settings.matrix_file == str(
        mat
    )
    parsed = parse_args([*BASE, "-matrix", str(mat)])
    assert parsed.notes == []
    assert to_c_argv(parsed)[-2:] == ["-matrix", str(mat)]  # the C program gets the spelling


def test_pix0_vector_mm_is_pix0_vector_in_metres_and_in_mm_with_fix_flags() -> None:
    given = ["-pix0_vector_mm", "70", "-6", "6"]
    _same_settings([*BASE, *given], [*BASE, "-pix0_vector", "70", "-6", "6"])
    s = parse_args([*BASE, *given]).settings
    assert (s.pix0_vector, s.convention) == ((70.0, -6.0, 6.0), "custom")
    fixed = parse_args([*BASE, *given, "-fix", "flags"]).settings
    assert fixed.pix0_vector == pytest.approx((0.070, -0.006, 0.006), rel=1e-15)
    assert fixed.convention == "custom"
    # With the origin used (-fix pix0), mm under -fix flags is the same detector as metres.
    in_mm = _image([*BASE, *given, "-fix", "flags,pix0"])
    in_m = _image([*BASE, "-pix0_vector", "0.070", "-0.006", "0.006", "-fix", "pix0"])
    assert in_m.max() > 0
    assert image_metrics(in_mm, in_m).rel_l2 < 1e-12


def test_pix0_vector_mm_says_how_it_is_read_once() -> None:
    parsed = parse_args([*BASE, "-pix0_vector_mm", "70", "-6", "6"])
    assert len(parsed.notes) == 1
    assert "read as -pix0_vector (in m" in parsed.notes[0]
    assert "-fix flags reads it in mm" in parsed.notes[0]
    assert parse_args([*BASE, "-pix0_vector_mm", "70", "-6", "6", "-fix", "flags"]).notes == []


@pytest.mark.parametrize(
    "given",
    [
        ["-hdiv", "0"],
        ["-vdiv", "0.5"],
        ["-detsize_x", "50"],
        ["-detsize_y", "50"],
        ["-xdet_vector", "0", "0", "1"],
        ["-ydet_vector", "0", "-1", "0"],
        ["-zdet_vector", "1", "0", "0"],
    ],
)
def test_readme_flags_the_c_program_ignores_are_accepted_with_a_note(given: list[str]) -> None:
    _same_settings([*BASE, *given], BASE)
    parsed = parse_args([*BASE, *given])
    assert len(parsed.notes) == 1
    assert parsed.notes[0].startswith(f"note: {given[0]} is ignored, as nanoBragg ignores it")
    assert "(use -" in FLAG_BY_NAME[given[0]].help


def test_simulate_prints_each_note_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*BASE, "-hdiv", "0", "-vdiv", "0", "-hdiv", "1", "-nonoise", "-nopgm"]
    assert main(["simulate", *argv, "-outdir", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    notes = [line for line in lines if line.startswith("note: -")]
    assert [n.split()[1] for n in notes] == ["-hdiv", "-vdiv"]


@pytest.mark.parametrize(
    ("flag", "suggestion"),
    [("-matrx", "-matrix"), ("-pix0_vector_cm", "-pix0_vector_mm"), ("-hdivv", "-hdiv")],
)
def test_other_unknown_flags_stay_errors_with_a_suggestion(flag: str, suggestion: str) -> None:
    with pytest.raises(InputError) as err:
        parse_args([*BASE, flag, "1", "2", "3"])
    assert str(err.value) == (
        f"{flag}: unknown flag (did you mean {suggestion}?); see 'nb simulate --help'"
    )


def test_help_lists_the_spellings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--help"]) == 0
    out = capsys.readouterr().out
    for name in ("-matrix", "-adcoffset", "-pix0_vector_mm", "-hdiv", "-detsize_x"):
        assert name in out


def _parity(argv: list[str], files: dict[str, str]) -> tuple[float, float]:
    """Relative L2 of nb's float image and largest difference of its SMV image against C's."""
    assert C_BIN is not None
    c = run_c(C_BIN, argv, inputs=files)
    nb = run_nb(argv, inputs=files, dtype="float64")
    assert c.ok, c.stdout[-400:]
    assert nb.ok, nb.stdout[-400:]
    assert c.float_image is not None
    assert nb.float_image is not None
    assert c.int_image is not None
    assert nb.int_image is not None
    assert c.float_image.max() > 0
    diff = np.abs(c.int_image.data.astype(np.int64) - nb.int_image.data.astype(np.int64))
    return image_metrics(nb.float_image, c.float_image).rel_l2, float(diff.max())


@needs_c
@pytest.mark.parametrize(
    "given",
    [
        ["-matrix", "A.mat"],
        ["-pix0_vector_mm", "70", "-6", "6"],
        ["-adcoffset", "12"],
        ["-hdiv", "0", "-vdiv", "0"],
        ["-detsize_x", "50", "-xdet_vector", "0", "1", "0"],
    ],
)
def test_spellings_give_the_c_program_image(given: list[str]) -> None:
    rel_l2, int_diff = _parity([*BASE, *given], {"A.mat": MATRIX})
    assert rel_l2 < 1e-6
    assert int_diff <= 1
