"""The ``nb`` command in-process: ``main(argv)`` and Typer's CliRunner."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from nb_cli import app, main
from nb_core.io import read_float_image, read_pgm, read_smv

SMALL = [
    "-cell",
    "100",
    "100",
    "100",
    "90",
    "90",
    "90",
    "-lambda",
    "6.2",
    "-N",
    "5",
    "-default_F",
    "100",
    "-detpixels",
    "32",
    "-distance",
    "100",
    "-pixel",
    "0.1",
    "-seed",
    "1234",
    "-noprogress",
]

#: The start of the one line ``-distance far`` gets (the line may go on to say what is valid).
BAD_DISTANCE = "nb: error: -distance: expected a number, got 'far'"


def test_simulate_writes_every_default_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", *SMALL]) == 0
    image = read_float_image(tmp_path / "floatimage.bin", 32, 32)
    assert image.max() > 0
    smv = read_smv(tmp_path / "intimage.img")
    assert smv.data.shape == (32, 32)
    assert smv.value("DISTANCE") == pytest.approx(100.0)
    assert read_smv(tmp_path / "noiseimage.img").data.shape == (32, 32)
    assert read_pgm(tmp_path / "image.pgm").shape == (32, 32)
    # The brightest pixel of the int image carries 55000 counts above the ADC offset.
    assert int(smv.data.max()) == 55040


def test_float64_and_float32_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert (
        main(["simulate", *SMALL, "-nonoise", "-nopgm", "-floatfile", "a.bin", "-dtype", "float64"])
        == 0
    )
    assert (
        main(["simulate", *SMALL, "-nonoise", "-nopgm", "-floatfile", "b.bin", "-dtype", "float32"])
        == 0
    )
    a = read_float_image(tmp_path / "a.bin", 32, 32).astype(np.float64)
    b = read_float_image(tmp_path / "b.bin", 32, 32).astype(np.float64)
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-4


def test_bad_flag_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", *SMALL, "-distance", "far"]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith(BAD_DISTANCE)
    assert list(tmp_path.iterdir()) == []


def test_missing_structure_factors_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    i = SMALL.index("-default_F")
    argv = SMALL[:i] + SMALL[i + 2 :]
    assert main(["simulate", *argv]) == 2
    assert "no -hkl file" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_detector_too_large_for_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", *SMALL, "-detpixels", "3000000"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nb: error: -detpixels:")
    assert "GiB" in err
    assert list(tmp_path.iterdir()) == []


def test_help_lists_the_flags() -> None:
    result = CliRunner().invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0
    for name in ("-distance", "-misset", "-oversample_omega", "-dtype"):
        assert name in result.output


def test_top_level_help() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "simulate" in result.output


def test_hkl_writes_the_dump_and_a_later_run_reads_it_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "P1.hkl").write_text("0 0 0 1000\n1 0 0 300\n0 1 0 200\n0 0 1 100\n-1 0 0 300\n")
    i = SMALL.index("-default_F")
    base = [*SMALL[:i], *SMALL[i + 2 :], "-nonoise", "-nopgm", "-N", "3"]
    assert main(["simulate", *base, "-hkl", "P1.hkl", "-floatfile", "a.bin"]) == 0
    assert (tmp_path / "Fdump.bin").is_file()
    capsys.readouterr()
    assert main(["simulate", *base, "-floatfile", "b.bin"]) == 0
    assert "reading Fs from Fdump.bin" in capsys.readouterr().out
    a = read_float_image(tmp_path / "a.bin", 32, 32)
    b = read_float_image(tmp_path / "b.bin", 32, 32)
    assert np.array_equal(a, b)
    assert a.max() > 0


def _python(code: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code args...`` in a fresh interpreter (start-up and exit as a user's)."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_console_entry_writes_complete_outputs_and_exit_codes(tmp_path: Path) -> None:
    # The console entry ends the process with os._exit: files and stdout must be complete.
    entry = "from nb_cli import run; run()"
    ok = _python(entry, "simulate", *SMALL, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().endswith("writing noiseimage.img as 2-byte integers")
    assert int(read_smv(tmp_path / "intimage.img").data.max()) == 55040
    assert read_float_image(tmp_path / "floatimage.bin", 32, 32).max() > 0
    bad = _python(entry, "simulate", *SMALL, "-distance", "far", cwd=tmp_path)
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 1
    assert bad.stderr.startswith(BAD_DISTANCE)


def test_simulate_skips_typer_parameter_processing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # 'nb simulate' hands its flags straight over; help and image are those of the Typer path.
    monkeypatch.chdir(tmp_path)
    assert main(["simulate", "-h"]) == 0
    assert "-distance" in capsys.readouterr().out
    assert main(["simulate", *SMALL, "-nonoise", "-nopgm", "-floatfile", "a.bin"]) == 0
    # The Typer command itself (as CliRunner and plugins see it) runs the same function.
    result = CliRunner().invoke(
        app, ["simulate", *SMALL, "-nonoise", "-nopgm", "-floatfile", "b.bin"]
    )
    assert result.exit_code == 0, result.output
    a = (tmp_path / "a.bin").read_bytes()
    assert len(a) == 32 * 32 * 4
    assert a == (tmp_path / "b.bin").read_bytes()


def test_simulate_does_not_import_heavy_modules(tmp_path: Path) -> None:
    # Start-up is most of a small job's time: sympy (0.9 s), pydantic (0.25 s) and the
    # compiler stack stay out of an eager 'nb simulate' (a phi scan, so the first-phi-loop
    # quirk's lookup runs too).
    script = (
        "import sys\n"
        "from nb_cli import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = ('sympy', 'pydantic', 'torch._dynamo', 'torch._inductor')\n"
        "print('HEAVY', [m for m in heavy if m in sys.modules])\n"
        "sys.exit(code)\n"
    )
    args = ["simulate", *SMALL, "-phi", "0", "-osc", "1", "-phisteps", "2", "-nonoise"]
    proc = _python(script, *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.rstrip().splitlines()[-1] == "HEAVY []"


def test_simulate_help_and_flag_errors_start_without_torch() -> None:
    script = (
        "import sys\n"
        "from nb_cli import main\n"
        "code = main(['simulate', '--help'])\n"
        "bad = main(['simulate', '-distance', 'far'])\n"
        "print('TORCH', 'torch' in sys.modules, bad)\n"
        "sys.exit(code)\n"
    )
    proc = _python(script)
    assert proc.returncode == 0, proc.stderr
    assert "-distance" in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1] == "TORCH False 2"
    assert len(proc.stderr.splitlines()) == 1
    assert proc.stderr.startswith(BAD_DISTANCE)
