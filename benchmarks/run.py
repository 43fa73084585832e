"""Time ``nb simulate`` against the nanoBragg C binary on the same flags.

    NB_C_BIN=/path/to/nanoBragg .venv/bin/python benchmarks/run.py [--threads 2] [--repeats 2]

Every run is a whole process (start-up, reading inputs and writing outputs included), timed
from outside, with the same thread count for both programs (``OMP_NUM_THREADS``; torch reads
it too). The C and nb runs of a case alternate. nb is warmed up once per case first (a case
that compiles builds its kernel then, in a kernel cache of this run's own, empty at the
start: ``NB_KERNEL_CACHE``); the time of that cold run is reported apart.
Writes ``reports/benchmarks/README.md``, ``results.json`` and ``throughput.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
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

#: Wrapper that runs a command and reports its wall time and peak memory as JSON.
_TIMER = (
    "import json, resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "dt = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps({'seconds': dt, 'peak_bytes': rss, 'code': p.returncode, "
    "'stderr': p.stderr.decode(errors='replace')[-2000:]}))\n"
)


@dataclass(frozen=True)
class Case:
    """A benchmark case.

    Attributes:
        name: Short name.
        flags: nanoBragg flags.
        inputs: Files the flags read (copied into the run folder).
        c: Whether to run the C program too.
        dtypes: nb dtypes to time.
        size: Detector edge (pixels) for the throughput plot, if this is a sweep point.
        all_outputs: Write every default output (the Poisson noise image and the PGM too);
            otherwise both programs run with ``-nonoise -nopgm``.
    """

    name: str
    flags: tuple[str, ...]
    inputs: tuple[Path, ...] = ()
    c: bool = True
    dtypes: tuple[str, ...] = ("float32",)
    size: int | None = None
    all_outputs: bool = False


def _cases() -> list[Case]:
    cubic = "-cell 100 100 100 90 90 90 -lambda 1 -N 10 -default_F 100 -distance 100"
    cases = [
        Case("1_cubic_1024", tuple(f"{cubic} -detpixels 1024".split()), size=1024),
        Case(
            "1_cubic_1024_all_outputs",
            tuple(f"{cubic} -detpixels 1024 -seed 1234".split()),
            all_outputs=True,
        ),
        Case(
            "2_triclinic_512_os2",
            tuple(
                "-cell 70 80 90 85 95 105 -lambda 1.5 -N 8 -misset 10 5 3 -default_F 100 -distance 100 -detpixels 512 -oversample 2".split()
            ),
        ),
        Case(
            "3_mosaic_phi_dispersion_1024",
            tuple(
                "-cell 70 80 90 85 95 105 -lambda 1 -N 5 -default_F 100 -distance 100 -detpixels 1024 -mosaic 0.3 -mosaic_dom 10 -phi 0 -osc 1 -phisteps 5 -dispersion 0.5 -dispsteps 3 -mosaic_seed 3".split()
            ),
            dtypes=("float32", "float64"),
        ),
    ]
    data = SHARED / "data"
    if (data / "pilatus6m_flags.txt").is_file():
        flags = tuple(shlex.split((data / "pilatus6m_flags.txt").read_text()))
        cases.append(Case("4_pilatus6m", flags, (data / "A.mat", data / "scaled.hkl")))
    for size in (256, 512, 2048):
        cases.append(
            Case(f"sweep_cubic_{size}", tuple(f"{cubic} -detpixels {size}".split()), size=size)
        )
    cases.append(
        Case("5_memory_4096_os2", tuple(f"{cubic} -detpixels 4096 -oversample 2".split()), c=False)
    )
    return cases


@dataclass
class Timing:
    """Measurements of one program on one case."""

    seconds: list[float] = field(default_factory=list)
    peak_bytes: int = 0
    cold_seconds: float | None = None

    @property
    def best(self) -> float:
        return min(self.seconds) if self.seconds else float("nan")

    @property
    def median(self) -> float:
        return statistics.median(self.seconds) if self.seconds else float("nan")


def _timed(cmd: list[str], cwd: Path, threads: int) -> dict[str, object]:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = subprocess.run(
        [sys.executable, "-c", _TIMER, *cmd],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout)
    if result["code"] != 0:
        raise RuntimeError(f"{cmd[0]} failed ({result['code']}): {result['stderr']}")
    return result


def _evaluations(
    flags: tuple[str, ...], inputs: tuple[Path, ...], workdir: Path
) -> tuple[int, int]:
    """Sub-pixel evaluations of a case and its pixel count, as nb resolves it."""
    from nb_cli.flags import parse_args
    from nb_core.resolve import load_inputs, resolve

    parsed = parse_args(list(flags))
    exp = resolve(parsed.settings, load_inputs(parsed.settings, workdir=workdir))
    st = exp.static
    pixels = st.fpixels * st.spixels
    return pixels * st.evaluations_per_pixel, pixels


def run_case(case: Case, c_bin: Path | None, threads: int, repeats: int) -> dict[str, object]:
    nb = shutil.which("nb", path=str(Path(sys.executable).parent)) or "nb"
    with tempfile.TemporaryDirectory(prefix=f"nb-bench-{case.name}-") as tmp:
        work = Path(tmp)
        for path in case.inputs:
            shutil.copy(path, work / path.name)
        evals, pixels = _evaluations(case.flags, case.inputs, work)
        common = ["-noprogress"] if case.all_outputs else ["-nonoise", "-nopgm", "-noprogress"]
        c_cmd = (
            [str(c_bin), *case.flags, *common, "-floatfile", "c.bin", "-intfile", "c.img"]
            if c_bin
            else None
        )
        nb_cmds = {
            dt: [
                nb,
                "simulate",
                *case.flags,
                *common,
                "-floatfile",
                f"nb_{dt}.bin",
                "-intfile",
                "nb.img",
                "-dtype",
                dt,
            ]
            for dt in case.dtypes
        }
        timings: dict[str, Timing] = {}
        for dt, cmd in nb_cmds.items():
            t = timings.setdefault(f"nb_{dt}", Timing())
            t.cold_seconds = float(_timed(cmd, work, threads)["seconds"])  # type: ignore[arg-type]
        for _ in range(repeats):
            if c_cmd is not None and case.c:
                r = _timed(c_cmd, work, threads)
                t = timings.setdefault("c", Timing())
                t.seconds.append(float(r["seconds"]))  # type: ignore[arg-type]
                t.peak_bytes = max(t.peak_bytes, int(r["peak_bytes"]))  # type: ignore[arg-type]
            for dt, cmd in nb_cmds.items():
                r = _timed(cmd, work, threads)
                t = timings[f"nb_{dt}"]
                t.seconds.append(float(r["seconds"]))  # type: ignore[arg-type]
                t.peak_bytes = max(t.peak_bytes, int(r["peak_bytes"]))  # type: ignore[arg-type]
        parity: dict[str, float] = {}
        if (work / "c.bin").is_file():
            ref = np.fromfile(work / "c.bin", dtype="<f4").astype(np.float64)
            for dt in case.dtypes:
                img = np.fromfile(work / f"nb_{dt}.bin", dtype="<f4").astype(np.float64)
                denom = float(np.linalg.norm(ref)) or 1.0
                parity[f"rel_l2_{dt}"] = float(np.linalg.norm(img - ref)) / denom
                parity[f"max_rel_{dt}"] = float(np.abs(img - ref).max()) / (
                    float(np.abs(ref).max()) or 1.0
                )
    return {
        "case": case.name,
        "flags": " ".join(case.flags),
        "evaluations": evals,
        "pixels": pixels,
        "size": case.size,
        "timings": {
            k: {**asdict(v), "best": v.best, "median": v.median} for k, v in timings.items()
        },
        "parity": parity,
    }


def _write(results: list[dict[str, object]], threads: int, command: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    OUT.mkdir(parents=True, exist_ok=True)
    meta = {
        "command": command,
        "threads": threads,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.processor() or platform.platform()}",
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    (OUT / "results.json").write_text(
        json.dumps({"meta": meta, "results": results}, indent=2) + "\n"
    )
    lines = [
        "# Benchmarks: nb simulate against the nanoBragg C program",
        "",
        f"Made by `{command}` on {meta['date']} ({meta['machine']}), {threads} threads for both",
        "programs. Times are whole-process wall times (start-up, inputs and outputs included), best",
        "of the repeats; C and nb runs alternate. nb's first (cold) run of each case is listed apart:",
        "it builds the ahead-of-time kernel package (nb_core.kernels) when a case compiles (the",
        "run uses a kernel cache of its own, empty at the start). Both programs run with `-nonoise",
        "-nopgm` except in `*_all_outputs`, which writes every default output (the Poisson noise",
        "image and the PGM as well).",
        "",
        "| case | evaluations | C (s) | nb float32 (s) | C / nb | nb float64 (s) | C / nb f64 | nb cold (s) | Mevals/s nb | peak MB C | peak MB nb | rel L2 f32 | rel L2 f64 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        t = r["timings"]  # type: ignore[index]
        c = t.get("c", {})  # type: ignore[union-attr]
        f32 = t.get("nb_float32", {})  # type: ignore[union-attr]
        f64 = t.get("nb_float64", {})  # type: ignore[union-attr]
        p = r["parity"]  # type: ignore[index]

        def fmt(x: object, spec: str = ".2f") -> str:
            return format(x, spec) if isinstance(x, float) and x == x else "-"

        c_best = c.get("best") if c else None
        ratio32 = c_best / f32["best"] if c_best and f32 else None
        ratio64 = c_best / f64["best"] if c_best and f64 else None
        mevals = r["evaluations"] / f32["best"] / 1e6 if f32 else None  # type: ignore[operator]
        lines.append(
            f"| {r['case']} | {r['evaluations']:.3g} | {fmt(c_best)} | {fmt(f32.get('best'))} | {fmt(ratio32)} | "
            f"{fmt(f64.get('best'))} | {fmt(ratio64)} | {fmt(f32.get('cold_seconds'))} | {fmt(mevals, '.1f')} | "
            f"{fmt(c.get('peak_bytes', 0) / 2**20 if c else None, '.0f')} | {fmt(f32.get('peak_bytes', 0) / 2**20, '.0f')} | "
            f"{fmt(p.get('rel_l2_float32'), '.1e')} | {fmt(p.get('rel_l2_float64'), '.1e')} |"
        )
    sweep = sorted((r for r in results if r["size"]), key=lambda r: r["size"])  # type: ignore[arg-type,return-value]
    if sweep:
        fig, ax = plt.subplots(figsize=(6, 4))
        sizes = [r["size"] for r in sweep]
        for key, label in (("nb_float32", "nb float32"), ("c", "C (nanoBragg)")):
            ys = [
                r["evaluations"] / r["timings"][key]["best"] / 1e6
                for r in sweep
                if key in r["timings"]
            ]  # type: ignore[index,operator]
            xs = [r["size"] for r in sweep if key in r["timings"]]  # type: ignore[operator]
            if ys:
                ax.plot(xs, ys, marker="o", label=label)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [f"{s}²" for s in sizes])
        ax.set_xlabel("detector size (pixels), cubic case 1 geometry")
        ax.set_ylabel("sub-pixel evaluations / s (millions)")
        ax.set_title(f"Throughput, whole process, {threads} threads")
        ax.legend()
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(OUT / "throughput.png", dpi=100)
        plt.close(fig)
        lines += ["", "![throughput](throughput.png)"]
    lines += ["", "Flags of each case are in `results.json`.", ""]
    (OUT / "README.md").write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="case names (prefix match)")
    parser.add_argument("--c-bin", default=os.environ.get("NB_C_BIN"))
    args = parser.parse_args()
    c_bin = Path(args.c_bin) if args.c_bin else None
    if c_bin is None:
        print("note: NB_C_BIN is not set; timing nb alone", file=sys.stderr)
    results = []
    # A kernel cache of this run's own: nb's cold runs build what they compile, and kernels
    # left in the user's cache by earlier jobs cannot make a case faster than a first run.
    kernel_cache = tempfile.TemporaryDirectory(prefix="nb-bench-kernels-")
    os.environ["NB_KERNEL_CACHE"] = kernel_cache.name
    for case in _cases():
        if args.only and not any(case.name.startswith(o) for o in args.only):
            continue
        print(f"== {case.name}", flush=True)
        result = run_case(case, c_bin, args.threads, args.repeats)
        print(json.dumps(result["timings"], indent=None), flush=True)
        results.append(result)
    command = "NB_C_BIN=... " + " ".join(["python", "benchmarks/run.py", *sys.argv[1:]])
    _write(results, args.threads, command)
    kernel_cache.cleanup()
    print(f"wrote {OUT}/README.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
