"""``nb compare``, ``nb trace`` and ``nb parity golden`` in-process through ``nb_cli.main``."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from nb_cli import main
from nb_parity.golden import find_golden_root

ROOT = find_golden_root(Path(__file__).resolve())
needs_golden = pytest.mark.skipif(ROOT is None, reason="golden corpus (../shared/golden) not found")
C_BIN = os.environ.get("NB_C_BIN")
needs_c = pytest.mark.skipif(not C_BIN, reason="NB_C_BIN is not set (the reference C binary)")
DATA = Path(__file__).resolve().parents[4] / "shared" / "data"

SMALL = [
    "-cell", "100", "100", "100", "90", "90", "90", "-lambda", "6.2", "-N", "5",
    "-default_F", "100", "-detpixels", "48", "-distance", "100", "-pixel", "0.1",
]  # fmt: skip


def _golden(name: str) -> str:
    assert ROOT is not None
    return str(ROOT / name)


@needs_golden
def test_compare_golden_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code = main(["compare", "--golden", _golden("cubic_mosflm"), "--outdir", "out"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "README.md",
        "difference.png",
        "metrics.json",
    ]
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["passed"] is True
    assert data["float"]["rel_l2"] <= 1e-6
    assert data["float"]["max_rel"] <= 1e-5
    assert data["float"]["correlation"] >= 0.99999
    assert data["float"]["peaks"]["all_matched"] is True
    assert data["noise"]["identical_fraction"] == 1.0
    assert data["trace"] is None
    assert data["command"].startswith("nb compare --golden ")
    assert "relative L2" in out
    assert "PASS" in out


@needs_golden
def test_compare_golden_with_trace_names_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    case = _golden("triclinic_misset")
    text = (Path(case) / "trace.txt").read_text().splitlines()[0]  # "# fast=F slow=S"
    f, s = (part.split("=")[1] for part in text[2:].split())
    code = main(["compare", "--golden", case, "--outdir", "o", "--trace", f, s])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "trace: match" in out
    data = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert data["trace"]["result"] == "match"
    assert data["trace"]["first_diverging_field"] is None
    assert data["trace"]["pixel"] == [int(f), int(s)]


@needs_golden
def test_compare_with_other_flags_fails_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    case = _golden("cubic_mosflm")
    flags = json.loads((Path(case) / "case.json").read_text())["flags"]
    moved = [
        ("101" if a == "100" and flags[i - 1] == "-distance" else a) for i, a in enumerate(flags)
    ]
    assert moved != flags
    code = main(["compare", "--golden", case, "--outdir", "out", "--", *moved])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["passed"] is False
    assert "FAIL" in (tmp_path / "out" / "README.md").read_text()


@needs_golden
def test_compare_float32_against_float64_thresholds_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    args = ["compare", "--golden", _golden("cubic_default_conv"), "--dtype", "float32"]
    assert main([*args, "--outdir", "a"]) == 0  # the float32 tolerances by default
    assert main([*args, "--outdir", "b", "--rel-l2", "1e-9", "--max-rel", "1e-9"]) == 1
    data = json.loads((tmp_path / "b" / "metrics.json").read_text())
    assert data["thresholds"]["rel_l2"] == 1e-9
    assert [c["passed"] for c in data["checks"]] == [False, False, True, True]
    capsys.readouterr()


def test_compare_without_c_binary_is_bad_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NB_C_BIN", raising=False)
    assert main(["compare", "--outdir", "out", "--", *SMALL]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "--c-bin" in err
    assert "NB_C_BIN" in err
    assert not (tmp_path / "out").exists()


def test_compare_bad_inputs_are_one_line_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    cases = [
        ["compare", "--c-bin", str(tmp_path / "nope"), "--", *SMALL],
        ["compare", "--golden", str(tmp_path), "--", *SMALL],
        ["compare", "--golden", str(tmp_path), "--dtype", "float16"],
        ["trace", "1", "1", "--", "-distance", "abc"],
        ["trace", "500", "1", "--", *SMALL],
        ["parity", "golden", str(tmp_path / "missing")],
    ]
    for argv in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, (argv, err)
        assert err.startswith("nb: error: ")


def test_trace_prints_block_and_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    flags = [*SMALL, "-oversample", "2", "-phisteps", "2", "-osc", "0.1", "-mosaic", "0.1"]
    flags += ["-mosaic_dom", "2"]
    code = main(["trace", "20", "30", "--json", "t.json", "--", *flags])
    out = capsys.readouterr().out
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["20", "30", ":"]
    assert lines[1].startswith("at ")
    for title in ("detector", "sub-pixels", "scattering", "rotated real-space cell", "evaluations"):
        assert title in out
    for word in ("fdet", "pix0", "F_latt", "F_cell", "capfrac", "omega (sr)", "polar"):
        assert word in out
    data = json.loads((tmp_path / "t.json").read_text())
    tables = data["tables"]
    assert len(tables["sub-pixels"]["rows"]) == 4  # 2 x 2 sub-pixels
    assert len(tables["rotated real-space cell"]["rows"]) == 4  # 2 phi steps x 2 domains
    assert len(tables["evaluations"]["rows"]) == 16
    assert data["printout"][0] == lines[0]
    assert not list(tmp_path.glob("*.bin"))  # nothing but the JSON was written


@needs_golden
def test_parity_golden_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    for name in ("N0_saxs", "mask_file"):
        shutil.copytree(_golden(name), cases / name)
    monkeypatch.chdir(tmp_path)
    code = main(["parity", "golden", str(cases), "--out", "rep"])
    assert code == 0, capsys.readouterr().out
    readme = (tmp_path / "rep" / "README.md").read_text()
    assert "**2 of 2 cases pass.**" in readme
    assert "| N0_saxs |" in readme
    assert f"nb parity golden {cases} --out rep" in readme
    data = json.loads((tmp_path / "rep" / "parity.json").read_text())
    assert data["totals"]["passed"] == 2
    assert {c["name"]: c["trace"] for c in data["cases"]} == {
        "N0_saxs": "match",
        "mask_file": "match",
    }
    assert set(data["cases"][0]["dtypes"]) == {"float64", "float32"}


@pytest.mark.live
@needs_c
def test_live_compare_with_trace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    flags = [*SMALL, "-oversample", "2", "-mosaic", "0.2", "-mosaic_dom", "3", "-seed", "7"]
    code = main(
        ["compare", "--c-bin", str(C_BIN), "--outdir", "o", "--trace", "20", "30", "--", *flags]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert data["trace"]["result"] == "match"
    assert data["noise"]["identical_fraction"] >= 0.999
    assert data["c"]["seconds"] > 0


@pytest.mark.live
@needs_c
def test_live_pilatus_compare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The acceptance check: the real Pilatus 6M frame, C against nb in float64."""
    if not (DATA / "pilatus6m_flags.txt").is_file():
        pytest.skip("../shared/data is not beside the repository")
    for name in ("A.mat", "scaled.hkl"):
        shutil.copy(DATA / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    flags = (DATA / "pilatus6m_flags.txt").read_text().split()
    code = main(
        ["compare", "--c-bin", str(C_BIN), "--outdir", "out", "--dtype", "float64", "--", *flags]
    )
    out = capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "README.md",
        "difference.png",
        "metrics.json",
    ]
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["float"]["correlation"] >= 0.99999, out
    assert code == 0, out
