"""The ``nb`` command in-process: ``main(argv)`` and Typer's CliRunner."""

from __future__ import annotations

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
    assert err.strip() == "nb: error: -distance: expected a number, got 'far'"
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
