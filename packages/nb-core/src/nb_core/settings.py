"""What the user asked for, in the C program's flag units, before any rule is applied.

``Settings`` mirrors the variables the nanoBragg C program holds after it has read its command
line (and the headers of ``-img`` / ``-mask`` files), in user units: mm, Å, degrees, mrad, µm,
percent, eV-derived Å. Fields left at their defaults mean "not given"; ``None`` marks values the
C program keeps as NaN or -1 until its resolution rules fill them in. :func:`nb_core.resolve`
turns a ``Settings`` into tensors and static options; nothing here is a tensor.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Literal

from nb_core.units import DEFAULT_FLUENCE

Vec3 = tuple[float, float, float]
Convention = Literal["mosflm", "xds", "adxv", "denzo", "dials", "custom"]
Pivot = Literal["beam", "sample"]
Shape = Literal["square", "round", "gauss", "tophat"]

__all__ = ["Convention", "Pivot", "Settings", "Shape", "Vec3", "clock_seed"]


def clock_seed() -> int:
    """The seed the C program takes when none is given: ``-time(NULL)`` (negated seconds)."""
    return -int(time.time())


@dataclass
class Settings:
    """The C program's settings after reading the command line, in flag units.

    Attributes mirror the flags (see ``nb simulate --help``). Units: lengths of the detector in
    mm, cell lengths and wavelength in Å, angles in degrees, divergence in mrad, sensor and water
    thickness in µm, dispersion in percent, seeds as the C program stores them (negated).
    """

    # --- crystal ---------------------------------------------------------------------------
    #: Unit cell a, b, c (Å) and alpha, beta, gamma (deg); zeros mean "use the defaults".
    cell: tuple[float, float, float, float, float, float] = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    #: True once -cell was given (the C program's user_cell).
    user_cell: bool = False
    #: MOSFLM orientation matrix file (-mat).
    matrix_file: str | None = None
    #: "angles" (use misset_deg), "random", or None.
    misset_mode: Literal["angles", "random"] | None = None
    #: Missetting rotations about x, y, z (deg).
    misset_deg: Vec3 = (0.0, 0.0, 0.0)
    #: Unit cells along a, b, c (the C program reads them with atoi).
    n_cells: Vec3 = (1.0, 1.0, 1.0)
    #: Crystal size along a, b, c (mm); > 0 overrides n_cells.
    sample_size_mm: Vec3 = (0.0, 0.0, 0.0)
    #: Crystal shape model.
    shape: Shape = "square"
    #: Spot-shape fudge factor.
    fudge: float = 1.0
    #: Isotropic mosaic spread (deg); None when not given.
    mosaic_deg: float | None = None
    #: Number of mosaic domains; -1 when not given.
    mosaic_domains: int = -1
    #: Phi start (deg), oscillation range (deg), phi step (deg), number of phi steps.
    phi_deg: float = 0.0
    osc_deg: float | None = None
    phistep_deg: float | None = None
    phisteps: int = -1
    #: Spindle (phi) axis, used as given only in the CUSTOM convention.
    spindle_axis: Vec3 = (0.0, 0.0, 1.0)

    # --- structure factors -----------------------------------------------------------------
    hkl_file: str | None = None
    dump_file: str = "Fdump.bin"
    default_F: float = 0.0
    #: 2: automatic, 1: forced on (-interpolate), 0: off (-nointerpolate).
    interpolate: int = 2
    #: Amorphous-scatter file (-stol/-4stol/-Q): read, but unused by the C program's render.
    stol_file: str | None = None
    #: Column (MTZ label or mmCIF _refln item) of an MTZ or mmCIF -hkl file; None: automatic.
    sf_column: str | None = None
    #: Resolution (Å) of the amplitudes of a model -hkl file; None: automatic.
    model_dmin_A: float | None = None

    # --- beam --------------------------------------------------------------------------------
    lambda_A: float = 1.0
    #: Spectral dispersion delta-lambda/lambda (percent) and its number of steps.
    dispersion_pct: float = 0.0
    dispsteps: int = -1
    #: Divergence ranges and steps (mrad); None when not given; -1 step counts when not given.
    hdivrange_mrad: float | None = None
    vdivrange_mrad: float | None = None
    hdivstep_mrad: float | None = None
    vdivstep_mrad: float | None = None
    hdivsteps: int = -1
    vdivsteps: int = -1
    round_div: bool = True
    source_file: str | None = None
    beam_vector: Vec3 = (1.0, 0.0, 0.0)
    polar_vector: Vec3 = (0.0, 0.0, 1.0)
    #: Kahn polarization factor.
    polarization: float = 0.0
    nopolar: bool = False
    fluence: float = DEFAULT_FLUENCE
    flux: float = 0.0
    exposure_s: float = 1.0
    beamsize_mm: float = 0.1
    #: Water thickness around the crystal (µm).
    water_um: float = 0.0

    # --- detector ----------------------------------------------------------------------------
    convention: Convention = "mosflm"
    pivot: Pivot = "beam"
    distance_mm: float = 100.0
    close_distance_mm: float | None = None
    pixel_mm: float = 0.1
    detsize_mm: tuple[float, float] = (102.4, 102.4)
    #: Pixel counts (fast, slow); 0 when not given.
    detpixels: tuple[int, int] = (0, 0)
    xbeam_mm: float | None = None
    ybeam_mm: float | None = None
    xclose_mm: float | None = None
    yclose_mm: float | None = None
    orgx: float | None = None
    orgy: float | None = None
    detector_rot_deg: Vec3 = (0.0, 0.0, 0.0)
    twotheta_deg: float = 0.0
    fdet_vector: Vec3 = (0.0, 0.0, 1.0)
    sdet_vector: Vec3 = (0.0, -1.0, 0.0)
    odet_vector: Vec3 = (1.0, 0.0, 0.0)
    twotheta_axis: Vec3 = (0.0, 1.0, 0.0)
    #: -pix0_vector (m), which the C program accepts but does not use (see Compat.use_pix0).
    pix0_vector: Vec3 | None = None
    curved_detector: bool = False
    point_pixel: bool = False
    #: Sensor attenuation depth (µm); math.inf or 0 mean no absorption; None when not given.
    detector_attenuation_um: float | None = None
    detector_thick_um: float = 0.0
    thicksteps: int = -1
    oversample: int = -1
    oversample_thick: bool = False
    oversample_polar: bool = False
    oversample_omega: bool = False
    #: Region of interest xmin, xmax, ymin, ymax (pixels, inclusive); None for the whole image.
    roi: tuple[int, int, int, int] | None = None
    dmin_A: float = 0.0
    img_file: str | None = None
    mask_file: str | None = None

    # --- outputs -----------------------------------------------------------------------------
    floatfile: str = "floatimage.bin"
    intfile: str = "intimage.img"
    pgmfile: str = "image.pgm"
    noisefile: str = "noiseimage.img"
    write_noise: bool = True
    write_pgm: bool = True
    intfile_scale: float = 0.0
    pgm_scale: float = 0.0
    adc_offset: float = 40.0
    printout: bool = False
    printout_pixel: tuple[int, int] = (-1, -1)
    progress: bool = True

    # --- randomness (stored as the C program stores them: negated) ---------------------------
    seed: int | None = None
    mosaic_seed: int = -12345678
    misset_seed: int | None = None

    #: Flags whose values were given, in order (for reports).
    given: list[str] = field(default_factory=list)

    def mosaic_given(self) -> bool:
        """Whether a mosaic spread was given."""
        return self.mosaic_deg is not None and not math.isnan(self.mosaic_deg)
