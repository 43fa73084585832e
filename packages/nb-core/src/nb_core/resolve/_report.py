"""What the resolution rules decided, as typed values for the C program's console summary.

Each domain resolver returns a :class:`Resolved` record: its slice of ``Params`` (float64 CPU
tensors), its slice of ``Static`` and its report. :class:`Report` gathers the reports; nb_cli
formats the C program's console lines from it. Units: lengths in m unless a field says Å,
angles in rad, vectors unitless.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "BeamReport",
    "CrystalReport",
    "DetectorReport",
    "FrameReport",
    "LatticeReport",
    "OversampleReport",
    "Report",
    "Resolved",
    "SamplingReport",
    "SourceReport",
    "StructureFactorReport",
    "float64_tensor",
]

Vec3 = tuple[float, float, float]
ReportT = TypeVar("ReportT")


def float64_tensor(value: Any) -> Tensor:
    """A float64 CPU tensor of ``value`` (decisions are made in float64; cast at the end)."""
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


@dataclass(frozen=True)
class Resolved(Generic[ReportT]):
    """What one resolver decided.

    Attributes:
        params: Keyword arguments of :class:`nb_core.params.Params` (float64 CPU tensors).
        static: Keyword arguments of :class:`nb_core.params.Static`.
        report: The values the C program reports about these decisions.
    """

    params: Mapping[str, Tensor | None]
    static: Mapping[str, Any]
    report: ReportT


@dataclass(frozen=True)
class DetectorReport:
    """The detector's size, pixel grid and beam centre.

    Attributes:
        fpixels: Pixels along the fast axis.
        spixels: Pixels along the slow axis.
        pixel_size: Pixel edge (m).
        detsize: Detector size along fast and slow (m).
        xbeam: Xbeam in the convention's own frame (m).
        ybeam: Ybeam in the convention's own frame (m).
        xclose: Xclose, the near point (m).
        yclose: Yclose, the near point (m).
        twotheta: Detector two-theta swing (rad).
        roi: ``(xmin, xmax, ymin, ymax)`` inclusive pixel bounds rendered.
        notes: The C program's warnings about the detector vectors.
    """

    fpixels: int
    spixels: int
    pixel_size: float
    detsize: tuple[float, float]
    xbeam: float
    ybeam: float
    xclose: float
    yclose: float
    twotheta: float
    roi: tuple[int, int, int, int]
    notes: tuple[str, ...]


@dataclass(frozen=True)
class FrameReport:
    """The detector after rotations, in float64 (see :class:`nb_core.geometry.DetectorFrame`).

    Attributes:
        fdet: Fast-axis unit vector.
        sdet: Slow-axis unit vector.
        odet: Detector normal.
        pix0: From the sample to the corner of the first pixel (m).
        distance: Sample to detector along the beam (m).
        close_distance: Sample to detector plane along its normal (m).
        fbeam: Fast coordinate of the direct-beam spot (m).
        sbeam: Slow coordinate of the direct-beam spot (m).
        fclose: Fast coordinate of the near point (m).
        sclose: Slow coordinate of the near point (m).
        orgx: XDS ORGX (pixels).
        orgy: XDS ORGY (pixels).
        dials_origin: DIALS origin (mm).
        xds_incident_beam: The beam direction on the rotated fast, slow and normal axes.
    """

    fdet: Vec3
    sdet: Vec3
    odet: Vec3
    pix0: Vec3
    distance: float
    close_distance: float
    fbeam: float
    sbeam: float
    fclose: float
    sclose: float
    orgx: float
    orgy: float
    dials_origin: Vec3
    xds_incident_beam: Vec3


@dataclass(frozen=True)
class BeamReport:
    """The incident beam: wavelength, fluence, direction and polarization.

    Attributes:
        wavelength: Central wavelength lambda0 (m).
        fluence: Photons/m^2.
        flux: Photons/s (recomputed from the fluence when an exposure is given).
        exposure: Exposure time (s).
        beamsize: Beam edge (m).
        sample_size: Crystal size along a, b, c after clipping by the beam (m; 0: from the
            unit-cell counts).
        beam: Unit vector along the direction of propagation.
        polar_axis: Unit E-vector of the incident polarization.
        polarization: Kahn polarization factor.
        nopolar: Polarization factor disabled.
        water_size: Water thickness around the crystal (m).
        notes: The C program's warnings about the beam clipping the sample.
    """

    wavelength: float
    fluence: float
    flux: float
    exposure: float
    beamsize: float
    sample_size: Vec3
    beam: Vec3
    polar_axis: Vec3
    polarization: float
    nopolar: bool
    water_size: float
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SamplingReport:
    """Step counts of the spindle, divergence, dispersion, sensor and mosaic loops.

    Attributes:
        phi0: First spindle angle (rad).
        osc: Oscillation range (rad).
        phistep: Spindle step (rad).
        phisteps: Spindle steps.
        hdivrange: Horizontal divergence range (rad).
        hdivstep: Horizontal divergence step (rad).
        hdivsteps: Horizontal divergence steps.
        vdivrange: Vertical divergence range (rad).
        vdivstep: Vertical divergence step (rad).
        vdivsteps: Vertical divergence steps.
        dispersion: Spectral dispersion delta-lambda/lambda (fraction).
        dispstep: Dispersion step (fraction).
        dispsteps: Dispersion steps.
        thickness: Sensor thickness (m).
        thickstep: Depth between sensor layers (m).
        thicksteps: Sensor layers.
        mu: Sensor attenuation coefficient (1/m).
        mosaic_spread: Mosaic spread (rad).
        mosaic_domains: Mosaic domains.
        notes: The C program's warnings about the attenuation depth and mosaic domains.
    """

    phi0: float
    osc: float
    phistep: float
    phisteps: int
    hdivrange: float
    hdivstep: float
    hdivsteps: int
    vdivrange: float
    vdivstep: float
    vdivsteps: int
    dispersion: float
    dispstep: float
    dispsteps: int
    thickness: float
    thickstep: float
    thicksteps: int
    mu: float
    mosaic_spread: float
    mosaic_domains: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class SourceReport:
    """The beam sources.

    Attributes:
        positions: ``(S, 3)`` source positions relative to the sample (m).
        intensities: ``(S,)`` relative intensities.
        wavelengths: ``(S,)`` wavelengths (m).
        divergence_steps: Divergence points kept by the round cut (the C program's divsteps);
            -1 when the sources come from a file.
        divergence_offsets: ``(hdiv, vdiv)`` of each kept divergence point (rad); empty for
            a source file.
        dispersion_wavelengths: The wavelength of each dispersion step (m); empty for a
            source file.
    """

    positions: np.ndarray
    intensities: np.ndarray
    wavelengths: np.ndarray
    divergence_steps: int
    divergence_offsets: tuple[tuple[float, float], ...]
    dispersion_wavelengths: tuple[float, ...]


@dataclass(frozen=True)
class StructureFactorReport:
    """The structure factors and their interpolation.

    Attributes:
        hkls: Reflections on the grid (0: default_F everywhere).
        default_F: Amplitude outside the grid (electrons).
        interpolate: Tricubic interpolation of structure factors.
        switch_notes: The C program's note on the automatic interpolation switch.
        reading_notes: The C program's lines about reading the HKL or dump file.
    """

    hkls: int
    default_F: float
    interpolate: bool
    switch_notes: tuple[str, ...]
    reading_notes: tuple[str, ...]


@dataclass(frozen=True)
class CrystalReport:
    """The crystal's orientation.

    Attributes:
        spindle: Unit spindle axis.
        phis: Each spindle step's angle (rad).
        misset: Missetting rotations about x, y, z (rad).
        notes: The C program's lines about the orientation matrix and random misset.
    """

    spindle: Vec3
    phis: tuple[float, ...]
    misset: Vec3
    notes: tuple[str, ...]


@dataclass(frozen=True)
class LatticeReport:
    """The unit cell at phi = 0 and the crystal's size.

    Attributes:
        cell: a, b, c (Å) and alpha, beta, gamma (rad) of the final vectors.
        reciprocal_cell: a*, b*, c* (Å⁻¹) and alpha*, beta*, gamma* (rad).
        volume: Unit-cell volume (Å^3).
        real: Rows a, b, c (m).
        reciprocal: Rows a*, b*, c* (Å⁻¹).
        n_cells: Unit cells along a, b, c.
        crystal_size: Crystal edge along a, b, c (m).
        approximate_mw: The C program's molecular weight estimate (Da).
    """

    cell: tuple[float, float, float, float, float, float]
    reciprocal_cell: tuple[float, float, float, float, float, float]
    volume: float
    real: tuple[Vec3, Vec3, Vec3]
    reciprocal: tuple[Vec3, Vec3, Vec3]
    n_cells: Vec3
    crystal_size: Vec3
    approximate_mw: float


@dataclass(frozen=True)
class OversampleReport:
    """Sub-pixel sampling.

    Attributes:
        oversample: Sub-pixels per pixel edge.
        recommended: The C program's recommended oversampling for this crystal.
        notes: The C program's lines about automatic or too coarse oversampling.
    """

    oversample: int
    recommended: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    """Everything the resolution rules decided that the C program reports.

    Attributes:
        detector: Size, pixels and beam centre.
        frame: The detector after rotations.
        beam: Wavelength, fluence, direction and polarization.
        sources: The beam sources.
        sampling: Spindle, divergence, dispersion, sensor and mosaic step counts.
        structure_factors: Reflections and interpolation.
        crystal: Orientation.
        lattice: Unit cell and crystal size.
        oversampling: Sub-pixel sampling.
    """

    detector: DetectorReport
    frame: FrameReport
    beam: BeamReport
    sources: SourceReport
    sampling: SamplingReport
    structure_factors: StructureFactorReport
    crystal: CrystalReport
    lattice: LatticeReport
    oversampling: OversampleReport

    @property
    def notes(self) -> tuple[str, ...]:
        """The C program's short notes and warnings, in the order it prints them."""
        return (
            *self.beam.notes,
            *self.detector.notes,
            *self.sampling.notes,
            *self.structure_factors.switch_notes,
            *self.crystal.notes,
            *self.oversampling.notes,
            *self.structure_factors.reading_notes,
        )
