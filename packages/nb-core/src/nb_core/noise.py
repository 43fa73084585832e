"""The C program's Poisson noise image, reproduced bit for bit.

For every pixel inside the region of interest, in raster order (slow index outer, fast index
inner), the C program draws ``poidev(floatimage[i], &seed)`` (see :mod:`nb_core.rng`), adds the
deviate to the photon total (a double), adds the ADC offset, clips values above 65535 to 65535
(counting an overload) and stores the value truncated to ``unsigned short`` (through a 32-bit
int, so negative values wrap modulo 65536 and NaN gives 0).  Pixels outside the ROI consume no
random numbers and stay 0.

The loop is sequential -- each pixel uses a data-dependent number of draws. Large regions run
it compiled with numba (:mod:`nb_core._noise_jit`, about 40 ns a pixel); small ones, or where
numba is missing, in plain Python, with the ran1 output generated ahead in vectorised blocks
(:class:`Ran1Stream`) so that the common case (mean < 12, a single draw) costs one comparison
(1-2 us a pixel). Both give the same image, bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nb_core._ran1_stream import Ran1Stream
from nb_core.rng import (
    _IM,
    LANCZOS,
    SQRT_2PI,
    CRandom,
    Seed,
    _poidev_rejection,
    f32,
    gammln,
)

__all__ = ["NoiseResult", "poisson_noise_image"]

_INT32_LO = -2147483649.0  # values above this truncate into int32 range
_INT32_HI = 2147483648.0


@dataclass(frozen=True)
class NoiseResult:
    """A noise image and the numbers the C program prints about it.

    Attributes:
        image: (S, F) uint16 noise image (ADC offset included; 0 outside the ROI).
        photons: Sum of the Poisson deviates before the ADC offset, accumulated in double in
            pixel order (the C program prints it with ``%.0f``).
        overloads: Number of pixels clipped at 65535.
    """

    image: np.ndarray
    photons: float
    overloads: int


def _float32_exp_neg(values: np.ndarray) -> list[float]:
    """float32(exp(-x)) for every x, bit-exact with libm ``exp`` (inf where it overflows).

    numpy's vectorised ``exp`` is used where its result is far from a float32 rounding
    boundary (then any last-bit difference from libm cannot matter); the few others, and
    non-finite values, go through :func:`math.exp`.
    """
    arg = np.minimum(-values, 700.0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        d = np.exp(arg)
        g = d.astype(np.float32)
        lo = (d * (1.0 - 1e-13)).astype(np.float32)
        hi = (d * (1.0 + 1e-13)).astype(np.float32)
    redo = np.flatnonzero((lo != hi) | ~np.isfinite(d))
    if redo.size:
        exp = math.exp
        with np.errstate(over="ignore"):
            g[redo] = np.array([exp(v) for v in arg[redo].tolist()], dtype=np.float64)
    return g.astype(np.float64).tolist()


def _to_f32(a: np.ndarray) -> np.ndarray:
    """Round a float64 array to float32 values (kept as float64), like C assignments."""
    with np.errstate(over="ignore", invalid="ignore"):
        return a.astype(np.float32).astype(np.float64)


def _near_f32_boundary(d: np.ndarray) -> np.ndarray:
    """True where a 1e-13 relative change of ``d`` could change its float32 rounding."""
    with np.errstate(over="ignore", invalid="ignore"):
        lo = (d * (1.0 - 1e-13)).astype(np.float32)
        hi = (d * (1.0 + 1e-13)).astype(np.float32)
    return (lo != hi) | ~np.isfinite(d)


def _gammln_vec(x: np.ndarray) -> np.ndarray:
    """The C ``gammln`` before its final float rounding, vectorised (same operation order)."""
    tmp = x + 5.5
    tmp = tmp - (x + 0.5) * np.log(tmp)
    y = x
    ser = np.full_like(x, LANCZOS[0])
    for c in LANCZOS[1:]:
        y = y + 1.0
        ser = ser + c / y
    return -tmp + np.log(SQRT_2PI * ser / x)


def _rejection_constants(values: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """poidev's cached (sq, alxm, g) of the rejection branch for every 12 <= x <= 1e6.

    Vectorised with numpy; elements whose float32 rounding could depend on a last-bit
    difference between numpy's and libm's ``log`` are recomputed with :mod:`math`.

    Returns:
        Three lists of length ``values.size`` (0.0 where the branch does not apply), or
        three empty lists when no value is in range.
    """
    sel = np.flatnonzero((values >= 12.0) & (values <= 1.0e6))
    if sel.size == 0:
        return [], [], []
    x = values[sel]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sq = _to_f32(np.sqrt(2.0 * x))
        log_x = np.log(x)
        alxm = _to_f32(log_x)
        gam_d = _gammln_vec(_to_f32(x + 1.0))
        g = _to_f32(_to_f32(x * alxm) - _to_f32(gam_d))
    redo = np.flatnonzero(_near_f32_boundary(log_x) | _near_f32_boundary(gam_d))
    for r in redo.tolist():
        xm = float(x[r])
        a = f32(math.log(xm))
        alxm[r] = a
        g[r] = f32(f32(xm * a) - gammln(f32(xm + 1.0)))
    full = np.zeros((3, values.size), dtype=np.float64)
    full[0, sel] = sq
    full[1, sel] = alxm
    full[2, sel] = g
    sq_l, alxm_l, g_l = full.tolist()
    return sq_l, alxm_l, g_l


# The float32 running product of the direct method is first followed in double (no rounding);
# with fewer than _MAX_FAST further draws it stays within a relative 1e-5 of the float32 one, so
# the count is certain unless the last two products fall within _MARGIN of the threshold.
_MARGIN = 2e-5
_HI = 1.0 + _MARGIN
_LO = 1.0 - _MARGIN
_MAX_FAST = 100.0


def _exact_direct(stream: Ran1Stream, i0: int, g: float) -> tuple[float, int]:
    """Direct-method count with float32 rounding at every product, re-reading from ``buf[i0]``.

    Returns:
        (count, index after the last value used in ``stream.buf``).
    """
    buf = stream.buf
    t = buf[i0]
    j = i0 + 1
    em = 0.0
    while t > g:
        em += 1.0
        if j >= len(buf):
            buf = stream.next_block(i0)
            j = stream.pos
            i0 = 0
        t = f32(t * buf[j])
        j += 1
    return em, j


def _poisson_deviates(values: np.ndarray, rng: CRandom, seed: Seed) -> list[float]:
    """``poidev(x, &seed)`` for every x in order, sharing ``rng``'s static caches.

    Args:
        values: (n,) float64 array of float32 means.
        rng: Shared state; updated exactly as the C program's.
        seed: The noise seed variable; updated.

    Returns:
        The float32 deviates as Python floats.
    """
    n = values.size
    out = [0.0] * n
    if n == 0:
        return out
    gvals = _float32_exp_neg(values)
    stream = Ran1Stream(rng, seed)
    next_block = stream.next_block
    buf = stream.buf
    i = 0
    oldm = rng.poi_oldm
    g = rng.poi_g
    slow = rng.poidev_from
    draw = stream.draw
    hi, lo, max_fast = _HI, _LO, _MAX_FAST
    rej_sq, rej_alxm, rej_g = _rejection_constants(values)
    rejection = _poidev_rejection
    last_rej = -1
    k = -1
    for xm, gx in zip(values.tolist(), gvals, strict=True):
        k += 1
        if xm < 12.0:
            if xm != oldm:
                oldm = xm
                g = gx
            try:
                t = buf[i]
            except IndexError:
                buf = next_block()
                i = 0
                t = buf[0]
            i += 1
            if t > g:  # more than one draw: follow the product in double first
                i0 = i - 1
                while t > g:
                    try:
                        r = buf[i]
                    except IndexError:
                        buf = next_block(i0)
                        i = stream.pos
                        i0 = 0
                        r = buf[i]
                    i += 1
                    t *= r
                em = float(i - i0 - 1)
                if t / r <= g * hi or t >= g * lo or em > max_fast:
                    em, i = _exact_direct(stream, i0, g)
                    buf = stream.buf
                out[k] = em
        elif xm <= 1.0e6:  # rejection method, constants precomputed (as the C cache)
            stream.pos = i
            last_rej = k
            g = rej_g[k]
            oldm = xm
            out[k] = rejection(xm, rej_sq[k], rej_alxm[k], g, draw)
            buf = stream.buf
            i = stream.pos
        else:  # gaussian branch (and NaN means)
            rng.poi_oldm = oldm
            rng.poi_g = g
            stream.pos = i
            out[k] = slow(xm, draw)
            if xm != xm:  # a NaN mean went through the rejection branch: its constants stand
                last_rej = -1
            buf = stream.buf
            i = stream.pos
            oldm = rng.poi_oldm
            g = rng.poi_g
    rng.poi_oldm = oldm
    rng.poi_g = g
    if last_rej >= 0:
        rng.poi_sq = rej_sq[last_rej]
        rng.poi_alxm = rej_alxm[last_rej]
    stream.buf = buf
    stream.close(i)
    return out


#: Regions of at least this many pixels use the compiled loop: importing numba and loading the
#: cached loop take about 1 s in a fresh process, the Python loop 1-2 us per pixel.
COMPILED_MIN_PIXELS = 1 << 20


def _compiled_deviates(
    values: np.ndarray, rng: CRandom, seed: Seed
) -> tuple[np.ndarray, float] | None:
    """:func:`_poisson_deviates` and the running sum through :mod:`nb_core._noise_jit`.

    Returns:
        (deviates, their sum in pixel order), or None when the generator state is not regular
        (a pathological seed; the caller then takes the Python loop). The first draw's table
        load, if due, has been done either way (it consumes no draw).
    """
    from nb_core._noise_jit import poisson_deviates

    if seed.value <= 0 or rng.iy == 0:
        rng.load(seed)
    words = [seed.value, rng.iy, *rng.iv]
    if not all(0 < w < _IM for w in words):
        return None
    state = np.array(words, dtype=np.int64)
    cache = np.array(
        [rng.poi_oldm, rng.poi_g, rng.poi_sq, rng.poi_alxm, rng.gauss_iset, rng.gauss_gset],
        dtype=np.float64,
    )
    dev, total = poisson_deviates(values, state, cache)
    seed.value, rng.iy, *rng.iv = state.tolist()
    rng.poi_oldm, rng.poi_g, rng.poi_sq, rng.poi_alxm = cache[:4].tolist()
    rng.gauss_iset = int(cache[4])
    rng.gauss_gset = float(cache[5])
    return dev, float(total)


def _deviates(
    values: np.ndarray, rng: CRandom, seed: Seed, compiled: bool | None
) -> tuple[np.ndarray, float]:
    """Poisson deviates of ``values`` in order and their running double sum.

    Args:
        values: (n,) float64 array of float32 means.
        rng: Shared state; updated exactly as the C program's.
        seed: The noise seed variable; updated.
        compiled: True for the compiled loop, False for the Python loop, None to choose by size
            (:data:`COMPILED_MIN_PIXELS`, and only where numba imports).

    Returns:
        ((n,) float64 deviates, their sum).
    """
    wanted = values.size >= COMPILED_MIN_PIXELS if compiled is None else compiled
    if wanted and values.size:
        try:
            result = _compiled_deviates(values, rng, seed)
        except (ImportError, RuntimeError):
            # numba missing, or no writable place for its cache (it refuses to compile then)
            if compiled:
                raise
            result = None
        if result is not None:
            return result
    deviates = _poisson_deviates(values, rng, seed)
    dev = np.asarray(deviates, dtype=np.float64)
    return dev, _sequential_sum(dev, deviates)


def _sequential_sum(dev: np.ndarray, deviates: list[float]) -> float:
    """The C program's running double sum of the deviates, in pixel order.

    When every deviate is an integer and the total stays below 2**53 each partial sum is
    exact, so any summation order gives the same (exact) result and numpy's is used.
    """
    if dev.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        exact = bool(np.all(np.isfinite(dev)) and np.all(dev == np.floor(dev)))
    if exact and float(np.abs(dev).sum()) < 2.0**52:
        return float(dev.sum())
    total = 0.0
    for d in deviates:
        total += d
    return total


def poisson_noise_image(
    float_image: np.ndarray,
    *,
    seed: int,
    adc_offset: float = 40.0,
    roi: tuple[int, int, int, int] | None = None,
    rng: CRandom | None = None,
    compiled: bool | None = None,
) -> NoiseResult:
    """The C program's noise image from its float image.

    Args:
        float_image: (S, F) image, the C ``floatimage`` values (rounded to float32).
        seed: The user's ``-seed N`` value N; the C program stores ``-N`` (so N <= 0 gives a
            non-negative seed that does not reload the shuffle table: with a fresh ``rng`` it
            acts as seed 1, otherwise it continues the table left by the previous seed -- pass
            the ``rng`` used for the mosaic domains to reproduce that).
        adc_offset: ADC offset added to every deviate (C ``-adc``; default 40).
        roi: (xmin, xmax, ymin, ymax) inclusive, x = fast index, y = slow index, as the C
            program holds them after defaulting; None for the whole image.
        rng: Random state shared with the rest of the run; a fresh :class:`CRandom` if None.
        compiled: How the sequential loop runs (the image is the same either way): True
            compiled with numba (:mod:`nb_core._noise_jit`, cached on disk after the first
            use), False in Python, None (default) compiled for regions of at least
            :data:`COMPILED_MIN_PIXELS` pixels when numba can be imported.

    Returns:
        A :class:`NoiseResult`.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        img = np.ascontiguousarray(float_image, dtype=np.float32)
    if img.ndim != 2:
        raise ValueError(f"float_image must be 2-D (S, F), got shape {img.shape}")
    spixels, fpixels = img.shape
    if rng is None:
        rng = CRandom()
    if roi is None:
        f0, f1, s0, s1 = 0, fpixels - 1, 0, spixels - 1
    else:
        xmin, xmax, ymin, ymax = (int(v) for v in roi)
        f0, f1 = max(xmin, 0), min(xmax, fpixels - 1)
        s0, s1 = max(ymin, 0), min(ymax, spixels - 1)
    image = np.zeros((spixels, fpixels), dtype=np.uint16)
    if f0 > f1 or s0 > s1:
        return NoiseResult(image=image, photons=0.0, overloads=0)

    region = img[s0 : s1 + 1, f0 : f1 + 1]
    values = region.astype(np.float64).ravel()
    dev, photons = _deviates(values, rng, Seed(-int(seed)), compiled)

    test = dev + float(adc_offset)
    over = test > 65535.0
    overloads = int(np.count_nonzero(over))
    test[over] = 65535.0
    # (unsigned short)(double) on x86-64: truncate to int32 (0x80000000 when out of range
    # or NaN), keep the low 16 bits.
    ok = (test > _INT32_LO) & (test < _INT32_HI)
    counts = np.zeros(test.shape, dtype=np.int64)
    counts[ok] = np.trunc(test[ok]).astype(np.int64)
    image[s0 : s1 + 1, f0 : f1 + 1] = (counts & 0xFFFF).astype(np.uint16).reshape(region.shape)
    return NoiseResult(image=image, photons=photons, overloads=overloads)
