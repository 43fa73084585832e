"""Cost of a job before it runs: lattice evaluations, render time and peak memory.

A render evaluates the lattice once per pixel (inside the ROI), sub-pixel, sensor layer,
source, phi step and mosaic domain: :func:`estimate_cost` multiplies these counts out and turns
them into an estimated time and the memory the run will hold at its busiest, and
:func:`check_cost` refuses a job that would not fit in memory or would run for hours. Both run
before anything large is allocated: :func:`check_counts` is called by ``resolve`` as soon as the
step counts are decided, before the source, phi and mosaic arrays are built.

The constants below were measured on the 2-thread x86-64 machine nb is developed on (torch
2.13 CPU, eager render through ``nb_core.render``, best of three renders, the machine shared
with other jobs), by rendering with the Python API and dividing counts by seconds:

- Lattice evaluations: 256 x 256 pixels x 50 mosaic domains x 10 phi steps (3.3e7
  evaluations, with a 29791-reflection HKL grid) in 0.62 s in float32 (53 million per second:
  2.7e7 per thread) and 1.05 s in float64 (31 million per second: 1.5e7 per thread); without
  the grid, with divergence and dispersion or with sensor layers 53-64 million per second.
  Tricubic interpolation: 2.3 million per second in float32, 20 times slower.
- Sub-pixels (the per-sample geometry that every evaluation of a sub-pixel shares): 1024 x 1024
  pixels at ``-oversample 2`` in 0.124 s in float32 (34 million per second: 1.7e7 per thread)
  and 0.275 s in float64 (15 million per second: 7.5e6 per thread).
- Memory: ``nb simulate`` on 2048 x 2048 pixels writing every output peaked 351 MB (float32)
  and 451 MB (float64) above its start-up size: 84 and 107 bytes per pixel. A render chunk
  holds about 120 bytes per lattice evaluation in float32 (a 1.6 million-evaluation chunk
  peaked 200 MB above start-up, a 480 000-evaluation one 58 MB); tricubic interpolation holds
  16 times more per evaluation (its chunks are 16 times smaller).

The compiled kernel is not modelled apart: on the CPU it runs at about the eager speed (the
benchmark report's 67 million evaluations per second), so the estimate serves both.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nb_core.errors import InputError
from nb_core.io._atomic import describe_bytes

if TYPE_CHECKING:
    import torch

    from nb_core.params import Static

__all__ = [
    "MEMORY_FRACTION",
    "TIME_LIMIT_S",
    "Cost",
    "available_memory",
    "check_cost",
    "check_counts",
    "count_flags",
    "estimate_cost",
]

#: Largest count the model multiplies (any count above it is refused anyway).
COUNT_CAP = 10**18
#: Share of the available memory a job may plan to use.
MEMORY_FRACTION = 0.8
#: Longest estimated render (s) ``nb simulate`` starts without ``-force``.
TIME_LIMIT_S = 3600.0

#: Lattice evaluations per second per CPU thread, eager render, by bytes per float.
EVALUATIONS_PER_THREAD_S = {4: 2.7e7, 8: 1.5e7}
#: Sub-pixel samples (pixels x sub-pixels x layers) per second per CPU thread, eager render.
SUBPIXELS_PER_THREAD_S = {4: 1.7e7, 8: 7.5e6}
#: Speed-up assumed on a CUDA device over one CPU thread (not measured: a conservative
#: guess for a current data-centre GPU).
CUDA_SPEEDUP = 100.0
#: Bytes held per lattice evaluation in a render chunk, by bytes per float.
BYTES_PER_EVALUATION = {4: 128, 8: 256}
#: Extra factor on the chunk memory with tricubic interpolation (a 4 x 4 x 4 neighbourhood).
INTERPOLATION_MEMORY = 16
#: Slow-down of a lattice evaluation with tricubic interpolation.
INTERPOLATION_TIME = 20
#: Bytes per detector pixel of the full-image buffers (render output, float32 copy, statistics,
#: integer, noise and PGM images, mask), by bytes per float.
IMAGE_BYTES_PER_PIXEL = {4: 88, 8: 112}
#: Bytes ``resolve`` holds per source (positions, wavelength, its printed line).
BYTES_PER_SOURCE = 160
#: Bytes ``resolve`` holds per phi step (angle, step maps, printed line).
BYTES_PER_PHI_STEP = 160
#: Bytes ``resolve`` holds per mosaic domain (axis, fraction, umat, in float64 and the dtype).
BYTES_PER_DOMAIN = 256
#: Bytes per sensor layer (its printed line).
BYTES_PER_LAYER = 96
#: Copies of the ``(phi, domain, 3, 3)`` rotated lattice the render holds at once.
LATTICE_COPIES = 4
#: Seconds ``resolve`` spends per source, mosaic domain and phi step (its Python loops).
SETUP_SECONDS = {"sources": 4e-6, "mosaic domains": 6e-6, "phi steps": 2e-6}


@dataclass(frozen=True)
class Cost:
    """What a job will take.

    Attributes:
        factors: ``(what, count, flag)`` for each factor of the evaluation count: rendered
            pixels, sub-pixels per pixel, sensor layers, sources, phi steps, mosaic domains.
        evaluations: Lattice evaluations: the product of the counts.
        seconds: Estimated time (s) of the render and of the loops that set it up.
        threads: CPU threads the estimate assumes (0 on a CUDA device).
        detector: ``(fast, slow)`` pixels of the whole detector.
        image_bytes: Full-image buffers (bytes).
        chunk_bytes: The largest render chunk (bytes).
        grid_bytes: Structure-factor grid copies still to be made (bytes).
        setup_bytes: Sources, phi steps, mosaic domains and rotated lattices (bytes).
        device: Where the render runs (``"cpu"``, ``"cuda"``, ...).
    """

    factors: tuple[tuple[str, int, str], ...]
    evaluations: int
    seconds: float
    threads: int
    detector: tuple[int, int]
    image_bytes: int
    chunk_bytes: int
    grid_bytes: int
    setup_bytes: int
    device: str = "cpu"

    @property
    def peak_bytes(self) -> int:
        """Memory the job holds at its busiest (bytes)."""
        return self.image_bytes + self.chunk_bytes + self.grid_bytes + self.setup_bytes

    def count(self, what: str) -> int:
        """The count of one factor (``"sources"``, ``"phi steps"``, ...)."""
        return next(n for name, n, _ in self.factors if name == what)


def available_memory() -> int:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``).

    Returns:
        The bytes; where the system does not say, the free physical pages, else 1 TiB.
    """
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 1 << 40


