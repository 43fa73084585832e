"""Running a data set's images from the command line: here, or on a Dask cluster.

:func:`run_dataset` is what ``nb series``, ``nb jobs`` and ``nb stills`` share: it renders the
images in this process (:func:`nb_cli.batch.render_jobs`) or, with ``--workers`` or
``--scheduler``, as tasks on a Dask cluster (:mod:`nb_cli.cluster`); shows a progress bar over
images on a terminal (one line per image otherwise); and writes the manifest (CSV, or Parquet
for a ``.parquet`` name) once every image is done.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nb_cli.batch import BatchOptions, ImageJob, render_jobs
from nb_cli.per_image import check_distinct_files, given_flags
from nb_core.datasets import ImageRecord, check_parquet, manifest_csv, manifest_parquet
from nb_core.errors import InputError
from nb_core.io import check_outputs, write_output
from nb_core.runtime import keep_freed_memory

__all__ = ["DatasetOptions", "run_dataset"]


@dataclass(frozen=True)
class DatasetOptions:
    """How a data set's command runs.

    Attributes:
        label: What an image is called on the console (``frame``, ``shot``, ``image``).
        batch: Images of one shape rendered together.
        resume: Skip images whose files all exist.
        workers: Worker processes of a local Dask cluster, or None.
        scheduler: A Dask scheduler's address or scheduler file, or None.
        manifest: Where the manifest goes (``.parquet``: Parquet, else CSV; a relative path
            is inside the flags' ``-outdir``), or None.
        quiet: Print only errors.
    """

    label: str = "image"
    batch: int = 8
    resume: bool = False
    workers: int | None = None
    scheduler: str | None = None
    manifest: str | None = None
    quiet: bool = False


@contextmanager
def _progress(label: str, total: int, show: bool) -> Iterator[Callable[[ImageRecord, bool], None]]:
    """A callback per finished image: a rich progress bar, or one console line."""
    if not show:

        def line(record: ImageRecord, rendered: bool) -> None:
            what = "wrote" if rendered else "already written:"
            print(f"{label} {record.number}: {what} {' '.join(record.files)}")

        yield line
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn(f"{label}s"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda record, rendered: bar.advance(task)


def _threads(workers: int) -> int:
    """Torch threads per local worker: this process's share of the cores."""
    total = int(os.environ.get("OMP_NUM_THREADS") or 0) or os.cpu_count() or 1
    return max(1, total // workers)


def _write_manifest(path: Path, records: list[ImageRecord]) -> None:
    if path.suffix.lower() == ".parquet":
        data = manifest_parquet(records, str(path))
    else:
        data = manifest_csv(records)
    write_output(path, data)


def run_dataset(jobs: Sequence[ImageJob], options: DatasetOptions) -> int:
    """Render a data set's images and write its manifest.

    Args:
        jobs: The images.
        options: Where and how.

    Returns:
        Exit code 0.

    Raises:
        InputError: Bad flags, inputs, files or cluster (one line, naming the image).
    """
    if options.batch < 1:
        raise InputError(f"expected at least 1, got {options.batch}", "--batch")
    if options.workers is not None and options.workers < 1:
        raise InputError(f"expected at least 1, got {options.workers}", "--workers")
    cores = os.cpu_count() or 1
    if options.workers is not None and options.scheduler is None and options.workers > cores:
        raise InputError(
            f"a local cluster of {options.workers} worker processes on {cores} cores: at most "
            f"{cores} here (workers on other machines join through --scheduler)",
            "--workers",
        )
    check_distinct_files([(job.number, job.argv, job.matfile) for job in jobs])
    manifest = None
    if options.manifest is not None:
        outdir = given_flags(jobs[0].argv).get("-outdir", ["."])[0]
        manifest = Path(outdir) / options.manifest
        check_outputs([("--manifest", manifest)], created=[Path(outdir)])
        if manifest.suffix.lower() == ".parquet":
            check_parquet(str(manifest))
    quiet = options.quiet or any(a in ("-quiet", "--quiet") for a in jobs[0].argv)
    say = (lambda line: None) if quiet else print
    batch = BatchOptions(
        batch=options.batch, resume=options.resume, images=len(jobs), catch_signals=True
    )
    show = not quiet and sys.stdout.isatty()
    rendered = 0
    with _progress(options.label, len(jobs), show) as progress:

        def on_image(record: ImageRecord, done: bool) -> None:
            nonlocal rendered
            rendered += int(done)
            if not quiet:
                progress(record, done)

        if options.workers is None and options.scheduler is None:
            keep_freed_memory()  # as each cluster worker does: no fresh page faults per chunk
            records = render_jobs(jobs, batch, say=say, on_image=on_image)
        else:
            from nb_cli.cluster import dask_client, render_on_cluster

            local = options.scheduler is None
            threads = _threads(options.workers or 1) if local else None
            with dask_client(options.scheduler, options.workers) as client:
                records = render_on_cluster(client, jobs, batch, on_image=on_image, threads=threads)
    if manifest is not None:
        _write_manifest(manifest, records)
    say(f"{options.label}s: {rendered} rendered, {len(records) - rendered} already written")
    return 0
