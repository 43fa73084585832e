"""Files for DIALS and other tools: experiment lists in and out, CBF and NeXus images, and the
SMV header dxtbx reads.

- ``-expt FILE`` writes a DIALS experiment list of the run (:func:`dials_experiment`), from
  nb's exact resolved vectors; its image set names the NeXus image if one is written, else
  the CBF image, else the SMV int image.
- ``-from_expt FILE`` starts from an experiment list (:func:`apply_experiment_list`): beam
  direction, wavelength and polarization, the panel placed exactly (CUSTOM convention
  vectors, the origin through the sample pivot), the rotation sweep and the crystal (read as
  ``-mat`` reads a matrix). It applies before the flags, so a flag given too overrides it;
  a geometry flag that sets the pivot (``-distance``, ``-Xbeam``) re-places the panel from
  values that then mean something else: change the list instead.
- ``-cbffile FILE`` writes the int image's pixels as a miniCBF with the Pilatus header;
  ``-nxsfile FILE`` the float image as NeXus NXmx with the geometry.
- ``-smv_header dials`` writes SMV headers dxtbx reads right (:func:`dials_smv_header`).

Nothing here imports torch: the parser calls :func:`apply_experiment_list`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from nb_core.errors import InputError
from nb_core.io import (
    CbfHeader,
    DialsBeam,
    DialsExperiment,
    DialsPanel,
    DialsSweep,
    OutputSet,
    import_extra,
    read_experiment_list,
    write_cbf,
    write_experiment_list,
    write_nexus,
)
from nb_core.settings import Settings

if TYPE_CHECKING:
    from nb_cli.simulate import Prepared
    from nb_core.params import Experiment

__all__ = [
    "SMV_HEADERS",
    "apply_experiment_list",
    "check_exchange_options",
    "dials_experiment",
    "dials_smv_header",
    "exchange_files",
    "perpendicular_axes",
    "write_exchange_files",
]

#: The values of ``-smv_header``: the C program's keys, or those dxtbx needs as well.
SMV_HEADERS = ("c", "dials")

#: Largest value a pixel of a 16-bit SMV (or the CBF of its pixels) holds.
_SMV_MAX = 65535.0


def apply_experiment_list(settings: Settings, path: str) -> None:
    """Take the beam, detector, sweep and crystal of a DIALS experiment list.

    Args:
        settings: Updated in place (flag units). The crystal, when the list has one, is read
            later as the ``-mat`` file (:func:`nb_core.io.experiment_matrix`).
        path: The ``.expt`` file.

    Raises:
        InputError: The list cannot be read (see :func:`nb_core.io.read_experiment_list`).
    """
    experiment = read_experiment_list(Path(path))
    panel, beam = experiment.panel, experiment.beam
    s = settings
    s.convention, s.pivot = "custom", "sample"
    s.fdet_vector, s.sdet_vector, s.odet_vector = panel.fdet, panel.sdet, panel.odet
    s.beam_vector, s.polar_vector, s.polarization = (
        beam.direction,
        beam.polar_axis,
        beam.polarization,
    )
    s.lambda_A = beam.wavelength * 1e10
    # The CUSTOM sample pivot puts the first pixel at -Xbeam fdet - Ybeam sdet + close odet.
    axes = np.array([panel.fdet, panel.sdet, panel.odet], dtype=np.float64).T * [-1.0, -1.0, 1.0]
    xbeam, ybeam, close = np.linalg.solve(axes, np.asarray(panel.origin, dtype=np.float64))
    s.xbeam_mm, s.ybeam_mm = xbeam * 1e3, ybeam * 1e3
    # Given as -distance (along the beam) where the beam meets the panel's face, so that a
    # refined distance moves the panel; nb derives the same close distance from it.
    ratio = float(np.dot(beam.direction, panel.odet))
    if ratio > 1e-3:
        s.distance_mm, s.close_distance_mm = close / ratio * 1e3, None
    else:
        s.close_distance_mm = close * 1e3
    s.xclose_mm = s.yclose_mm = s.orgx = s.orgy = s.pix0_vector = None
    s.detector_rot_deg, s.twotheta_deg = (0.0, 0.0, 0.0), 0.0
    s.pixel_mm = panel.pixel_size * 1e3
    s.detpixels = (panel.fpixels, panel.spixels)
    s.detsize_mm = (panel.fpixels * s.pixel_mm, panel.spixels * s.pixel_mm)
    if panel.thickness > 0.0 and panel.mu > 0.0:
        s.detector_thick_um, s.detector_attenuation_um = panel.thickness * 1e6, 1e6 / panel.mu
    if experiment.sweep is not None:
        s.spindle_axis = experiment.sweep.spindle
        s.phi_deg, s.osc_deg = (
            math.degrees(experiment.sweep.phi0),
            math.degrees(experiment.sweep.osc),
        )
    if experiment.real_space is not None:
        s.matrix_file = path


def _rotate(vector: np.ndarray, axis: np.ndarray, angle: float) -> np.ndarray:
    """``vector`` turned by ``angle`` (rad) about the unit ``axis``, right-handed."""
    cos, sin = math.cos(angle), math.sin(angle)
    return (
        vector * cos + np.cross(axis, vector) * sin + axis * float(np.dot(axis, vector)) * (1 - cos)
    )


def perpendicular_axes(
    fdet: tuple[float, float, float], sdet: tuple[float, float, float]
) -> tuple[tuple[float, float, float], tuple[float, float, float], float]:
    """Fast and slow axes made exactly perpendicular, as DIALS requires of a panel.

    Axes within 1e-12 rad of perpendicular are kept as they are. Others are turned in their
    own plane, symmetrically about their bisector, to the nearest perpendicular pair.

    Args:
        fdet: ``(3,)`` unit fast axis.
        sdet: ``(3,)`` unit slow axis.

    Returns:
        The two axes and the angle (rad) by which they were from perpendicular.
    """
    f, s = np.asarray(fdet, dtype=np.float64), np.asarray(sdet, dtype=np.float64)
    off = abs(math.asin(max(-1.0, min(1.0, float(np.dot(f, s))))))
    if off <= 1e-12:
        return fdet, sdet, off
    bisector, difference = f + s, f - s
    bisector, difference = (
        bisector / np.linalg.norm(bisector),
        difference / np.linalg.norm(difference),
    )
    fast, slow = (bisector + difference) / math.sqrt(2.0), (bisector - difference) / math.sqrt(2.0)
    return _vec3(fast), _vec3(slow), off


def _vec3(vector: np.ndarray) -> tuple[float, float, float]:
    return float(vector[0]), float(vector[1]), float(vector[2])


def dials_experiment(
    experiment: Experiment,
    *,
    image: Path | None = None,
    image_index: int | None = None,
    gain: float = 1.0,
    pedestal: float = 0.0,
    trusted_range: tuple[float, float] = (-1.0, _SMV_MAX),
) -> DialsExperiment:
    """The experiment list record of a resolved experiment, from its exact float64 vectors.

    A run with an oscillation gets a goniometer and a scan (crystal at spindle angle 0); a
    still at a spindle angle other than 0 carries the crystal turned to that angle. Fast and
    slow axes that are not perpendicular are made so (:func:`perpendicular_axes`).

    Args:
        experiment: The resolved experiment.
        image: The image file the list names.
        image_index: The image's index in a multi-image file (NeXus: 0).
        gain: Counts per photon of that image.
        pedestal: Counts added to every pixel of that image.
        trusted_range: Its lowest and highest valid pixel values.

    Returns:
        The record (nb's lab frame).
    """
    r = experiment.report
    frame, sampling = r.frame, r.sampling
    fdet, sdet, _ = perpendicular_axes(frame.fdet, frame.sdet)
    panel = DialsPanel(
        fdet=fdet,
        sdet=sdet,
        odet=frame.odet,
        origin=frame.pix0,
        pixel_size=r.detector.pixel_size,
        fpixels=r.detector.fpixels,
        spixels=r.detector.spixels,
        thickness=sampling.thickness,
        mu=sampling.mu if sampling.thickness > 0.0 and math.isfinite(sampling.mu) else 0.0,
        trusted_range=trusted_range,
        gain=gain,
        pedestal=pedestal,
    )
    beam = DialsBeam(
        direction=r.beam.beam,
        wavelength=r.beam.wavelength,
        polar_axis=r.beam.polar_axis,
        polarization=r.beam.polarization,
        flux=r.beam.flux,
    )
    real = np.array(r.lattice.real, dtype=np.float64) * 1e10
    spindle = np.array(r.crystal.spindle, dtype=np.float64)
    sweep = None
    if sampling.osc > 0.0:
        sweep = DialsSweep(r.crystal.spindle, sampling.phi0, sampling.osc, r.beam.exposure)
    elif sampling.phi0 != 0.0:
        real = np.array([_rotate(row, spindle, sampling.phi0) for row in real])
    rows = tuple((float(v[0]), float(v[1]), float(v[2])) for v in real)
    return DialsExperiment(
        beam=beam,
        panel=panel,
        real_space=(rows[0], rows[1], rows[2]),
        sweep=sweep,
        image=None if image is None else str(image),
        image_index=image_index,
    )


def _faces_beam_untilted(experiment: Experiment) -> bool:
    """Whether dxtbx's model of an SMV or CBF header's detector (fast +x, slow -y, facing the
    beam along -z) is this one turned: both axes normal to the beam, fast x slow along it."""
    frame, beam = experiment.report.frame, experiment.report.beam
    fdet, sdet, direction = (np.asarray(v) for v in (frame.fdet, frame.sdet, beam.beam))
    normal = np.cross(fdet, sdet)
    return (
        abs(float(fdet @ direction)) < 1e-9
        and abs(float(sdet @ direction)) < 1e-9
        and bool(np.allclose(normal, direction, rtol=0.0, atol=1e-9))
    )


def dials_smv_header(
    pairs: list[tuple[str, str]], experiment: Experiment, scale: float, adc: float
) -> list[tuple[str, str]]:
    """The SMV header of ``-smv_header dials``: the C program's keys, made right for dxtbx.

    dxtbx reads an nb SMV image (``BEAMLINE=fake``) with a beam centre of
    ``(BEAM_CENTER_X + pixel, detector height - BEAM_CENTER_Y + pixel)`` mm from the first
    pixel's outer corner along fast and slow, so those two keys hold the values that give
    nb's own beam spot there, with ``DISTANCE`` to 10 digits; ``ADC_OFFSET`` is the pedestal
    and ``NB_INTFILE_SCALE`` the counts per photon above it (1 for the noise image). The
    other keys are the C program's.

    Args:
        pairs: The C program's ``(key, value)`` pairs.
        experiment: The resolved experiment.
        scale: Counts per photon of the image.
        adc: The ADC offset added to its pixels.

    Returns:
        The pairs, BEAM_CENTER_X/Y and DISTANCE replaced, ADC_OFFSET and NB_INTFILE_SCALE
        added at the end.
    """
    r = experiment.report
    pixel, height = r.detector.pixel_size, r.detector.detsize[1]
    values = {
        "BEAM_CENTER_X": f"{(r.frame.fbeam - pixel) * 1e3:.10g}",
        "BEAM_CENTER_Y": f"{(height - r.frame.sbeam + pixel) * 1e3:.10g}",
        "DISTANCE": f"{r.frame.distance * 1e3:.10g}",
    }
    out = [(key, values.get(key, value)) for key, value in pairs]
    return [*out, ("ADC_OFFSET", f"{adc:.10g}"), ("NB_INTFILE_SCALE", repr(float(scale)))]


def _has_frame_number(name: str) -> bool:
    """Whether dxtbx finds a frame number in a file name (digits before a dot, or at the end)."""
    return re.search(r"[0-9]\.", name) is not None or re.search(r"\.[0-9]{2,12}$", name) is not None


def _nb_path(prepared: Prepared, flag: str) -> Path | None:
    value = prepared.parsed.nb.get(flag.lstrip("-"))
    if not isinstance(value, str):
        return None
    path = Path(value)
    return path if path.is_absolute() else prepared.workdir / path


def exchange_files(prepared: Prepared) -> list[tuple[str, Path]]:
    """The CBF, NeXus and experiment-list outputs a run asks for, with their flags.

    Args:
        prepared: A prepared run.

    Returns:
        ``(flag, path)`` pairs, in the order they are written.
    """
    files = [(flag, _nb_path(prepared, flag)) for flag in ("-cbffile", "-nxsfile", "-expt")]
    return [(flag, path) for flag, path in files if path is not None]


def check_exchange_options(prepared: Prepared) -> None:
    """Refuse, before the render, exchange options nb cannot honour.

    Raises:
        InputError: An unknown ``-smv_header`` value, a missing extra (fabio for
            ``-cbffile``, h5py for ``-nxsfile``), or a curved detector for ``-expt`` or
            ``-nxsfile`` (a flat panel cannot describe it).
    """
    header = str(prepared.parsed.nb.get("smv_header", "c"))
    if header not in SMV_HEADERS:
        raise InputError(f"expected {' or '.join(SMV_HEADERS)}, got {header!r}", "-smv_header")
    flags = dict(exchange_files(prepared))
    if "-cbffile" in flags:
        import_extra("fabio.compression", "cbf", "-cbffile")
    if "-nxsfile" in flags:
        import_extra("h5py", "nexus", "-nxsfile")
    if prepared.experiment.static.curved_detector:
        for flag, _ in exchange_files(prepared):
            if flag != "-cbffile":
                raise InputError("a curved detector has no flat-panel model to write", flag)


def _cbf_header(experiment: Experiment, scale: float, adc: float) -> CbfHeader:
    r = experiment.report
    return CbfHeader(
        pixel_size=r.detector.pixel_size,
        distance=r.frame.distance,
        wavelength=r.beam.wavelength,
        beam_xy=(r.frame.fbeam / r.detector.pixel_size, r.frame.sbeam / r.detector.pixel_size),
        start_angle=r.sampling.phi0,
        angle_increment=r.sampling.osc,
        exposure=r.beam.exposure,
        thickness=r.sampling.thickness,
        polarization=(1.0 + r.beam.polarization) / 2.0,
        twotheta=r.detector.twotheta,
        flux=r.beam.flux,
        count_cutoff=int(_SMV_MAX),
        intfile_scale=scale,
        adc_offset=adc,
    )


def _write_images(
    prepared: Prepared,
    image: np.ndarray,
    pixels: np.ndarray,
    scale: float,
    outputs: OutputSet,
    say: Callable[[str], None],
) -> tuple[Path, str]:
    """Stage the CBF and NeXus images; return the image the experiment list names, and its
    kind: the NeXus image if written, else the CBF image, else the SMV int image."""
    exp, s = prepared.experiment, prepared.parsed.settings
    files = dict(exchange_files(prepared))
    named = Path(s.intfile) if Path(s.intfile).is_absolute() else prepared.workdir / s.intfile
    kind = "smv"
    if "-cbffile" in files:
        say(f"writing {files['-cbffile']} as a miniCBF of the int image")
        write_cbf(files["-cbffile"], pixels, _cbf_header(exp, scale, s.adc_offset), into=outputs)
        named, kind = files["-cbffile"], "cbf"
    if "-nxsfile" in files:
        say(f"writing {files['-nxsfile']} as NeXus NXmx of the float image")
        write_nexus(files["-nxsfile"], image, dials_experiment(exp, image_index=0), into=outputs)
        named, kind = files["-nxsfile"], "nexus"
    return named, kind


def _notes(prepared: Prepared, named: Path, kind: str, say: Callable[[str], None]) -> None:
    """One line for each way in which dxtbx would read these files other than nb means them."""
    exp, files = prepared.experiment, dict(exchange_files(prepared))
    header_read = prepared.parsed.nb.get("smv_header") == "dials" or "-cbffile" in files
    if header_read and not _faces_beam_untilted(exp):
        say(
            "note: dxtbx models an SMV or CBF header's detector as untilted, facing the beam; "
            "this geometry needs the experiment list (-expt)"
        )
    if "-expt" in files and kind != "nexus" and not _has_frame_number(named.name):
        say(
            f"note: dxtbx opens {named.name} only with a frame number in its name "
            "(e.g. image_00001.img); the experiment list works with check_format=False"
        )
    frame = exp.report.frame
    off = perpendicular_axes(frame.fdet, frame.sdet)[2]
    if off > 1e-12 and ("-expt" in files or "-nxsfile" in files):
        size = max(exp.report.detector.detsize)
        say(
            f"note: the fast and slow axes are {off:.2g} rad from perpendicular; DIALS needs them "
            f"perpendicular, so they are written so (pixels move by up to {off * size * 1e6:.2g} um)"
        )


def write_exchange_files(
    prepared: Prepared,
    image: np.ndarray,
    pixels: np.ndarray,
    scale: float,
    outputs: OutputSet,
    say: Callable[[str], None],
) -> None:
    """Stage the CBF, NeXus and experiment-list files of a rendered run, with their lines.

    The experiment list's panel carries the named image's gain and pedestal: the int image's
    scale and ADC offset for SMV and CBF, 1 and 0 for NeXus photons.

    Args:
        prepared: The prepared run.
        image: ``(S, F)`` float32 photons.
        pixels: ``(S, F)`` the int image's counts.
        scale: The int image's counts per photon.
        outputs: The run's output set.
        say: Where console lines go.
    """
    named, kind = _write_images(prepared, image, pixels, scale, outputs, say)
    _notes(prepared, named, kind, say)
    files = dict(exchange_files(prepared))
    if "-expt" not in files:
        return
    say(f"writing {files['-expt']} as a DIALS experiment list")
    adc = prepared.parsed.settings.adc_offset
    gain, pedestal = (1.0, 0.0) if kind == "nexus" else (scale, adc)
    trusted = (-1.0, 2147483647.0) if kind == "nexus" else (-1.0, _SMV_MAX - pedestal)
    record = dials_experiment(
        prepared.experiment,
        image=named,
        image_index=0 if kind == "nexus" else None,
        gain=gain,
        pedestal=pedestal,
        trusted_range=trusted,
    )
    write_experiment_list(files["-expt"], record, into=outputs)