def _roi_pixels(static: Static) -> int:
    xmin, xmax, ymin, ymax = static.roi
    fast = max(0, min(xmax, static.fpixels - 1) - max(xmin, 0) + 1)
    slow = max(0, min(ymax, static.spixels - 1) - max(ymin, 0) + 1)
    return fast * slow


def estimate_cost(
    static: Static,
    *,
    dtype: torch.dtype,
    device: str = "cpu",
    grid_points: int = 0,
    writes_dump: bool = False,
    compiled: bool = False,
    flags: dict[str, str] | None = None,
    threads: int | None = None,
) -> Cost:
    """The evaluations, time and memory of rendering ``static`` and writing its images.

    Args:
        static: The job's static options (counts, ROI, interpolation).
        dtype: Floating dtype of the render (``torch.float32`` or ``torch.float64``).
        device: Where the render runs.
        grid_points: Points of the structure-factor grid (0 without one).
        writes_dump: Whether the run writes the grid to a dump file (three more copies of it).
        compiled: Whether chunks run through the compiled kernel (larger chunks).
        flags: The flag to name for a factor (``{"sources": "-dispsteps"}``), over the defaults,
            and where a key ends in ``" detail"``, words saying where the count comes from.
        threads: CPU threads (default: torch's intra-op thread count).

    Returns:
        The cost.
    """
    from nb_core.render import COMPILED_MAX_EVALUATIONS, DEFAULT_MAX_EVALUATIONS

    size = 8 if str(dtype).endswith("float64") else 4
    counts = _capped_counts(static)
    pixels = counts["pixels"]
    per_pixel = math.prod(n for what, n in counts.items() if what != "pixels")
    evaluations = pixels * per_pixel
    interpolated = static.interpolate and static.has_hkl
    budget = COMPILED_MAX_EVALUATIONS if compiled else DEFAULT_MAX_EVALUATIONS
    samples = pixels * counts["sub-pixels"] * counts["sensor layers"]
    slow = INTERPOLATION_TIME if interpolated else 1
    seconds = _render_seconds(evaluations * slow, samples, size, device, threads)
    seconds += sum(counts[what] * each for what, each in SETUP_SECONDS.items())
    return Cost(
        factors=_named_factors(counts, {**_DEFAULT_FLAGS, **(flags or {})}),
        evaluations=evaluations,
        seconds=seconds,
        threads=0 if device.startswith("cuda") else _threads(threads),
        detector=(static.fpixels, static.spixels),
        image_bytes=static.fpixels * static.spixels * IMAGE_BYTES_PER_PIXEL[size],
        chunk_bytes=_chunk_bytes(pixels, per_pixel, size, budget, interpolated),
        grid_bytes=grid_points * (2 * size + (24 if writes_dump else 0)),
        setup_bytes=_setup_bytes(counts, size),
        device=device,
    )


