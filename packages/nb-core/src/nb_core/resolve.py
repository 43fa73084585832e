"""From what the user asked (``Settings``) to what is simulated (``Experiment``).

``resolve`` applies the nanoBragg C program's rules, in the C program's order: pixel counts
from detector size, fluence from flux, beam-centre defaults and mappings per convention, pivots,
automatic step counts (phi, divergence, dispersion, sensor layers), default mosaic domains,
the interpolation switch, cell or matrix to lattice vectors, crystal size to unit-cell counts,
automatic oversampling, sources and mosaic domains. Decisions that fix shapes become
``Static``; everything continuous becomes a tensor in ``Params``. The lines the C program
prints while deciding are returned as ``Experiment.notes``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from nb_core.checks import check_settings
from nb_core.cost import check_counts, count_flags
from nb_core.crystal.lattice import crystal_basis
from nb_core.crystal.orientation import random_misset
from nb_core.errors import InputError
from nb_core.geometry.detector import detector_frame
from nb_core.io import (
    FGrid,
    SourceTable,
    grid_from_hkl,
    read_fdump,
    read_hkl,
    read_matrix,
    read_smv,
    read_sourcefile,
)
from nb_core.options import Quirks
from nb_core.params import Experiment, Params, Static
from nb_core.rng import CRandom, Seed, mosaic_draws
from nb_core.settings import Settings
from nb_core.units import RTD

__all__ = ["Inputs", "beam_vector_for", "load_inputs", "resolve"]

Vec = list[float]


@dataclass(frozen=True)
class Inputs:
    """Data read from the files a ``Settings`` names.

    Attributes:
        matrix: ``(3, 3)`` rows a*, b*, c* as in the MOSFLM file (Å⁻¹ times wavelength).
        fgrid: Structure-factor grid from ``-hkl`` or the dump file.
        fgrid_from: ``"hkl"`` or ``"dump"``: where ``fgrid`` came from.
        sources: Sources from ``-sourcefile`` (defaults for missing columns applied).
        mask: ``(spixels, fpixels)`` bool, True where the ``-mask`` image is non-zero.
    """

    matrix: np.ndarray | None = None
    fgrid: FGrid | None = None
    fgrid_from: Literal["hkl", "dump"] | None = None
    sources: SourceTable | None = None
    mask: np.ndarray | None = None


_CONVENTION_VECTORS: dict[str, dict[str, tuple[float, float, float]]] = {
    "adxv": {
        "beam": (0, 0, 1),
        "fdet": (1, 0, 0),
        "sdet": (0, -1, 0),
        "odet": (0, 0, 1),
        "twotheta": (-1, 0, 0),
        "polar": (1, 0, 0),
        "spindle": (1, 0, 0),
    },
    "mosflm": {
        "beam": (1, 0, 0),
        "odet": (1, 0, 0),
        "fdet": (0, 0, 1),
        "sdet": (0, -1, 0),
        "twotheta": (0, 0, -1),
        "polar": (0, 0, 1),
        "spindle": (0, 0, 1),
    },
    "xds": {
        "beam": (0, 0, 1),
        "fdet": (1, 0, 0),
        "sdet": (0, 1, 0),
        "odet": (0, 0, 1),
        "twotheta": (1, 0, 0),
        "polar": (1, 0, 0),
        "spindle": (1, 0, 0),
    },
    "dials": {
        "beam": (0, 0, 1),
        "fdet": (1, 0, 0),
        "sdet": (0, 1, 0),
        "odet": (0, 0, 1),
        "twotheta": (0, 1, 0),
        "polar": (0, 1, 0),
        "spindle": (0, 1, 0),
    },
}
_CONVENTION_VECTORS["denzo"] = _CONVENTION_VECTORS["mosflm"]


def _unit(v: Vec) -> tuple[Vec, float]:
    mag = math.sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2])
    if mag != 0.0:
        return [v[0] / mag, v[1] / mag, v[2] / mag], mag
    return [0.0, 0.0, 0.0], mag


def _cross(x: Vec, y: Vec) -> Vec:
    return [x[1] * y[2] - x[2] * y[1], x[2] * y[0] - x[0] * y[2], x[0] * y[1] - x[1] * y[0]]


def _rotate_axis(v: Vec, axis: Vec, phi: float) -> Vec:
    s, c = math.sin(phi), math.cos(phi)
    d = (axis[0] * v[0] + axis[1] * v[1] + axis[2] * v[2]) * (1.0 - c)
    return [
        axis[0] * d + v[0] * c + (-axis[2] * v[1] + axis[1] * v[2]) * s,
        axis[1] * d + v[1] * c + (+axis[2] * v[0] - axis[0] * v[2]) * s,
        axis[2] * d + v[2] * c + (-axis[1] * v[0] + axis[0] * v[1]) * s,
    ]


def _vectors(settings: Settings) -> dict[str, Vec]:
    """Detector/beam vectors for the convention, before unitizing."""
    if settings.convention in _CONVENTION_VECTORS:
        return {
            k: [float(x) for x in v] for k, v in _CONVENTION_VECTORS[settings.convention].items()
        }
    return {
        "beam": list(settings.beam_vector),
        "fdet": list(settings.fdet_vector),
        "sdet": list(settings.sdet_vector),
        "odet": list(settings.odet_vector),
        "twotheta": list(settings.twotheta_axis),
        "polar": list(settings.polar_vector),
        "spindle": list(settings.spindle_axis),
    }


def beam_vector_for(settings: Settings) -> np.ndarray:
    """The unit beam direction the settings resolve to (used for sourcefile defaults).

    Args:
        settings: The user's settings.

    Returns:
        ``(3,)`` unit vector along the direction of propagation.
    """
    beam, _ = _unit(_vectors(settings)["beam"])
    return np.asarray(beam, dtype=np.float64)


def load_inputs(settings: Settings, *, workdir: str | Path = ".") -> Inputs:
    """Read the files named by ``settings`` (matrix, HKL or dump, sources, mask).

    Without ``-hkl``, a dump file in ``workdir`` is read if present (the C program does this
    silently; callers should say so).

    Args:
        settings: The user's settings.
        workdir: Folder for the dump file and relative paths.

    Returns:
        The data read.

    Raises:
        InputError: A file is missing or malformed.
    """
    base = Path(workdir)

    def path(name: str) -> Path:
        p = Path(name)
        return p if p.is_absolute() else base / p

    matrix = read_matrix(path(settings.matrix_file)) if settings.matrix_file else None
    fgrid = None
    origin: Literal["hkl", "dump"] | None = None
    if settings.hkl_file:
        fgrid = grid_from_hkl(read_hkl(path(settings.hkl_file)), settings.default_F)
        origin = "hkl"
    else:
        dump = path(settings.dump_file)
        if dump.is_file():
            fgrid = read_fdump(dump)
            origin = "dump"
    sources = None
    if settings.source_file:
        sources = read_sourcefile(
            path(settings.source_file), beam_vector_for(settings), settings.lambda_A / 1.0e10
        )
    mask = None
    if settings.mask_file:
        mask = read_smv(path(settings.mask_file)).data != 0
    return Inputs(matrix=matrix, fgrid=fgrid, fgrid_from=origin, sources=sources, mask=mask)


def _auto_steps(
    steps: int, value: float, step: float, *, nothing: tuple[int, float, float]
) -> tuple[int, float, float]:
    """The C program's rule for (range, step, count) triples (divergence and dispersion)."""
    if steps <= 0:
        if value < 0.0:
            if step <= 0.0:
                return nothing
            return 2, step, step
        if step <= 0.0:
            return 2, value, value
        return math.ceil(value / step), value, step
    if value < 0.0:
        if step <= 0.0:
            value = 1.0
            return steps, value, value / steps
        return 2, step, step
    if step <= 0.0:
        if steps <= 1:
            steps = 2
        return steps, value, value / (steps - 1)
    return steps, value, step


