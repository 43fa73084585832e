"""The noise loop of :mod:`nb_core.noise`, compiled with numba.

The same arithmetic as the pure-Python loop (:func:`nb_core.noise._poisson_deviates` and the
helpers in :mod:`nb_core.rng`), written for numba's nopython mode: a C ``float`` is a float64
rounded through ``np.float32`` at the points where the C program assigns to a ``float``, and
``exp``/``log``/``tan``/``sqrt`` are the C library's double functions (numba calls the
process's libm, the one Python's :mod:`math` and the C program use), as in the C program.

Compiled once per machine and kept in numba's on-disk cache; importing this module imports
numba (about 0.4 s), so :mod:`nb_core.noise` only does so for large images.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from nb_core.rng import LANCZOS, SQRT_2PI

__all__ = ["poisson_deviates"]

_IA = 16807
_IM = 2147483647
_AM = 1.0 / _IM
_IQ = 127773
_IR = 2836
_NDIV = 1 << 26
_RNMX = 1.0 - 1.2e-7
_RNMX_F32 = float(np.float32(_RNMX))


@njit(cache=True, nogil=True, inline="always")
def _f32(x: float) -> float:
    """Round to the nearest float32 (a C assignment to ``float``), kept as float64."""
    return np.float64(np.float32(x))


@njit(cache=True, nogil=True)
def _ran1(state: np.ndarray) -> float:
    """One ``ran1`` draw from a regular state ``[idum, iy, iv[0..31]]`` (updated in place)."""
    idum = state[0]
    k = idum // _IQ
    idum = _IA * (idum - k * _IQ) - _IR * k
    if idum < 0:
        idum += _IM
    state[0] = idum
    j = state[1] // _NDIV
    iy = state[2 + j]
    state[2 + j] = idum
    state[1] = iy
    temp = _f32(_AM * float(iy))
    if temp > _RNMX:
        return _RNMX_F32
    return temp


@njit(cache=True, nogil=True)
def _gammln(xx: float) -> float:
    """ln Gamma (Lanczos) in double, rounded to float32 (see :func:`nb_core.rng.gammln`)."""
    x = _f32(xx)
    tmp = x + 5.5
    tmp -= (x + 0.5) * math.log(tmp)
    y = x
    ser = LANCZOS[0]
    for c in LANCZOS[1:]:
        y += 1.0
        ser += c / y
    return _f32(-tmp + math.log(SQRT_2PI * ser / x))


@njit(cache=True, nogil=True)
def _rejection(xm: float, sq: float, alxm: float, g: float, state: np.ndarray) -> float:
    """The rejection branch of ``poidev`` (Lorentzian comparison function)."""
    while True:
        while True:
            y = _f32(math.tan(math.pi * _ran1(state)))
            em = _f32(_f32(sq * y) + xm)
            if not em < 0.0:
                break
        if em == em:
            em = math.floor(em)
        yy = _f32(y * y)
        arg = _f32(_f32(_f32(em * alxm) - _gammln(_f32(em + 1.0))) - g)
        t = _f32((0.9 * (1.0 + yy)) * math.exp(arg))
        if not _ran1(state) > t:
            return em


@njit(cache=True, nogil=True)
def _gaussdev(state: np.ndarray, cache: np.ndarray) -> float:
    """Polar Box-Muller deviate with the spare kept in ``cache[4]`` (flag), ``cache[5]``."""
    if cache[4] == 0.0:
        while True:
            v1 = _f32(2.0 * _ran1(state) - 1.0)
            v2 = _f32(2.0 * _ran1(state) - 1.0)
            rsq = _f32(_f32(v1 * v1) + _f32(v2 * v2))
            if not (rsq >= 1.0 or rsq == 0.0):
                break
        fac = _f32(math.sqrt(-2.0 * math.log(rsq) / rsq))
        cache[5] = _f32(v1 * fac)
        cache[4] = 1.0
        return _f32(v2 * fac)
    cache[4] = 0.0
    return cache[5]


@njit(cache=True, nogil=True)
def poisson_deviates(
    values: np.ndarray, state: np.ndarray, cache: np.ndarray
) -> tuple[np.ndarray, float]:
    """``poidev(x, &seed)`` for every x in order, and their running double sum.

    Args:
        values: (n,) float64 means (float32 values).
        state: (34,) int64 regular ran1 state ``[idum, iy, iv[0..31]]``; advanced in place.
        cache: (6,) float64 static caches ``[oldm, g, sq, alxm, gauss_iset, gauss_gset]``;
            updated in place.

    Returns:
        ((n,) float64 deviates, their sum accumulated in pixel order).
    """
    n = values.size
    out = np.empty(n, dtype=np.float64)
    oldm = cache[0]
    g = cache[1]
    sq = cache[2]
    alxm = cache[3]
    total = 0.0
    for k in range(n):
        xm = values[k]
        if xm > 1.0e6:
            em = _f32(xm + math.sqrt(xm) * _gaussdev(state, cache))
        elif xm < 12.0:
            if xm != oldm:
                oldm = xm
                g = _f32(math.exp(-xm))
            em = 0.0
            t = _ran1(state)
            while t > g:
                em += 1.0
                t = _f32(t * _ran1(state))
        else:  # rejection method (NaN means too)
            if xm != oldm:
                oldm = xm
                sq = _f32(math.sqrt(2.0 * xm))
                alxm = _f32(math.log(xm))
                g = _f32(_f32(xm * alxm) - _gammln(_f32(xm + 1.0)))
            em = _rejection(xm, sq, alxm, g, state)
        out[k] = em
        total += em
    cache[0] = oldm
    cache[1] = g
    cache[2] = sq
    cache[3] = alxm
    return out, total
