"""The two halves of an experiment: differentiable parameters and static options.

``Params`` holds every continuous quantity as a tensor in canonical units (m, rad, photons/m^2,
electrons), so that a render is a pure function of it and gradients reach every field.
``Static`` holds what fixes shapes and code paths (pixel counts, oversampling, step counts,
switches). Keeping them apart lets the same render be differentiated, vmapped or compiled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from nb_core.options import Quirks
from nb_core.settings import Convention, Pivot, Shape

if TYPE_CHECKING:
    from nb_core.resolve import Report
    from nb_core.rng import CRandom

__all__ = ["Experiment", "Params", "Static"]


@dataclass(frozen=True)
class Params:
    """Continuous parameters of a simulation, all tensors of one dtype and device.

    Detector (lengths in m, angles in rad, vectors unitless):
        pixel_size: ``()`` pixel edge.
        distance: ``()`` sample to detector along the beam (the -distance value).
        close_distance: ``()`` sample to detector plane along its normal; used only when
            ``Static.close_distance_given``.
        beam_center: ``(2,)`` Xbeam, Ybeam in the convention's own frame.
        close_center: ``(2,)`` Fclose, Sclose: the near point in the detector frame before
            rotations (SAMPLE pivot).
        detsize: ``(2,)`` detector size along fast and slow.
        detector_rotation: ``(3,)`` rotations about lab x, y, z.
        twotheta: ``()`` rotation about ``twotheta_axis``.
        fdet, sdet, odet: ``(3,)`` fast, slow and normal unit vectors before rotations.
        twotheta_axis: ``(3,)`` unit axis of the two-theta swing.
        pix0: ``(3,)`` detector origin; used only when the pix0 quirk is fixed and given.
        beam: ``(3,)`` unit vector along the direction of propagation.
        polar_axis: ``(3,)`` unit E-vector of the incident polarization.
        detector_thickstep: ``()`` depth between sensor layers (m).
        detector_mu: ``()`` sensor attenuation coefficient (1/m).

    Crystal:
        cell: ``(6,)`` a, b, c (Å) and alpha, beta, gamma (rad); used when ``Static.user_cell``.
        reciprocal: ``(3, 3)`` rows a*, b*, c* (Å⁻¹) from an orientation matrix; used when
            ``Static.has_matrix``.
        misset: ``(3,)`` missetting rotations about x, y, z (rad).
        n_cells: ``(3,)`` unit cells along a, b, c (may be non-integer when refined).
        phi0: ``()`` first spindle angle (rad).
        phistep: ``()`` spindle step (rad).
        spindle: ``(3,)`` unit spindle axis.
        mosaic_spread: ``()`` mosaic spread (rad).
        mosaic_axes: ``(M, 3)`` unit rotation axes of the mosaic domains.
        mosaic_fractions: ``(M,)`` each domain's rotation angle as a fraction of the spread.
        fudge: ``()`` spot-shape fudge factor.

    Beam:
        wavelength: ``()`` central wavelength lambda0 (m).
        source_directions: ``(S, 3)`` unit vectors from the sample toward each source.
        source_wavelength_factors: ``(S,)`` each source's wavelength divided by lambda0.
        polarization: ``()`` Kahn polarization factor.
        fluence: ``()`` photons/m^2.
        water_size: ``()`` water thickness (m).
        dmin: ``()`` resolution cutoff (m); 0 for none.

    Structure factors:
        f_grid: ``(H, K, L)`` amplitudes (electrons) on the integer grid starting at
            ``Static.grid_origin``.
        default_F: ``()`` amplitude outside the grid.

    Pixels:
        mask: ``(spixels, fpixels)`` bool, True where a pixel is rendered; None for all.
    """

    pixel_size: Tensor
    distance: Tensor
    close_distance: Tensor
    beam_center: Tensor
    close_center: Tensor
    detsize: Tensor
    detector_rotation: Tensor
    twotheta: Tensor
    fdet: Tensor
    sdet: Tensor
    odet: Tensor
    twotheta_axis: Tensor
    pix0: Tensor
    beam: Tensor
    polar_axis: Tensor
    detector_thickstep: Tensor
    detector_mu: Tensor
    cell: Tensor
    reciprocal: Tensor
    misset: Tensor
    n_cells: Tensor
    phi0: Tensor
    phistep: Tensor
    spindle: Tensor
    mosaic_spread: Tensor
    mosaic_axes: Tensor
    mosaic_fractions: Tensor
    fudge: Tensor
    wavelength: Tensor
    source_directions: Tensor
    source_wavelength_factors: Tensor
    polarization: Tensor
    fluence: Tensor
    water_size: Tensor
    dmin: Tensor
    f_grid: Tensor
    default_F: Tensor
    mask: Tensor | None = None

    @property
    def dtype(self) -> torch.dtype:
        """The floating dtype of every tensor."""
        return self.pixel_size.dtype

    @property
    def device(self) -> torch.device:
        """The device of every tensor."""
        return self.pixel_size.device

    def to(
        self, dtype: torch.dtype | None = None, device: torch.device | str | None = None
    ) -> Params:
        """Copy with floating tensors cast to ``dtype`` and everything moved to ``device``."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Tensor):
                if value.is_floating_point() and dtype is not None:
                    value = value.to(dtype=dtype)
                if device is not None:
                    value = value.to(device=device)
            out[f.name] = value
        return Params(**out)

    def replace(self, **changes: Tensor | None) -> Params:
        """Copy with some fields replaced (e.g. by tensors that require grad)."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Static:
    """Options that fix shapes and code paths; nothing here carries a gradient.

    Attributes:
        fpixels: Pixels along the fast axis.
        spixels: Pixels along the slow axis.
        oversample: Sub-pixels per pixel edge.
        layers: Detector sensor layers.
        sources: Beam sources (divergence x dispersion, or from a sourcefile).
        phisteps: Spindle steps.
        mosaic_domains: Mosaic domains.
        convention: Beam-centre convention.
        pivot: Detector pivot.
        close_distance_given: Whether a close distance was given (it then sets the distance).
        user_cell: Whether the cell comes from ``Params.cell``.
        has_matrix: Whether the orientation comes from ``Params.reciprocal``.
        shape: Crystal shape model.
        interpolate: Tricubic interpolation of structure factors.
        has_hkl: Whether ``Params.f_grid`` holds structure factors (else default_F everywhere).
        grid_origin: ``(h_min, k_min, l_min)`` of ``Params.f_grid``.
        nopolar: Polarization factor disabled.
        point_pixel: Solid angle as 1/R^2 only.
        curved_detector: Every pixel at the same distance from the sample.
        oversample_thick: Capture fraction recomputed at every sub-pixel.
        oversample_polar: Polarization recomputed at every sub-pixel and source.
        oversample_omega: Solid angle recomputed at every sub-pixel.
        roi: ``(xmin, xmax, ymin, ymax)`` inclusive pixel bounds rendered.
        has_water: Water background is on (the C program then never skips a zero lattice term).
        has_thickness: Sensor thickness is modelled (else capture fraction 1).
        has_dmin: A resolution cutoff is on.
        phi_source: For each spindle step, the step whose rotation the lattice carries (the
            step itself, an earlier one when its angle is exactly 0.0, or -1 for none).
        phi_source_first: The same for the very first phi loop of a run.
        pix0_given: Whether -pix0_vector was given.
        integer_cells: The unit-cell counts as integers when ``Params.n_cells`` holds exactly
            these values and is not being refined (the render may then use a faster form of
            the lattice factor); None otherwise.
        quirks: Which C bugs are reproduced.
    """

    fpixels: int
    spixels: int
    oversample: int = 1
    layers: int = 1
    sources: int = 1
    phisteps: int = 1
    mosaic_domains: int = 1
    convention: Convention = "mosflm"
    pivot: Pivot = "beam"
    close_distance_given: bool = False
    user_cell: bool = True
    has_matrix: bool = False
    shape: Shape = "square"
    interpolate: bool = False
    has_hkl: bool = False
    grid_origin: tuple[int, int, int] = (0, 0, 0)
    nopolar: bool = False
    point_pixel: bool = False
    curved_detector: bool = False
    oversample_thick: bool = False
    oversample_polar: bool = False
    oversample_omega: bool = False
    roi: tuple[int, int, int, int] = (0, 0, 0, 0)
    has_water: bool = False
    has_thickness: bool = False
    has_dmin: bool = False
    phi_source: tuple[int, ...] = ()
    phi_source_first: tuple[int, ...] = ()
    pix0_given: bool = False
    integer_cells: tuple[int, int, int] | None = None
    quirks: Quirks = field(default_factory=Quirks)

    @property
    def steps(self) -> int:
        """The C program's normalisation: sources x domains x phi steps x oversample^2."""
        return self.sources * self.mosaic_domains * self.phisteps * self.oversample**2

    @property
    def subpixels(self) -> int:
        """Sub-pixels per pixel (oversample^2)."""
        return self.oversample**2

    @property
    def evaluations_per_pixel(self) -> int:
        """Lattice evaluations per pixel: layers x sub-pixels x sources x phi x domains."""
        return self.layers * self.subpixels * self.sources * self.phisteps * self.mosaic_domains

    @property
    def compounding(self) -> bool:
        """Whether the -oversample_* factors are applied inside the accumulation loop."""
        return self.oversample_thick or self.oversample_polar or self.oversample_omega


@dataclass(frozen=True)
class Experiment:
    """A resolved simulation: parameters, static options, and what the rules decided.

    Attributes:
        params: The differentiable parameters.
        static: The static options.
        report: The values the C program reports about its decisions (see
            :class:`nb_core.resolve.Report`).
        rng: The C program's random-number state after resolving, for a later noise image.
    """

    params: Params
    static: Static
    report: Report = field(compare=False, repr=False)
    rng: CRandom = field(compare=False, repr=False)

    @property
    def notes(self) -> tuple[str, ...]:
        """Lines the C program would print while resolving (warnings, decisions)."""
        return self.report.notes
