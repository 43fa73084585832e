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
        exp_double = np.exp(arg)
        exp_float32 = exp_double.astype(np.float32)
    redo = np.flatnonzero(_near_f32_boundary(exp_double))
    if redo.size:
        exp = math.exp
        with np.errstate(over="ignore"):
            exp_float32[redo] = np.array([exp(v) for v in arg[redo].tolist()], dtype=np.float64)
    return exp_float32.astype(np.float64).tolist()


def _to_f32(a: np.ndarray) -> np.ndarray:
    """Round a float64 array to float32 values (kept as float64), like C assignments."""
    with np.errstate(over="ignore", invalid="ignore"):
        return a.astype(np.float32).astype(np.float64)


def _near_f32_boundary(exact: np.ndarray) -> np.ndarray:
    """True where a 1e-13 relative change of ``exact`` could change its float32 rounding."""
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        below = (exact * (1.0 - 1e-13)).astype(np.float32)
        above = (exact * (1.0 + 1e-13)).astype(np.float32)
    return (below != above) | ~np.isfinite(exact)


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
    in_range = np.flatnonzero((values >= 12.0) & (values <= 1.0e6))
    if in_range.size == 0:
        return [], [], []
    x = values[in_range]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        sq = _to_f32(np.sqrt(2.0 * x))
        log_x = np.log(x)
        alxm = _to_f32(log_x)
        gam_d = _gammln_vec(_to_f32(x + 1.0))
        g = _to_f32(_to_f32(x * alxm) - _to_f32(gam_d))
    redo = np.flatnonzero(_near_f32_boundary(log_x) | _near_f32_boundary(gam_d))
    for row in redo.tolist():
        mean = float(x[row])
        log_mean = f32(math.log(mean))
        alxm[row] = log_mean
        g[row] = f32(f32(mean * log_mean) - gammln(f32(mean + 1.0)))
    full = np.zeros((3, values.size), dtype=np.float64)
    full[0, in_range] = sq
    full[1, in_range] = alxm
    full[2, in_range] = g
    sq_list, alxm_list, g_list = full.tolist()
    return sq_list, alxm_list, g_list


# The float32 running product of the direct method is first followed in double (no rounding);
# with fewer than _MAX_FAST further draws it stays within a relative 1e-5 of the float32 one, so
# the count is certain unless the last two products fall within _MARGIN of the threshold.
_MARGIN = 2e-5
_HI = 1.0 + _MARGIN
_LO = 1.0 - _MARGIN
_MAX_FAST = 100.0


def _exact_direct(stream: Ran1Stream, start: int, threshold: float) -> tuple[float, int]:
    """Direct-method count with float32 rounding at every product, re-reading from ``buf[start]``.

    Returns:
        (count, index after the last value used in ``stream.buf``).
    """
    buf = stream.buf
    product = buf[start]
    pos = start + 1
    count = 0.0
    while product > threshold:
        count += 1.0
        if pos >= len(buf):
            buf = stream.next_block(start)
            pos = stream.pos
            start = 0
        product = f32(product * buf[pos])
        pos += 1
    return count, pos


def _direct_count(
    stream: Ran1Stream, buf: list[float], pos: int, product: float, threshold: float
) -> tuple[float, list[float], int]:
    """Direct-method count of a mean below 12 whose first draw exceeds ``exp(-mean)``.

    The running product is followed in double; where that could end on another count than
    the C program's float32 product (near the threshold, or a long run), it is recounted by
    :func:`_exact_direct`.

    Args:
        stream: The block stream ``buf`` belongs to.
        buf: The current block of ran1 values.
        pos: Index after the first draw (``buf[pos - 1] == product``).
        product: The first draw.
        threshold: float32 ``exp(-mean)``.

    Returns:
        (count, the current block, index after the last value used in it).
    """
    start = pos - 1
    value = product
    while product > threshold:
        try:
            value = buf[pos]
        except IndexError:
            buf = stream.next_block(start)
            pos = stream.pos
            start = 0
            value = buf[pos]
        pos += 1
        product *= value
    count = float(pos - start - 1)
    if product / value <= threshold * _HI or product >= threshold * _LO or count > _MAX_FAST:
        count, pos = _exact_direct(stream, start, threshold)
        buf = stream.buf
    return count, buf, pos


