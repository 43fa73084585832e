"""compare_runs, write_report, input staging and the pixel-trace diff (no C binary needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nb_core.errors import InputError
from nb_parity.compare import (
    REPORT_FILES,
    ReferenceImages,
    Thresholds,
    compare_runs,
    compare_smv,
    diff_trace,
    golden_reference,
    load_case,
    nb_printout,
    stage_inputs,
    write_report,
)
from nb_parity.golden import GoldenCase, find_golden_root
from nb_parity.runs import Run, run_nb

ROOT = find_golden_root(Path(__file__).resolve())
needs_golden = pytest.mark.skipif(ROOT is None, reason="golden corpus (../shared/golden) not found")


def _case(name: str) -> GoldenCase:
    assert ROOT is not None
    return load_case(ROOT / name)


def _inputs(case: GoldenCase) -> dict[str, Path]:
    return {name: case.path / name for name in case.inputs}


@pytest.fixture(scope="module")
def mosflm() -> tuple[GoldenCase, Run]:
    """The cubic_mosflm case and nb's float64 run of it (noise included)."""
    if ROOT is None:
        pytest.skip("golden corpus (../shared/golden) not found")
    case = _case("cubic_mosflm")
    return case, run_nb(case.flags, inputs=_inputs(case), noise=True, dtype="float64")


def test_thresholds_follow_the_golden_tolerances() -> None:
    assert Thresholds.for_dtype("float64") == Thresholds(1e-6, 1e-5, 0.99999, True)
    assert Thresholds.for_dtype("float32") == Thresholds(1e-3, 1e-2, 0.99999, True)


@needs_golden
def test_golden_comparison_passes_and_writes_three_files(
    mosflm: tuple[GoldenCase, Run], tmp_path: Path
) -> None:
    case, nb = mosflm
    comparison = compare_runs(
        golden_reference(case), nb, command=["nb", "compare", "--golden", "x"]
    )
    assert comparison.passed
    assert [c.name for c in comparison.checks] == [
        "relative L2",
        "max |diff| / max |C|",
        "correlation",
        "peaks unmatched (within 1 px)",
    ]
    written = write_report(comparison, tmp_path / "out")
    assert [p.name for p in written] == list(REPORT_FILES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(REPORT_FILES)
    data = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert data["passed"] is True
    assert data["float"]["rel_l2"] <= 1e-6
    assert data["float"]["correlation"] >= 0.99999
    assert data["float"]["peaks"]["all_matched"] is True
    assert data["float"]["peaks"]["matched"] == data["float"]["peaks"]["n_ref"] > 0
    assert data["int"]["header_equal"] is True
    assert data["noise"]["identical_fraction"] >= 0.999
    assert data["thresholds"] == {
        "rel_l2": 1e-6,
        "max_rel": 1e-5,
        "min_correlation": 0.99999,
        "all_peaks": True,
    }
    assert data["c"]["argv"] == case.flags
    assert data["c"]["seconds"] is None
    assert data["nb"]["seconds"] > 0
    assert (tmp_path / "out" / "difference.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    readme = (tmp_path / "out" / "README.md").read_text()
    assert "| relative L2 | <= 1e-06 |" in readme
    assert "PASS" in readme
    assert "nb compare --golden x" in readme


@needs_golden
def test_tight_thresholds_fail(mosflm: tuple[GoldenCase, Run]) -> None:
    case, nb = mosflm
    changed = nb.float_image.copy()  # type: ignore[union-attr]
    changed[0, 0] += 1.0
    nb_changed = Run("nb", nb.argv, 0, "", float_image=changed, seconds=0.1)
    comparison = compare_runs(golden_reference(case), nb_changed, Thresholds(rel_l2=1e-12))
    assert not comparison.passed
    failed = [c.name for c in comparison.checks if not c.passed]
    assert "relative L2" in failed
    assert comparison.int_image is None  # the changed run has no int image


def test_shape_mismatch_fails_and_still_reports(tmp_path: Path) -> None:
    ref = ReferenceImages(np.ones((4, 5), np.float32), None, None, ["-x"], 1.0, "c")
    nb = Run("nb", ["-y"], 0, "", float_image=np.ones((5, 4), np.float32), seconds=0.5)
    comparison = compare_runs(ref, nb)
    assert not comparison.passed
    assert comparison.checks[0].name == "image shape equal"
    write_report(comparison, tmp_path)
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["float"] is None
    assert data["checks"][1]["measured"] == "nan"
    assert "not measured" in (tmp_path / "README.md").read_text()


def test_compare_smv_counts_differing_pixels() -> None:
    from nb_core.io import SmvImage

    a = SmvImage(
        {"SIZE1": "2", "DISTANCE": "100"}, "{}", 512, np.array([[1, 2], [3, 4]], np.uint16)
    )
    b = SmvImage(
        {"SIZE1": "2", "DISTANCE": "101"}, "{}", 512, np.array([[1, 2], [3, 6]], np.uint16)
    )
    result = compare_smv(a, b)
    assert not result.header_equal
    assert result.pixels_differing == 1
    assert result.max_count_diff == 2
    assert result.identical_fraction == pytest.approx(0.75)


def test_stage_inputs_takes_named_files_from_the_folder(tmp_path: Path) -> None:
    (tmp_path / "A.mat").write_text("x")
    (tmp_path / "Fdump.bin").write_bytes(b"x")
    flags, inputs = stage_inputs(["-mat", "A.mat", "-default_F", "1"], tmp_path)
    assert flags == ["-mat", "A.mat", "-default_F", "1"]
    assert inputs == {"A.mat": tmp_path / "A.mat", "Fdump.bin": tmp_path / "Fdump.bin"}
    (tmp_path / "sub").mkdir()
    flags, inputs = stage_inputs(["-hkl", "../A.mat"], tmp_path / "sub")
    assert flags == ["-hkl", str((tmp_path / "A.mat").resolve())]
    assert inputs == {}
    with pytest.raises(InputError, match=r"-hkl: missing\.hkl not found"):
        stage_inputs(["-hkl", "missing.hkl"], tmp_path)


@needs_golden
def test_trace_diff_matches_the_golden_block(mosflm: tuple[GoldenCase, Run]) -> None:
    case, nb = mosflm
    theirs = case.trace() or ""
    assert nb.float_image is not None
    ours = nb_printout(
        case.flags,
        _inputs(case),
        dtype="float64",
        fpixel=48,
        spixel=48,
        pixel_value=float(nb.float_image[48, 48]),
    )
    diff = diff_trace(48, 48, ours, theirs)
    assert diff.matches
    assert diff.summary() == "match"
    assert len(diff.rows) == 30
    assert all(row[4] for row in diff.rows)


def test_trace_diff_names_the_first_diverging_field() -> None:
    block = (
        "  48   48 : stol = 3.5e+06 or 0.00035\n"
        "at 0.1 5e-05 -5e-05\n"
        "hkl= 0.000000 0.050000 -0.050000  hkl0= 0 0 0\n"
        " F_cell=100  F_latt=1   I = 10000\n"
        "I/steps           10000\n"
        "polar        0.99999975\n"
    )
    other = block.replace("F_latt=1 ", "F_latt=2 ").replace("polar        0.9", "polar        0.8")
    diff = diff_trace(48, 48, other, block)
    assert not diff.matches
    assert diff.first is not None
    assert (diff.first.field, diff.first.name) == ("F", "F_latt")
    assert "F_latt" in diff.summary()
    assert [r[1] for r in diff.rows if not r[4]] == ["F_latt", "polar"]
    assert diff_trace(1, 1, block, "no block here").summary() == "no C block for this pixel"
