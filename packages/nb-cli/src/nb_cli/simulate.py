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

from nb_cli.exchange import (
    check_exchange_options,
    dials_smv_header,
    exchange_files,
    write_exchange_files,
)
from nb_cli.flags import ParsedArgs, parse_args
from nb_cli.smv_keys import HeaderValues, header_pairs
from nb_cli.summary import BANNER, decision_lines, resolution_lines, statistics_lines
from nb_core.checks import check_image_finite
from nb_core.cost import (
    TIME_LIMIT_S,
    available_memory,
    check_cost,
    count_flags,
    estimate_cost,
)
from nb_core.errors import InputError
from nb_core.images import image_statistics, int_image, intfile_scale, pgm_image, pgm_scale
from nb_core.io import (
    OutputSet,
    check_outputs,
    write_fdump,
    write_float_image,
    write_pgm,
    write_smv,
)
from nb_core.noise import poisson_noise_image
from nb_core.params import Experiment
from nb_core.render import kernel_in_cache, render, solid_angle_total
from nb_core.resolve import Inputs, load_inputs, resolve
from nb_core.rng import CRandom
from nb_core.settings import clock_seed

__all__ = [
    "Prepared",
    "SimulationResult",
    "check_run_outputs",
    "output_files",
    "prepare",
    "run_simulation",
    "smv_header",
    "write_outputs",
]

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
        noise_compiled: How the noise image's loop runs (see
            :func:`nb_core.noise.poisson_noise_image`; None: by the image's size).
    """

    parsed: ParsedArgs
    inputs: Inputs
    experiment: Experiment
    workdir: Path
    compile: bool = False
    noise_compiled: bool | None = None


#: Lattice evaluations above which ``-compile auto`` compiles the kernel.
COMPILE_THRESHOLD = 2e8


def _cache_location() -> tuple[Path | None, str]:
    """The kernel folder and the base it lies in (None: no base), with the base's name."""
    explicit = os.environ.get("NB_KERNEL_CACHE")
    if explicit:
        folder = Path(explicit).absolute()
        where = f"the folder of NB_KERNEL_CACHE ({folder.parent})"
        return (folder if folder.parent.is_dir() else None), where
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(xdg):  # the XDG rule: a relative value is ignored
        base = Path(xdg)
        return (base / "nb" / "kernels" if base.is_dir() else None), f"XDG_CACHE_HOME ({base})"
    home = os.environ.get("HOME", "")
    if not os.path.isabs(home):
        return None, "HOME (unset or not an absolute path)"
    base = Path(home)
    return (base / ".cache" / "nb" / "kernels" if base.is_dir() else None), f"HOME ({base})"


def kernel_cache_dir(say: Printer | None = None, *, note_missing: bool = False) -> Path | None:
    """Where compiled kernels are kept, or None when there is no cache to use.

    ``$NB_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/nb/kernels``, else ``~/.cache/nb/kernels``.
    nb creates folders only below a base that exists (the folder above ``$NB_KERNEL_CACHE``,
    ``$XDG_CACHE_HOME`` or ``$HOME``), never the base itself. A folder that another user owns
    or that its group or others may write to is not used: its packages could run anyone's code.

    Args:
        say: Where a one-line note goes when there is no cache to use (None: no note).
        note_missing: Also say so when the base does not exist (for ``-compile on``); a
            folder that is not safe is always noted.

    Returns:
        The folder (it may not exist yet), or None.
    """
    from nb_core.kernels import cache_folder_problem

    folder, base = _cache_location()
    if folder is None:
        if say is not None and note_missing:
            say(f"note: no kernel cache: {base} does not exist; the kernel is compiled in this run")
        return None
    problem = cache_folder_problem(folder)
    if problem is not None:
        if say is not None:
            say(f"note: kernel cache {folder} is not used: {problem}")
        return None
    return folder


