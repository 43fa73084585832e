"""Many stills refined together: a shared cell and each still's orientation (``fit_shots``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nb_core.model import Simulator
from nb_parity.frames import _experiment, orientation_error

__all__ = ["StillsResult", "run_stills"]


@dataclass
class StillsResult:
    """The many-stills fit of :func:`run_stills`.

    Attributes:
        shots: Number of stills.
        cell_errors: refined - true per cell parameter (Å, deg).
        cell_sigmas: Their one-sigma uncertainties.
        orientation_errors: ``(shots, 3)`` rotation from the true to the refined crystal (deg).
        seconds: Wall time of the fit.
        iterations: Joint steps.
        passed: Cell within 0.02 Å / deg and every orientation within 0.02 deg per axis.
    """

    shots: int
    cell_errors: list[float]
    cell_sigmas: list[float]
    orientation_errors: list[list[float]]
    seconds: float
    iterations: int
    passed: bool


def run_stills(shots: int = 20, *, seed: int = 4) -> StillsResult:
    """Stills of 256 x 256 pixels at random orientations, a shared cell 0.5% off, one fit.

    Args:
        shots: Number of stills.
        seed: Seed of the orientations and the Poisson noise.

    Returns:
        The result.
    """
    from nb_core.refine import fit_shots

    flags = (
        "-cell 60 70 80 88 94 101 -default_F 200 -lambda 1 -N 12 -detpixels 256 -pixel 0.2 "
        "-distance 80 -oversample 1 -flux 1e18 -exposure 1 -beamsize 0.1"
    ).split()
    truth = _experiment(flags)
    generator = torch.Generator().manual_seed(seed)
    angles = torch.rand(shots, 3, generator=generator, dtype=torch.float64) * 360.0 - 180.0
    angles[:, 1] /= 2.0
    true_sim = Simulator(truth, ["misset"])
    with torch.no_grad():
        images = torch.stack([true_sim.render_with({"misset": a}) for a in angles])
    observed = torch.tensor(
        np.random.default_rng(seed).poisson(images.numpy()), dtype=torch.float64
    )
    start = _experiment([*flags, "-cell", "60.3", "70.35", "80.4", "88.44", "94.47", "101.5"])
    sim = Simulator(start, ["cell", "misset"])
    offsets = (torch.rand(shots, 3, generator=generator, dtype=torch.float64) - 0.5) * 0.6
    fit = fit_shots(sim, observed, {"misset": angles + offsets})
    cell = fit.shared["cell"]
    sigmas = fit.shared_sigmas["cell"]
    assert isinstance(cell, list)
    assert isinstance(sigmas, list)
    true_cell = [60.0, 70.0, 80.0, 88.0, 94.0, 101.0]
    true_matrices = [true_sim.matrix({"misset": a}).detach().numpy() for a in angles]
    errors = []
    refined_sim = Simulator(start, ["cell", "misset"])
    refined_cell = torch.tensor(cell, dtype=torch.float64)
    for shot, true_matrix in zip(fit.shots, true_matrices, strict=True):
        misset = torch.tensor(shot["misset"], dtype=torch.float64)
        values = {"cell": refined_cell, "misset": misset}
        refined = refined_sim.matrix(values).detach().numpy()
        errors.append(orientation_error(refined, true_matrix).tolist())
    cell_errors = [a - b for a, b in zip(cell, true_cell, strict=True)]
    passed = (
        max(abs(e) for e in cell_errors) <= 0.02 and max(max(map(abs, e)) for e in errors) <= 0.02
    )
    return StillsResult(
        shots, cell_errors, list(sigmas), errors, fit.seconds, fit.iterations, passed
    )
