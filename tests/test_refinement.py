"""``nb refine`` recovers perturbed parameters (images from the C binary when NB_C_BIN is set)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nb_cli import main
from nb_core.io import write_float_image
from nb_parity.refinement import SCENARIOS, TRUTH, Scenario, observed_image, run_scenario


@pytest.fixture(scope="module")
def observed() -> np.ndarray:
    image, _ = observed_image()
    return image


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_refinement_recovers_the_truth(scenario: Scenario, observed: np.ndarray) -> None:
    result = run_scenario(scenario, observed)
    for name, errors in result.errors.items():
        tolerance = scenario.tolerance[name]
        tolerances = [tolerance] if isinstance(tolerance, float) else list(tolerance)
        for err, tol in zip(errors, tolerances, strict=True):
            assert abs(err) <= tol, f"{name}: error {err:+.3g} beyond {tol:g}"
        assert name in result.fit.uncertainties
    assert result.fit.history[-1] < 1e-6 * result.fit.history[0]


def test_refine_command_writes_json(
    observed: np.ndarray,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    write_float_image(tmp_path / "obs.bin", observed)
    argv = ["refine", "obs.bin", "--refine", "distance,Xbeam", "--json", "fit.json", *TRUTH]
    argv += ["-distance", "101", "-Xbeam", "9.8"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "iter   1  loss" in out
    result = json.loads((tmp_path / "fit.json").read_text())
    assert result["parameters"]["distance"] == pytest.approx(100.0, abs=0.05)
    assert result["parameters"]["Xbeam"] == pytest.approx(9.7, abs=0.01)
    assert set(result["uncertainties"]) == {"distance", "Xbeam"}
    assert result["iterations"] > 0
    assert isinstance(result["loss"], float)


def test_refine_rejects_unknown_names(
    observed: np.ndarray,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    write_float_image(tmp_path / "obs.bin", observed)
    assert main(["refine", "obs.bin", "--refine", "distance,colour", *TRUTH]) == 2
    assert "--refine: unknown parameter 'colour'" in capsys.readouterr().err


def test_refine_rejects_an_image_of_the_wrong_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    write_float_image(tmp_path / "obs.bin", np.zeros((10, 10), dtype=np.float32))
    assert main(["refine", "obs.bin", "--refine", "distance", *TRUTH]) == 2
    assert "obs.bin" in capsys.readouterr().err


def test_parity_refinement_command_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("NB_C_BIN", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["parity", "refinement", "--only", "distance", "--out", "rep"]) == 0
    assert "distance: PASS" in capsys.readouterr().out
    readme = (tmp_path / "rep" / "README.md").read_text()
    assert "nb parity refinement --out rep --only distance" in readme
    assert "| distance | distance (mm) | 100 | 102 |" in readme
    assert (tmp_path / "rep" / "distance.png").stat().st_size > 1000
    data = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert data["source"] == "nb"
    assert data["scenarios"][0]["passed"] is True


def test_parity_refinement_rejects_unknown_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["parity", "refinement", "--only", "nope"]) == 2
    out = capsys.readouterr()
    assert "--only" in out.out + out.err
    assert "unknown scenario 'nope'" in out.out + out.err
    assert not (tmp_path / "reports").exists()
