"""Pixel-exact checks of nb_core.noise against the reference C program's noise images.

The golden cases come from the shared corpus (skipped when it is absent); the synthetic
expectations were printed by a throw-away C harness that runs the reference program's
``poidev`` in a copy of its noise loop.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from nb_core.noise import NoiseResult, poisson_noise_image
from nb_core.rng import CRandom, Seed, mosaic_draws

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(params=[False, True], ids=["python", "compiled"])
def compiled(request: pytest.FixtureRequest) -> bool:
    """Both forms of the sequential noise loop: the pure-Python one and numba's."""
    return bool(request.param)


CASES = ROOT.parent / "shared" / "golden" / "cases"
SMV_HEADER = 512


def _golden(name: str) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    case_dir = CASES / name
    if not case_dir.is_dir():
        pytest.skip(f"golden case {name} not found under {CASES}")
    case = json.loads((case_dir / "case.json").read_text())
    spixels, fpixels = int(case["spixels"]), int(case["fpixels"])
    float_image = np.fromfile(case_dir / "float.bin", dtype="<f4")
    assert float_image.size == spixels * fpixels
    raw = (case_dir / "noise.img").read_bytes()
    assert len(raw) == SMV_HEADER + 2 * spixels * fpixels
    header = raw[:SMV_HEADER].decode("ascii", errors="replace")
    assert f"SIZE1={fpixels};" in header
    assert f"SIZE2={spixels};" in header
    assert "BYTE_ORDER=little_endian;" in header
    noise = np.frombuffer(raw[SMV_HEADER:], dtype="<u2").reshape(spixels, fpixels)
    stdout = (case_dir / "stdout.txt").read_text()
    return float_image.reshape(spixels, fpixels), noise, case["flags"], stdout


@pytest.mark.parametrize("name", ["cubic_mosflm", "noise_scale_adc", "water_background"])
def test_golden_noise_image_pixel_exact(name: str, compiled: bool) -> None:
    float_image, noise, flags, stdout = _golden(name)
    seed = int(flags[flags.index("-seed") + 1])
    adc = float(flags[flags.index("-adc") + 1]) if "-adc" in flags else 40.0
    assert seed == 1234
    result = poisson_noise_image(float_image, seed=seed, adc_offset=adc, compiled=compiled)
    assert isinstance(result, NoiseResult)
    assert result.image.dtype == np.uint16
    assert result.image.shape == noise.shape
    equal = int(np.count_nonzero(result.image == noise))
    assert equal == noise.size  # every pixel (96 * 96 = 9216)
    match = re.search(r"^(\S+) photons on noise image \((\d+) overloads\)$", stdout, re.M)
    assert match is not None
    assert f"{result.photons:.0f}" == match.group(1)
    assert result.overloads == int(match.group(2))


def _synthetic() -> np.ndarray:
    base = np.array(
        [0.0, 0.1, 0.5, 1.0, 2.5, 5.0, 11.99, 12.0, 13.5, 20.0, 50.0, 100.0,
         1000.0, 5.0e4, 7.0e4, 2.0e6, -1.0, 3.25, 0.0, 0.75, 8.0, 30.0, 1.0e7, 6.5e5],
        dtype=np.float32,
    )  # fmt: skip
    return np.tile(base, 2).reshape(6, 8)


def test_synthetic_all_branches_and_overloads(compiled: bool) -> None:
    result = poisson_noise_image(_synthetic(), seed=1234, compiled=compiled)
    expect = [
        40, 40, 40, 42, 41, 47, 56, 48, 52, 63, 90, 132, 1063, 49628, 65535, 65535,
        40, 44, 40, 41, 47, 68, 65535, 65535, 40, 40, 41, 41, 42, 45, 48, 51,
        54, 53, 89, 132, 1081, 49826, 65535, 65535, 40, 42, 40, 41, 47, 64, 65535, 65535,
    ]  # fmt: skip
    assert result.image.ravel().tolist() == expect
    assert f"{result.photons:.0f}" == "25541334"
    assert result.overloads == 8


def test_synthetic_roi_and_negative_adc_wraps(compiled: bool) -> None:
    # fast 2..6, slow 1..4; a negative total wraps modulo 65536 like the C cast
    result = poisson_noise_image(
        _synthetic(), seed=1234, adc_offset=-50.0, roi=(2, 6, 1, 4), compiled=compiled
    )
    expect = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 65, 995, 49794, 65535, 0,
        0, 0, 65486, 65487, 65498, 65510, 65535, 0, 0, 0, 65486, 65488, 65486, 65494, 65502, 0,
        0, 0, 5, 42, 973, 50027, 65535, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ]  # fmt: skip
    assert result.image.ravel().tolist() == expect
    assert f"{result.photons:.0f}" == "10241957"
    assert result.overloads == 3


def test_synthetic_adc_and_other_seed(compiled: bool) -> None:
    result = poisson_noise_image(_synthetic(), seed=77, adc_offset=10.0, compiled=compiled)
    expect = [
        10, 10, 10, 12, 11, 12, 18, 24, 23, 19, 60, 117, 974, 49987, 65535, 65535,
        10, 13, 10, 12, 18, 47, 65535, 65535, 10, 10, 10, 10, 11, 14, 17, 20,
        23, 33, 57, 111, 982, 49717, 65535, 65535, 10, 17, 10, 10, 16, 45, 65535, 65535,
    ]  # fmt: skip
    assert result.image.ravel().tolist() == expect
    assert f"{result.photons:.0f}" == "25544014"
    assert result.overloads == 8


