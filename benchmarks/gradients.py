"""Cost of a gradient: forward + backward against the forward pass alone, on 512 x 512.

    .venv/bin/python benchmarks/gradients.py [--repeats 5] [--dtype float32 float64]

Each case renders a 512 x 512 detector through :class:`nb_core.model.Simulator` with every
geometry parameter trainable. "forward" is the render under ``torch.no_grad()`` (what
``nb simulate`` does); "forward + backward" renders with the autograd graph, forms a least
squares loss against a fixed image and calls ``backward()``. Times are the best of
``--repeats`` interleaved runs after one warm-up. Every case is measured twice, each time in
a fresh process: with :func:`nb_core.keep_freed_memory` (how ``nb simulate`` and ``nb refine``
run) and with glibc's default ``malloc`` settings. Writes ``reports/gradients/README.md`` and
``results.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from nb_cli.flags import parse_args
from nb_core.model import Simulator
from nb_core.resolve import load_inputs, resolve
from nb_core.runtime import keep_freed_memory

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "reports" / "gradients"

TRAINABLE = (
    "distance",
    "Xbeam",
    "Ybeam",
    "detector_rotx",
    "detector_roty",
    "detector_rotz",
    "twotheta",
    "cell",
    "misset",
    "Na",
    "Nb",
    "Nc",
    "lambda",
)

CASES = {
    "triclinic_512_os2": (
        "-cell 70 80 90 85 95 105 -lambda 1.5 -N 8 -misset 10 5 3 -default_F 100 "
        "-distance 100 -detpixels 512 -oversample 2"
    ),
    "mosaic_phi_512": (
        "-cell 70 80 90 85 95 105 -lambda 1 -N 5 -misset 10 5 3 -default_F 100 -distance 100 "
        "-detpixels 512 -mosaic 0.3 -mosaic_dom 4 -phi 0 -osc 1 -phisteps 3 -mosaic_seed 3"
    ),
}


def _best_seconds(fns: list[Callable[[], None]], repeats: int) -> list[float]:
    """Best wall time of each function over ``repeats`` interleaved runs, after a warm-up."""
    for fn in fns:
        fn()
    best = [math.inf] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t)
    return best


def measure(flags: str, dtype: torch.dtype, repeats: int) -> dict[str, float]:
    """Forward and forward + backward times (s) of one case.

    Args:
        flags: nanoBragg flags.
        dtype: Floating dtype of the render.
        repeats: Timed runs per measurement.

    Returns:
        ``forward_s``, ``forward_backward_s`` and their ratio.
    """
    parsed = parse_args(flags.split())
    exp = resolve(parsed.settings, load_inputs(parsed.settings), dtype=dtype)
    sim = Simulator(exp, TRAINABLE)
    with torch.no_grad():
        target = sim().detach() * 1.01

    def forward() -> None:
        with torch.no_grad():
            sim()

    def forward_backward() -> None:
        sim.zero_grad(set_to_none=True)
        loss = ((sim() - target) ** 2).sum()
        loss.backward()

    fwd, both = _best_seconds([forward, forward_backward], repeats)
    grads = [p.grad for p in sim.parameters()]
    finite = all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    return {
        "forward_s": fwd,
        "forward_backward_s": both,
        "ratio": both / fwd,
        "gradients_finite": finite,
    }


ALLOCATORS = {
    "keep": "nb_core.keep_freed_memory() (as nb simulate / nb refine run)",
    "default": "glibc defaults",
}


def _child(allocator: str, dtypes: list[str], repeats: int) -> None:
    """Measure every case in this process and print the results as one JSON line."""
    if allocator == "keep":
        keep_freed_memory()
    results = []
    for name, flags in CASES.items():
        for dt in dtypes:
            r = measure(flags, getattr(torch, dt), repeats)
            r.update(case=name, dtype=dt, flags=flags, allocator=allocator)
            results.append(r)
    print(json.dumps(results))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dtype", nargs="*", default=["float32", "float64"])
    parser.add_argument("--child", choices=sorted(ALLOCATORS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.dtype, args.repeats)
        return
    results = []
    for allocator in ALLOCATORS:
        cmd = [sys.executable, __file__, "--child", allocator, "--repeats", str(args.repeats)]
        out = subprocess.run(
            [*cmd, "--dtype", *args.dtype], check=True, capture_output=True, text=True
        ).stdout
        for r in json.loads(out.strip().splitlines()[-1]):
            results.append(r)
            print(
                f"{r['case']} {r['dtype']} ({allocator}): forward {r['forward_s']:.3f} s, "
                f"forward+backward {r['forward_backward_s']:.3f} s, ratio {r['ratio']:.2f}",
                flush=True,
            )
    OUT.mkdir(parents=True, exist_ok=True)
    machine = {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    (OUT / "results.json").write_text(
        json.dumps({"machine": machine, "trainable": TRAINABLE, "results": results}, indent=2)
        + "\n"
    )
    lines = [
        "# Gradient cost: forward + backward against forward",
        "",
        "Made by `.venv/bin/python benchmarks/gradients.py`. 512 x 512 detector, every geometry",
        f"parameter trainable ({', '.join(TRAINABLE)}); best of {args.repeats} interleaved runs",
        f"after a warm-up; {machine['torch_threads']} torch threads, torch {machine['torch']}.",
        "Each allocator setting is measured in its own process.",
        "",
        "| case | dtype | allocator | forward (s) | forward + backward (s) | ratio | gradients finite |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['case']} | {r['dtype']} | {r['allocator']} | {r['forward_s']:.3f} | "
            f"{r['forward_backward_s']:.3f} | {r['ratio']:.2f} | {r['gradients_finite']} |"
        )
    lines += ["", "Allocator settings:", ""]
    lines += [f"- `{key}`: {text}" for key, text in ALLOCATORS.items()]
    lines += ["", "Flags:", ""]
    lines += [f"- `{name}`: `{flags}`" for name, flags in CASES.items()]
    (OUT / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {OUT / 'README.md'}")


if __name__ == "__main__":
    main()
