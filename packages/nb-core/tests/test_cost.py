"""The cost model: evaluation counts, time and memory against hand-computed values, and its checks."""

from __future__ import annotations

import time

import pytest
import torch

from nb_core import cost
from nb_core.cost import (
    Cost,
    available_memory,
    check_cost,
    check_counts,
    count_flags,
    estimate_cost,
)
from nb_core.errors import InputError
from nb_core.params import Static
from nb_core.resolve import resolve
from nb_core.settings import Settings

GIB = 1 << 30


def _static(**kw: object) -> Static:
    base: dict[str, object] = dict(
        fpixels=100,
        spixels=50,
        oversample=2,
        layers=3,
        sources=5,
        phisteps=7,
        mosaic_domains=11,
        roi=(10, 19, 0, 9),
    )
    base.update(kw)
    return Static(**base)  # type: ignore[arg-type]


def test_counts_time_and_memory_by_hand() -> None:
    c = estimate_cost(_static(), dtype=torch.float32, grid_points=1000, writes_dump=True, threads=2)
    assert c.count("pixels") == 100  # the 10 x 10 ROI, not the 100 x 50 detector
    assert c.count("sub-pixels") == 4
    assert c.evaluations == 100 * 4 * 3 * 5 * 7 * 11 == 462_000
    render = 462_000 / (2.7e7 * 2) + 100 * 4 * 3 / (1.7e7 * 2)
    setup = 5 * 4e-6 + 11 * 6e-6 + 7 * 2e-6
    assert c.seconds == pytest.approx(render + setup, rel=1e-12)
    # 2**19 // 4620 = 113 pixels per chunk, but the ROI has only 100.
    assert c.chunk_bytes == 100 * 4620 * 128
    assert c.image_bytes == 100 * 50 * 88
    assert c.grid_bytes == 1000 * (2 * 4 + 24)
    assert c.setup_bytes == 5 * 160 + 7 * 160 + 11 * 256 + 3 * 96 + 7 * 11 * 9 * 4 * 4
    assert c.peak_bytes == c.image_bytes + c.chunk_bytes + c.grid_bytes + c.setup_bytes
    assert c.threads == 2


def test_float64_interpolation_and_one_pixel_chunks() -> None:
    st = _static(interpolate=True, has_hkl=True, mosaic_domains=1000, roi=(0, 100, 0, 50))
    c = estimate_cost(st, dtype=torch.float64, threads=1)
    per_pixel = 4 * 3 * 5 * 7 * 1000
    assert c.count("pixels") == 5000  # the ROI's upper bounds are clamped to the detector
    # The interpolated budget (2**19 / 16 evaluations) is below one pixel: one pixel a chunk.
    assert c.chunk_bytes == per_pixel * 256 * 16
    assert c.image_bytes == 5000 * 112
    expected = 5000 * per_pixel * 20 / 1.5e7 + 5000 * 12 / 7.5e6
    expected += 5 * 4e-6 + 1000 * 6e-6 + 7 * 2e-6
    assert c.seconds == pytest.approx(expected, rel=1e-12)


