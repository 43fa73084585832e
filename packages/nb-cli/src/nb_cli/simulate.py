"""``nb simulate``: the nanoBragg run, from argv to the files it writes.

The command hands off to plain functions: :func:`prepare` parses and resolves (and fails, with
one line naming the flag or file, before anything is written); :func:`run_simulation` renders
and writes the outputs (each file written to a temporary name and renamed into place).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nb_cli.flags import ParsedArgs, parse_args
from nb_cli.summary import BANNER, resolution_lines, statistics_lines
from nb_core.errors import InputError
from nb_core.images import image_statistics, int_image, intfile_scale, pgm_image, pgm_scale
from nb_core.io import write_fdump, write_float_image, write_pgm, write_smv
from nb_core.noise import poisson_noise_image
from nb_core.params import Experiment
from nb_core.render import kernel_in_cache, render, solid_angle_total
from nb_core.resolve import Inputs, load_inputs, resolve
from nb_core.rng import CRandom
from nb_core.units import RTD

__all__ = ["Prepared", "SimulationResult", "prepare", "run_simulation", "smv_header"]

Printer = Callable[[str], None]


@dataclass(frozen=True)
class Prepared:
    """A parsed and resolved ``simulate`` command, before rendering.

    Attributes:
        parsed: The parsed arguments.
        inputs: Data read from the input files.
        experiment: The resolved experiment.
        workdir: Folder for relative outputs and the dump file.
        compile: Whether to render with the compiled kernel.
    """

    parsed: ParsedArgs
    inputs: Inputs
    experiment: Experiment
    workdir: Path
    compile: bool = False


#: Lattice evaluations above which ``-compile auto`` compiles the kernel.
COMPILE_THRESHOLD = 2e8


def kernel_cache_dir() -> Path:
    """Where compiled kernels are kept: ``$NB_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/nb/kernels``
    (``~/.cache/nb/kernels``)."""
    explicit = os.environ.get("NB_KERNEL_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nb" / "kernels"


def _want_compile(choice: str, experiment: Experiment, device: str) -> bool:
    if choice not in ("auto", "on", "off"):
        raise InputError(f"expected auto, on or off, got {choice!r}", "-compile")
    if choice != "auto":
        return choice == "on"
    st = experiment.static
    xmin, xmax, ymin, ymax = st.roi
    pixels = (min(xmax, st.fpixels - 1) - xmin + 1) * (min(ymax, st.spixels - 1) - ymin + 1)
    work = pixels * st.evaluations_per_pixel
    compiler = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    if work > COMPILE_THRESHOLD and (device != "cpu" or compiler is not None):
        return True
    # A smaller job compiles only if its kernel is already built (loading costs milliseconds).
    try:
        return kernel_in_cache(experiment.params, experiment.static, kernel_cache_dir())
    except (OSError, RuntimeError):  # an unreadable cache folder or no home directory
        return False


@dataclass(frozen=True)
class SimulationResult:
    """What a run produced.

    Attributes:
        image: ``(S, F)`` float32 image (photons).
        written: Paths written, in order.
        seconds: Render time (s).
    """

    image: np.ndarray
    written: list[Path]
    seconds: float


_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def prepare(
    argv: Sequence[str], *, workdir: str | Path | None = None, parsed: ParsedArgs | None = None
) -> Prepared:
    """Parse and resolve a ``simulate`` command without rendering or writing anything.

    Args:
        argv: Arguments after ``simulate``.
        workdir: Folder for relative inputs, outputs and the dump file (default: ``-outdir``
            or the current folder).
        parsed: ``parse_args(argv)`` when the caller has already parsed them.

    Returns:
        The prepared run.

    Raises:
        InputError: Bad flags or input files, or a detector too large for memory.
    """
    if parsed is None:
        parsed = parse_args(argv)
    dtype_name = str(parsed.nb.get("dtype", "float32"))
    if dtype_name not in _DTYPES:
        raise InputError(f"expected float32 or float64, got {dtype_name!r}", "-dtype")
    device = str(parsed.nb.get("device", "cpu"))
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise InputError("CUDA was asked for but no CUDA device is available", "-device")
    if not (device == "cpu" or device.startswith("cuda")):
        raise InputError(f"expected cpu or cuda, got {device!r}", "-device")
    base = Path(workdir if workdir is not None else str(parsed.nb.get("outdir", ".")))
    settings = parsed.settings
    inputs = load_inputs(settings, workdir=Path("."))
    experiment = resolve(
        settings,
        inputs,
        dtype=_DTYPES[dtype_name],
        device=device,
        quirks=parsed.quirks,
        rng=CRandom(),
    )
    st = experiment.static
    bytes_per = 4 if dtype_name == "float32" else 8
    need = st.fpixels * st.spixels * (bytes_per + 4 + 2 + 2 + 1) + (1 << 27)
    avail = _available_memory()
    if need > avail:
        flag = "-detpixels" if settings.detpixels != (0, 0) else "-detsize"
        raise InputError(
            f"{st.fpixels} x {st.spixels} pixels need {need / 2**30:.1f} GiB for the images; "
            f"{avail / 2**30:.1f} GiB is available",
            flag,
        )
    use_compile = _want_compile(str(parsed.nb.get("compile", "auto")), experiment, device)
    return Prepared(
        parsed=parsed, inputs=inputs, experiment=experiment, workdir=base, compile=use_compile
    )


def _out_path(base: Path, name: str) -> Path:
    p = Path(name)
    return p if p.is_absolute() else base / p


def smv_header(experiment: Experiment) -> list[tuple[str, str]]:
    """The SMV header keys and values the C program writes (after SIZE1/SIZE2).

    Args:
        experiment: The resolved experiment.

    Returns:
        ``(key, value)`` pairs, values formatted as the C program formats them.
    """
    info = experiment.info
    frame = info["frame"]
    px = info["pixel_size"]
    fbeam, sbeam = float(frame.fbeam), float(frame.sbeam)
    detsize_s = info["detsize"][1]
    dials = [float(x) for x in frame.dials_origin]
    g = "{:g}".format
    return [
        ("PIXEL_SIZE", g(px * 1000.0)),
        ("DISTANCE", g(float(frame.distance) * 1000.0)),
        ("WAVELENGTH", g(info["lambda0"] * 1e10)),
        ("BEAM_CENTER_X", g(info["xbeam"] * 1000.0)),
        ("BEAM_CENTER_Y", g(info["ybeam"] * 1000)),
        ("ADXV_CENTER_X", g(fbeam * 1000.0)),
        ("ADXV_CENTER_Y", g((detsize_s - sbeam) * 1000)),
        ("MOSFLM_CENTER_X", g((sbeam - 0.5 * px) * 1000.0)),
        ("MOSFLM_CENTER_Y", g((fbeam - 0.5 * px) * 1000)),
        ("DENZO_X_BEAM", g((sbeam - 0.0 * px) * 1000.0)),
        ("DENZO_Y_BEAM", g((fbeam - 0.0 * px) * 1000)),
        ("DIALS_ORIGIN", ",".join(g(x) for x in dials)),
        ("XDS_ORGX", g(float(frame.orgx))),
        ("XDS_ORGY", g(float(frame.orgy))),
        ("CLOSE_DISTANCE", g(float(frame.close_distance) * 1000.0)),
        ("PHI", g(info["phi0"] * RTD)),
        ("OSC_START", g(info["phi0"] * RTD)),
        ("OSC_RANGE", g(info["osc"] * RTD)),
        ("TWOTHETA", g(info["twotheta"] * RTD)),
        ("DETECTOR_SN", "000"),
        ("BEAMLINE", "fake"),
    ]


def _render(
    prepared: Prepared, progress: Callable[[int, int], None] | None, say: Printer
) -> torch.Tensor:
    exp = prepared.experiment
    if prepared.compile:
        try:
            return render(
                exp.params,
                exp.static,
                progress=progress,
                compile=True,
                kernel_cache=kernel_cache_dir(),
            )
        except Exception as exc:  # a missing compiler or an unsupported device: fall back
            reason = " ".join(str(exc).split())[:200]
            say(
                f"note: the compiled kernel failed ({type(exc).__name__}: {reason}); rendering eagerly"
            )
    return render(exp.params, exp.static, progress=progress)


def run_simulation(
    prepared: Prepared,
    *,
    say: Printer = print,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Render and write every output the command asks for.

    Args:
        prepared: A prepared run.
        say: Where console lines go.
        progress: Progress callback (pixels done, total).

    Returns:
        The image and the files written.
    """
    parsed, exp = prepared.parsed, prepared.experiment
    s = parsed.settings
    st = exp.static
    written: list[Path] = []
    base = prepared.workdir
    base.mkdir(parents=True, exist_ok=True)

    say(BANNER)
    for line in exp.notes:
        say(line)
    if prepared.inputs.fgrid_from == "hkl" and prepared.inputs.fgrid is not None:
        dump = _out_path(base, s.dump_file)
        write_fdump(dump, prepared.inputs.fgrid)
        written.append(dump)
    noise = s.write_noise
    for line in resolution_lines(exp, s, noise=noise):
        say(line)

    t0 = time.perf_counter()
    with torch.no_grad():
        image_t = _render(prepared, progress, say)
        solid = float(solid_angle_total(exp.params, st))
    seconds = time.perf_counter() - t0
    image = image_t.detach().to("cpu", torch.float32).numpy()
    mask = prepared.inputs.mask
    stats = image_statistics(image, st.roi, mask, exp.info["pixel_size"], st.oversample)

    say("")
    lines = list(statistics_lines(stats, solid))
    say(lines[0])
    floatfile = _out_path(base, s.floatfile)
    say(f"writing {s.floatfile} as {st.fpixels * st.spixels} 4-byte floats")
    write_float_image(floatfile, image)
    written.append(floatfile)
    for line in lines[1:]:
        say(line)
    scale = intfile_scale(stats.max_I, s.intfile_scale)
    say(f"intfile_scale = {scale:g}")
    header = smv_header(exp)
    intfile = _out_path(base, s.intfile)
    say(f"writing {s.intfile} as 2-byte integers")
    write_smv(intfile, int_image(image, scale, s.adc_offset, st.roi), header)
    written.append(intfile)
    if s.write_pgm:
        pscale = pgm_scale(stats, scale, s.pgm_scale)
        say(f"pgm_scale = {pscale:g}")
        pgmfile = _out_path(base, s.pgmfile)
        say(f"writing {s.pgmfile} as 1-byte integers")
        write_pgm(pgmfile, pgm_image(image, pscale, st.roi), pscale)
        written.append(pgmfile)
    if noise:
        seed = s.seed if s.seed is not None else -int(time.time())
        result = poisson_noise_image(
            image, seed=-seed, adc_offset=s.adc_offset, roi=st.roi, rng=exp.info["rng"]
        )
        say(f"{result.photons:.0f} photons on noise image ({result.overloads} overloads)")
        noisefile = _out_path(base, s.noisefile)
        say(f"writing {s.noisefile} as 2-byte integers")
        write_smv(noisefile, result.image, header)
        written.append(noisefile)
    return SimulationResult(image=image, written=written, seconds=seconds)


def stderr(line: str) -> None:
    """Write one line to standard error."""
    sys.stderr.write(line + "\n")
