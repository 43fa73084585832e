"""The incident beam: fluence, direction, polarization, and its sources."""

from __future__ import annotations

import math

import numpy as np

from nb_core.errors import InputError
from nb_core.geometry.rotations import rotate_about_axis
from nb_core.io import SourceTable
from nb_core.resolve._conventions import Vec, convention_vectors, cross, unit
from nb_core.resolve._report import (
    BeamReport,
    Resolved,
    SamplingReport,
    SourceReport,
    float64_tensor,
)
from nb_core.settings import Settings

__all__ = ["resolve_beam", "resolve_sources"]


def fluence_and_sample(settings: Settings) -> tuple[float, float, float, Vec, tuple[str, ...]]:
    """Fluence from flux, exposure and beam size, and the sample clipped by the beam.

    Args:
        settings: The user's settings.

    Returns:
        ``(fluence, flux, beamsize, sample_size, notes)``: photons/m^2, photons/s, m,
        ``(3,)`` crystal size along a, b, c (m), and the C program's clipping warnings.
    """
    s = settings
    fluence = s.fluence
    flux, exposure, beamsize = s.flux, s.exposure_s, s.beamsize_mm / 1000
    sample = [x / 1000 for x in s.sample_size_mm]
    notes: list[str] = []
    if flux != 0.0 and exposure > 0.0 and beamsize >= 0:
        fluence = flux * exposure / beamsize / beamsize if beamsize != 0 else math.inf
    if beamsize >= 0:
        if beamsize < sample[1]:
            notes.append(
                f"WARNING: clipping sample ({sample[1]:g} m high) with beam ({beamsize:g} m)"
            )
            sample[1] = beamsize
        if beamsize < sample[2]:
            notes.append(
                f"WARNING: clipping sample ({sample[2]:g} m wide) with beam ({beamsize:g} m)"
            )
            sample[2] = beamsize
    if exposure > 0.0:
        flux = fluence / exposure * beamsize * beamsize
    return fluence, flux, beamsize, sample, tuple(notes)


def resolve_beam(settings: Settings) -> Resolved[BeamReport]:
    """The beam's wavelength, fluence, direction, polarization and water background.

    Args:
        settings: The user's settings.

    Returns:
        Its parameters (m, photons/m^2), static options and report.
    """
    s = settings
    fluence, flux, beamsize, sample, notes = fluence_and_sample(s)
    vectors = convention_vectors(s)
    beam, _ = unit(vectors["beam"])
    polar_axis, _ = unit(vectors["polar"])
    wavelength = s.lambda_A / 1.0e10
    params = dict(
        beam=beam,
        polar_axis=polar_axis,
        wavelength=wavelength,
        polarization=s.polarization,
        fluence=fluence,
        water_size=s.water_um / 1e6,
    )
    report = BeamReport(
        wavelength=wavelength,
        fluence=fluence,
        flux=flux,
        exposure=s.exposure_s,
        beamsize=beamsize,
        sample_size=(sample[0], sample[1], sample[2]),
        beam=(beam[0], beam[1], beam[2]),
        polar_axis=(polar_axis[0], polar_axis[1], polar_axis[2]),
        polarization=s.polarization,
        nopolar=s.nopolar,
        water_size=s.water_um / 1e6,
        notes=notes,
    )
    static = dict(nopolar=s.nopolar, has_water=s.water_um != 0.0)
    return Resolved({k: float64_tensor(v) for k, v in params.items()}, static, report)


def _inside_divergence(
    hdiv: float,
    vdiv: float,
    hdivstep: float,
    vdivstep: float,
    hdivsteps: int,
    vdivsteps: int,
    hdivrange: float,
    vdivrange: float,
    round_div: bool,
) -> bool:
    """The C program's elliptical cut of the divergence grid (with its divide-by-zero NaNs)."""
    if not round_div:
        return True
    with np.errstate(divide="ignore", invalid="ignore"):
        h = np.float64(hdiv * hdiv - hdivstep * hdivstep / 4.0 * (1 - hdivsteps % 2))
        v = np.float64(vdiv * vdiv - vdivstep * vdivstep / 4.0 * (1 - vdivsteps % 2))
        test = h / np.float64(hdivrange) / np.float64(hdivrange)
        test = test + v / np.float64(vdivrange) / np.float64(vdivrange)
        return not bool(test * 4.0 > 1.1)


