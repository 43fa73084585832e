"""Many images in one process: each image a ``simulate`` argv, rendered in batches.

An image is an :class:`ImageJob`: its number and the full ``nb simulate`` flags that make it
alone (outputs named per image). :func:`render_jobs` runs the ``simulate`` pipeline
(:mod:`nb_cli.simulate`: parse, resolve, render, write) over them, paying torch's import and
the resolve once:

- an image whose flags differ from the last resolved one only in ``-phi``, ``-misset``
  angles, ``-seed`` or output names takes that experiment with the angles replaced
  (:func:`nb_core.datasets.reoriented`), any other is resolved afresh (input files read once);
- consecutive images of one shape are rendered together (:func:`nb_core.datasets.render_many`,
  ``batch`` at a time, the batches fixed by the images' positions so that any split of the
  list into chunks of a multiple of ``batch`` renders the same batches); with the compiled
  kernel each is rendered on its own;
- each image's files (float, SMV, PGM, noise, and an orientation matrix if asked) are written
  as one set (:class:`nb_core.io.OutputSet`), so a kill leaves whole images only; with
  ``resume`` an image whose files all exist is not rendered again.

Each image equals ``nb simulate`` of its flags, and so the C program's image for them.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from nb_cli.flags import ParsedArgs, parse_args
from nb_cli.simulate import (
    Prepared,
    _render,
    _want_compile,
    output_files,
    prepare,
    write_outputs,
)
from nb_cli.summary import BANNER, decision_lines, resolution_lines
from nb_core.datasets import ImageRecord, image_record, render_many, reoriented
from nb_core.errors import InputError
from nb_core.io import matrix_text, recover_outputs
from nb_core.params import Static
from nb_core.render import solid_angle_total
from nb_core.resolve import Inputs, load_inputs
from nb_core.rng import CRandom
from nb_core.settings import Settings

__all__ = ["BatchOptions", "ImageJob", "render_jobs"]

Printer = Callable[[str], None]


@dataclass(frozen=True)
class ImageJob:
    """One image of a data set.

    Attributes:
        number: The image's number (names its files, seeds its draws).
        argv: The ``nb simulate`` flags that make this image alone.
        matfile: Also write the image's orientation as a ``-mat`` file here (relative names
            inside the image's ``-outdir``), or None.
        own_kernel: Whether the image's static options are its own in the data set (a
            series frame with a phi step at 0, the phi0 quirk), so that ``-compile auto``
            counts it alone rather than with every image.
    """

    number: int
    argv: tuple[str, ...]
    matfile: str | None = None
    own_kernel: bool = False


@dataclass(frozen=True)
class BatchOptions:
    """How a list of images is rendered.

    Attributes:
        batch: Images of one shape rendered together (1: one at a time).
        resume: Skip images whose files all exist already.
        images: Images in the whole data set (a compiled kernel pays off over all of them).
        catch_signals: Abort cleanly on SIGINT, SIGTERM and SIGHUP while files are written
            (the main thread of a command only).
        cwd: Folder that relative paths are relative to (a worker moves there first), or
            None for the current one.
    """

    batch: int = 8
    resume: bool = False
    images: int = 1
    catch_signals: bool = False
    cwd: str | None = None


#: Settings that do not enter the resolve: outputs, their scales, the noise seed, console.
_OUTPUT_FIELDS = frozenset(
    (
        "floatfile",
        "intfile",
        "pgmfile",
        "noisefile",
        "write_noise",
        "write_pgm",
        "intfile_scale",
        "pgm_scale",
        "adc_offset",
        "progress",
        "seed",
        "given",
    )
)
#: Settings replaced without a resolve (see :func:`nb_core.datasets.reoriented`).
_ANGLE_FIELDS = frozenset(("phi_deg", "misset_deg", "misset_mode"))
#: Params fields that fix the detector (a batch sharing them shares one solid angle).
_DETECTOR_FIELDS = frozenset(
    (
        "pixel_size",
        "distance",
        "close_distance",
        "beam_center",
        "close_center",
        "detsize",
        "detector_rotation",
        "twotheta",
        "fdet",
        "sdet",
        "odet",
        "twotheta_axis",
        "pix0",
        "detector_thickstep",
        "detector_mu",
        "mask",
    )
)
#: Settings that name or shape the input files (the key of the inputs read once).
_INPUT_FIELDS = (
    "matrix_file",
    "hkl_file",
    "default_F",
    "dump_file",
    "source_file",
    "lambda_A",
    "convention",
    "beam_vector",
    "mask_file",
)


@dataclass
class _Base:
    """The last image resolved afresh: what later images are derived from."""

    parsed: ParsedArgs
    prepared: Prepared
    rng: CRandom


@dataclass
class _Queued:
    """An image waiting for its batch."""

    job: ImageJob
    position: int
    prepared: Prepared
    record: ImageRecord
    extra: list[tuple[Path, bytes]]


@dataclass
class _Run:
    """The state of one :func:`render_jobs` call."""

    options: BatchOptions
    say: Printer
    on_image: Callable[[ImageRecord, bool], None] | None
    base: _Base | None = None
    inputs: dict[str, Inputs] = field(default_factory=dict)
    recovered: set[Path] = field(default_factory=set)
    queue: list[_Queued] = field(default_factory=list)
    records: list[ImageRecord] = field(default_factory=list)
    summarized: bool = False
    solid: tuple[Prepared, float] | None = None
    kernels: dict[tuple[Static, int, str, str], bool] = field(default_factory=dict)


def _angles_only(base: ParsedArgs, parsed: ParsedArgs) -> bool:
    """Whether ``parsed`` resolves as ``base`` does up to ``-phi`` and ``-misset`` angles."""
    if base.nb != parsed.nb or base.quirks != parsed.quirks:
        return False
    a, b = base.settings, parsed.settings
    for f in dataclasses.fields(Settings):
        if f.name in _OUTPUT_FIELDS or f.name in _ANGLE_FIELDS:
            continue
        if getattr(a, f.name) != getattr(b, f.name):
            return False
    if "random" in (a.misset_mode, b.misset_mode):
        return a.misset_mode == b.misset_mode and a.misset_deg == b.misset_deg
    return True


def _derived(run: _Run, parsed: ParsedArgs) -> Prepared | None:
    """The image's run from the last resolved one, when only its angles differ."""
    base = run.base
    if base is None or not _angles_only(base.parsed, parsed):
        return None
    a, b = base.parsed.settings, parsed.settings
    experiment = reoriented(
        base.prepared.experiment,
        b,
        base.prepared.inputs,
        base.rng,
        phi_deg=b.phi_deg if b.phi_deg != a.phi_deg else None,
        misset_deg=b.misset_deg if b.misset_deg != a.misset_deg else None,
    )
    inputs = base.prepared.inputs
    if inputs.fgrid_from == "hkl":  # the base image wrote the dump; the grid is the same
        inputs = dataclasses.replace(inputs, fgrid_from="dump")
    return dataclasses.replace(base.prepared, parsed=parsed, inputs=inputs, experiment=experiment)