def test_compiled_chunks_are_larger() -> None:
    st = _static(fpixels=1000, spixels=1000, roi=(0, 999, 0, 999))
    eager = estimate_cost(st, dtype=torch.float32, threads=1)
    compiled = estimate_cost(st, dtype=torch.float32, threads=1, compiled=True)
    assert eager.chunk_bytes == (2**19 // 4620) * 4620 * 128
    assert compiled.chunk_bytes == (2**21 // 4620) * 4620 * 128


def _cost(**kw: object) -> Cost:
    base: dict[str, object] = dict(
        factors=(
            ("pixels", 1 << 20, "-detpixels"),
            ("sub-pixels", 4, "-oversample"),
            ("sensor layers", 1, "-thicksteps"),
            ("sources", 1, "-divsteps"),
            ("phi steps", 100, "-phisteps"),
            ("mosaic domains", 1000, "-mosaic_domains"),
        ),
        evaluations=(1 << 20) * 4 * 100 * 1000,
        seconds=7200.0,
        threads=2,
        detector=(1024, 1024),
        image_bytes=GIB,
        chunk_bytes=GIB // 4,
        grid_bytes=0,
        setup_bytes=0,
    )
    base.update(kw)
    return Cost(**base)  # type: ignore[arg-type]


def test_time_limit_names_the_largest_step_and_force() -> None:
    with pytest.raises(InputError) as info:
        check_cost(_cost(), available=64 * GIB)
    text = str(info.value)
    assert text.startswith("-mosaic_domains: 1000 mosaic domains: ")
    assert "4.19e+11 lattice evaluations" in text
    assert "2 hours on 2 CPU threads, over the 1 hour limit" in text
    assert text.endswith("add -force to run it anyway")
    check_cost(_cost(), force=True, available=64 * GIB)
    check_cost(_cost(), limit_s=None, available=64 * GIB)
    check_cost(_cost(seconds=3599.0), available=64 * GIB)


def test_memory_is_refused_even_with_force() -> None:
    # 1.25 GiB needed; 80% of 1.5 GiB is 1.2 GiB.
    with pytest.raises(InputError) as info:
        check_cost(_cost(seconds=1.0), force=True, available=3 * GIB // 2)
    text = str(info.value)
    assert text.startswith("-detpixels: 1024 x 1024 pixels: the run needs about 1.25 GiB")
    assert "(images 1 GiB, render chunks 256 MiB)" in text
    assert "more than 80% of the 1.5 GiB available" in text
    check_cost(_cost(seconds=1.0), available=2 * GIB)  # 1.25 <= 1.6


def test_memory_culprit_is_the_largest_part() -> None:
    big_chunks = _cost(seconds=1.0, chunk_bytes=10 * GIB)
    with pytest.raises(InputError, match=r"^-mosaic_domains: 1000 mosaic domains: "):
        check_cost(big_chunks, available=4 * GIB)
    grid = _cost(seconds=1.0, grid_bytes=10 * GIB)
    with pytest.raises(InputError, match=r"^-hkl: "):
        check_cost(grid, available=4 * GIB)


def test_check_counts_before_any_array() -> None:
    roi = (0, 1024, 0, 1024)
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"^-phisteps: 2000000000 phi steps: .* of memory"):
        check_counts(
            fpixels=1024,
            spixels=1024,
            roi=roi,
            oversample=-1,
            layers=1,
            sources=1,
            phisteps=2_000_000_000,
            domains=1,
            dtype=torch.float32,
        )
    assert time.perf_counter() - start < 0.5
    args: dict[str, object] = dict(
        fpixels=1024, spixels=1024, roi=roi, oversample=2, layers=1, sources=1, phisteps=100
    )
    check_counts(**args, domains=10_000, dtype=torch.float32)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="add -force"):
        check_counts(**args, domains=10_000, dtype=torch.float32, limit_s=3600.0)  # type: ignore[arg-type]


def test_resolve_refuses_mosaic_domains_before_drawing_them() -> None:
    settings = Settings(
        cell=(100.0, 100.0, 100.0, 90.0, 90.0, 90.0),
        user_cell=True,
        default_F=100.0,
        mosaic_deg=1.0,
        mosaic_domains=10_000_000,
        detpixels=(1024, 1024),
    )
    start = time.perf_counter()
    with pytest.raises(InputError, match=r"10000000 mosaic domains"):
        resolve(settings, max_seconds=3600.0)
    # Drawing the domains alone would take about a minute.
    assert time.perf_counter() - start < 1.0


def test_count_flags() -> None:
    auto = {"sub-pixels detail": "automatic, from the crystal size and pixel; set -oversample"}
    assert count_flags(["-detsize", "-hdivsteps"], 12, 1, False) == {
        "pixels": "-detsize",
        "sources": "-hdivsteps",
        "sources detail": "divergence grid points",
        **auto,
    }
    assert count_flags(["-oversample"], 4, 9, False) == {
        "pixels": "-detpixels",
        "sources": "-dispsteps",
        "sources detail": "4 divergence x 9 dispersion",
    }
    assert count_flags(["-pixel", "-detpixels_f", "-oversample"], 1, 1, True) == {
        "pixels": "-detpixels_f",
        "sources": "-sourcefile",
    }


def test_available_memory_is_a_positive_byte_count() -> None:
    assert available_memory() > 1 << 20
    assert cost.MEMORY_FRACTION == 0.8
