"""``nb --version``, ``python -m nb_cli`` and ``nb simulate --help`` at narrow widths."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from nb_cli import main
from nb_cli.flags import FLAGS
from nb_cli.help import MIN_MEANING_WIDTH, flag_entry_lines, print_flag_help
from nb_cli.version import DISTRIBUTIONS, version_lines


def _python(*args: str, columns: int | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=120
    )


def _cells(line: str) -> int:
    """Terminal cells a line takes (wide characters count two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_version_names_every_package_and_torch_without_importing_torch() -> None:
    script = (
        "import sys\n"
        "from nb_cli import main\n"
        "code = main(['--version'])\n"
        "print('TORCH', 'torch' in sys.modules)\n"
        "sys.exit(code)\n"
    )
    proc = _python("-c", script)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1] == "TORCH False"
    assert lines[0].startswith("nb ")
    for name, package in DISTRIBUTIONS:
        assert any(line.startswith(f"{name} ") and line.endswith(f"({package})") for line in lines)
    import torch

    assert f"torch {torch.__version__}" in lines
    assert any(line.startswith("Python 3.") for line in lines)


def test_version_lines_say_when_a_distribution_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import PackageNotFoundError

    import nb_cli.version as version_module

    def missing(name: str) -> str:
        raise PackageNotFoundError(name)

    monkeypatch.setattr(version_module, "version", missing)
    lines = version_lines()
    assert lines[0] == "nb not installed"
    assert "nanobragg-torch not installed (nb_core)" in lines


def test_version_exits_zero_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert "nanobragg-torch-cli" in capsys.readouterr().out


def test_python_dash_m_nb_cli_is_the_nb_command() -> None:
    proc = _python("-m", "nb_cli", "simulate", "-distance", "far")
    assert proc.returncode == 2
    assert proc.stderr.startswith("nb: error: -distance:")
    proc = _python("-m", "nb_cli", "--help", columns=80)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: nb " in proc.stdout
    assert "--version" in proc.stdout


def test_python_dash_m_nb_parity_is_nb_compare() -> None:
    proc = _python("-m", "nb_parity", "--help", columns=80)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: nb compare" in proc.stdout


@pytest.mark.parametrize("columns", [60, 80, 100])
def test_simulate_help_fits_narrow_terminals_with_readable_meanings(columns: int) -> None:
    proc = _python("-m", "nb_cli", "simulate", "--help", columns=columns)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(_cells(line) for line in lines) <= columns
    # each meaning stays whole text, wrapped at word boundaries under its flag
    text = " ".join(line.strip() for line in lines)
    for flag in FLAGS:
        assert " ".join(flag.help.split()) in text, flag.name
    cell = lines.index(next(line for line in lines if line.lstrip().startswith("-cell ")))
    assert lines[cell + 1].startswith("      unit cell (alternative to -mat); missing lengths")


def test_simulate_help_is_one_table_per_section_when_wide(
    capsys: pytest.CaptureFixture[str],
) -> None:
    print_flag_help(width=200)
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("flag "))
    assert header.split() == ["flag", "values", "unit", "default", "meaning"]
    meaning = header.index("meaning")
    assert 200 - meaning >= MIN_MEANING_WIDTH


def test_a_narrow_entry_wraps_the_meaning_under_the_flag() -> None:
    distance = next(f for f in FLAGS if f.name == "-distance")
    lines = flag_entry_lines(distance, 40)
    assert lines[0].startswith("  -distance")
    assert all(len(line) <= 40 for line in lines)
    body = [line for line in lines[1:] if line.startswith("      ")]
    assert " ".join(line.strip() for line in body) == " ".join(distance.help.split())


def test_the_package_marks_itself_typed() -> None:
    import nb_cli

    assert (Path(nb_cli.__file__).parent / "py.typed").is_file()