def _inputs_key(settings: Settings) -> str:
    return repr(tuple(getattr(settings, name) for name in _INPUT_FIELDS))


def _prepared(run: _Run, job: ImageJob) -> Prepared:
    """Parse and resolve one image (or derive it from the last resolved one)."""
    try:
        parsed = parse_args(job.argv)
        derived = _derived(run, parsed)
        if derived is not None:
            return derived
        key = _inputs_key(parsed.settings)
        inputs = run.inputs.get(key)
        if inputs is None or parsed.settings.hkl_file is None:
            inputs = load_inputs(parsed.settings, workdir=Path("."))
            run.inputs = {key: inputs}
        prepared = prepare(job.argv, parsed=parsed, inputs=inputs)
    except InputError as exc:
        raise InputError(f"image {job.number}: {exc}") from None
    experiment = prepared.experiment
    prepared = dataclasses.replace(prepared, noise_compiled=True)
    run.base = _Base(parsed=parsed, prepared=prepared, rng=copy.deepcopy(experiment.rng))
    return _fresh_rng(prepared, run.base.rng)


def _compiles(run: _Run, prepared: Prepared, job: ImageJob) -> bool:
    """Whether the image renders through the compiled kernel of its static options.

    ``-compile on``/``off`` decide alone. With ``auto`` the kernel is worth building when the
    images of the whole data set are (an image with ``own_kernel`` counts alone), or when it
    is in the cache already. The choice depends on the image and the data set's size only,
    not on the images before it, so any split of the data set into chunks makes the same.
    """
    parsed = prepared.parsed
    choice = str(parsed.nb.get("compile", "auto"))
    device = str(parsed.nb.get("device", "cpu"))
    experiment = prepared.experiment
    images = 1 if job.own_kernel else max(1, run.options.images)
    key = (experiment.static, images, choice, device)
    decided = run.kernels.get(key)
    if decided is None:
        decided = _want_compile(choice, experiment, device, images=images)
        run.kernels[key] = decided
    return decided


