"""One image of a data set from another's resolved experiment, when only its angles differ.

A rotation series changes nothing but the spindle start from one frame to the next, and
stills at random orientations nothing but the missetting angles. Resolving again would give
the same experiment with those values replaced, so :func:`reoriented` replaces them directly:
the ``phi0`` and ``misset`` tensors, the phi-step map of the phi0 quirk (which depends on
which steps land exactly on 0), the report values and a fresh copy of the random-number state.
"""

from __future__ import annotations

import copy
import math
from dataclasses import replace

import torch

from nb_core.params import Experiment
from nb_core.resolve import (
    Inputs,
    LatticeReport,
    crystal_params,
    phi_sources,
    resolve_lattice,
)
from nb_core.resolve._report import float64_tensor
from nb_core.resolve._sampling import phi_steps
from nb_core.rng import CRandom
from nb_core.settings import Settings
from nb_core.units import RTD

__all__ = ["frame_phi", "has_zero_phi_step", "reoriented"]


def frame_phi(phi_deg: float, osc_deg: float, number: int) -> float:
    """The spindle start of frame ``number`` of a rotation series (deg).

    Frame 1 starts at ``phi_deg`` and each frame advances by one oscillation, so a frame's
    angle depends only on its number (a series split into parts gives the same frames).

    Args:
        phi_deg: Spindle start of frame 1 (deg).
        osc_deg: Oscillation range of one frame (deg).
        number: The frame number (1 for the first).

    Returns:
        The frame's ``-phi`` value (deg).
    """
    return phi_deg + (number - 1) * osc_deg


def has_zero_phi_step(settings: Settings) -> bool:
    """Whether one of the image's phi steps lands exactly on 0.

    Such a step is the phi0 quirk's (it reuses the previous step's rotated lattice), and it
    gives the image static options of its own: in a rotation series, a kernel no other frame
    shares. The steps are the resolve's, ``phi0 + phistep * tic`` in rad.

    Args:
        settings: The image's settings (``-phi``, ``-osc``, ``-phistep``, ``-phisteps``).
    """
    phi0, _, phistep, phisteps = phi_steps(settings)
    if phistep == 0.0 or not math.isfinite(phi0 / phistep):
        return phisteps > 0 and phi0 == 0.0
    nearest = round(-phi0 / phistep)  # only the steps next to -phi0 / phistep can land on 0
    tics = (t for t in (nearest - 1, nearest, nearest + 1) if 0 <= t < phisteps)
    return any(phi0 + phistep * tic == 0.0 for tic in tics)


def _scalar(value: float, like: torch.Tensor) -> torch.Tensor:
    """``value`` made in float64, then cast to ``like``'s dtype and device (as resolve does)."""
    return torch.tensor(value, dtype=torch.float64).to(dtype=like.dtype, device=like.device)


def _lattice(
    experiment: Experiment, settings: Settings, inputs: Inputs, misset: list[float]
) -> LatticeReport:
    """The lattice report a fresh resolve of ``settings`` gives (float64, as resolve does)."""
    report = experiment.report
    params = experiment.params.to(dtype=torch.float64, device="cpu")
    crystal = crystal_params(settings, inputs, report.beam.wavelength, misset)
    params = params.replace(**crystal)
    return resolve_lattice(settings, params, experiment.static, list(report.beam.sample_size))


def reoriented(
    experiment: Experiment,
    settings: Settings,
    inputs: Inputs,
    rng: CRandom,
    *,
    phi_deg: float | None = None,
    misset_deg: tuple[float, float, float] | None = None,
) -> Experiment:
    """The experiment that resolving ``settings`` gives, when only ``-phi`` or ``-misset`` moved.

    Args:
        experiment: A resolved experiment.
        settings: The new settings: ``experiment``'s but for ``-phi`` and the ``-misset``
            angles (and outputs).
        inputs: The files read for ``experiment`` (the orientation matrix).
        rng: The random-number state after resolving (copied: the noise image draws from it).
        phi_deg: The new spindle start (deg); None keeps it.
        misset_deg: The new missetting rotations about x, y, z (deg); None keeps them.

    Returns:
        The experiment with those values, equal to a fresh resolve of ``settings``.
    """
    params, static, report = experiment.params, experiment.static, experiment.report
    changes: dict[str, torch.Tensor] = {}
    if phi_deg is not None:
        phi0 = phi_deg / RTD
        sampling = replace(report.sampling, phi0=phi0)
        phis = tuple(phi0 + sampling.phistep * tic for tic in range(sampling.phisteps))
        steady, first = phi_sources(list(phis))
        static = replace(static, phi_source=steady, phi_source_first=first)
        report = replace(report, sampling=sampling, crystal=replace(report.crystal, phis=phis))
        changes["phi0"] = _scalar(phi0, params.phi0)
    if misset_deg is not None:
        misset = [x / RTD for x in misset_deg]
        crystal = replace(report.crystal, misset=(misset[0], misset[1], misset[2]))
        lattice = _lattice(experiment, settings, inputs, misset)
        report = replace(report, crystal=crystal, lattice=lattice)
        changes["misset"] = float64_tensor(misset).to(
            dtype=params.misset.dtype, device=params.misset.device
        )
    return Experiment(
        params=params.replace(**changes), static=static, report=report, rng=copy.deepcopy(rng)
    )