def _poisson_deviates(values: np.ndarray, rng: CRandom, seed: Seed) -> list[float]:
    """``poidev(x, &seed)`` for every x in order, sharing ``rng``'s static caches.

    Args:
        values: (n,) float64 array of float32 means.
        rng: Shared state; updated exactly as the C program's.
        seed: The noise seed variable; updated.

    Returns:
        The float32 deviates as Python floats.
    """
    deviates = [0.0] * values.size
    if values.size == 0:
        return deviates
    exp_neg_means = _float32_exp_neg(values)
    stream = Ran1Stream(rng, seed)
    next_block, draw, scalar_poidev = stream.next_block, stream.draw, rng.poidev_from
    buf = stream.buf
    pos = 0
    cached_mean, threshold = rng.poi_oldm, rng.poi_g  # poidev's static oldm and g
    rejection_sq, rejection_alxm, rejection_g = _rejection_constants(values)
    last_rejection = -1
    for index, (mean, exp_neg_mean) in enumerate(zip(values.tolist(), exp_neg_means, strict=True)):
        if mean < 12.0:
            if mean != cached_mean:
                cached_mean = mean
                threshold = exp_neg_mean
            try:
                product = buf[pos]
            except IndexError:
                buf = next_block()
                pos = 0
                product = buf[0]
            pos += 1
            if product > threshold:  # more than one draw
                deviates[index], buf, pos = _direct_count(stream, buf, pos, product, threshold)
        elif mean <= 1.0e6:  # rejection method, constants precomputed (as the C cache)
            stream.pos = pos
            last_rejection = index
            threshold = rejection_g[index]
            cached_mean = mean
            deviates[index] = _poidev_rejection(
                mean, rejection_sq[index], rejection_alxm[index], threshold, draw
            )
            buf = stream.buf
            pos = stream.pos
        else:  # gaussian branch (and NaN means)
            rng.poi_oldm, rng.poi_g = cached_mean, threshold
            stream.pos = pos
            deviates[index] = scalar_poidev(mean, draw)
            if mean != mean:  # a NaN mean went through the rejection branch: its constants stand
                last_rejection = -1
            buf = stream.buf
            pos = stream.pos
            cached_mean, threshold = rng.poi_oldm, rng.poi_g
    rng.poi_oldm, rng.poi_g = cached_mean, threshold
    if last_rejection >= 0:
        rng.poi_sq = rejection_sq[last_rejection]
        rng.poi_alxm = rejection_alxm[last_rejection]
    stream.buf = buf
    stream.close(pos)
    return deviates


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
    deviates, total = poisson_deviates(values, state, cache)
    seed.value, rng.iy, *rng.iv = state.tolist()
    rng.poi_oldm, rng.poi_g, rng.poi_sq, rng.poi_alxm = cache[:4].tolist()
    rng.gauss_iset = int(cache[4])
    rng.gauss_gset = float(cache[5])
    return deviates, float(total)


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
    deviate_list = _poisson_deviates(values, rng, seed)
    deviates = np.asarray(deviate_list, dtype=np.float64)
    return deviates, _sequential_sum(deviates, deviate_list)


def _sequential_sum(deviates: np.ndarray, deviate_list: list[float]) -> float:
    """The C program's running double sum of the deviates, in pixel order.

    When every deviate is an integer and the total stays below 2**53 each partial sum is
    exact, so any summation order gives the same (exact) result and numpy's is used.
    """
    if deviates.size == 0:
        return 0.0
    with np.errstate(invalid="ignore"):
        exact = bool(np.all(np.isfinite(deviates)) and np.all(deviates == np.floor(deviates)))
    if exact and float(np.abs(deviates).sum()) < 2.0**52:
        return float(deviates.sum())
    total = 0.0
    for deviate in deviate_list:
        total += deviate
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
        means = np.ascontiguousarray(float_image, dtype=np.float32)
    if means.ndim != 2:
        raise ValueError(f"float_image must be 2-D (S, F), got shape {means.shape}")
    spixels, fpixels = means.shape
    if rng is None:
        rng = CRandom()
    if roi is None:
        fast_first, fast_last, slow_first, slow_last = 0, fpixels - 1, 0, spixels - 1
    else:
        xmin, xmax, ymin, ymax = (int(v) for v in roi)
        fast_first, fast_last = max(xmin, 0), min(xmax, fpixels - 1)
        slow_first, slow_last = max(ymin, 0), min(ymax, spixels - 1)
    image = np.zeros((spixels, fpixels), dtype=np.uint16)
    if fast_first > fast_last or slow_first > slow_last:
        return NoiseResult(image=image, photons=0.0, overloads=0)

    inside = (slice(slow_first, slow_last + 1), slice(fast_first, fast_last + 1))
    region = means[inside]
    deviates, photons = _deviates(
        region.astype(np.float64).ravel(), rng, Seed(-int(seed)), compiled
    )

    with_offset = deviates + float(adc_offset)
    over = with_offset > 65535.0
    overloads = int(np.count_nonzero(over))
    with_offset[over] = 65535.0
    # (unsigned short)(double) on x86-64: truncate to int32 (0x80000000 when out of range
    # or NaN), keep the low 16 bits.
    in_int32 = (with_offset > _INT32_LO) & (with_offset < _INT32_HI)
    counts = np.zeros(with_offset.shape, dtype=np.int64)
    counts[in_int32] = np.trunc(with_offset[in_int32]).astype(np.int64)
    image[inside] = (counts & 0xFFFF).astype(np.uint16).reshape(region.shape)
    return NoiseResult(image=image, photons=photons, overloads=overloads)