def _want_compile(choice: str, experiment: Experiment, device: str, images: int = 1) -> bool:
    """Whether ``-compile CHOICE`` compiles ``images`` renders of ``experiment``."""
    if choice not in ("auto", "on", "off"):
        raise InputError(f"expected auto, on or off, got {choice!r}", "-compile")
    if choice != "auto":
        return choice == "on"
    st = experiment.static
    xmin, xmax, ymin, ymax = st.roi
    pixels = (min(xmax, st.fpixels - 1) - xmin + 1) * (min(ymax, st.spixels - 1) - ymin + 1)
    work = pixels * st.evaluations_per_pixel * images
    compiler = shutil.which(os.environ.get("CXX", "g++")) or shutil.which("c++")
    if work > COMPILE_THRESHOLD and (device != "cpu" or compiler is not None):
        return True
    # A smaller job compiles only if nb has already built its kernel (loading costs
    # milliseconds); no usable cache folder means no built kernel.
    try:
        cache = kernel_cache_dir()
        return cache is not None and kernel_in_cache(experiment.params, experiment.static, cache)
    except (OSError, RuntimeError):  # an unreadable cache folder
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
    """Bytes of host memory available now (see :func:`nb_core.cost.available_memory`)."""
    return available_memory()


def prepare(
    argv: Sequence[str],
    *,
    workdir: str | Path | None = None,
    parsed: ParsedArgs | None = None,
    inputs: Inputs | None = None,
) -> Prepared:
    """Parse and resolve a ``simulate`` command without rendering or writing anything.

    Args:
        argv: Arguments after ``simulate``.
        workdir: Folder for relative inputs, outputs and the dump file (default: ``-outdir``
            or the current folder).
        parsed: ``parse_args(argv)`` when the caller has already parsed them.
        inputs: ``load_inputs`` of the settings when the caller has already read them.

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
    force = bool(parsed.nb.get("force"))
    if inputs is None:
        inputs = load_inputs(settings, workdir=Path("."))
    experiment = resolve(
        settings,
        inputs,
        dtype=_DTYPES[dtype_name],
        device=device,
        quirks=parsed.quirks,
        rng=CRandom(),
        max_seconds=None if force else TIME_LIMIT_S,
    )
    st = experiment.static
    grid = inputs.fgrid
    cost = estimate_cost(
        st,
        dtype=_DTYPES[dtype_name],
        device=device,
        grid_points=0 if grid is None else int(grid.values.size),
        writes_dump=inputs.fgrid_from == "hkl",
        compiled=str(parsed.nb.get("compile", "auto")) != "off",
        flags=count_flags(
            settings.given,
            experiment.report.sources.divergence_steps,
            experiment.report.sampling.dispsteps,
            inputs.sources is not None,
        ),
    )
    check_cost(cost, force=force, available=_available_memory())
    use_compile = _want_compile(str(parsed.nb.get("compile", "auto")), experiment, device)
    return Prepared(
        parsed=parsed, inputs=inputs, experiment=experiment, workdir=base, compile=use_compile
    )


def _out_path(base: Path, name: str) -> Path:
    """An output name as a path: absolute names as they are, others inside ``base``."""
    p = Path(name)
    return p if p.is_absolute() else base / p


def output_files(prepared: Prepared) -> list[tuple[str, Path]]:
    """Every file a run writes, in the order it writes them, with the flag that names each.

    The dump file (``-dump``, default ``Fdump.bin``) when ``-hkl`` is given; the float image and
    the SMV image always; the PGM unless ``-nopgm``; the noise image unless ``-nonoise``; then
    ``-cbffile``, ``-nxsfile`` and ``-expt`` when given.

    Args:
        prepared: A prepared run.

    Returns:
        ``(flag, path)`` pairs.
    """
    s, base = prepared.parsed.settings, prepared.workdir
    files: list[tuple[str, Path]] = []
    if prepared.inputs.fgrid_from == "hkl" and prepared.inputs.fgrid is not None:
        files.append(("-dump", _out_path(base, s.dump_file)))
    files.append(("-floatfile", _out_path(base, s.floatfile)))
    files.append(("-intfile", _out_path(base, s.intfile)))
    if s.write_pgm:
        files.append(("-pgmfile", _out_path(base, s.pgmfile)))
    if s.write_noise:
        files.append(("-noisefile", _out_path(base, s.noisefile)))
    files.extend(exchange_files(prepared))
    return files


def check_run_outputs(prepared: Prepared) -> None:
    """Check, before rendering, that every output of the run can be written.

    Each output must have an existing, writable folder (the run's own ``-outdir`` may still be
    missing: it is created) and must not be a folder; no two outputs may be the same file.

    Args:
        prepared: A prepared run.

    Raises:
        InputError: The first output that cannot be written, naming its flag and path.
    """
    check_exchange_options(prepared)
    check_outputs(output_files(prepared), created=[prepared.workdir])


def smv_header(experiment: Experiment) -> list[tuple[str, str]]:
    """The SMV header keys and values the C program writes (after SIZE1/SIZE2).

    Args:
        experiment: The resolved experiment.

    Returns:
        ``(key, value)`` pairs, values formatted as the C program formats them
        (:func:`nb_cli.smv_keys.header_pairs`).
    """
    report = experiment.report
    frame, detector = report.frame, report.detector
    origin = tuple(frame.dials_origin)
    return header_pairs(
        HeaderValues(
            pixel_size_m=detector.pixel_size,
            distance_m=frame.distance,
            wavelength_m=report.beam.wavelength,
            xbeam_m=detector.xbeam,
            ybeam_m=detector.ybeam,
            fbeam_m=frame.fbeam,
            sbeam_m=frame.sbeam,
            detsize_s_m=detector.detsize[1],
            dials_origin_mm=(origin[0], origin[1], origin[2]),
            orgx_px=frame.orgx,
            orgy_px=frame.orgy,
            close_distance_m=frame.close_distance,
            phi0_rad=report.sampling.phi0,
            osc_rad=report.sampling.osc,
            twotheta_rad=detector.twotheta,
        )
    )


#: What ``nb simulate`` says (on stderr, unless ``-quiet``) before it builds a kernel into
#: the kernel cache, and before ``torch.compile`` traces one (no cache: every run does).
COMPILE_NOTICE = (
    "nb: compiling the render kernel for this detector and these switches (once, up to a minute)..."
)
TRACE_NOTICE = "nb: compiling the render kernel (no kernel cache, so in every run)..."


def _compile_notice(prepared: Prepared) -> Callable[[Path | None], None] | None:
    """The ``on_compile`` hook of a run: one line on stderr, none with ``-quiet``."""
    if prepared.parsed.nb.get("quiet"):
        return None

    def notice(package: Path | None) -> None:
        sys.stderr.write((COMPILE_NOTICE if package is not None else TRACE_NOTICE) + "\n")
        sys.stderr.flush()

    return notice


def _render(
    prepared: Prepared, progress: Callable[[int, int], None] | None, say: Printer
) -> torch.Tensor:
    exp = prepared.experiment
    if prepared.compile:
        asked = str(prepared.parsed.nb.get("compile", "auto")) == "on"
        cache = kernel_cache_dir(say, note_missing=asked)
        try:
            return render(
                exp.params,
                exp.static,
                progress=progress,
                compile=True,
                kernel_cache=cache,
                on_compile=_compile_notice(prepared),
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
    catch_signals: bool = False,
) -> SimulationResult:
    """Render and write every output the command asks for, as one set.

    The outputs are checked before the render (:func:`check_run_outputs`); after it they are
    staged beside their targets and renamed into place together (:class:`nb_core.io.OutputSet`),
    so a failure leaves every earlier file as it was.

    Args:
        prepared: A prepared run.
        say: Where console lines go.
        progress: Progress callback (pixels done, total).
        catch_signals: Abort cleanly on SIGINT, SIGTERM and SIGHUP while the files are written
            (for the command line; the previous handlers are restored afterwards).

    Returns:
        The image and the files written.

    Raises:
        InputError: An output cannot be written; no output was changed.
    """
    check_run_outputs(prepared)
    exp, s, st = prepared.experiment, prepared.parsed.settings, prepared.experiment.static
    for note in prepared.parsed.notes:
        say(note)
    say(BANNER)
    for line in decision_lines(exp):
        say(line)
    for line in resolution_lines(exp, s, noise=s.write_noise):
        say(line)

    t0 = time.perf_counter()
    with torch.no_grad():
        image_t = _render(prepared, progress, say)
        solid = float(solid_angle_total(exp.params, st))
    seconds = time.perf_counter() - t0
    image = image_t.detach().to("cpu", torch.float32).numpy()
    written = write_outputs(prepared, image, solid, say=say, catch_signals=catch_signals)
    return SimulationResult(image=image, written=written, seconds=seconds)


def write_outputs(
    prepared: Prepared,
    image: np.ndarray,
    solid: float,
    *,
    say: Printer = print,
    catch_signals: bool = False,
    extra: Sequence[tuple[Path, bytes]] = (),
    recovered: set[Path] | None = None,
) -> list[Path]:
    """Write the outputs of a rendered run as one set (the folder is created if missing).

    Args:
        prepared: The prepared run.
        image: ``(S, F)`` float32 image (photons).
        solid: Solid angle of the rendered pixels (sr), for the statistics line.
        say: Where console lines go.
        catch_signals: Abort cleanly on SIGINT, SIGTERM and SIGHUP while writing.
        extra: More ``(path, contents)`` files of the same set, written after the others.
        recovered: Folders already tidied after killed runs (see :class:`OutputSet`).

    Returns:
        The files written, in order.

    Raises:
        InputError: The image has non-finite pixels, or a file cannot be written; no
            output was changed.
    """
    check_image_finite(image, prepared.parsed.settings)
    made = _make_folder(prepared.workdir)
    try:
        with OutputSet(catch_signals=catch_signals, recovered=recovered) as outputs:
            _write_outputs(prepared, image, solid, outputs, say)
            for path, data in extra:
                outputs.add(path, data)
    except BaseException:
        _remove_empty(made)
        raise
    return outputs.written


def _make_folder(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed run created, where they are still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _write_outputs(
    prepared: Prepared, image: np.ndarray, solid: float, outputs: OutputSet, say: Printer
) -> None:
    """Stage the dump, float, SMV, PGM and noise files of a rendered run, with their lines."""
    exp, s, st = prepared.experiment, prepared.parsed.settings, prepared.experiment.static
    base = prepared.workdir
    if prepared.inputs.fgrid_from == "hkl" and prepared.inputs.fgrid is not None:
        write_fdump(_out_path(base, s.dump_file), prepared.inputs.fgrid, into=outputs)
    stats = image_statistics(
        image, st.roi, prepared.inputs.mask, exp.report.detector.pixel_size, st.oversample
    )
    say("")
    lines = list(statistics_lines(stats, solid))
    say(lines[0])
    say(f"writing {s.floatfile} as {st.fpixels * st.spixels} 4-byte floats")
    write_float_image(_out_path(base, s.floatfile), image, into=outputs)
    for line in lines[1:]:
        say(line)
    scale = intfile_scale(stats.max_I, s.intfile_scale)
    say(f"intfile_scale = {scale:g}")
    header = smv_header(exp)
    dials_header = prepared.parsed.nb.get("smv_header") == "dials"
    say(f"writing {s.intfile} as 2-byte integers")
    pixels = int_image(image, scale, s.adc_offset, st.roi)
    int_header = dials_smv_header(header, exp, scale, s.adc_offset) if dials_header else header
    write_smv(_out_path(base, s.intfile), pixels, int_header, into=outputs)
    if s.write_pgm:
        pscale = pgm_scale(stats, scale, s.pgm_scale)
        say(f"pgm_scale = {pscale:g}")
        say(f"writing {s.pgmfile} as 1-byte integers")
        pgm = pgm_image(image, pscale, st.roi)
        write_pgm(_out_path(base, s.pgmfile), pgm, pscale, into=outputs)
    if s.write_noise:
        seed = s.seed if s.seed is not None else clock_seed()
        result = poisson_noise_image(
            image,
            seed=-seed,
            adc_offset=s.adc_offset,
            roi=st.roi,
            rng=exp.rng,
            compiled=prepared.noise_compiled,
        )
        say(f"{result.photons:.0f} photons on noise image ({result.overloads} overloads)")
        say(f"writing {s.noisefile} as 2-byte integers")
        if dials_header:
            header = dials_smv_header(header, exp, 1.0, s.adc_offset)
        write_smv(_out_path(base, s.noisefile), result.image, header, into=outputs)
    write_exchange_files(prepared, image, pixels, scale, outputs, say)


def stderr(line: str) -> None:
    """Write one line to standard error."""
    sys.stderr.write(line + "\n")
