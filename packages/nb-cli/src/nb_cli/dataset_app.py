"""The data-set commands of ``nb``: ``series``, ``jobs`` and ``stills`` (Typer forwarding only)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from nb_cli.dataset import DatasetOptions

__all__ = ["register"]

_FLAGS = {"allow_extra_args": True, "ignore_unknown_options": True}

Resume = Annotated[bool, typer.Option("--resume", help="skip images whose files all exist")]
Batch = Annotated[
    int, typer.Option("--batch", metavar="N", help="images of one shape rendered together")
]
Workers = Annotated[
    int | None,
    typer.Option("--workers", metavar="N", help="render on a local Dask cluster of N processes"),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        metavar="ADDRESS|FILE",
        help="render on a Dask cluster: scheduler address (tcp://host:8786) or scheduler file",
    ),
]
First = Annotated[int, typer.Option("--first", metavar="N", help="number of the first image")]
Manifest = Annotated[str | None, typer.Option(help="write a manifest (.csv, .parquet)")]


def _sleeping_thread_waits() -> None:
    """Let torch's idle OpenMP threads sleep rather than spin, unless the user chose.

    A data set's render is thousands of short parallel regions; with spinning waits, threads
    that share their cores with other processes lose most of their time (measured on a busy
    2-core machine: 6.6-27 s a 1024 x 1024 frame spinning, 1.5-2.2 s sleeping). Set before
    torch is imported (OpenMP reads it once); a process that has imported torch already is
    left as it is.
    """
    if "torch" in sys.modules:
        return
    if "OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _options(
    label: str,
    resume: bool,
    batch: int,
    workers: int | None,
    scheduler: str | None,
    manifest: str | None,
) -> DatasetOptions:
    from nb_cli.dataset import DatasetOptions

    return DatasetOptions(
        label=label,
        batch=batch,
        resume=resume,
        workers=workers,
        scheduler=scheduler,
        manifest=manifest,
    )


def series(
    ctx: typer.Context,
    frames: Annotated[int, typer.Option("--frames", metavar="N", help="number of frames")],
    first: First = 1,
    resume: Resume = False,
    batch: Batch = 8,
    workers: Workers = None,
    scheduler: Scheduler = None,
    manifest: Manifest = None,
) -> None:
    """A rotation series: frame n starts at -phi + (n-1) * -osc, nanoBragg flags after."""
    _sleeping_thread_waits()
    from nb_cli.dataset import run_dataset
    from nb_cli.series import series_jobs

    jobs = series_jobs(list(ctx.args), frames, first)
    options = _options("frame", resume, batch, workers, scheduler, manifest)
    raise typer.Exit(run_dataset(jobs, options))


def jobs(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="one image's flags per line, or a .csv table")],
    resume: Resume = False,
    batch: Batch = 8,
    workers: Workers = None,
    scheduler: Scheduler = None,
    manifest: Manifest = None,
) -> None:
    """Images from a jobs file; the nanoBragg flags after it are common to every image."""
    _sleeping_thread_waits()
    from nb_cli.dataset import run_dataset
    from nb_cli.jobs import read_jobs

    images = read_jobs(file, list(ctx.args))
    options = _options("image", resume, batch, workers, scheduler, manifest)
    raise typer.Exit(run_dataset(images, options))


def stills(
    ctx: typer.Context,
    shots: Annotated[int, typer.Option("--shots", metavar="N", help="number of shots")],
    shot_seed: Annotated[
        int, typer.Option("--shot-seed", metavar="N", help="seed of orientations and variations")
    ] = 0,
    mosaic_range: Annotated[
        str | None, typer.Option(metavar="LOW:HIGH", help="mosaic spread per shot (deg)")
    ] = None,
    cells_range: Annotated[
        str | None, typer.Option(metavar="LOW:HIGH", help="-N per shot (unit cells)")
    ] = None,
    flux_sigma: Annotated[
        float, typer.Option(metavar="S", help="log-normal spread of the flux per shot")
    ] = 0.0,
    spectrum: Annotated[
        str | None, typer.Option(metavar="FILE", help="'lambda(A) weight' lines: -lambda per shot")
    ] = None,
    matfile: Annotated[
        str, typer.Option(metavar="NAME", help="each shot's orientation as a -mat file")
    ] = "orientation.mat",
    manifest: Annotated[
        str, typer.Option(metavar="FILE", help="manifest of true parameters (.csv, .parquet)")
    ] = "manifest.csv",
    first: First = 1,
    resume: Resume = False,
    batch: Batch = 8,
    workers: Workers = None,
    scheduler: Scheduler = None,
) -> None:
    """Stills at random orientations (uniform on SO(3)); nanoBragg flags after the options."""
    _sleeping_thread_waits()
    from nb_cli.dataset import run_dataset
    from nb_cli.stills import stills_jobs, variation_from

    variation = variation_from(mosaic_range, cells_range, flux_sigma, spectrum)
    images = stills_jobs(
        list(ctx.args),
        shots,
        first=first,
        seed=shot_seed,
        variation=variation,
        matfile=matfile,
    )
    options = _options("shot", resume, batch, workers, scheduler, manifest)
    raise typer.Exit(run_dataset(images, options))


def register(app: typer.Typer) -> None:
    """Add ``series``, ``jobs`` and ``stills`` to the ``nb`` app."""
    for command in (series, jobs, stills):
        app.command(context_settings=_FLAGS)(command)
