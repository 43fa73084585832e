"""Time data sets in one nb process against as many runs of the C program.

    NB_C_BIN=/path/to/nanoBragg .venv/bin/python benchmarks/datasets.py \\
        [--frames 100] [--pilatus-frames 20] [--stills 1000] [--threads 2] [--cases ...]

Every time is a whole process (or a whole shell loop), timed from outside with the same
``OMP_NUM_THREADS``:

- ``series_cubic_1024``: ``nb series --frames N`` of the 1024 x 1024 cubic case (float32, every
  default output: float, SMV, PGM and noise images) against a shell loop of N C runs of the
  frames' own flags (``-phi`` and ``-seed`` per frame);
- ``series_pilatus``: the same for the Pilatus 6M frame of the shared data;
- ``stills_256``: ``nb stills --shots N`` of 256 x 256 shots in this process, and on a local
  Dask cluster of 1 and 2 worker processes (``--workers``), against a shell loop of N C runs
  and (extrapolated from a sample) N separate ``nb simulate`` processes.

Each nb data set is run twice: first with an empty kernel cache of this run's own ("empty kernel
cache": the compiled kernels a long data set renders through are built in that run), then again
with the kernels it built ("auto"), as every later run on the machine finds them. The first and
last frames are compared with the C program's (relative L2 of the float images). Writes
``reports/benchmarks/datasets.md`` and ``datasets.json``; the load average before and after
each case is reported with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
OUT = REPO / "reports" / "benchmarks"
CUBIC = "-cell 100 100 100 90 90 90 -lambda 1 -N 10 -default_F 100 -distance 100"
NB = [sys.executable, "-c", "from nb_cli import run; run()"]
#: The label of a run that starts with an empty kernel cache.
COLD = "auto, empty kernel cache"


@dataclass
class Result:
    """One case's measurements (seconds are whole-process wall times)."""

    name: str
    images: int
    flags: str
    c_seconds: float | None = None
    nb_seconds: dict[str, float] = field(default_factory=dict)
    rel_l2: dict[str, float] = field(default_factory=dict)
    load: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _env(threads: int, cache: Path) -> dict[str, str]:
    return dict(
        os.environ,
        OMP_NUM_THREADS=str(threads),
        MKL_NUM_THREADS=str(threads),
        NB_KERNEL_CACHE=str(cache),
    )


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd[:6])} ... failed: {proc.stderr[-2000:]}")
    return seconds


def _c_loop(c_bin: Path, argvs: list[list[str]], cwd: Path, env: dict[str, str]) -> float:
    """One shell running the C program once per image, timed as a whole."""
    script = cwd / "c_loop.sh"
    lines = [shlex.join([str(c_bin), *argv]) + " > /dev/null" for argv in argvs]
    script.write_text("set -e\n" + "\n".join(lines) + "\n")
    return _timed(["sh", str(script)], cwd, env)


def _rel_l2(a: Path, b: Path) -> float:
    x = np.fromfile(a, dtype="<f4").astype(np.float64)
    y = np.fromfile(b, dtype="<f4").astype(np.float64)
    return float(np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-300))


def _load() -> float:
    return os.getloadavg()[0]


def series_case(
    name: str,
    flags: list[str],
    frames: int,
    inputs: list[Path],
    c_bin: Path | None,
    threads: int,
) -> Result:
    """``nb series --frames N`` against N C runs of the frames' flags."""
    from nb_cli.flags import parse_args, to_c_argv
    from nb_cli.series import series_jobs

    result = Result(name, frames, shlex.join(flags), load=[_load()])
    with tempfile.TemporaryDirectory(prefix=f"nb-datasets-{name}-") as tmp:
        root = Path(tmp)
        cache = root / "kernels"
        cache.mkdir()
        env = _env(threads, cache)
        folders = {k: root / k for k in ("cold", "nb", "nb_eager", "c")}
        for folder in folders.values():
            folder.mkdir()
            for path in inputs:
                shutil.copy(path, folder / path.name)
        series = [*NB, "series", "--frames", str(frames), *flags]
        result.nb_seconds[COLD] = _timed(series, folders["cold"], env)
        result.nb_seconds["auto"] = _timed(series, folders["nb"], env)
        eager = [*series, "-compile", "off"]
        result.nb_seconds["eager"] = _timed(eager, folders["nb_eager"], env)
        if c_bin is not None:
            jobs = series_jobs(flags, frames)
            argvs = [to_c_argv(parse_args(job.argv, read_headers=False)) for job in jobs]
            result.c_seconds = _c_loop(c_bin, argvs, folders["c"], env)
            for number in sorted({1, frames}):
                image = f"floatimage_{number:05d}.bin"
                result.rel_l2[f"frame {number}"] = _rel_l2(
                    folders["nb"] / image, folders["c"] / image
                )
    result.load.append(_load())
    return result