def test_negative_user_seed_continues_the_mosaic_table(compiled: bool) -> None:
    # `-seed -5` stores +5: no reload, so the noise continues the shuffle table that the mosaic
    # loop (one domain, default -mosaic_seed) left behind.
    rng = CRandom()
    mosaic_draws(1, rng, Seed(-12345678))
    result = poisson_noise_image(_synthetic(), seed=-5, rng=rng, compiled=compiled)
    expect = [
        40, 41, 40, 40, 42, 47, 45, 52, 52, 73, 96, 147, 1069, 50178, 65535, 65535,
        40, 43, 40, 41, 53, 61, 65535, 65535, 40, 40, 40, 41, 43, 44, 53, 47,
        61, 54, 92, 132, 973, 50051, 65535, 65535, 40, 42, 40, 42, 49, 68, 65535, 65535,
    ]  # fmt: skip
    assert result.image.ravel().tolist() == expect
    assert f"{result.photons:.0f}" == "25538314"


def test_rng_state_after_noise_matches_scalar_poidev(compiled: bool) -> None:
    rs = np.random.default_rng(5)
    image = rs.exponential(2.0, size=(40, 60)).astype(np.float32)
    image[5, 5:20] = 15.0
    image[7, 7] = 3.0e6
    rng = CRandom()
    result = poisson_noise_image(image, seed=99, roi=(3, 50, 2, 35), rng=rng, compiled=compiled)
    ref_rng, ref_seed = CRandom(), Seed(-99)
    ref = np.zeros(image.shape, dtype=np.float64)
    for s in range(2, 36):
        for f in range(3, 51):
            ref[s, f] = ref_rng.poidev(float(image[s, f]), ref_seed)
    inside = np.zeros(image.shape, dtype=bool)
    inside[2:36, 3:51] = True
    expect = np.minimum(ref[inside] + 40.0, 65535.0).astype(np.uint16)
    assert np.array_equal(result.image[inside], expect)
    assert result.overloads == 1
    assert np.all(result.image[~inside] == 0)
    assert result.photons == ref[inside].sum()
    # the shared state ends exactly where the scalar draws left it
    probe = Seed(7)  # positive: continues the table without reloading
    ref_probe = Seed(7)
    assert [rng.ran1(probe) for _ in range(5)] == [ref_rng.ran1(ref_probe) for _ in range(5)]
    assert rng.gauss_iset == ref_rng.gauss_iset
    assert rng.poi_oldm == ref_rng.poi_oldm


def test_empty_roi_and_nan_pixels(compiled: bool) -> None:
    image = np.full((4, 5), 2.0, dtype=np.float32)
    empty = poisson_noise_image(image, seed=1, roi=(3, 2, 0, 3), compiled=compiled)
    assert empty.photons == 0.0
    assert not empty.image.any()
    image[1, 1] = np.nan
    result = poisson_noise_image(image, seed=1, compiled=compiled)
    assert result.image[1, 1] == 0  # (unsigned short) of NaN through a 32-bit int
    assert np.isnan(result.photons)


def test_speed_smoke() -> None:
    # 256 x 256 of mostly small values well under a few seconds (1024 x 1024 < 3 s)
    rs = np.random.default_rng(0)
    image = rs.exponential(0.5, size=(256, 256)).astype(np.float32)
    result = poisson_noise_image(image, seed=1234)
    assert result.image.shape == (256, 256)
    assert result.overloads == 0


def test_compiled_loop_equals_python_loop_on_every_branch() -> None:
    # Sparse, dense and pathological means (NaN, inf, negative, exact branch edges, the
    # gaussian range) over four seeds: the same image, photon sum and final generator state.
    rs = np.random.default_rng(11)
    n = 200 * 150
    dense = np.where(rs.random(n) < 0.1, rs.exponential(40.0, n), rs.exponential(0.3, n))
    wild = rs.exponential(5.0, n) * 10.0 ** rs.integers(-3, 8, n)
    for value, count in ((np.nan, 30), (np.inf, 10), (-3.0, 10), (0.0, 10), (12.0, 10), (1e6, 10)):
        wild[rs.integers(0, n, count)] = value
    images = [rs.exponential(0.002, n), dense, wild]
    for image in images:
        image = image.astype(np.float32).reshape(200, 150)
        for seed in (1234, 0, -5, 987654321):
            states = []
            results = []
            for flag in (False, True):
                rng = CRandom()
                mosaic_draws(1, rng, Seed(-12345678))
                results.append(poisson_noise_image(image, seed=seed, rng=rng, compiled=flag))
                states.append(rng)
            a, b = results
            assert np.array_equal(a.image, b.image)
            assert a.overloads == b.overloads
            assert a.photons == b.photons or (np.isnan(a.photons) and np.isnan(b.photons))
            ra, rb = states
            assert (ra.iv, ra.iy) == (rb.iv, rb.iy)
            assert (ra.gauss_iset, ra.gauss_gset) == (rb.gauss_iset, rb.gauss_gset)
            for x, y in zip(
                (ra.poi_oldm, ra.poi_g, ra.poi_sq, ra.poi_alxm),
                (rb.poi_oldm, rb.poi_g, rb.poi_sq, rb.poi_alxm),
                strict=True,
            ):
                assert x == y or (x != x and y != y)


def test_without_numba_the_python_loop_serves_every_size(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import nb_core.noise as noise

    image = _synthetic()
    expect = poisson_noise_image(image, seed=1234, compiled=False)
    monkeypatch.setitem(sys.modules, "nb_core._noise_jit", None)  # import now fails
    monkeypatch.setattr(noise, "COMPILED_MIN_PIXELS", 1)
    auto = poisson_noise_image(image, seed=1234)
    assert np.array_equal(auto.image, expect.image)
    assert auto.photons == expect.photons
    with pytest.raises(ImportError):
        poisson_noise_image(image, seed=1234, compiled=True)