def _g(x: float) -> str:
    return "%g" % x


@dataclass
class _Log:
    lines: list[str] = field(default_factory=list)

    def __call__(self, line: str) -> None:
        self.lines.append(line)


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
        The experiment; ``notes`` holds the lines the C program prints while resolving, and
        ``info`` the plain values its summary reports.

    Raises:
        InputError: The settings cannot describe a simulation (no structure factors, no cell,
            no physical sense), or the job is too large (memory, or time over ``max_seconds``).
    """
    check_settings(settings, inputs)
    s = settings
    inputs = inputs or Inputs()
    quirks = quirks or Quirks()
    rng = rng or CRandom()
    log = _Log()
    info: dict[str, Any] = {}

    # ---- detector size ------------------------------------------------------------------------
    pixel_size = s.pixel_mm / 1000.0
    detsize_f = s.detsize_mm[0] / 1000.0
    detsize_s = s.detsize_mm[1] / 1000.0
    fpixels, spixels = s.detpixels
    if fpixels:
        detsize_f = pixel_size * fpixels
    if spixels:
        detsize_s = pixel_size * spixels
    fpixels = math.ceil(detsize_f / pixel_size - 0.5)
    spixels = math.ceil(detsize_s / pixel_size - 0.5)
    if fpixels <= 0 or spixels <= 0:
        raise InputError(f"the detector has {fpixels} x {spixels} pixels", "-detpixels")
    if inputs.mask is not None and tuple(inputs.mask.shape) != (spixels, fpixels):
        raise InputError(
            f"the mask is {inputs.mask.shape[1]} x {inputs.mask.shape[0]} pixels but the "
            f"detector is {fpixels} x {spixels} (fast x slow); expected a mask of the "
            "detector's size (the mask sets it unless -detpixels follows)",
            s.mask_file or "-mask",
        )

    # ---- fluence and sample size --------------------------------------------------------------
    fluence = s.fluence
    flux, exposure, beamsize = s.flux, s.exposure_s, s.beamsize_mm / 1000
    sample = [x / 1000 for x in s.sample_size_mm]
    if flux != 0.0 and exposure > 0.0 and beamsize >= 0:
        fluence = flux * exposure / beamsize / beamsize if beamsize != 0 else math.inf
    if beamsize >= 0:
        if beamsize < sample[1]:
            log(f"WARNING: clipping sample ({sample[1]:g} m high) with beam ({beamsize:g} m)")
            sample[1] = beamsize
        if beamsize < sample[2]:
            log(f"WARNING: clipping sample ({sample[2]:g} m wide) with beam ({beamsize:g} m)")
            sample[2] = beamsize
    if exposure > 0.0:
        flux = fluence / exposure * beamsize * beamsize

    # ---- beam centre defaults -----------------------------------------------------------------
    nan = math.nan
    fclose = (s.orgx - 0.5) * pixel_size if s.orgx is not None else nan
    sclose = (s.orgy - 0.5) * pixel_size if s.orgy is not None else nan
    if math.isnan(fclose):
        fclose = (detsize_f - 0 * pixel_size) / 2.0
    if math.isnan(sclose):
        sclose = (detsize_s + 0 * pixel_size) / 2.0
    xclose = s.xclose_mm / 1000.0 if s.xclose_mm is not None else fclose
    yclose = s.yclose_mm / 1000.0 if s.yclose_mm is not None else sclose
    xbeam = s.xbeam_mm / 1000.0 if s.xbeam_mm is not None else nan
    ybeam = s.ybeam_mm / 1000.0 if s.ybeam_mm is not None else nan
    if s.roi is None:
        roi = (0, fpixels, 0, spixels)
    else:
        roi = tuple(
            v if v >= 0 else d for v, d in zip(s.roi, (0, fpixels, 0, spixels), strict=True)
        )
    conv = s.convention
    pivot = s.pivot
    if conv == "adxv":
        xbeam = (detsize_f + pixel_size) / 2.0 if math.isnan(xbeam) else xbeam
        ybeam = (detsize_s - pixel_size) / 2.0 if math.isnan(ybeam) else ybeam
        pivot = "beam"
    elif conv in ("mosflm", "denzo"):
        xbeam = (detsize_s + pixel_size) / 2.0 if math.isnan(xbeam) else xbeam
        ybeam = (detsize_f + pixel_size) / 2.0 if math.isnan(ybeam) else ybeam
        pivot = "beam"
    else:
        xbeam = xclose if math.isnan(xbeam) else xbeam
        ybeam = yclose if math.isnan(ybeam) else ybeam
        if conv in ("xds", "dials"):
            pivot = "sample"

    # ---- vectors ------------------------------------------------------------------------------
    vec = _vectors(s)
    beam, _ = _unit(vec["beam"])
    fdet, _ = _unit(vec["fdet"])
    sdet, _ = _unit(vec["sdet"])
    odet, omag = _unit(vec["odet"])
    if omag != 1.0:
        log("WARNING: auto-generating odet_vector")
        odet, _ = _unit(_cross(fdet, sdet))
    polar_axis, _ = _unit(vec["polar"])
    spindle, _ = _unit(vec["spindle"])
    vert, _ = _unit(_cross(beam, polar_axis))
    twotheta_axis = vec["twotheta"]

    # ---- structure factors present? -----------------------------------------------------------
    if s.hkl_file is None and inputs.fgrid is None and s.default_F == 0.0:
        raise InputError("no -hkl file, no dump file to read, and -default_F is 0")
    if s.matrix_file is None and s.cell[0] == 0.0:
        raise InputError("no crystal given: use -cell a b c alpha beta gamma or -mat FILE")

    # ---- step counts --------------------------------------------------------------------------
    phi0 = s.phi_deg / RTD
    osc = s.osc_deg / RTD if s.osc_deg is not None else -1.0
    phistep = s.phistep_deg / RTD if s.phistep_deg is not None else -1.0
    phisteps = s.phisteps
    if phisteps < 0:
        if osc < 0.0:
            if phistep <= 0.0:
                phisteps, osc, phistep = 1, 0.0, 0.0
            else:
                osc, phisteps = phistep, 2
        elif phistep <= 0.0:
            phisteps, phistep = 2, osc / 2.0
        else:
            phisteps = math.ceil(osc / phistep)
    else:
        if phisteps == 0:
            phisteps = 1
        if osc < 0.0:
            if phistep <= 0.0:
                osc = 1.0 / RTD
                phistep = osc / phisteps
            else:
                osc, phisteps = phistep, 2
        elif phistep < 0.0:
            phistep = osc / phisteps

    def mrad(v: float | None) -> float:
        return v / 1000.0 if v is not None else -1.0

    hdivsteps, hdivrange, hdivstep = _auto_steps(
        s.hdivsteps, mrad(s.hdivrange_mrad), mrad(s.hdivstep_mrad), nothing=(1, 0.0, 0.0)
    )
    vdivsteps, vdivrange, vdivstep = _auto_steps(
        s.vdivsteps, mrad(s.vdivrange_mrad), mrad(s.vdivstep_mrad), nothing=(1, 0.0, 0.0)
    )
    dispsteps, dispersion, dispstep = _auto_steps(
        s.dispsteps, s.dispersion_pct / 100.0, -1.0, nothing=(1, 0.0, 0.0)
    )

    thick = s.detector_thick_um * 1e-6
    thickstep = -1.0
    thicksteps = s.thicksteps
    if thicksteps <= 0:
        if thick < 0.0:
            thicksteps, thick, thickstep = 1, 0.0, 0.0
        else:
            thicksteps = 2
            thickstep = thick / thicksteps
    elif thick < 0.0:
        thick = 0.5e-6
        thickstep = thick / thicksteps
    else:
        if thicksteps <= 1:
            thicksteps = 2
        thickstep = thick / (thicksteps - 1)
    att = s.detector_attenuation_um
    if att is None:
        mu = -1.0
    elif math.isinf(att) or att == 0.0:
        mu = 0.0
    else:
        mu = 1.0 / (att * 1e-6)
    if thick > 0.0 and mu < 0.0:
        mu = 1.0 / thick
        log(f"WARNING: setting detector attenuation depth to {mu:g} m")

    mosaic_spread = s.mosaic_deg / RTD if s.mosaic_deg is not None else -1.0
    domains = s.mosaic_domains
    if domains <= 0:
        if mosaic_spread < 0.0:
            domains, mosaic_spread = 1, 0.0
        elif mosaic_spread == 0.0:
            domains = 1
        else:
            log("WARNING: finite mosaicity with only one domain! upping to 10 mosaic domains")
            domains = 10
    elif mosaic_spread < 0.0:
        log("WARNING: no mosaic spread specified.  setting mosaic_domains = 1")
        mosaic_spread, domains = 0.0, 1
    elif mosaic_spread == 0.0:
        log("WARNING: zero mosaic spread specified.  setting mosaic_domains = 1")
        domains = 1

    if hdivrange <= 0.0 or hdivstep <= 0.0 or hdivsteps <= 0:
        hdivsteps, hdivrange, hdivstep = 1, 0.0, 0.0
    if vdivrange <= 0.0 or vdivstep <= 0.0 or vdivsteps <= 0:
        vdivsteps, vdivrange, vdivstep = 1, 0.0, 0.0
    if dispersion <= 0.0 or dispstep <= 0.0 or dispsteps <= 0:
        dispsteps, dispersion, dispstep = 1, 0.0, 0.0
    if thick <= 0.0 or thickstep <= 0.0 or thicksteps <= 0:
        thicksteps, thick, thickstep = 1, 0.0, 0.0
    file_sources = len(inputs.sources) if inputs.sources is not None else 0
    check_counts(
        fpixels=fpixels,
        spixels=spixels,
        roi=roi,  # type: ignore[arg-type]
        oversample=s.oversample,
        layers=thicksteps,
        sources=file_sources or hdivsteps * vdivsteps * dispsteps,
        phisteps=phisteps,
        domains=domains,
        dtype=dtype,
        device=str(device),
        flags=count_flags(s.given, hdivsteps * vdivsteps, dispsteps, file_sources > 0),
        limit_s=max_seconds,
    )

    log(f"{conv} convention selected.")
    if pivot == "sample":
        log("pivoting detector around sample")
    else:
        log("pivoting detector around direct beam spot")

    lambda0 = s.lambda_A / 1.0e10

    # Decisions are made in float64 on the CPU; the result is cast at the end.
    def t(x: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))

    # ---- interpolation switch -----------------------------------------------------------------
    na, nb, nc = s.n_cells
    interpolate = s.interpolate
    deferred: list[str] = []
    if interpolate > 1:
        if na <= 2 or nb <= 2 or nc <= 2:
            deferred.append("auto-selected tricubic interpolation of structure factors")
            interpolate = 1
        else:
            deferred.append("auto-selected no interpolation")
            interpolate = 0

    # ---- crystal ------------------------------------------------------------------------------
    cell = list(s.cell)
    a_len, b_len, c_len = cell[0], cell[1], cell[2]
    alpha, beta, gamma = cell[3] / RTD, cell[4] / RTD, cell[5] / RTD
    if s.user_cell:
        b_len = a_len if b_len <= 0.0 else b_len
        c_len = a_len if c_len <= 0.0 else c_len
        alpha = math.pi / 2 if alpha <= 0.0 else alpha
        beta = math.pi / 2 if beta <= 0.0 else beta
        gamma = math.pi / 2 if gamma <= 0.0 else gamma
    reciprocal = np.zeros((3, 3))
    has_matrix = False
    if s.matrix_file is not None and inputs.matrix is not None:
        deferred.append(f"reading {s.matrix_file}")
        reciprocal = np.asarray(inputs.matrix, dtype=np.float64) * (1e-10 / lambda0)
        has_matrix = True

    misset = [0.0, 0.0, 0.0]
    if s.misset_mode == "random":
        seed = s.misset_seed if s.misset_seed is not None else _time_seed(s)
        angles = random_misset(rng, Seed(seed), degrees_quirk=quirks.misset)
        misset = [float(x) for x in angles]
        deferred.append(
            "random orientation misset angles: "
            f"{misset[0] * RTD:f} {misset[1] * RTD:f} {misset[2] * RTD:f} deg"
        )
    elif s.misset_mode == "angles":
        misset = [x / RTD for x in s.misset_deg]

    # ---- detector placement (uses the parameters below) ---------------------------------------
    close_mm = s.close_distance_mm
    close_given = close_mm is not None
    params_detector = dict(
        pixel_size=t(pixel_size),
        distance=t(s.distance_mm / 1000.0),
        close_distance=t(close_mm / 1000.0 if close_mm is not None else 0.0),
        beam_center=t([xbeam, ybeam]),
        close_center=t([fclose, sclose]),
        detsize=t([detsize_f, detsize_s]),
        detector_rotation=t([x / RTD for x in s.detector_rot_deg]),
        twotheta=t(s.twotheta_deg / RTD),
        fdet=t(fdet),
        sdet=t(sdet),
        odet=t(odet),
        twotheta_axis=t(twotheta_axis),
        pix0=t(list(s.pix0_vector) if s.pix0_vector is not None else [0.0, 0.0, 0.0]),
        beam=t(beam),
        polar_axis=t(polar_axis),
        detector_thickstep=t(thickstep),
        detector_mu=t(mu),
    )

    # ---- sources ------------------------------------------------------------------------------
    source_lines: list[str] = []
    if inputs.sources is not None and len(inputs.sources.wavelengths) > 0:
        src = inputs.sources
        positions = np.asarray(src.positions, dtype=np.float64)
        lambdas = np.asarray(src.wavelengths, dtype=np.float64)
        intensities = np.asarray(src.intensities, dtype=np.float64)
        divsteps = -1
    else:
        divsteps = 0
        pos_list: list[Vec] = []
        lam_list: list[float] = []
        for hdiv_tic in range(hdivsteps):
            for vdiv_tic in range(vdivsteps):
                hdiv = hdivstep * hdiv_tic - hdivrange / 2.0
                vdiv = vdivstep * vdiv_tic - vdivrange / 2.0
                if not _inside_divergence(
                    hdiv,
                    vdiv,
                    hdivstep,
                    vdivstep,
                    hdivsteps,
                    vdivsteps,
                    hdivrange,
                    vdivrange,
                    s.round_div,
                ):
                    continue
                divsteps += 1
                source_lines.append(f"divergence deviation: {hdiv:g} {vdiv:g}")
                v = [-10.0 * beam[0], -10.0 * beam[1], -10.0 * beam[2]]
                v = _rotate_axis(_rotate_axis(v, polar_axis, vdiv), vert, hdiv)
                for disp_tic in range(dispsteps):
                    pos_list.append(v)
                    lam_list.append(lambda0 * (1.0 + dispstep * disp_tic - dispersion / 2.0))
        for disp_tic in range(dispsteps):
            lam = lambda0 * (1.0 + dispstep * disp_tic - dispersion / 2.0)
            source_lines.append(f"lambda{disp_tic} = {lam:.15g}")
        positions = np.asarray(pos_list, dtype=np.float64).reshape(-1, 3)
        lambdas = np.asarray(lam_list, dtype=np.float64)
        n_src = max(1, len(lam_list))
        intensities = np.full(len(lam_list), 1.0 / n_src)
    nsources = int(lambdas.shape[0])
    if nsources == 0:
        raise InputError("no beam sources: the divergence settings leave none", "-divergence")
    directions = np.zeros_like(positions)
    source_lines.append(f"  created a total of {nsources} sources:")
    for i in range(nsources):
        d, _ = _unit([float(x) for x in positions[i]])
        directions[i] = d
        x, y, z = positions[i]
        source_lines.append(f"{x:g} {y:g} {z:g}   {intensities[i]:g} {lambdas[i]:g}")

    # ---- mosaic domains -----------------------------------------------------------------------
    draws = mosaic_draws(domains, rng, Seed(s.mosaic_seed))
    mosaic_axes = np.asarray(draws.axes, dtype=np.float64).reshape(domains, 3)
    fractions = np.asarray(draws.fractions, dtype=np.float64).reshape(domains).copy()
    fractions[0] = 0.0  # the C program forces the first domain to the identity

    # ---- structure factors --------------------------------------------------------------------
    fgrid = inputs.fgrid
    if fgrid is not None:
        grid_values = np.asarray(fgrid.values, dtype=np.float64)
        origin = (int(fgrid.h_min), int(fgrid.k_min), int(fgrid.l_min))
        hkls = int(fgrid.count)
    else:
        grid_values = np.zeros((1, 1, 1))
        origin = (0, 0, 0)
        hkls = 0
    if hkls == 0:
        interpolate = 0

    # ---- assemble parameters (the crystal basis needs them) -----------------------------------
    params = Params(
        **params_detector,
        cell=t([a_len, b_len, c_len, alpha, beta, gamma]),
        reciprocal=t(reciprocal),
        misset=t(misset),
        n_cells=t([na, nb, nc]),
        phi0=t(phi0),
        phistep=t(phistep),
        spindle=t(spindle),
        mosaic_spread=t(mosaic_spread),
        mosaic_axes=t(mosaic_axes),
        mosaic_fractions=t(fractions),
        fudge=t(s.fudge),
        wavelength=t(lambda0),
        source_directions=t(directions),
        source_wavelength_factors=t(lambdas / lambda0),
        polarization=t(s.polarization),
        fluence=t(fluence),
        water_size=t(s.water_um / 1e6),
        dmin=t(s.dmin_A * 1e-10),
        f_grid=t(grid_values),
        default_F=t(s.default_F),
        mask=None if inputs.mask is None else torch.as_tensor(np.asarray(inputs.mask, dtype=bool)),
    )

    phis = [phi0 + phistep * tic for tic in range(phisteps)]
    phi_source, phi_source_first = _phi_sources(phis)
    static = Static(
        fpixels=fpixels,
        spixels=spixels,
        oversample=1,
        layers=thicksteps,
        sources=nsources,
        phisteps=phisteps,
        mosaic_domains=domains,
        convention=conv,
        pivot=pivot,
        close_distance_given=close_given,
        user_cell=s.user_cell,
        has_matrix=has_matrix,
        shape=s.shape,
        interpolate=bool(interpolate),
        has_hkl=hkls > 0,
        grid_origin=origin,
        nopolar=s.nopolar,
        point_pixel=s.point_pixel,
        curved_detector=s.curved_detector,
        oversample_thick=s.oversample_thick,
        oversample_polar=s.oversample_polar,
        oversample_omega=s.oversample_omega,
        roi=roi,  # type: ignore[arg-type]
        has_water=s.water_um != 0.0,
        has_thickness=thick != 0.0,
        has_dmin=s.dmin_A * 1e-10 > 0.0,
        phi_source=phi_source,
        phi_source_first=phi_source_first,
        pix0_given=s.pix0_vector is not None,
        quirks=quirks,
    )

    # ---- derived geometry, crystal, oversampling ----------------------------------------------

    frame = detector_frame(params, static)
    beam64 = params.beam.double()
    xds_beam = [float(torch.dot(v, beam64)) for v in (frame.fdet, frame.sdet, frame.odet)]
    log(f"XDS incident beam: {xds_beam[0]:g} {xds_beam[1]:g} {xds_beam[2]:g}")
    # The interpolation, matrix and misset lines print after the XDS line in the C program.
    log.lines.extend(deferred)

    basis = crystal_basis(params, static)
    real_a = basis.real.detach().double().cpu().numpy()
    recip_a = basis.reciprocal.detach().double().cpu().numpy()
    cellv = basis.cell.detach().double().cpu().numpy()
    rcellv = basis.reciprocal_cell.detach().double().cpu().numpy()
    log("Unit Cell: " + " ".join(_g(x) for x in [*cellv[:3], *(cellv[3:] * RTD)]))
    log("Recp Cell: " + " ".join(_g(x) for x in [*rcellv[:3], *(rcellv[3:] * RTD)]))
    log(f"volume = {float(basis.volume):g} A^3")
    log("real-space cell vectors (Angstrom):")
    log("     %-10s  %-10s  %-10s" % ("a", "b", "c"))
    for i, axis in enumerate("XYZ"):
        r = real_a[:, i] * 1e10
        log(f"{axis}: {r[0]:11.8f} {r[1]:11.8f} {r[2]:11.8f}")
    log("reciprocal-space cell vectors (Angstrom^-1):")
    log("     %-10s  %-10s  %-10s" % ("a_star", "b_star", "c_star"))
    for i, axis in enumerate("XYZ"):
        r = recip_a[:, i]
        log(f"{axis}: {r[0]:11.8f} {r[1]:11.8f} {r[2]:11.8f}")

    lengths = [float(np.sqrt((real_a[i] ** 2).sum())) for i in range(3)]
    ncells = [na, nb, nc]
    for i in range(3):
        if sample[i] > 0:
            ncells[i] = float(math.ceil(sample[i] / lengths[i]))
        if ncells[i] <= 1.0:
            ncells[i] = 1.0
    xtal = [lengths[i] * ncells[i] for i in range(3)]
    log(f"crystal is {xtal[0] * 1e6:g} x {xtal[1] * 1e6:g} x {xtal[2] * 1e6:g} microns")
    distance = float(frame.distance)
    xtal_max = max(xtal)
    recip_pixel = lambda0 * distance / pixel_size
    recommended = math.ceil(3.0 * xtal_max / recip_pixel)
    if recommended <= 0:
        recommended = 1
    oversample = s.oversample
    if oversample <= 0:
        oversample = recommended
        log(f"auto-selected {oversample}-fold oversampling")
    if oversample < recommended:
        log(f"WARNING: maximum dimension of sample is {xtal_max * 1e10:g} A")
        log(f"         but reciprocal pixel size is {recip_pixel * 1e10:g} A")
        log("         intensity may vary significantly across a pixel!")
        log(f"         recommend -oversample {recommended} to work around this")
    volume = xtal[0] * xtal[1] * xtal[2]
    molecules = ncells[0] * ncells[1] * ncells[2]
    log(f"approximate MW = {volume * 1.2e6 * 6.02214179e23 / molecules:g}")
    if oversample <= 0:
        oversample = 1

    if fgrid is not None and inputs.fgrid_from == "dump":
        log(f"reading Fs from {s.dump_file}")
    elif fgrid is not None and s.hkl_file is not None:
        log(f"counting entries in {s.hkl_file}")
        if s.default_F != 0.0:
            log(f"initializing to default_F = {s.default_F:g}:")
            log("done initializing:")
        log(f"re-reading {s.hkl_file}")
        log(f"writing dump file for next time: {s.dump_file}")
    for tic in range(thicksteps):
        log(f"thick{tic} = {thickstep * tic * 1e6:g} um")
    for tic, phi in enumerate(phis):
        log(f"phi{tic} = {phi * RTD:g}")
    log.lines.extend(source_lines)
    log(f"  created a total of {domains} mosaic domains")

    params = params.replace(n_cells=t(ncells))
    static = replace(
        static,
        oversample=oversample,
        integer_cells=(int(ncells[0]), int(ncells[1]), int(ncells[2])),
    )

    info.update(
        hkls=hkls,
        default_F=s.default_F,
        shape=s.shape,
        n_cells=ncells,
        lambda0=lambda0,
        dispersion=dispersion,
        dispsteps=dispsteps,
        nopolar=s.nopolar,
        polarization=s.polarization,
        curved_detector=s.curved_detector,
        point_pixel=s.point_pixel,
        fluence=fluence,
        flux=flux,
        exposure=exposure,
        beamsize=beamsize,
        detsize=(detsize_f, detsize_s),
        pixel_size=pixel_size,
        thick=thick,
        thickstep=thickstep,
        thicksteps=thicksteps,
        mu=mu,
        xbeam=xbeam,
        ybeam=ybeam,
        xclose=xclose,
        yclose=yclose,
        hdivrange=hdivrange,
        hdivstep=hdivstep,
        vdivrange=vdivrange,
        vdivstep=vdivstep,
        divsteps=divsteps,
        mosaic_spread=mosaic_spread,
        phi0=phi0,
        osc=osc,
        phistep=phistep,
        water_size=s.water_um / 1e6,
        polar_axis=polar_axis,
        beam=beam,
        spindle=spindle,
        twotheta=s.twotheta_deg / RTD,
        interpolate=bool(interpolate),
        rng=rng,
        frame=frame,
        basis=basis,
    )
    return Experiment(
        params=params.to(dtype=dtype, device=device),
        static=static,
        notes=tuple(line for line in log.lines if line),
        info=info,
    )


def _time_seed(settings: Settings) -> int:
    return -int(time.time())


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


def _phi_sources(phis: list[float]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Which step's rotation each phi step uses, given the C program's ``phi != 0`` test.

    Returns:
        ``(steady, first)``: for later loops and for the very first loop of a run.
    """
    steady: list[int] = []
    first: list[int] = []
    n = len(phis)
    nonzero = [i for i, p in enumerate(phis) if p != 0.0]
    for i, p in enumerate(phis):
        if p != 0.0:
            steady.append(i)
            first.append(i)
            continue
        before = [j for j in nonzero if j < i]
        first.append(before[-1] if before else -1)
        if before:
            steady.append(before[-1])
        else:
            after = [j for j in nonzero if j > i]
            steady.append(after[-1] if after else -1)
    if n and steady == list(range(n)) and first == list(range(n)):
        return (), ()
    return tuple(steady), tuple(first)