def _fresh_rng(prepared: Prepared, rng: CRandom) -> Prepared:
    """``prepared`` with its own copy of the random-number state after resolving."""
    experiment = dataclasses.replace(prepared.experiment, rng=copy.deepcopy(rng))
    return dataclasses.replace(prepared, experiment=experiment)


def _image_files(prepared: Prepared, job: ImageJob) -> tuple[list[Path], list[Path]]:
    """The image's files (dump excluded) and the orientation file, if any."""
    files = [path for flag, path in output_files(prepared) if flag != "-dump"]
    mat = [] if job.matfile is None else [prepared.workdir / job.matfile]
    return files, mat


def _finished(run: _Run, files: list[Path]) -> bool:
    """Whether every file exists (after finishing any commit a killed run left)."""
    for folder in {Path(os.path.realpath(p.parent)) for p in files}:
        if folder not in run.recovered and folder.is_dir():
            recover_outputs(folder)
            run.recovered.add(folder)
    return all(p.is_file() for p in files)


def _enqueue(run: _Run, job: ImageJob, position: int) -> None:
    prepared = _prepared(run, job)
    try:
        prepared = dataclasses.replace(prepared, compile=_compiles(run, prepared, job))
    except InputError as exc:
        raise InputError(f"image {job.number}: {exc}") from None
    files, mat = _image_files(prepared, job)
    settings = prepared.parsed.settings
    seed = settings.seed if settings.seed is not None else 0
    record = image_record(
        job.number,
        prepared.experiment,
        files=tuple(str(p) for p in files),
        argv=job.argv,
        seed=-seed,
        matfile=str(mat[0]) if mat else None,
    )
    if run.options.resume and _finished(run, files + mat):
        _done(run, record, rendered=False)
        return
    extra = [(mat[0], matrix_text(_amatrix(record)).encode("ascii"))] if mat else []
    if run.queue and not _same_batch(run, run.queue[0], prepared, position):
        _flush(run)
    run.queue.append(_Queued(job, position, prepared, record, extra))


def _amatrix(record: ImageRecord) -> np.ndarray:
    return np.asarray(record.amatrix, dtype=np.float64)


def _same_batch(run: _Run, first: _Queued, prepared: Prepared, position: int) -> bool:
    """Whether an image joins the queued batch: same slot, shape and way of rendering."""
    batch = max(1, run.options.batch)
    if first.position // batch != position // batch or prepared.compile or first.prepared.compile:
        return False
    a, b = first.prepared.experiment.params, prepared.experiment.params
    if (a.dtype, a.device) != (b.dtype, b.device):
        return False
    return first.prepared.experiment.static == prepared.experiment.static