def divergence_sources(
    settings: Settings, beam: BeamReport, sampling: SamplingReport
) -> SourceReport:
    """Sources on the divergence grid (round cut) times the dispersion steps.

    Each source lies 10 m up-beam, rotated by its vertical then horizontal divergence.

    Args:
        settings: The user's settings (``-round_div``).
        beam: The resolved beam (wavelength, direction, polarization axis).
        sampling: The divergence and dispersion step counts.

    Returns:
        The sources; positions in m, wavelengths in m, equal intensities.
    """
    lambda0 = beam.wavelength
    incident, polar_axis = list(beam.beam), list(beam.polar_axis)
    vertical, _ = unit(cross(incident, polar_axis))
    positions: list[Vec] = []
    wavelengths: list[float] = []
    offsets: list[tuple[float, float]] = []
    for hdiv_tic in range(sampling.hdivsteps):
        for vdiv_tic in range(sampling.vdivsteps):
            hdiv = sampling.hdivstep * hdiv_tic - sampling.hdivrange / 2.0
            vdiv = sampling.vdivstep * vdiv_tic - sampling.vdivrange / 2.0
            if not _inside_divergence(
                hdiv,
                vdiv,
                sampling.hdivstep,
                sampling.vdivstep,
                sampling.hdivsteps,
                sampling.vdivsteps,
                sampling.hdivrange,
                sampling.vdivrange,
                settings.round_div,
            ):
                continue
            offsets.append((hdiv, vdiv))
            position = [-10.0 * incident[0], -10.0 * incident[1], -10.0 * incident[2]]
            position = rotate_about_axis(
                rotate_about_axis(position, polar_axis, vdiv), vertical, hdiv
            )
            for disp_tic in range(sampling.dispsteps):
                positions.append(position)
                wavelengths.append(
                    lambda0 * (1.0 + sampling.dispstep * disp_tic - sampling.dispersion / 2.0)
                )
    n_sources = max(1, len(wavelengths))
    return SourceReport(
        positions=np.asarray(positions, dtype=np.float64).reshape(-1, 3),
        intensities=np.full(len(wavelengths), 1.0 / n_sources),
        wavelengths=np.asarray(wavelengths, dtype=np.float64),
        divergence_steps=len(offsets),
        divergence_offsets=tuple(offsets),
        dispersion_wavelengths=tuple(
            lambda0 * (1.0 + sampling.dispstep * disp_tic - sampling.dispersion / 2.0)
            for disp_tic in range(sampling.dispsteps)
        ),
    )


def file_sources(table: SourceTable) -> SourceReport:
    """Sources as a ``-sourcefile`` lists them (m, m, relative intensities)."""
    return SourceReport(
        positions=np.asarray(table.positions, dtype=np.float64),
        intensities=np.asarray(table.intensities, dtype=np.float64),
        wavelengths=np.asarray(table.wavelengths, dtype=np.float64),
        divergence_steps=-1,
        divergence_offsets=(),
        dispersion_wavelengths=(),
    )


def resolve_sources(
    settings: Settings,
    table: SourceTable | None,
    beam: BeamReport,
    sampling: SamplingReport,
) -> Resolved[SourceReport]:
    """The beam sources: from ``-sourcefile``, else from divergence and dispersion.

    Args:
        settings: The user's settings.
        table: Sources read from ``-sourcefile``, or None.
        beam: The resolved beam.
        sampling: The divergence and dispersion step counts.

    Returns:
        Unit directions toward each source and wavelength factors, the source count, and
        the report.

    Raises:
        InputError: The divergence settings leave no source.
    """
    if table is not None and len(table.wavelengths) > 0:
        report = file_sources(table)
    else:
        report = divergence_sources(settings, beam, sampling)
    n_sources = int(report.wavelengths.shape[0])
    if n_sources == 0:
        raise InputError("no beam sources: the divergence settings leave none", "-divergence")
    directions = np.zeros_like(report.positions)
    for i in range(n_sources):
        direction, _ = unit([float(x) for x in report.positions[i]])
        directions[i] = direction
    params = dict(
        source_directions=float64_tensor(directions),
        source_wavelength_factors=float64_tensor(report.wavelengths / beam.wavelength),
    )
    return Resolved(params, dict(sources=n_sources), report)