def _capped_counts(static: Static) -> dict[str, int]:
    """The six factors of the evaluation count, each capped at :data:`COUNT_CAP`.

    The cap lies far above any limit, so that products stay within float range (an
    automatic oversampling from a huge crystal can be a 300-digit integer).
    """
    return {
        what: min(int(n), COUNT_CAP)
        for what, n in (
            ("pixels", _roi_pixels(static)),
            ("sub-pixels", static.subpixels),
            ("sensor layers", static.layers),
            ("sources", static.sources),
            ("phi steps", static.phisteps),
            ("mosaic domains", static.mosaic_domains),
        )
    }


def _named_factors(
    counts: dict[str, int], names: dict[str, str]
) -> tuple[tuple[str, int, str], ...]:
    """``(what, count, flag)`` per factor; ``what`` carries its ``" detail"`` words if any."""
    return tuple(
        (
            f"{what} ({names[what + ' detail']})" if what + " detail" in names else what,
            int(n),
            names[what],
        )
        for what, n in counts.items()
    )


def _chunk_bytes(pixels: int, per_pixel: int, size: int, budget: int, interpolated: bool) -> int:
    """Bytes of the largest render chunk: as many whole pixels (of ``per_pixel`` evaluations)
    as ``budget`` evaluations hold; tricubic interpolation makes chunks smaller and heavier."""
    if interpolated:
        budget //= INTERPOLATION_MEMORY
    chunk_pixels = min(max(1, budget // max(1, per_pixel)), max(pixels, 1))
    per_evaluation = BYTES_PER_EVALUATION[size] * (INTERPOLATION_MEMORY if interpolated else 1)
    return chunk_pixels * per_pixel * per_evaluation


def _setup_bytes(counts: dict[str, int], size: int) -> int:
    """Bytes of the sources, phi steps, mosaic domains, layers and rotated lattices."""
    sources, phisteps, domains = (counts[k] for k in ("sources", "phi steps", "mosaic domains"))
    return (
        sources * BYTES_PER_SOURCE
        + phisteps * BYTES_PER_PHI_STEP
        + domains * BYTES_PER_DOMAIN
        + counts["sensor layers"] * BYTES_PER_LAYER
        + phisteps * domains * 9 * size * LATTICE_COPIES
    )


_DEFAULT_FLAGS = {
    "pixels": "-detpixels",
    "sub-pixels": "-oversample",
    "sensor layers": "-thicksteps",
    "sources": "-divsteps",
    "phi steps": "-phisteps",
    "mosaic domains": "-mosaic_domains",
}


def _threads(threads: int | None) -> int:
    if threads is not None:
        return max(1, int(threads))
    import torch

    return max(1, torch.get_num_threads())


def _render_seconds(
    evaluations: int, samples: int, size: int, device: str, threads: int | None
) -> float:
    speed = CUDA_SPEEDUP if device.startswith("cuda") else float(_threads(threads))
    return evaluations / (EVALUATIONS_PER_THREAD_S[size] * speed) + samples / (
        SUBPIXELS_PER_THREAD_S[size] * speed
    )


def check_cost(
    cost: Cost,
    *,
    force: bool = False,
    limit_s: float | None = TIME_LIMIT_S,
    available: int | None = None,
) -> None:
    """Refuse a job that would not fit in memory or would run too long.

    Memory over :data:`MEMORY_FRACTION` of what is available is always refused. On a CUDA
    device the image buffers count against the host's memory and the rest against the
    device's free memory.

    Args:
        cost: The job's cost.
        force: Run a job over the time limit anyway.
        limit_s: Longest estimated time (s) accepted without ``force``; None: no limit.
        available: Host memory available (bytes); default: :func:`available_memory`.

    Raises:
        InputError: One line naming the flag most responsible, the number it gave, the
            estimate and what would be accepted.
    """
    host = available_memory() if available is None else available
    if cost.device.startswith("cuda"):
        _check_memory(cost, cost.image_bytes, host, "host")
        _check_memory(cost, cost.peak_bytes - cost.image_bytes, _device_memory(cost.device), "GPU")
    else:
        _check_memory(cost, cost.peak_bytes, host, "")
    if limit_s is None or force or cost.seconds <= limit_s:
        return
    what, count, flag = _time_culprit(cost)
    product = " x ".join(f"{n} {name}" for name, n, _ in cost.factors if n != 1 or name == "pixels")
    where = f"{cost.threads} CPU threads" if cost.threads else cost.device
    raise InputError(
        f"{count} {what}: the run is {cost.evaluations:.3g} lattice evaluations ({product}), "
        f"an estimated {_duration(cost.seconds)} on {where}, over the {_duration(limit_s)} "
        "limit; add -force to run it anyway",
        flag,
    )


def check_counts(
    *,
    fpixels: int,
    spixels: int,
    roi: tuple[int, int, int, int],
    oversample: int,
    layers: int,
    sources: int,
    phisteps: int,
    domains: int,
    dtype: torch.dtype,
    device: str = "cpu",
    flags: dict[str, str] | None = None,
    limit_s: float | None = None,
) -> None:
    """Refuse step counts whose arrays or render would not fit, before they are built.

    Called by ``resolve`` once the counts are decided. The oversampling may not be known yet
    (``-oversample`` not given: at least 1), so the estimate is a lower bound. Memory is always
    checked; time only when ``limit_s`` is given.

    Args:
        fpixels: Detector pixels along the fast axis.
        spixels: Detector pixels along the slow axis.
        roi: Inclusive ``(xmin, xmax, ymin, ymax)`` pixels rendered.
        oversample: Sub-pixels per pixel edge (0 or less: not decided yet).
        layers: Sensor layers.
        sources: Beam sources.
        phisteps: Phi steps.
        domains: Mosaic domains.
        dtype: Floating dtype of the render.
        device: Where the render runs.
        flags: The flag to name for a factor (see :func:`estimate_cost`).
        limit_s: Longest estimated render (s) accepted; None: no time limit.

    Raises:
        InputError: The counts are too large (see :func:`check_cost`).
    """
    from nb_core.params import Static

    static = Static(
        fpixels=fpixels,
        spixels=spixels,
        oversample=max(1, oversample),
        layers=layers,
        sources=sources,
        phisteps=phisteps,
        mosaic_domains=domains,
        roi=roi,
    )
    cost = estimate_cost(static, dtype=dtype, device=device, flags=flags)
    check_cost(cost, limit_s=limit_s)


def count_flags(
    given: list[str], divergence_points: int, dispsteps: int, sourcefile: bool
) -> dict[str, str]:
    """The flags to name for the pixel and source counts, from the flags a user gave.

    Args:
        given: The flags given, in order (``Settings.given``).
        divergence_points: Divergence grid points (horizontal x vertical steps).
        dispsteps: Dispersion steps.
        sourcefile: Whether the sources come from ``-sourcefile``.

    Returns:
        ``{"pixels": flag, "sources": flag, "sources detail": words}``.
    """
    # The pixel count comes from -detpixels when given, else from -detsize over -pixel.
    pixel_flags = [f for f in given if f.startswith("-detpixels")]
    pixel_flags = pixel_flags or [f for f in given if f.startswith(("-detsize", "-pixel"))]
    if sourcefile:
        source = "-sourcefile"
    elif dispsteps > divergence_points:
        source = "-dispsteps"
    else:
        named = [f for f in given if f in ("-divsteps", "-hdivsteps", "-vdivsteps")]
        source = named[-1] if named else "-divsteps"
    names = {"pixels": pixel_flags[-1] if pixel_flags else "-detpixels", "sources": source}
    if "-oversample" not in given:
        names["sub-pixels detail"] = "automatic, from the crystal size and pixel; set -oversample"
    if not sourcefile and divergence_points > 1 and dispsteps > 1:
        names["sources detail"] = f"{divergence_points} divergence x {dispsteps} dispersion"
    elif not sourcefile and divergence_points > 1:
        names["sources detail"] = "divergence grid points"
    return names


def _check_memory(cost: Cost, need: int, available: int, which: str) -> None:
    if need <= MEMORY_FRACTION * available:
        return
    parts = {
        "images": cost.image_bytes,
        "render chunks": cost.chunk_bytes,
        "structure factors": cost.grid_bytes,
        "steps": cost.setup_bytes,
    }
    if which == "host":
        parts = {"images": cost.image_bytes}
    elif which == "GPU":
        parts.pop("images")
    largest = max(parts, key=lambda k: parts[k])
    what, count, flag = _memory_culprit(cost, largest)
    listed = ", ".join(f"{name} {describe_bytes(n)}" for name, n in parts.items() if n >= 1 << 20)
    memory = f"{which} memory" if which else "memory"
    raise InputError(
        f"{count} {what}: the run needs about {_gib(need)} of {memory} ({listed}), more than "
        f"{MEMORY_FRACTION:.0%} of the {_gib(available)} available",
        flag,
    )


def _memory_culprit(cost: Cost, part: str) -> tuple[str, int | str, str]:
    if part == "images":
        fast, slow = cost.detector
        return "pixels", f"{fast} x {slow}", cost.factors[0][2]
    if part == "structure factors":
        return "structure-factor bytes", cost.grid_bytes, "-hkl"
    return _largest_step(cost)


def _time_culprit(cost: Cost) -> tuple[str, int | str, str]:
    # Pixels are weighed against a 1024 x 1024 detector, the other counts against 1.
    steps = max(n for _, n, _ in cost.factors[1:])
    if steps <= 1 or cost.factors[0][1] / float(1 << 20) > steps:
        fast, slow = cost.detector
        return "pixels", f"{fast} x {slow}", cost.factors[0][2]
    return _largest_step(cost)


def _largest_step(cost: Cost) -> tuple[str, int | str, str]:
    name, count, flag = max(cost.factors[1:], key=lambda f: f[1])
    if name.startswith("sub-pixels"):
        edge = math.isqrt(count)
        return name.replace("sub-pixels", "sub-pixels per edge", 1), edge, flag
    return name, count, flag


def _device_memory(device: str) -> int:
    import torch

    try:
        free, _ = torch.cuda.mem_get_info(torch.device(device))
    except (RuntimeError, AssertionError, ValueError):
        return 1 << 40
    return int(free)


def _gib(count: int) -> str:
    return f"{count / 2**30:.3g} GiB"


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= size:
            value = seconds / size
            return f"{value:.3g} {unit if value != 1 else unit[:-1]}"
    return f"{seconds:.3g} s"
