"""Cost of a sparse render: 5% of a 1024 x 1024 detector against the full render.

    .venv/bin/python benchmarks/sparse.py [--repeats 3] [--threads 1] [--dtype float32 float64]

For each case and dtype, in one process with the same threads: the full ``render`` and
``render_sparse`` of three pixel sets, all under ``torch.no_grad()``:

- "spots 5%": the 5% of the pixels with the most predicted photons (the coarse prediction of
  :func:`nb_core.spots.predict_spots`): pixels clustered around the spots, as a fit uses;
- "random 5%": 5% of the pixels drawn uniformly;
- "selection": what :func:`nb_core.spots.spot_pixels` selects with its defaults (its own
  share of the detector, listed).

The selection itself (``spot_pixels``) is timed too. Times are the best of ``--repeats``
interleaved runs (in a rotated order each time) after one warm-up, as wall time and as process
CPU time; the report gives
ratios to the full render measured in the same run. Writes ``reports/benchmarks/sparse.md`` and ``sparse.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from nb_cli.flags import parse_args
from nb_core import render, render_sparse
from nb_core.params import Experiment
from nb_core.resolve import load_inputs, resolve
from nb_core.runtime import keep_freed_memory
from nb_core.spots import predict_spots, spot_pixels

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "reports" / "benchmarks"
SHARE = 0.05
TRICLINIC = (
    "-cell 70 80 90 85 95 105 -misset 10 5 3 -lambda 1 -N 15 -default_F 100 "
    "-detpixels 1024 -pixel 0.1 -distance 100 -phisteps 3 -osc 0.3"
)
CASES = {
    "triclinic_1024_N15_os2_phi3": f"{TRICLINIC} -oversample 2",
    "triclinic_1024_N15_default_os_phi3": TRICLINIC,
}


def experiment(flags: str, dtype: torch.dtype) -> Experiment:
    parsed = parse_args(flags.split())
    return resolve(parsed.settings, load_inputs(parsed.settings), dtype=dtype)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    """Wall time and process CPU time (all threads) of one run (s)."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def pixel_sets(exp: Experiment) -> dict[str, torch.Tensor]:
    """The pixel sets of the benchmark, by name."""
    params, static = exp.params, exp.static
    npixels = static.spixels * static.fpixels
    count = int(SHARE * npixels)
    photons = predict_spots(params, static).photons.reshape(-1)
    spots = photons.topk(count).indices.sort().values
    generator = torch.Generator().manual_seed(0)
    random = torch.randperm(npixels, generator=generator)[:count].sort().values
    return {"spots 5%": spots, "random 5%": random, "selection": spot_pixels(params, static).pixels}


def measure(name: str, flags: str, dtype: torch.dtype, repeats: int) -> dict[str, object]:
    """Full and sparse render times of one case in one dtype."""
    exp = experiment(flags, dtype)
    params, static = exp.params, exp.static
    with torch.no_grad():
        sets = pixel_sets(exp)
        full = render(params, static).reshape(-1)  # warm-up, and the reference values
        for pixels in sets.values():
            values = render_sparse(params, static, pixels)
            worst = ((values - full[pixels]).abs() / full[pixels].abs().clamp_min(1e-30)).max()
            assert float(worst) < (1e-10 if dtype == torch.float64 else 1e-4), float(worst)
        runs: dict[str, Callable[[], object]] = {
            "full": lambda: render(params, static),
            "select": lambda: spot_pixels(params, static),
        }
        for key, pixels in sets.items():
            runs[key] = lambda pixels=pixels: render_sparse(params, static, pixels)
        names = list(runs)
        times: dict[str, list[tuple[float, float]]] = {key: [] for key in names}
        for repeat in range(repeats):
            # Interleaved, each repeat in another order: no run always follows the same one.
            for key in names[repeat % len(names) :] + names[: repeat % len(names)]:
                times[key].append(timed(runs[key]))
    best = {key: min(wall for wall, _ in values) for key, values in times.items()}
    cpu = {key: min(used for _, used in values) for key, values in times.items()}
    npixels = static.spixels * static.fpixels
    return {
        "case": name,
        "dtype": str(dtype).removeprefix("torch."),
        "flags": flags,
        "oversample": static.oversample,
        "evaluations_per_pixel": static.evaluations_per_pixel,
        "full_s": best["full"],
        "full_cpu_s": cpu["full"],
        "select_s": best["select"],
        "select_cpu_s": cpu["select"],
        "sets": {
            key: {
                "pixels": int(pixels.shape[0]),
                "share": int(pixels.shape[0]) / npixels,
                "sparse_s": best[key],
                "sparse_cpu_s": cpu[key],
                "ratio": best[key] / best["full"],
                "cpu_ratio": cpu[key] / cpu["full"],
            }
            for key, pixels in sets.items()
        },
        "select_ratio": best["select"] / best["full"],
        "select_cpu_ratio": cpu["select"] / cpu["full"],
    }


