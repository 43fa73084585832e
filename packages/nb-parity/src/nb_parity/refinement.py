"""Refinement scenarios: perturb a model, refine it back against an observed image, report.

The observed image is the C program's float image of the true model when a C binary is
available (``--c-bin`` or ``NB_C_BIN``), and nb's own otherwise. Each scenario perturbs some
parameters by the amounts the refinement issue names and checks that ``nb refine``'s engine
(:func:`nb_core.refine.fit`) recovers them within its tolerances.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nb_cli.flags import parse_args
from nb_core.model import PARAMETERS, Simulator
from nb_core.refine import FitResult, fit
from nb_core.render import render
from nb_core.resolve import load_inputs, resolve
from nb_parity.outputs import save_figure, write_json, write_text

__all__ = [
    "SCENARIOS",
    "TRUTH",
    "Scenario",
    "ScenarioResult",
    "observed_image",
    "run_scenario",
    "write_report",
]

#: The true model: a triclinic crystal, slightly tilted detector, two-theta swing.
TRUTH: tuple[str, ...] = tuple(
    (
        "-cell 70 80 90 85 95 105 -lambda 1 -N 8 -misset 10 5 3 -default_F 100 -distance "
        "100 -detpixels 96 -pixel 0.2 -oversample 2 -detector_rotx 0.5 -detector_roty "
        "-0.3 -detector_rotz 0.2 -twotheta 2"
    ).split()
)


@dataclass(frozen=True)
class Scenario:
    """One refinement: which flags to perturb, which parameters to refine, how close to land.

    Attributes:
        name: Short name.
        description: What is perturbed and by how much.
        perturb: Flags appended to :data:`TRUTH` for the starting model.
        refine: Parameters to refine.
        truth: True values (user units) of the refined parameters.
        tolerance: Allowed final error per parameter (user units).
    """

    name: str
    description: str
    perturb: tuple[str, ...]
    refine: tuple[str, ...]
    truth: dict[str, float | tuple[float, ...]]
    tolerance: dict[str, float | tuple[float, ...]]


_XBEAM, _YBEAM = 9.7, 9.7  # MOSFLM default for 96 pixels of 0.2 mm: (19.2 + 0.2) / 2

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "distance",
        "distance off by 2% (102 mm instead of 100 mm)",
        ("-distance", "102"),
        ("distance",),
        {"distance": 100.0},
        {"distance": 0.05},
    ),
    Scenario(
        "beam_centre",
        "beam centre off by one pixel in X and in Y (0.2 mm each)",
        ("-Xbeam", f"{_XBEAM + 0.2:g}", "-Ybeam", f"{_YBEAM - 0.2:g}"),
        ("Xbeam", "Ybeam"),
        {"Xbeam": _XBEAM, "Ybeam": _YBEAM},
        {"Xbeam": 0.01, "Ybeam": 0.01},
    ),
    Scenario(
        "cell",
        "cell lengths off by 0.7% and angles by 0.5 deg",
        ("-cell", "70.49", "79.44", "90.63", "85.5", "94.5", "105.5"),
        ("cell",),
        {"cell": (70.0, 80.0, 90.0, 85.0, 95.0, 105.0)},
        {"cell": (0.05, 0.05, 0.05, 0.05, 0.05, 0.05)},
    ),
    Scenario(
        "misset",
        "missetting angles off by 0.3 deg about x, y and z",
        ("-misset", "10.3", "4.7", "3.3"),
        ("misset",),
        {"misset": (10.0, 5.0, 3.0)},
        {"misset": (0.02, 0.02, 0.02)},
    ),
    Scenario(
        "detector_tilts",
        "detector rotations about x, y and z off by 1.5, -1 and 1.2 deg",
        ("-detector_rotx", "2", "-detector_roty", "-1.3", "-detector_rotz", "1.4"),
        ("detector_rotx", "detector_roty", "detector_rotz"),
        {"detector_rotx": 0.5, "detector_roty": -0.3, "detector_rotz": 0.2},
        {"detector_rotx": 0.05, "detector_roty": 0.05, "detector_rotz": 0.05},
    ),
    Scenario(
        "twotheta",
        "two-theta off by 1.5 deg (3.5 instead of 2); in MOSFLM its axis is lab -z, so it is "
        "refined apart from detector_rotz (the two are one rotation)",
        ("-twotheta", "3.5"),
        ("twotheta",),
        {"twotheta": 2.0},
        {"twotheta": 0.05},
    ),
)


def _experiment(argv: Sequence[str]):
    parsed = parse_args(list(argv))
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=torch.float64)


def observed_image(c_bin: str | None = None) -> tuple[np.ndarray, str]:
    """The observed image of the true model and where it came from.

    Args:
        c_bin: C binary; defaults to ``NB_C_BIN``; without one nb renders it.

    Returns:
        ``((S, F) float32 image, "C program" | "nb")``.
    """
    binary = c_bin or os.environ.get("NB_C_BIN")
    if binary:
        from nb_parity.runs import run_c

        run = run_c(binary, TRUTH)
        if not run.ok or run.float_image is None:
            raise RuntimeError(f"the C program failed on the true model:\n{run.stdout[-2000:]}")
        return run.float_image, "C program"
    exp = _experiment(TRUTH)
    with torch.no_grad():
        image = render(exp.params, exp.static)
    return image.numpy().astype(np.float32), "nb"


@dataclass
class ScenarioResult:
    """A scenario's refinement and how close it landed.

    Attributes:
        scenario: The scenario.
        fit: The fit.
        errors: Final error per parameter (refined - true), user units.
        passed: Whether every error is within tolerance.
        error_history: Largest relative-to-tolerance error after each iteration.
    """

    scenario: Scenario
    fit: FitResult
    errors: dict[str, list[float]] = field(default_factory=dict)
    passed: bool = False
    error_history: list[float] = field(default_factory=list)


def _as_list(value: float | Sequence[float]) -> list[float]:
    return [float(value)] if isinstance(value, int | float) else [float(x) for x in value]


def _worst(values: dict[str, float | list[float]], scenario: Scenario) -> float:
    worst = 0.0
    for name in scenario.refine:
        got = _as_list(values[name])
        for g, t, tol in zip(
            got, _as_list(scenario.truth[name]), _as_list(scenario.tolerance[name]), strict=True
        ):
            worst = max(worst, abs(g - t) / tol)
    return worst


def run_scenario(scenario: Scenario, observed: np.ndarray, *, max_iter: int = 40) -> ScenarioResult:
    """Refine one scenario's perturbed model against ``observed``.

    Args:
        scenario: The scenario.
        observed: ``(S, F)`` observed image.
        max_iter: Iterations per coarse-to-fine stage.

    Returns:
        The result.
    """
    exp = _experiment((*TRUTH, *scenario.perturb))
    sim = Simulator(exp, scenario.refine)
    target = torch.as_tensor(np.asarray(observed, dtype=np.float64))
    result = fit(sim, target, loss="lsq", max_iter=max_iter)
    errors = {
        name: [
            g - t
            for g, t in zip(
                _as_list(result.values[name]), _as_list(scenario.truth[name]), strict=True
            )
        ]
        for name in scenario.refine
    }
    passed = _worst(result.values, scenario) <= 1.0
    history = [_worst(v, scenario) for v in result.trajectory]
    return ScenarioResult(scenario, result, errors, passed, history)


def _convergence_plot(res: ScenarioResult, outdir: Path) -> Path:
    """The scenario's loss and parameter error per iteration, as ``<name>.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = res.scenario
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    loss = np.maximum(np.asarray(res.fit.history, dtype=float), 1e-300)
    ax1.semilogy(range(len(loss)), loss, marker="o", ms=3)
    ax1.set_xlabel("iteration")
    ax1.set_ylabel("loss (sum of squared residuals, photons^2)")
    ax1.set_title(f"{sc.name}: loss")
    ax2.semilogy(
        range(len(res.error_history)), np.maximum(res.error_history, 1e-12), marker="o", ms=3
    )
    ax2.axhline(1.0, color="red", ls="--", label="tolerance")
    ax2.set_xlabel("iteration")
    ax2.set_ylabel("max |error| / tolerance")
    ax2.set_title(f"{sc.name}: parameter error")
    ax2.legend()
    fig.tight_layout()
    png = outdir / f"{sc.name}.png"
    save_figure(fig, png, dpi=100)
    plt.close(fig)
    return png


