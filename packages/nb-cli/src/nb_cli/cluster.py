"""Data sets on a Dask cluster: chunks of images as tasks, on any ``distributed.Client``.

The images are split into chunks of consecutive images (a multiple of the batch size, so a
chunk renders the same batches as one process would); each chunk is one task,
:func:`render_chunk`, which runs :func:`nb_cli.batch.render_jobs` on a worker: the worker
resolves, renders and writes its images itself, each as one set of files, and returns their
records. Every image's draws and seeds come from its number, so the images are the same
whichever worker renders them.

The client can be anything ``distributed`` connects to: an in-process ``LocalCluster`` of
worker processes (``--workers N``), a scheduler's address (``--scheduler tcp://HOST:8786``)
or scheduler file (``--scheduler sched.json``, as ``dask-mpi`` writes it), or, from Python, a
client of a ``dask_jobqueue.SLURMCluster``/``PBSCluster`` or a ``dask_cuda.LocalCUDACluster``.
Workers must see the same files at the same paths (relative paths are taken from the
client's current folder). Dask is an optional extra: ``pip install 'nanobragg-torch-cli[dask]'``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nb_cli.batch import BatchOptions, ImageJob, render_jobs
from nb_core.datasets import ImageRecord
from nb_core.errors import InputError

__all__ = ["ChunkResult", "chunks", "dask_client", "render_chunk", "render_on_cluster"]

#: Images per task, in batches (a chunk is this many batches).
BATCHES_PER_CHUNK = 2


def _distributed(option: str) -> Any:
    """The ``distributed`` module, or a one-line error naming the extra."""
    try:
        import distributed
    except ImportError:
        raise InputError(
            "needs Dask distributed: pip install 'nanobragg-torch-cli[dask]'", option
        ) from None
    return distributed


@contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A ``distributed.Client`` to a scheduler, or to a new local cluster of processes.

    Args:
        scheduler: A scheduler address (``tcp://host:8786``) or a scheduler file (JSON, as
            ``dask scheduler --scheduler-file`` and ``dask-mpi`` write it); None: a local
            cluster.
        workers: Worker processes of the local cluster (each runs one task at a time);
            ignored with a scheduler.

    Yields:
        The client; it (and a local cluster) is closed when the block ends.

    Raises:
        InputError: Dask is missing, or the scheduler cannot be reached.
    """
    option = "--scheduler" if scheduler is not None else "--workers"
    distributed = _distributed(option)
    cluster = None
    try:
        if scheduler is not None and Path(scheduler).is_file():
            client = distributed.Client(scheduler_file=scheduler, timeout="30s")
        elif scheduler is not None:
            client = distributed.Client(scheduler, timeout="30s")
        else:
            cluster = distributed.LocalCluster(
                n_workers=max(1, workers or 1),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            client = distributed.Client(cluster)
    except OSError as exc:
        raise InputError(f"cannot reach the scheduler: {exc}", option) from None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def chunks(jobs: Sequence[ImageJob], batch: int) -> list[list[ImageJob]]:
    """The images split into tasks of :data:`BATCHES_PER_CHUNK` batches each."""
    size = max(1, batch) * BATCHES_PER_CHUNK
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


def _worker_gpu() -> None:
    """Give this worker one GPU of the machine's (by the worker's number) when it has several."""
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        return
    from distributed import get_worker

    name = str(get_worker().name)
    ordinal = int(name) if name.isdigit() else sum(map(ord, name))
    torch.cuda.set_device(ordinal % torch.cuda.device_count())


@dataclass(frozen=True)
class ChunkResult:
    """What a task returns.

    Attributes:
        images: Each image's record and whether it was rendered (False: skipped by
            ``resume``), for the images done before any error.
        error: The one-line message of bad input met by the task (an image's flags, inputs
            or files), or None; returned rather than raised, so that the worker logs no
            traceback for a user's mistake.
    """

    images: list[tuple[ImageRecord, bool]]
    error: str | None = None


def render_chunk(
    jobs: list[ImageJob], options: BatchOptions, threads: int | None = None
) -> ChunkResult:
    """A task: render and write a chunk of images on a worker.

    Args:
        jobs: The images.
        options: How to render them (``cwd``: the client's folder).
        threads: Torch threads for the task (None: torch's default).

    Returns:
        The images' records, and the message of the bad input that stopped the chunk.
    """
    import torch

    from nb_core.runtime import keep_freed_memory

    if threads is not None:
        torch.set_num_threads(threads)
    keep_freed_memory()
    with contextlib.suppress(ValueError, RuntimeError):  # not in a worker: a local client
        _worker_gpu()
    done: list[tuple[ImageRecord, bool]] = []
    try:
        render_jobs(
            jobs,
            dataclasses.replace(options, catch_signals=False),
            say=lambda line: None,
            on_image=lambda record, rendered: done.append((record, rendered)),
        )
    except InputError as exc:
        return ChunkResult(done, str(exc))
    return ChunkResult(done)


def render_on_cluster(
    client: Any,
    jobs: Sequence[ImageJob],
    options: BatchOptions = BatchOptions(),
    *,
    on_image: Callable[[ImageRecord, bool], None] | None = None,
    threads: int | None = None,
) -> list[ImageRecord]:
    """Render a data set's images as tasks on a Dask cluster.

    Args:
        client: A ``distributed.Client``.
        jobs: The images.
        options: Batching and resuming (``cwd`` defaults to the current folder).
        on_image: Called with each image's record as its chunk finishes.
        threads: Torch threads per task (None: the workers' default).

    Returns:
        The records, in image order.

    Raises:
        InputError: An image's flags, inputs or files are bad (raised by its task); the
            tasks not started are cancelled.
    """
    distributed = _distributed("--scheduler")
    if options.cwd is None:
        options = dataclasses.replace(options, cwd=os.getcwd())
    futures = [
        client.submit(render_chunk, chunk, options, threads, pure=False)
        for chunk in chunks(jobs, options.batch)
    ]
    records: list[ImageRecord] = []
    try:
        for future in distributed.as_completed(futures):
            result = future.result()
            for record, rendered in result.images:
                records.append(record)
                if on_image is not None:
                    on_image(record, rendered)
            if result.error is not None:
                raise InputError(result.error)
    except BaseException:
        client.cancel(futures)
        raise
    order = {job.number: i for i, job in enumerate(jobs)}
    return sorted(records, key=lambda r: order[r.number])