def report(rows: list[dict[str, object]], threads: int, repeats: int) -> str:
    """The markdown report."""
    lines = [
        "# Sparse rendering: 5% of a 1024 x 1024 detector against the full render",
        "",
        f"Made by `python benchmarks/sparse.py` on {time.strftime('%Y-%m-%d %H:%M')} "
        f"({platform.machine()}, {threads} torch threads, best of {repeats} interleaved runs "
        "in rotated orders after a warm-up, all in one process, no gradients). The machine "
        "(2 cores) was shared with "
        "other jobs while it ran: only the ratios, measured in the same run, mean anything. "
        "Acceptance: a 5% sparse render costs at most 10% of the full render.",
        "",
        "| case | dtype | evals/pixel | pixel set | share | sparse / full, wall | sparse / full, "
        "CPU | spot_pixels / full, wall | spot_pixels / full, CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        sets = row["sets"]
        assert isinstance(sets, dict)
        for key, entry in sets.items():
            lines.append(
                f"| {row['case']} | {row['dtype']} | {row['evaluations_per_pixel']} | {key} | "
                f"{entry['share']:.3f} | {entry['ratio']:.3f} | {entry['cpu_ratio']:.3f} | "
                f"{row['select_ratio']:.3f} | {row['select_cpu_ratio']:.3f} |"
            )
    lines += [
        "",
        "- *spots 5%*: the 5% of the pixels with the most photons in the coarse prediction "
        "(`nb_core.spots.predict_spots`), clustered around the spots as a fit's pixels are; "
        "*random 5%*: drawn uniformly; *selection*: `spot_pixels` with its defaults (its own "
        "share).",
        "- *wall*: best wall time of the runs; *CPU*: best process CPU time (all threads), "
        "which other jobs on the machine disturb less.",
        "- *spot_pixels / full*: the cost of choosing the pixels (one evaluation per pixel "
        "centre and phi step), to be paid again whenever the model has moved far.",
        "- Every sparse render was checked against the full render at its pixels (float64 "
        "relative 1e-10, float32 1e-4) before timing.",
        "",
        "Flags and absolute times are in `sparse.json`.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description="Sparse against full render, 1024 x 1024.")
    parser.add_argument("--repeats", type=int, default=3)
    # One thread by default: on a machine shared with other jobs, more threads than free
    # cores make every run wait at OpenMP barriers, and the times say little.
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--dtype", nargs="+", default=["float64", "float32"])
    parser.add_argument("--case", nargs="+", default=list(CASES), choices=list(CASES))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()
    rows = []
    for name in args.case:
        for dtype_name in args.dtype:
            row = measure(name, CASES[name], getattr(torch, dtype_name), args.repeats)
            sets = row["sets"]
            assert isinstance(sets, dict)
            ratios = ", ".join(
                f"{key} {entry['ratio']:.3f} (CPU {entry['cpu_ratio']:.3f})"
                for key, entry in sets.items()
            )
            print(f"{name} {dtype_name}: full {row['full_s']:.2f} s; {ratios}", flush=True)
            rows.append(row)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "sparse.json").write_text(
        json.dumps({"threads": args.threads, "repeats": args.repeats, "rows": rows}, indent=2)
        + "\n"
    )
    (OUT / "sparse.md").write_text(report(rows, args.threads, args.repeats))


if __name__ == "__main__":
    main()
