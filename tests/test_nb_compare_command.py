"""``nb-compare``: the same command as ``nb compare``, under the name some workflows call.

The entry function is tested in-process and through a Python process that calls it as the
console script does; the script itself is run when it is installed (an editable install made
before the script was declared has no ``nb-compare`` on its PATH).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

from nb_cli import main
from nb_parity.cli import compare_main
from nb_parity.golden import find_golden_root

REPO = Path(__file__).resolve().parents[1]
ROOT = find_golden_root(REPO)
needs_golden = pytest.mark.skipif(ROOT is None, reason="golden corpus (../shared/golden) not found")
C_BIN = os.environ.get("NB_C_BIN")
needs_c = pytest.mark.skipif(not C_BIN, reason="NB_C_BIN is not set (the reference C binary)")

SMALL = ["-cell", "100", "100", "100", "90", "90", "90", "-lambda", "6.2", "-N", "5"]
SMALL += ["-default_F", "100", "-detpixels", "48", "-distance", "100", "-pixel", "0.1"]


def test_the_script_is_declared_and_names_the_entry_function() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "packages/nb-parity/pyproject.toml").read_text())["project"]
    target = project["scripts"]["nb-compare"]
    module, _, name = target.partition(":")
    assert getattr(import_module(module), name).__name__ == "compare_run"


def test_bad_input_gives_the_same_line_as_nb_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NB_C_BIN", raising=False)
    assert compare_main(["--outdir", "out", "--", *SMALL]) == 2
    ours = capsys.readouterr().err
    assert main(["compare", "--outdir", "out", "--", *SMALL]) == 2
    assert ours == capsys.readouterr().err
    assert ours.startswith("nb: error: no C binary")


@needs_golden
def test_golden_comparison_writes_what_nb_compare_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ROOT is not None
    monkeypatch.chdir(tmp_path)
    case = str(ROOT / "cubic_mosflm")
    assert compare_main(["--golden", case, "--outdir", "a"]) == 0
    assert main(["compare", "--golden", case, "--outdir", "b"]) == 0
    capsys.readouterr()
    a, b = (json.loads((tmp_path / d / "metrics.json").read_text()) for d in "ab")
    assert a["passed"] is b["passed"] is True
    assert a["float"] == b["float"]


def test_console_entry_runs_in_its_own_process(tmp_path: Path) -> None:
    code = "from nb_parity.cli import compare_run; compare_run()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert proc.returncode == 0, proc.stderr
    assert "--c-bin" in proc.stdout


def test_installed_script_runs(tmp_path: Path) -> None:
    script = shutil.which("nb-compare") or shutil.which(
        "nb-compare", path=str(Path(sys.executable).parent)
    )
    if script is None:
        pytest.skip("nb-compare is not installed (an install made before the script was added)")
    proc = subprocess.run(
        [script, "--help"], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "--c-bin" in proc.stdout


@needs_c
def test_the_parity_workflow_with_pix0_vector_mm_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert C_BIN is not None
    monkeypatch.chdir(tmp_path)
    flags = [*SMALL, "-pix0_vector_mm", "100", "2.4", "-2.4"]
    argv = ["--c-bin", C_BIN, "--dtype", "float64", "--outdir", "out", "--", *flags]
    assert compare_main(argv) == 0
    assert "PASS" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["float"]["rel_l2"] <= 1e-6
