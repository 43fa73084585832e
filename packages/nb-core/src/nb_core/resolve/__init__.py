"""From what the user asked (``Settings``) to what is simulated (``Experiment``).

``resolve`` applies the nanoBragg C program's rules as a pipeline of domain resolvers, each a
pure function of the settings (and of what earlier ones decided) returning its slice of
``Params``, its slice of ``Static`` and its :class:`Report` values:

- :func:`resolve_detector`: pixel counts, beam centre and pivot per convention, axes;
- :func:`resolve_beam`: fluence from flux, the sample clipped by the beam, direction;
- :func:`resolve_sampling`: phi, divergence, dispersion, sensor-layer and mosaic counts;
- :func:`resolve_structure_factors`: the grid and the interpolation switch;
- :func:`resolve_crystal`: cell or matrix, misset, spindle, mosaic domains;
- :func:`resolve_sources`: the sources from a file or from divergence and dispersion;
- :func:`frame_report`, :func:`resolve_lattice`, :func:`resolve_oversampling`: what follows
  from the assembled parameters (detector frame, crystal size, automatic oversampling).

Decisions that fix shapes become ``Static``; everything continuous becomes a tensor in
``Params``. The C program's short notes and warnings are ``Experiment.notes``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

from nb_core.checks import check_settings
from nb_core.cost import check_counts, count_flags
from nb_core.options import Quirks
from nb_core.params import Experiment, Params, Static
from nb_core.resolve._beam import resolve_beam, resolve_sources
from nb_core.resolve._conventions import beam_vector_for, convention_vectors
from nb_core.resolve._crystal import (
    crystal_params,
    phi_sources,
    require_crystal,
    resolve_crystal,
    resolve_lattice,
)
from nb_core.resolve._detector import frame_report, resolve_detector
from nb_core.resolve._inputs import Inputs, load_inputs
from nb_core.resolve._report import (
    BeamReport,
    CrystalReport,
    DetectorReport,
    FrameReport,
    LatticeReport,
    OversampleReport,
    Report,
    Resolved,
    SamplingReport,
    SourceReport,
    StructureFactorReport,
    float64_tensor,
)
from nb_core.resolve._sampling import resolve_oversampling, resolve_sampling
from nb_core.resolve._structure_factors import (
    require_structure_factors,
    resolve_structure_factors,
)
from nb_core.rng import CRandom
from nb_core.settings import Settings

__all__ = [
    "BeamReport",
    "CrystalReport",
    "DetectorReport",
    "FrameReport",
    "Inputs",
    "LatticeReport",
    "OversampleReport",
    "Report",
    "Resolved",
    "SamplingReport",
    "SourceReport",
    "StructureFactorReport",
    "beam_vector_for",
    "convention_vectors",
    "crystal_params",
    "frame_report",
    "load_inputs",
    "phi_sources",
    "resolve",
    "resolve_beam",
    "resolve_crystal",
    "resolve_detector",
    "resolve_lattice",
    "resolve_oversampling",
    "resolve_sampling",
    "resolve_sources",
    "resolve_structure_factors",
]


def _check_job_size(
    settings: Settings,
    inputs: Inputs,
    detector: DetectorReport,
    sampling: SamplingReport,
    dtype: torch.dtype,
    device: torch.device | str,
    max_seconds: float | None,
) -> None:
    """Refuse a job too large for memory (or over ``max_seconds``) before its arrays exist."""
    file_sources = len(inputs.sources) if inputs.sources is not None else 0
    divergence_points = sampling.hdivsteps * sampling.vdivsteps
    check_counts(
        fpixels=detector.fpixels,
        spixels=detector.spixels,
        roi=detector.roi,
        oversample=settings.oversample,
        layers=sampling.thicksteps,
        sources=file_sources or divergence_points * sampling.dispsteps,
        phisteps=sampling.phisteps,
        domains=sampling.mosaic_domains,
        dtype=dtype,
        device=str(device),
        flags=count_flags(settings.given, divergence_points, sampling.dispsteps, file_sources > 0),
        limit_s=max_seconds,
    )


def _assembled(parts: tuple[Resolved[Any], ...], quirks: Quirks) -> tuple[Params, Static]:
    """``Params`` and ``Static`` from the resolvers' slices (each field comes from one)."""
    params = {name: value for part in parts for name, value in part.params.items()}
    static = {name: value for part in parts for name, value in part.static.items()}
    return Params(**params), Static(**static, quirks=quirks)  # type: ignore[arg-type]


def resolve(
    settings: Settings,
    inputs: Inputs | None = None,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
    quirks: Quirks | None = None,
    rng: CRandom | None = None,
    max_seconds: float | None = None,
) -> Experiment:
    """Apply the C program's rules to the user's settings.

    Args:
        settings: What the user asked for (flag units).
        inputs: Data from the files the settings name (see :func:`load_inputs`).
        dtype: Floating dtype of every parameter tensor.
        device: Device of every parameter tensor.
        quirks: Which C bugs to reproduce (all by default).
        rng: The C program's random-number state, shared with a later noise image.
        max_seconds: Refuse a job whose estimated render takes longer (s), before its
            sources, phi steps and mosaic domains are built; None: no time limit (memory is
            always checked, see :func:`nb_core.cost.check_counts`).

    Returns:
        The experiment; ``report`` holds the values the C program's summary reports,
        ``notes`` its short notes and warnings, ``rng`` the random-number state to continue.

    Raises:
        InputError: The settings cannot describe a simulation (no structure factors, no cell,
            no physical sense), or the job is too large (memory, or time over ``max_seconds``).
    """
    check_settings(settings, inputs)
    inputs = inputs or Inputs()
    quirks = quirks or Quirks()
    rng = rng or CRandom()
    detector = resolve_detector(settings, inputs.mask)
    beam = resolve_beam(settings)
    require_structure_factors(settings, inputs)
    require_crystal(settings)
    sampling = resolve_sampling(settings)
    _check_job_size(settings, inputs, detector.report, sampling.report, dtype, device, max_seconds)
    structure_factors = resolve_structure_factors(settings, inputs)
    crystal = resolve_crystal(
        settings, inputs, beam.report.wavelength, sampling.report, quirks, rng
    )
    sources = resolve_sources(settings, inputs.sources, beam.report, sampling.report)
    parts = (detector, beam, sampling, structure_factors, crystal, sources)
    params, static = _assembled(parts, quirks)
    frame = frame_report(params, static)
    lattice = resolve_lattice(settings, params, static, list(beam.report.sample_size))
    oversampling = resolve_oversampling(
        settings,
        max(lattice.crystal_size),
        frame.distance,
        beam.report.wavelength,
        detector.report.pixel_size,
    )
    n_cells = lattice.n_cells
    params = params.replace(n_cells=float64_tensor(list(n_cells)))
    static = replace(
        static,
        oversample=oversampling.oversample,
        integer_cells=(int(n_cells[0]), int(n_cells[1]), int(n_cells[2])),
    )
    report = Report(
        detector=detector.report,
        frame=frame,
        beam=beam.report,
        sources=sources.report,
        sampling=sampling.report,
        structure_factors=structure_factors.report,
        crystal=crystal.report,
        lattice=lattice,
        oversampling=oversampling,
    )
    return Experiment(
        params=params.to(dtype=dtype, device=device), static=static, report=report, rng=rng
    )
