"""Plain functions behind the ``nb`` commands (the Typer app only forwards to these)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nb_core.errors import InputError

__all__ = ["demo_command", "find_shared", "simulate_command"]


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("rendering"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("render", total=1)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def simulate_command(args: list[str], *, workdir: str | Path | None = None) -> int:
    """Run ``nb simulate`` with C-style flags.

    Args:
        args: Arguments after ``simulate``.
        workdir: Folder for outputs (default ``-outdir`` or the current folder).

    Returns:
        Exit code 0.

    Raises:
        InputError: Bad flags, bad input files, or an output that cannot be written.
    """
    from nb_cli.flags import parse_args

    parsed = parse_args(args)  # a bad flag is reported here, before torch is imported

    from nb_cli.simulate import prepare, run_simulation
    from nb_cli.trace import print_printout
    from nb_core.runtime import keep_freed_memory

    keep_freed_memory()
    prepared = prepare(args, workdir=workdir, parsed=parsed)
    settings = prepared.parsed.settings
    quiet = bool(prepared.parsed.nb.get("quiet"))
    say = (lambda line: None) if quiet else print
    show = settings.progress and not settings.printout and not quiet and sys.stdout.isatty()
    try:
        with _progress_bar(show) as progress:
            result = run_simulation(prepared, say=say, progress=progress, catch_signals=True)
    except OSError as exc:  # e.g. the -outdir folder cannot be created
        name = exc.filename if exc.filename else "output"
        raise InputError(f"cannot write: {exc.strerror or exc}", name) from None
    if settings.printout:
        print_printout(prepared, result.image)
    return 0


def find_shared() -> Path:
    """Locate the shared data folder (``NB_SHARED_DIR`` or a ``shared`` folder beside the repo).

    Raises:
        InputError: No shared folder with ``data/`` is found.
    """
    env = os.environ.get("NB_SHARED_DIR")
    candidates = [Path(env)] if env else []
    for start in (Path.cwd(), Path(__file__).resolve()):
        for parent in (start, *start.parents):
            candidates.append(parent / "shared")
    for cand in candidates:
        if (cand / "data" / "pilatus6m_flags.txt").is_file():
            return cand
    raise InputError("shared data folder not found; set NB_SHARED_DIR to the folder holding data/")


def demo_command(outdir: str, dtype: str = "float32") -> int:
    """Simulate the real Pilatus 6M frame of the shared data into ``outdir``.

    Args:
        outdir: Folder for the images (created).
        dtype: float32 or float64.

    Returns:
        Exit code.
    """
    data = find_shared() / "data"
    flags = shlex.split((data / "pilatus6m_flags.txt").read_text())
    for name, target in (("A.mat", data / "A.mat"), ("scaled.hkl", data / "scaled.hkl")):
        flags = [str(target) if f == name else f for f in flags]
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    args = [
        *flags,
        "-floatfile",
        "pilatus.bin",
        "-intfile",
        "pilatus.img",
        "-pgmfile",
        "pilatus.pgm",
        "-dump",
        "Fdump.bin",
        "-seed",
        "1",
        "-dtype",
        dtype,
    ]
    print(f"nb demo: Pilatus 6M frame into {out}/ (float, SMV, PGM)")
    return simulate_command(args, workdir=out)