def _parameter_rows(res: ScenarioResult) -> list[str]:
    """One table row per refined value: true, start, refined, error, tolerance, sigma."""
    sc = res.scenario
    rows = []
    for name in sc.refine:
        unit = PARAMETERS[name].unit
        start = _as_list(res.fit.start[name])
        final = _as_list(res.fit.values[name])
        sigma = _as_list(res.fit.uncertainties.get(name, [0.0] * len(final)))
        truth, tolerance = _as_list(sc.truth[name]), _as_list(sc.tolerance[name])
        values = zip(start, final, truth, tolerance, sigma, strict=True)
        for i, (s0, f, t, tol, sg) in enumerate(values):
            label = name if len(final) == 1 else f"{name}[{i}]"
            rows.append(
                f"| {sc.name} | {label} ({unit}) | {t:g} | {s0:g} | {f:.6f} | {f - t:+.2e} | "
                f"{tol:g} | {sg:.1e} | {'PASS' if abs(f - t) <= tol else 'FAIL'} |"
            )
    return rows


def _scenario_payload(res: ScenarioResult) -> dict[str, object]:
    """The scenario's entry in ``results.json``."""
    sc = res.scenario
    return {
        "scenario": sc.name,
        "description": sc.description,
        "refine": list(sc.refine),
        "truth": sc.truth,
        "start": res.fit.start,
        "refined": res.fit.values,
        "uncertainties": res.fit.uncertainties,
        "errors": res.errors,
        "tolerance": sc.tolerance,
        "passed": res.passed,
        "iterations": res.fit.iterations,
        "seconds": res.fit.seconds,
        "loss_history": res.fit.history,
    }