def stills_case(
    shots: int, workers: list[int], sample: int, c_bin: Path | None, threads: int
) -> Result:
    """``nb stills`` here and on 1, 2, ... local workers against loops of separate runs."""
    from nb_cli.flags import parse_args, to_c_argv
    from nb_cli.stills import stills_jobs

    flags = [*CUBIC.split(), "-detpixels", "256", "-seed", "1234"]
    result = Result("stills_256", shots, shlex.join(flags), load=[_load()])
    with tempfile.TemporaryDirectory(prefix="nb-datasets-stills-") as tmp:
        root = Path(tmp)
        env = _env(threads, root / "kernels")
        (root / "kernels").mkdir()
        stills = [*NB, "stills", "--shots", str(shots), "--shot-seed", "1"]
        runs = {COLD: [*stills, *flags], "in-process": [*stills, *flags]}
        for count in workers:
            runs[f"{count} workers"] = [*stills, "--workers", str(count), *flags]
        for label, cmd in runs.items():
            folder = root / label.replace(" ", "_")
            folder.mkdir()
            result.nb_seconds[label] = _timed(cmd, folder, env)
        jobs = stills_jobs(flags, shots, seed=1)
        loop = root / "nb_loop"
        loop.mkdir()
        start = time.perf_counter()
        for job in jobs[:sample]:
            _timed([*NB, "simulate", *job.argv], loop, env)
        per_image = (time.perf_counter() - start) / max(1, min(sample, shots))
        result.nb_seconds["separate processes (extrapolated)"] = per_image * shots
        result.notes.append(f"separate nb processes: {sample} timed, times {shots / sample:g}")
        if c_bin is not None:
            argvs = [to_c_argv(parse_args(job.argv, read_headers=False)) for job in jobs]
            (root / "c").mkdir()
            result.c_seconds = _c_loop(c_bin, argvs, root / "c", env)
            image = "floatimage_00001.bin"
            result.rel_l2["shot 1"] = _rel_l2(root / "in-process" / image, root / "c" / image)
    result.load.append(_load())
    return result


def _ratio(c: float | None, nb: float) -> str:
    return f"{c / nb:.2f}" if c is not None and nb > 0 else "-"


def write_report(results: list[Result], threads: int, out: Path, command: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "datasets.json").write_text(json.dumps([asdict(r) for r in results], indent=1))
    machine = f"{platform.machine()} {os.cpu_count()} cores, {platform.platform()}"
    lines = [
        "# Benchmarks: data sets in one nb process against runs of the C program",
        "",
        f"Made by `NB_C_BIN=... python benchmarks/datasets.py` on {time.strftime('%Y-%m-%d %H:%M')}"
        f" ({machine}), {threads} threads for both programs. Times are whole-process wall times"
        " (nb: one process for the data set; C: one shell loop of one run per image, each"
        " image's own flags). 'auto' lets nb choose (a long data set renders through compiled"
        " kernels): first with an empty kernel cache (the kernels are built in that run), then"
        " with the kernels built; 'eager' is `-compile off`. The stills are also rendered on"
        " local Dask clusters of worker processes. The load average (1 min) before and after"
        " each case tells how busy the machine was.",
        "",
        f"Command: `{command}`",
        "",
        "| case | images | C (s) | nb run | nb (s) | C / nb | rel L2 vs C | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        l2 = ", ".join(f"{k}: {v:.1e}" for k, v in r.rel_l2.items()) or "-"
        c = f"{r.c_seconds:.1f}" if r.c_seconds is not None else "-"
        load = " / ".join(f"{x:.1f}" for x in r.load)
        for label, seconds in r.nb_seconds.items():
            row = [r.name, str(r.images), c, label, f"{seconds:.1f}", _ratio(r.c_seconds, seconds)]
            lines.append("| " + " | ".join([*row, l2, load]) + " |")
    lines += ["", "Flags of each case:", ""]
    lines += [f"- `{r.name}`: `{r.flags}`" + "".join(f" ({n})" for n in r.notes) for r in results]
    (out / "datasets.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--frames", type=int, default=100, help="frames of the cubic series")
    parser.add_argument("--pilatus-frames", type=int, default=20)
    parser.add_argument("--stills", type=int, default=1000, help="shots of the stills case")
    parser.add_argument("--workers", default="1,2", help="local Dask workers for the stills")
    parser.add_argument("--process-sample", type=int, default=10, help="separate nb runs timed")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cases", default="series,pilatus,stills")
    parser.add_argument("--c-bin", default=os.environ.get("NB_C_BIN"))
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    c_bin = Path(args.c_bin).resolve() if args.c_bin else None
    cases = set(args.cases.split(","))
    results = []
    if "series" in cases:
        flags = [*CUBIC.split(), "-detpixels", "1024", "-osc", "0.1", "-seed", "1234"]
        results.append(
            series_case("series_cubic_1024", flags, args.frames, [], c_bin, args.threads)
        )
        print(results[-1], flush=True)
    data = SHARED / "data"
    if "pilatus" in cases and (data / "pilatus6m_flags.txt").is_file():
        flags = shlex.split((data / "pilatus6m_flags.txt").read_text())
        inputs = [data / "A.mat", data / "scaled.hkl"]
        results.append(
            series_case("series_pilatus", flags, args.pilatus_frames, inputs, c_bin, args.threads)
        )
        print(results[-1], flush=True)
    if "stills" in cases:
        workers = [int(w) for w in args.workers.split(",") if w]
        results.append(stills_case(args.stills, workers, args.process_sample, c_bin, args.threads))
        print(results[-1], flush=True)
    command = shlex.join(["python", "benchmarks/datasets.py", *sys.argv[1:]])
    write_report(results, args.threads, args.out, command)


if __name__ == "__main__":
    main()
