"""The console report: what ``resolve`` decided and the image statistics, as the C program prints them.

Lines keep the C program's wording and number formats (``%g``), so a crystallographer can
compare a run of nb with a run of nanoBragg line by line, and parity tests can parse both.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from nb_core.images import ImageStats
from nb_core.params import Experiment
from nb_core.settings import Settings
from nb_core.units import RTD

__all__ = ["BANNER", "resolution_lines", "statistics_lines"]

BANNER = "nb (nanoBragg-compatible diffraction simulator; after James Holton and Ken Frankel)"

_SHAPES = {
    "round": "ellipsoidal",
    "square": "parallelpiped",
    "gauss": "gaussian",
    "tophat": "tophat-spot",
}


def _v(values: object) -> str:
    return " ".join("%g" % float(x) for x in values)  # type: ignore[union-attr]


def resolution_lines(experiment: Experiment, settings: Settings, *, noise: bool) -> Iterator[str]:
    """The C program's summary of the resolved simulation (the block before rendering).

    Args:
        experiment: The resolved experiment.
        settings: The settings it came from (for file names and seeds).
        noise: Whether a noise image will be written.

    Yields:
        Lines without newlines.
    """
    st, info = experiment.static, experiment.info
    frame = info["frame"]
    n = info["n_cells"]
    yield f"  {info['hkls']} initialized hkls (all others ={info['default_F']:g})"
    yield f"  {_SHAPES[st.shape]} xtal: {n[0]:.0f}x{n[1]:.0f}x{n[2]:.0f} cells"
    yield f"  wave={info['lambda0']:g} meters +/- {info['dispersion'] * 100:g}% in {info['dispsteps']} steps"
    if info["nopolar"]:
        yield "  polarization effect disabled"
    else:
        yield f"  Kahn polarization factor: {info['polarization']:f}"
    if st.curved_detector:
        yield "  curved detector: all pixels same distance from origin"
    if st.point_pixel:
        yield "  pixel obliquity effect disabled"
    yield f"  incident fluence: {info['fluence']:g} photons/m^2"
    df, ds = info["detsize"]
    yield (
        f"  distance={float(frame.distance):g} detsize={df:g}x{ds:g}  pixel={info['pixel_size']:g} "
        f"meters ({st.fpixels}x{st.spixels} pixels)"
    )
    yield f"  sensor is {info['thick']:g} m thick in {info['thicksteps']} layers with mu= {info['mu']:g}"
    yield f"  Xbeam={info['xbeam']:g} Ybeam={info['ybeam']:g}"
    yield f"  Fbeam={float(frame.fbeam):g} Sbeam={float(frame.sbeam):g}"
    yield f"  Xclose={info['xclose']:g} Yclose={info['yclose']:g}"
    yield f"  Fclose={float(frame.fclose):g} Sclose={float(frame.sclose):g}"
    yield f"  DIRECTION_OF_DETECTOR_X-AXIS= {_v(frame.fdet)}"
    yield f"  DIRECTION_OF_DETECTOR_Y-AXIS= {_v(frame.sdet)}"
    yield f"  DIRECTION_OF_DETECTOR_Z-AXIS= {_v(frame.odet)}"
    beam = info["beam"]
    yield f"  INCIDENT_BEAM_DIRECTION= {_v(beam)}"
    yield f"  spindle ROTATION_AXIS= {_v(info['spindle'])}"
    pol = info["polar_axis"]
    normal = (
        beam[1] * pol[2] - beam[2] * pol[1],
        beam[2] * pol[0] - beam[0] * pol[2],
        beam[0] * pol[1] - beam[1] * pol[0],
    )
    yield f"  POLARIZATION_PLANE_NORMAL= {_v(normal)}"
    yield f"  dials origin= {_v(frame.dials_origin)}"
    xmin, xmax, ymin, ymax = st.roi
    yield f"  roi: {xmin} < x < {xmax} && {ymin} < y < {ymax}"
    yield f"  hdivrange={info['hdivrange']:g} hdivstep={info['hdivstep']:g}  radians"
    yield f"  vdivrange={info['vdivrange']:g} vdivstep={info['vdivstep']:g}  radians"
    yield f"  {info['divsteps']} divergence steps"
    yield f"  {st.sources} sources"
    yield f"  {st.mosaic_domains} mosaic domains over mosaic spread of {info['mosaic_spread'] * RTD:g} degrees"
    phi0, osc = info["phi0"], info["osc"]
    yield f"  {st.phisteps} phi steps from {phi0 * RTD:g} to {(phi0 + osc) * RTD:g} degrees"
    extra = "".join(
        tag
        for tag, on in (
            (" +thick", st.oversample_thick),
            (" +polar", st.oversample_polar),
            (" +omega", st.oversample_omega),
        )
        if on
    )
    yield f"  {st.oversample}x{st.oversample} pixel oversample steps{extra}"
    if settings.mask_file is not None:
        yield f"  skipping zero-flagged pixels in {settings.mask_file}"
    if noise:
        yield ""
        yield "  noise image paramters:"
        yield f"  seed: {settings.seed}"
        yield f"  water droplet size: {info['water_size']:g} m"


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
