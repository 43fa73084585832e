"""The refinement report's sections on realistic frames and on many stills."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nb_parity.frames import FrameResult, tolerance_of
from nb_parity.stills_fit import StillsResult

__all__ = ["frames_report"]


def _figure(result: FrameResult, path: Path) -> None:
    """Loss against iteration, and the correlation matrix of the refined parameters."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nb_parity.outputs import save_figure

    fit = result.fit
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    loss = np.asarray(fit.history, dtype=float)
    left.semilogy(range(len(loss)), loss - loss.min() + 1.0, marker="o", ms=3)
    left.set_xlabel("iteration (the pixel set is chosen again between stages)")
    left.set_ylabel("loss - final loss + 1")
    left.set_title(f"{result.scenario.name}: convergence")
    corr = np.asarray(fit.correlation, dtype=float)
    image = right.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    right.set_xticks(range(len(fit.labels)), fit.labels, rotation=90, fontsize=7)
    right.set_yticks(range(len(fit.labels)), fit.labels, fontsize=7)
    right.set_title("correlation of the refined parameters")
    fig.colorbar(image, ax=right, fraction=0.046)
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
    plt.close(fig)


def frames_report(
    results: Sequence[FrameResult], stills: StillsResult | None, outdir: Path
) -> tuple[list[str], list[Path], dict[str, object]]:
    """The report's section on realistic frames: markdown lines, figures and JSON data.

    Args:
        results: Frame results.
        stills: The many-stills fit, or None.
        outdir: Report folder (figures are written there).

    Returns:
        ``(lines, figures, data)``.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    lines = [
        "## Realistic frames",
        "",
        "Each frame is the C program's Poisson noise image (`-noisefile`, seed 11) of the true",
        "model when a C binary is given (else nb's render with numpy's Poisson draws); the",
        "start is moved away as described and refined by `nb refine` (spot positions, then",
        "Levenberg-Marquardt on the pixels near the spots, Poisson loss). Orientation errors are",
        "the rotation from the true to the refined crystal about lab x, y, z. A fit passes when",
        "every error is within its tolerance and within 3 sigma.",
        "",
        "| frame | source | what | fit | stages | wall (s) | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    figures, data = [], []
    for res in results:
        stages = "; ".join(res.fit.stages)
        state = "converged" if res.fit.converged else "iteration limit"
        lines.append(
            f"| {res.scenario.name} | {res.source} | {res.scenario.description} | {state}, "
            f"{res.fit.iterations} steps | {stages} | {res.wall:.1f} | "
            f"{'PASS' if res.passed else 'FAIL'} |"
        )
    for res in results:
        section, png, entry = _frame_section(res, outdir)
        lines += section
        figures.append(png)
        data.append(entry)
    if stills is not None:
        worst = max(max(map(abs, e)) for e in stills.orientation_errors)
        cell = ", ".join(f"{e:+.4f}" for e in stills.cell_errors)
        lines += [
            "",
            "## Many stills, one cell",
            "",
            f"{stills.shots} stills of 256 x 256 pixels at random orientations (uniform angles),",
            "nb's render with Poisson noise, a shared triclinic cell started 0.5% / 0.5 deg off",
            "and every orientation 0.3 deg off, refined together (`nb_core.refine.fit_shots`).",
            "",
            f"- cell errors (Å, Å, Å, deg, deg, deg): {cell}",
            f"- largest orientation error of any still: {worst:.4f} deg",
            f"- {stills.iterations} joint steps, {stills.seconds:.1f} s; "
            f"{'PASS' if stills.passed else 'FAIL'} (cell within 0.02, orientations within 0.02 deg)",
        ]
        data.append({"stills": stills.__dict__})
    return lines, figures, {"frames": data}


def _frame_section(res: FrameResult, outdir: Path) -> tuple[list[str], Path, dict[str, object]]:
    """One frame's table, its figure and its JSON entry."""
    lines = ["", f"### {res.scenario.name}", "",
             "| parameter | true | refined - true | sigma | error / sigma | tolerance |",
             "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for label, error in res.errors.items():
        sigma = res.sigmas[label]
        ratio = error / sigma if sigma > 0 else math.nan
        lines.append(
            f"| {label} | {res.truth[label]:.6g} | {error:+.2e} | {sigma:.1e} | "
            f"{ratio:+.2f} | {tolerance_of(res.scenario, label):g} |"
        )
    png = outdir / f"frame_{res.scenario.name}.png"
    _figure(res, png)
    lines += ["", f"![{res.scenario.name}]({png.name})"]
    entry: dict[str, object] = {
        "frame": res.scenario.name,
        "source": res.source,
        "description": res.scenario.description,
        "truth": res.truth,
        "errors": res.errors,
        "sigmas": res.sigmas,
        "passed": res.passed,
        "wall_seconds": res.wall,
        "stages": res.fit.stages,
        "labels": res.fit.labels,
        "correlation": res.fit.correlation,
        "loss_history": res.fit.history,
    }
    return lines, png, entry