def write_report(
    results: Sequence[ScenarioResult], outdir: Path, *, source: str, command: str
) -> list[Path]:
    """Write ``README.md`` (table), ``results.json`` and one convergence plot per scenario.

    Args:
        results: Scenario results.
        outdir: Report folder (created).
        source: Where the observed image came from.
        command: The command that made the report.

    Returns:
        Paths written.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    written = [_convergence_plot(res, outdir) for res in results]
    rows = [row for res in results for row in _parameter_rows(res)]
    payload = [_scenario_payload(res) for res in results]
    lines = [
        "# Refinement: recovering perturbed parameters",
        "",
        f"Made by `{command}`.",
        f"Observed image of the small scenarios: the {source}'s float image of the true model",
        f"`{' '.join(TRUTH)}`. Each scenario starts from the true model with the perturbation below,",
        "refines with nb_core.refine.fit (spot positions, then Levenberg-Marquardt on the spot",
        "pixels) and reports the one-sigma uncertainty from the Gauss-Newton covariance.",
        "",
        "| scenario | what is perturbed | iterations | time (s) | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for res in results:
        lines.append(
            f"| {res.scenario.name} | {res.scenario.description} | {res.fit.iterations} | "
            f"{res.fit.seconds:.1f} | {'PASS' if res.passed else 'FAIL'} |"
        )
    lines += [
        "",
        "| scenario | parameter | true | start | refined | error | tolerance | sigma | |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        "Convergence plots: "
        + ", ".join(f"[{r.scenario.name}]({r.scenario.name}.png)" for r in results),
        "",
    ]
    readme = outdir / "README.md"
    write_text(readme, "\n".join(lines))
    data = outdir / "results.json"
    write_json(data, {"source": source, "command": command, "scenarios": payload}, indent=2)
    return [readme, data, *written]
