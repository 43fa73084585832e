"""Bad options of ``nb refine``, ``nb compare``, ``nb trace`` and ``nb parity``: one line, exit 2.

Every refusal must come before any work: the fit (or the C and nb runs) is replaced by a
stand-in that fails the test if it is reached, and no file may appear.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import nb_cli.refine
import nb_parity.cli
from nb_cli import main

#: A 4 x 4 detector: a fit of it takes well under a second.
TINY = [
    *("-cell", "70", "80", "90", "85", "95", "105", "-lambda", "1", "-N", "3"),
    *("-default_F", "100", "-distance", "100", "-detpixels", "4"),
]


def _no_work(*args: object, **kwargs: object) -> object:
    raise AssertionError("the work started before the input was checked")


def _refused(capsys: pytest.CaptureFixture[str], code: int, flag: str) -> str:
    """Assert exit code 2 and one stderr line ``nb: error: <flag>: ...``; return the line."""
    out = capsys.readouterr()
    assert code == 2, out.err
    lines = out.err.splitlines()
    assert len(lines) == 1, out.err
    assert lines[0].startswith(f"nb: error: {flag}: "), lines[0]
    assert "Traceback" not in out.err + out.out
    return lines[0]


@pytest.fixture
def observed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A finite 4 x 4 float32 observed image in the current (temporary) folder."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "observed.bin"
    np.arange(16, dtype="<f4").reshape(4, 4).tofile(path)
    return path


@pytest.mark.parametrize(
    ("options", "flag", "words"),
    [
        (["--max-iter", "-5"], "--max-iter", "positive whole number"),
        (["--max-iter", "0"], "--max-iter", "got '0'"),
        (["--max-iter", "1.5"], "--max-iter", "got '1.5'"),
        (["--max-iter", "many"], "--max-iter", "got 'many'"),
        (["--loss", "l1"], "--loss", "expected lsq or poisson"),
        (["--method", "sgd"], "--method", "expected lm, lbfgs, adam"),
        (["--lattice", "trigonal"], "--lattice", "expected one of triclinic"),
        (["--write-mat", "/nonexistent/a.mat"], "--write-mat", "does not exist"),
        (["--dtype", "float16"], "--dtype", "expected float32 or float64"),
        (["--refine", "distance,nope"], "--refine", "unknown parameter 'nope'"),
        (["--refine", " , "], "--refine", "at least one"),
        (["--json", "."], "--json", "is a folder"),
        (["--json", "missing/fit.json"], "--json", "folder missing does not exist"),
        (["--json", ""], "--json", "empty"),
    ],
)
def test_bad_refine_options_are_refused_before_the_fit(
    observed: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    flag: str,
    words: str,
) -> None:
    monkeypatch.setattr(nb_cli.refine, "fit", _no_work)
    code = main(["refine", str(observed), "--refine", "distance", *options, *TINY])
    assert words in _refused(capsys, code, flag)
    assert sorted(p.name for p in observed.parent.iterdir()) == ["observed.bin"]


@pytest.mark.parametrize(
    ("bad", "words"),
    [(np.nan, "1 of 16 pixels are NaN or infinite"), (np.inf, "(the first at fast 2, slow 1)")],
)
def test_an_observed_image_with_nan_or_inf_pixels_is_refused(
    observed: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    bad: float,
    words: str,
) -> None:
    image = np.full((4, 4), 3.0, dtype="<f4")
    image[1, 2] = bad
    image.tofile(observed)
    monkeypatch.setattr(nb_cli.refine, "fit", _no_work)
    code = main(["refine", str(observed), "--refine", "distance", "--json", "fit.json", *TINY])
    assert words in _refused(capsys, code, str(observed))
    assert not (observed.parent / "fit.json").exists()


@pytest.mark.parametrize(("value", "words"), [(0.0, "are 0:"), (7.5, "are 7.5:")])
def test_an_observed_image_of_one_value_is_refused(
    observed: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: float,
    words: str,
) -> None:
    np.full((4, 4), value, dtype="<f4").tofile(observed)
    monkeypatch.setattr(nb_cli.refine, "fit", _no_work)
    code = main(["refine", str(observed), "--refine", "distance", "--json", "fit.json", *TINY])
    line = _refused(capsys, code, str(observed))
    assert f"all 16 pixels of the fitted region {words} there is no signal" in line
    assert not (observed.parent / "fit.json").exists()
    # One value outside the region fitted (-roi) is refused the same way.
    image = np.full((4, 4), value, dtype="<f4")
    image[3, 3] = value + 1.0
    image.tofile(observed)
    code = main(
        ["refine", str(observed), "--refine", "distance", *TINY, "-roi", "0", "1", "0", "1"]
    )
    assert "all 4 pixels of the fitted region" in _refused(capsys, code, str(observed))


def test_a_missing_or_wrong_sized_observed_image_is_refused(
    observed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(nb_cli.refine, "fit", _no_work)
    code = main(["refine", "nothing.bin", "--refine", "distance", *TINY])
    assert "cannot read" in _refused(capsys, code, "nothing.bin")
    np.zeros((3, 4), dtype="<f4").tofile(observed)
    code = main(["refine", str(observed), "--refine", "distance", *TINY])
    assert "should be 64 bytes" in _refused(capsys, code, str(observed))
    code = main(["refine", str(observed.parent), "--refine", "distance", *TINY])
    _refused(capsys, code, str(observed.parent))


def test_a_good_refinement_still_writes_its_json(
    observed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--refine", "distance", "--max-iter", "1", "--json", "fit.json"]
    code = main(["refine", str(observed), *options, *TINY])
    out = capsys.readouterr()
    assert code == 0, out.err
    payload = json.loads((observed.parent / "fit.json").read_text())
    assert payload["units"] == {"distance": "mm"}
    assert payload["iterations"] >= 1
    assert np.isfinite(payload["loss"])


@pytest.mark.parametrize(
    ("options", "flag", "words"),
    [
        (["--timeout", "-1"], "--timeout", "positive finite number of seconds, got -1"),
        (["--timeout", "0"], "--timeout", "got 0"),
        (["--timeout", "nan"], "--timeout", "got nan"),
        (["--timeout", "inf"], "--timeout", "got inf"),
        (["--c-threads", "0"], "--c-threads", "1 or more threads"),
        (["--rel-l2", "-1e-6"], "--rel-l2", "from 0 to inf"),
        (["--max-rel", "nan"], "--max-rel", "got nan"),
        (["--min-correlation", "1.5"], "--min-correlation", "from -1 to 1"),
        (["--trace", "3", "-2"], "--trace", "0 or more"),
        (["--outdir", "observed.bin"], "--outdir", "is a file"),
        (["--outdir", "observed.bin/report"], "--outdir", "is a file"),
        (["--golden", "observed.bin", "--c-bin", "x"], "--golden", "is not a folder"),
    ],
)
def test_bad_compare_options_are_refused_before_any_run(
    observed: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    options: list[str],
    flag: str,
    words: str,
) -> None:
    monkeypatch.setattr(nb_parity.cli, "_run_comparison", _no_work)
    c_bin = [] if "--c-bin" in options else ["--c-bin", "/no/such/nanoBragg"]
    code = main(["compare", *c_bin, *options, "--", *TINY])
    assert words in _refused(capsys, code, flag)
    assert sorted(p.name for p in observed.parent.iterdir()) == ["observed.bin"]


def test_bad_trace_and_parity_options_are_refused(
    observed: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("nb_parity.pixel_trace.trace_tables", _no_work)
    code = main(["trace", "1", "1", "--max-rows", "-3", "--", *TINY])
    assert "0 or more rows, got -3" in _refused(capsys, code, "--max-rows")
    code = main(["trace", "1", "1", "--json", ".", "--", *TINY])
    assert "is a folder" in _refused(capsys, code, "--json")
    code = main(["trace", "1", "1", "--json", "missing/t.json", "--", *TINY])
    assert "does not exist" in _refused(capsys, code, "--json")
    monkeypatch.setattr("nb_parity.refinement.observed_image", _no_work)
    code = main(["parity", "refinement", "--max-iter", "0"])
    assert "1 or more iterations, got 0" in _refused(capsys, code, "--max-iter")
    code = main(["parity", "refinement", "--out", "observed.bin/x"])
    assert "is a file" in _refused(capsys, code, "--out")
    monkeypatch.setattr("nb_parity.report.golden_report", _no_work)
    code = main(["parity", "golden", "--out", "observed.bin"])
    assert "is a file" in _refused(capsys, code, "--out")
    assert sorted(p.name for p in observed.parent.iterdir()) == ["observed.bin"]


def test_refine_command_checks_max_iter_from_python_too(observed: Path) -> None:
    from nb_core.errors import InputError

    bad_values: tuple[object, ...] = (0, -5, 2.5, True)
    for bad in bad_values:
        with pytest.raises(InputError, match=r"^--max-iter: expected a positive whole number"):
            nb_cli.refine.refine_command(
                str(observed),
                "distance",
                TINY,
                max_iter=bad,  # type: ignore[arg-type]
                say=lambda line: None,
            )