def _done(run: _Run, record: ImageRecord, *, rendered: bool) -> None:
    run.records.append(record)
    if run.on_image is not None:
        run.on_image(record, rendered)


def _summary(run: _Run, prepared: Prepared) -> bool:
    """The C program's summary, once, before the first image rendered (True: printed now)."""
    if run.summarized:
        return False
    run.summarized = True
    experiment, settings = prepared.experiment, prepared.parsed.settings
    run.say(BANNER)
    for line in decision_lines(experiment):
        run.say(line)
    for line in resolution_lines(experiment, settings, noise=settings.write_noise):
        run.say(line)
    return True


def _render_queue(queue: list[_Queued], say: Printer) -> list[torch.Tensor]:
    """The queued images, rendered together where they can be."""
    first = queue[0].prepared
    with torch.no_grad():
        if len(queue) == 1:
            return [_render(first, None, say)]
        params = [q.prepared.experiment.params for q in queue]
        try:
            images = render_many(params, first.experiment.static)
        except (ValueError, RuntimeError):  # shapes differ (another HKL grid), or out of memory
            return [_render(q.prepared, None, say) for q in queue]
        return list(images.unbind(0))


def _flush(run: _Run) -> None:
    """Render the queued batch and write each image's files as one set."""
    if not run.queue:
        return
    queue, run.queue = run.queue, []
    first_say = run.say if _summary(run, queue[0].prepared) else _silent
    images = _render_queue(queue, run.say)
    for item, image in zip(queue, images, strict=True):
        say = first_say if item is queue[0] else _silent
        try:
            write_outputs(
                item.prepared,
                image.detach().to("cpu", torch.float32).numpy(),
                _solid_angle(run, item.prepared),
                say=say,
                catch_signals=run.options.catch_signals,
                extra=item.extra,
                recovered=run.recovered,
            )
        except InputError as exc:
            raise InputError(f"image {item.job.number}: {exc}") from None
        _done(run, item.record, rendered=True)


def _solid_angle(run: _Run, prepared: Prepared) -> float:
    """The rendered pixels' total solid angle (sr), computed again only when the detector or the
    static options (sub-pixels, region) change."""
    if run.solid is not None:
        last, solid = run.solid
        if last.experiment.static == prepared.experiment.static and _shares_detector(
            last, prepared
        ):
            return solid
    experiment = prepared.experiment
    with torch.no_grad():
        solid = float(solid_angle_total(experiment.params, experiment.static))
    run.solid = (prepared, solid)
    return solid


def _shares_detector(a: Prepared, b: Prepared) -> bool:
    pa, pb = a.experiment.params, b.experiment.params
    for name in _DETECTOR_FIELDS:
        x, y = getattr(pa, name), getattr(pb, name)
        if (x is None) != (y is None) or (x is not None and not torch.equal(x, y)):
            return False
    return True


def _silent(line: str) -> None:
    """Drop a console line (the summary of every image but the first)."""


def render_jobs(
    jobs: Sequence[ImageJob],
    options: BatchOptions = BatchOptions(),
    *,
    say: Printer = print,
    on_image: Callable[[ImageRecord, bool], None] | None = None,
) -> list[ImageRecord]:
    """Render and write a list of images in this process.

    Args:
        jobs: The images, in the order they are rendered.
        options: Batching, resuming, signals.
        say: Where the console lines go (the C program's summary, for the first image).
        on_image: Called after each image with its record and whether it was rendered
            (False: skipped by ``resume``).

    Returns:
        The images' records, in the order of ``jobs``.

    Raises:
        InputError: An image's flags or inputs are bad, or a file cannot be written (the
            message names the image); images written before stay complete.
    """
    if options.cwd is not None and Path(options.cwd) != Path.cwd():
        os.chdir(options.cwd)
    run = _Run(options=options, say=say, on_image=on_image)
    for position, job in enumerate(jobs):
        _enqueue(run, job, position)
    _flush(run)
    return run.records
