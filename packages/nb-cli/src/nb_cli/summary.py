"""The console report: what ``resolve`` decided and the image statistics, as the C program prints them.

:func:`decision_lines` prints the lines the C program prints while it resolves its flags,
:func:`resolution_lines` its summary before the render, :func:`statistics_lines` the image
statistics after it; all are formatted here from the typed :class:`nb_core.resolve.Report`.

Lines keep the C program's wording and number formats (``%g``), so a crystallographer can
compare a run of nb with a run of nanoBragg line by line, and parity tests can parse both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from nb_core.images import ImageStats
from nb_core.params import Experiment
from nb_core.resolve import LatticeReport, SourceReport
from nb_core.settings import Settings
from nb_core.units import RTD

__all__ = ["BANNER", "decision_lines", "resolution_lines", "statistics_lines"]

BANNER = "nb (nanoBragg-compatible diffraction simulator; after James Holton and Ken Frankel)"

_SHAPES = {
    "round": "ellipsoidal",
    "square": "parallelpiped",
    "gauss": "gaussian",
    "tophat": "tophat-spot",
}


def _v(values: object) -> str:
    return " ".join("%g" % float(x) for x in values)  # type: ignore[union-attr]


def _cell_lines(lattice: LatticeReport) -> Iterator[str]:
    """The unit cell, reciprocal cell, volume and the two tables of cell vectors."""
    cell, rcell = lattice.cell, lattice.reciprocal_cell
    yield "Unit Cell: " + _v([*cell[:3], *(angle * RTD for angle in cell[3:])])
    yield "Recp Cell: " + _v([*rcell[:3], *(angle * RTD for angle in rcell[3:])])
    yield f"volume = {lattice.volume:g} A^3"
    yield "real-space cell vectors (Angstrom):"
    yield "     %-10s  %-10s  %-10s" % ("a", "b", "c")
    for i, axis in enumerate("XYZ"):
        x, y, z = (row[i] * 1e10 for row in lattice.real)
        yield f"{axis}: {x:11.8f} {y:11.8f} {z:11.8f}"
    yield "reciprocal-space cell vectors (Angstrom^-1):"
    yield "     %-10s  %-10s  %-10s" % ("a_star", "b_star", "c_star")
    for i, axis in enumerate("XYZ"):
        x, y, z = (row[i] for row in lattice.reciprocal)
        yield f"{axis}: {x:11.8f} {y:11.8f} {z:11.8f}"


def _source_lines(sources: SourceReport) -> Iterator[str]:
    """The divergence offsets, dispersion wavelengths and the list of sources."""
    for hdiv, vdiv in sources.divergence_offsets:
        yield f"divergence deviation: {hdiv:g} {vdiv:g}"
    for tic, wavelength in enumerate(sources.dispersion_wavelengths):
        yield f"lambda{tic} = {wavelength:.15g}"
    yield f"  created a total of {len(sources.wavelengths)} sources:"
    for position, intensity, wavelength in zip(
        sources.positions, sources.intensities, sources.wavelengths, strict=True
    ):
        x, y, z = position
        yield f"{x:g} {y:g} {z:g}   {intensity:g} {wavelength:g}"


def decision_lines(experiment: Experiment) -> Iterator[str]:
    """What the C program prints while it resolves its flags, in its order.

    Args:
        experiment: The resolved experiment.

    Yields:
        Lines without newlines: the warnings, the convention and pivot, the cell, the crystal
        size and oversampling, the structure-factor files, and the loops' steps.
    """
    static, report = experiment.static, experiment.report
    yield from (*report.beam.notes, *report.detector.notes, *report.sampling.notes)
    yield f"{static.convention} convention selected."
    if static.pivot == "sample":
        yield "pivoting detector around sample"
    else:
        yield "pivoting detector around direct beam spot"
    x, y, z = report.frame.xds_incident_beam
    yield f"XDS incident beam: {x:g} {y:g} {z:g}"
    yield from (*report.structure_factors.switch_notes, *report.crystal.notes)
    lattice = report.lattice
    yield from _cell_lines(lattice)
    size = lattice.crystal_size
    yield f"crystal is {size[0] * 1e6:g} x {size[1] * 1e6:g} x {size[2] * 1e6:g} microns"
    yield from report.oversampling.notes
    yield f"approximate MW = {lattice.approximate_mw:g}"
    yield from report.structure_factors.reading_notes
    sampling = report.sampling
    for tic in range(sampling.thicksteps):
        yield f"thick{tic} = {sampling.thickstep * tic * 1e6:g} um"
    for tic, phi in enumerate(report.crystal.phis):
        yield f"phi{tic} = {phi * RTD:g}"
    yield from _source_lines(report.sources)
    yield f"  created a total of {static.mosaic_domains} mosaic domains"


def resolution_lines(experiment: Experiment, settings: Settings, *, noise: bool) -> Iterator[str]:
    """The C program's summary of the resolved simulation (the block before rendering).

    Args:
        experiment: The resolved experiment.
        settings: The settings it came from (for file names and seeds).
        noise: Whether a noise image will be written.

    Yields:
        Lines without newlines.
    """
    static, report = experiment.static, experiment.report
    frame, detector, beam, sampling = report.frame, report.detector, report.beam, report.sampling
    n = report.lattice.n_cells
    factors = report.structure_factors
    yield f"  {factors.hkls} initialized hkls (all others ={factors.default_F:g})"
    yield f"  {_SHAPES[static.shape]} xtal: {n[0]:.0f}x{n[1]:.0f}x{n[2]:.0f} cells"
    yield (
        f"  wave={beam.wavelength:g} meters +/- {sampling.dispersion * 100:g}% "
        f"in {sampling.dispsteps} steps"
    )
    if beam.nopolar:
        yield "  polarization effect disabled"
    else:
        yield f"  Kahn polarization factor: {beam.polarization:f}"
    if static.curved_detector:
        yield "  curved detector: all pixels same distance from origin"
    if static.point_pixel:
        yield "  pixel obliquity effect disabled"
    yield f"  incident fluence: {beam.fluence:g} photons/m^2"
    df, ds = detector.detsize
    yield (
        f"  distance={frame.distance:g} detsize={df:g}x{ds:g}  pixel={detector.pixel_size:g} "
        f"meters ({static.fpixels}x{static.spixels} pixels)"
    )
    yield (
        f"  sensor is {sampling.thickness:g} m thick in {sampling.thicksteps} layers "
        f"with mu= {sampling.mu:g}"
    )
    yield f"  Xbeam={detector.xbeam:g} Ybeam={detector.ybeam:g}"
    yield f"  Fbeam={frame.fbeam:g} Sbeam={frame.sbeam:g}"
    yield f"  Xclose={detector.xclose:g} Yclose={detector.yclose:g}"
    yield f"  Fclose={frame.fclose:g} Sclose={frame.sclose:g}"
    yield f"  DIRECTION_OF_DETECTOR_X-AXIS= {_v(frame.fdet)}"
    yield f"  DIRECTION_OF_DETECTOR_Y-AXIS= {_v(frame.sdet)}"
    yield f"  DIRECTION_OF_DETECTOR_Z-AXIS= {_v(frame.odet)}"
    yield f"  INCIDENT_BEAM_DIRECTION= {_v(beam.beam)}"
    yield f"  spindle ROTATION_AXIS= {_v(report.crystal.spindle)}"
    yield f"  POLARIZATION_PLANE_NORMAL= {_v(_cross(beam.beam, beam.polar_axis))}"
    yield f"  dials origin= {_v(frame.dials_origin)}"
    yield from _loop_lines(experiment)
    if settings.mask_file is not None:
        yield f"  skipping zero-flagged pixels in {settings.mask_file}"
    if noise:
        yield ""
        yield "  noise image paramters:"
        yield f"  seed: {settings.seed}"
        yield f"  water droplet size: {beam.water_size:g} m"


def _cross(x: tuple[float, ...], y: tuple[float, ...]) -> tuple[float, float, float]:
    return (
        x[1] * y[2] - x[2] * y[1],
        x[2] * y[0] - x[0] * y[2],
        x[0] * y[1] - x[1] * y[0],
    )


def _loop_lines(experiment: Experiment) -> Iterator[str]:
    """The summary's region, divergence, source, mosaic, phi and oversampling lines."""
    static, report = experiment.static, experiment.report
    sampling = report.sampling
    xmin, xmax, ymin, ymax = static.roi
    yield f"  roi: {xmin} < x < {xmax} && {ymin} < y < {ymax}"
    yield f"  hdivrange={sampling.hdivrange:g} hdivstep={sampling.hdivstep:g}  radians"
    yield f"  vdivrange={sampling.vdivrange:g} vdivstep={sampling.vdivstep:g}  radians"
    yield f"  {report.sources.divergence_steps} divergence steps"
    yield f"  {static.sources} sources"
    yield (
        f"  {static.mosaic_domains} mosaic domains over mosaic spread of "
        f"{sampling.mosaic_spread * RTD:g} degrees"
    )
    phi0, osc = sampling.phi0, sampling.osc
    yield f"  {static.phisteps} phi steps from {phi0 * RTD:g} to {(phi0 + osc) * RTD:g} degrees"
    extra = "".join(
        tag
        for tag, on in (
            (" +thick", static.oversample_thick),
            (" +polar", static.oversample_polar),
            (" +omega", static.oversample_omega),
        )
        if on
    )
    yield f"  {static.oversample}x{static.oversample} pixel oversample steps{extra}"


def statistics_lines(stats: ImageStats, solid_angle: float) -> Iterator[str]:
    """The solid angle and image statistics lines printed after rendering.

    Args:
        stats: Statistics of the float image.
        solid_angle: The C program's ``omega_sum / steps`` (sr).

    Yields:
        Lines without newlines.
    """
    yield (
        f"solid angle subtended by detector = {solid_angle:g} steradian "
        f"( {100 * solid_angle / 4 / math.pi:g}% sphere)"
    )
    yield f"max_I = {stats.max_I:g}  at {stats.max_x:g} {stats.max_y:g}"
    yield f"mean= {stats.mean:g} rms= {stats.rms:g} rmsd= {stats.rmsd:g}"
