"""Bit-exact emulation of the C program's random numbers.

nanoBragg draws every random number from one Numerical Recipes ``ran1`` generator (the
"minimal standard" Lehmer generator ``x -> 16807 x mod (2^31 - 1)``, evaluated with Schrage's
method, behind a 32-entry Bays-Durham shuffle table).  The shuffle table and its output
register ``iy`` are process-wide static state shared by every seed variable; a seed variable is
only a C ``long`` that holds the current Lehmer state.  ``poidev`` (Poisson deviates) and
``gaussdev`` (Gaussian deviates) keep their own static caches.  :class:`CRandom` holds all of
that state, :class:`Seed` is one ``long`` seed variable.

Everything here reproduces the C arithmetic exactly, including every rounding of a C ``float``
(IEEE binary32): ``float * float`` is rounded to float32, ``float op double`` is done in double,
assignment to a ``float`` rounds to float32, and ``exp``/``log``/``sqrt``/``tan``/``sin``/``cos``
are the double-precision libm functions (Python's :mod:`math` calls the same libm).  The one
single-precision libm call, ``powf`` in the mosaic cap, is taken from the C math library through
:mod:`ctypes` when it can be loaded (glibc's ``powf`` is not correctly rounded, so nothing else
matches it bit for bit); otherwise it falls back to ``pow`` in double rounded to float32, which
differs in the last float32 bit for about 0.06 % of arguments.

Behaviour worth knowing (all reproduced):

* A seed variable is (re)loaded -- the shuffle table refilled from it -- when its value is
  ``<= 0`` or when the shared table has never been filled.  Loading replaces the value ``v``
  with ``-v``, or with ``1`` when ``-v < 1``.  Hence a *positive* starting value is ignored (it
  acts like ``1``) if it is the first seed the process ever uses, and otherwise simply continues
  the Lehmer sequence from that value through the shuffle table left by the previous seed.
  ``-seed N`` stores ``-N``; so ``-seed 0`` and any negative ``-seed`` behave like that.
* After loading, the seed variable holds a positive value and later draws never reload.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "LANCZOS",
    "POWF_FROM_LIBM",
    "SQRT_2PI",
    "CRandom",
    "MosaicDraw",
    "Seed",
    "f32",
    "gammln",
    "mosaic_draws",
    "powf",
]

# ---------------------------------------------------------------------------------------------
# Constants of the generator (Park & Miller minimal standard, Schrage decomposition).
_IA = 16807
_IM = 2147483647
_AM = 1.0 / _IM
_IQ = 127773
_IR = 2836
_NTAB = 32
_NDIV = 1 + (_IM - 1) // _NTAB  # == 2**26
_NDIV_SHIFT = 26
_RNMX = 1.0 - 1.2e-7
_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1

assert _NDIV == 1 << _NDIV_SHIFT

# ---------------------------------------------------------------------------------------------
# float32 rounding helpers.
_F32 = struct.Struct("<f")
_pack = _F32.pack
_unpack = _F32.unpack


def f32(x: float) -> float:
    """Round a double to the nearest C ``float`` (binary32), as a C assignment does.

    Args:
        x: Any Python float.

    Returns:
        The float32 value (returned as a Python float); ``+-inf`` on overflow, NaN stays NaN.
    """
    try:
        return _unpack(_pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


_RNMX_F32 = f32(_RNMX)
_THIRD_F32 = f32(1.0 / 3.0)


def _load_powf() -> Callable[[float, float], float] | None:
    """Return the C library's ``powf`` through ctypes, or None if it cannot be loaded."""
    names = [ctypes.util.find_library("m"), "libm.so.6", None]
    for name in names:
        try:
            lib = ctypes.CDLL(name)
            libm_powf = lib.powf
        except (OSError, AttributeError, TypeError):
            continue
        libm_powf.restype = ctypes.c_float
        libm_powf.argtypes = [ctypes.c_float, ctypes.c_float]
        return libm_powf
    return None


_C_POWF = _load_powf()
#: True when :func:`powf` calls the C math library's ``powf`` (bit-exact with the C program
#: on the same C library); False when it falls back to a double ``pow`` rounded to float32.
POWF_FROM_LIBM = _C_POWF is not None


def powf(x: float, y: float) -> float:
    """C ``powf`` of two float32 values.

    Args:
        x: Base (rounded to float32 first).
        y: Exponent (rounded to float32 first).

    Returns:
        The float32 result as a Python float.
    """
    base, exponent = f32(x), f32(y)
    if _C_POWF is not None:
        return float(_C_POWF(base, exponent))
    try:
        return f32(math.pow(base, exponent))
    except OverflowError:
        return math.inf
    except ValueError:  # negative base with a non-integer exponent
        return math.nan


def _exp(x: float) -> float:
    """libm ``exp`` that returns inf on overflow (as C) instead of raising."""
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _cdiv(a: int, b: int) -> int:
    """C integer division (truncation toward zero) for ``b > 0``."""
    quotient = abs(a) // b
    return quotient if a >= 0 else -quotient


def _schrage(x: int) -> int:
    """One step of the Lehmer generator exactly as the C ``long`` arithmetic computes it."""
    k = _cdiv(x, _IQ)
    x = _IA * (x - k * _IQ) - _IR * k
    if x < 0:
        x += _IM
    return x


# ---------------------------------------------------------------------------------------------
class Seed:
    """A mutable C ``long`` seed variable (the C program passes ``&seed``).

    Args:
        value: The value as the C program holds it, e.g. ``-1234`` for ``-seed 1234``.

    Attributes:
        value: Current value; updated by every draw (positive after the first draw).
    """

    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        value = int(value)
        if not _LONG_MIN < value <= _LONG_MAX:
            raise ValueError(f"seed {value} does not fit a 64-bit C long (or is LONG_MIN)")
        self.value = value

    def __repr__(self) -> str:
        return f"Seed({self.value})"


class CRandom:
    """The C program's random-number state: ran1's static shuffle table plus poidev/gaussdev caches.

    One instance stands for one C process.  Share it between the ``-misset random`` draw, the
    mosaic domains and the noise image to reproduce a whole run (a positive seed continues the
    table that the previous seed left).

    Attributes:
        iv: The 32-entry shuffle table (list of int).
        iy: The shuffle output register; 0 means "never loaded".
    """

    def __init__(self) -> None:
        self.iv: list[int] = [0] * _NTAB
        self.iy: int = 0
        # poidev's static cache (C zero-initialises statics; oldm starts at -1).
        self.poi_oldm: float = -1.0
        self.poi_g: float = 0.0
        self.poi_sq: float = 0.0
        self.poi_alxm: float = 0.0
        # gaussdev's spare deviate.
        self.gauss_iset: int = 0
        self.gauss_gset: float = 0.0

    # -- uniform ----------------------------------------------------------------------------
    def load(self, seed: Seed) -> None:
        """Refill the shuffle table from ``seed`` (the C "first time around" block).

        :meth:`ran1` does this itself when ``seed.value <= 0`` or the table was never filled;
        it consumes no draw.
        """
        idum = seed.value
        idum = 1 if -idum < 1 else -idum
        iv = self.iv
        for j in range(_NTAB + 7, -1, -1):
            idum = _schrage(idum)
            if j < _NTAB:
                iv[j] = idum
        self.iy = iv[0]
        seed.value = idum

    def ran1(self, seed: Seed) -> float:
        """One uniform deviate on (0, 1), exactly as the C ``ran1``.

        Args:
            seed: The seed variable; updated in place.

        Returns:
            The C ``float`` value (a float32) as a Python float, at most ``1 - 2**-23``.
        """
        if seed.value <= 0 or self.iy == 0:
            self.load(seed)
        idum = _schrage(seed.value)
        seed.value = idum
        iy = self.iy
        j = _cdiv(iy, _NDIV)
        iy = self.iv[j]
        self.iv[j] = idum
        self.iy = iy
        temp = f32(_AM * iy)
        return _RNMX_F32 if temp > _RNMX else temp

    # -- gaussian ---------------------------------------------------------------------------
    def gaussdev_from(self, draw: Callable[[], float]) -> float:
        """``gaussdev`` with uniform deviates taken from ``draw`` (see :meth:`gaussdev`)."""
        if self.gauss_iset == 0:
            while True:
                v1 = f32(2.0 * draw() - 1.0)
                v2 = f32(2.0 * draw() - 1.0)
                rsq = f32(f32(v1 * v1) + f32(v2 * v2))
                if not (rsq >= 1.0 or rsq == 0.0):
                    break
            fac = f32(math.sqrt(-2.0 * math.log(rsq) / rsq))
            self.gauss_gset = f32(v1 * fac)
            self.gauss_iset = 1
            return f32(v2 * fac)
        self.gauss_iset = 0
        return self.gauss_gset

    def gaussdev(self, seed: Seed) -> float:
        """Gaussian deviate (mean 0, rms 1; polar Box-Muller) exactly as the C ``gaussdev``.

        Deviates come in pairs: every other call returns the cached spare, which is shared
        by all seed variables (C static state).

        Args:
            seed: The seed variable; updated in place.

        Returns:
            The C ``float`` value as a Python float.
        """
        return self.gaussdev_from(lambda: self.ran1(seed))

    # -- poisson ----------------------------------------------------------------------------
    def poidev_from(self, xm: float, draw: Callable[[], float]) -> float:
        """``poidev`` with uniform deviates taken from ``draw`` (see :meth:`poidev`)."""
        xm = f32(xm)
        if xm > 1.0e6:
            return f32(xm + math.sqrt(xm) * self.gaussdev_from(draw))
        if xm < 12.0:
            if xm != self.poi_oldm:
                self.poi_oldm = xm
                self.poi_g = f32(_exp(-xm))
            g = self.poi_g
            em = 0.0
            t = draw()
            while t > g:
                em += 1.0
                t = f32(t * draw())
            return em
        # rejection method with a Lorentzian comparison function
        if xm != self.poi_oldm:
            self.poi_oldm = xm
            self.poi_sq = f32(math.sqrt(2.0 * xm))
            self.poi_alxm = f32(math.log(xm))
            self.poi_g = f32(f32(xm * self.poi_alxm) - gammln(f32(xm + 1.0)))
        return _poidev_rejection(xm, self.poi_sq, self.poi_alxm, self.poi_g, draw)

    def poidev(self, xm: float, seed: Seed) -> float:
        """Poisson deviate of mean ``xm`` exactly as the C ``poidev``.

        ``xm < 12``: multiply uniforms until the product drops to ``exp(-xm)`` (one draw per
        count plus one); ``12 <= xm <= 1e6``: rejection method; ``xm > 1e6``:
        ``xm + sqrt(xm) * gaussdev``.  The static cache of the last ``xm`` is reproduced.

        Args:
            xm: Mean (rounded to float32, as the C ``float`` parameter).
            seed: The seed variable; updated in place.

        Returns:
            The C ``float`` deviate as a Python float.
        """
        return self.poidev_from(xm, lambda: self.ran1(seed))

    # -- state ------------------------------------------------------------------------------
    def copy(self) -> CRandom:
        """Independent copy of the whole state."""
        other = CRandom()
        other.__dict__.update(self.__dict__)
        other.iv = list(self.iv)
        return other


#: The Lanczos series of ``gammln`` (g = 5, six terms) and sqrt(2 pi), as the C program has them.
#: Every form of ``gammln`` here (scalar, numpy, numba) sums the terms in this order.
LANCZOS = (
    1.000000000190015,
    76.18009172947146,
    -86.50532032941677,
    24.01409824083091,
    -1.231739572450155,
    0.1208650973866179e-2,
    -0.5395239384953e-5,
)
SQRT_2PI = 2.5066282746310005


def gammln(xx: float) -> float:
    """ln Gamma(xx) (Lanczos), exactly as the C ``gammln`` (double inside, float result).

    Args:
        xx: Argument (rounded to float32, the C parameter type), > 0.

    Returns:
        The float32 result as a Python float.
    """
    x = f32(xx)
    tmp = x + 5.5
    tmp -= (x + 0.5) * math.log(tmp)
    y = x
    ser = LANCZOS[0]
    for c in LANCZOS[1:]:
        y += 1.0
        ser += c / y
    return f32(-tmp + math.log(SQRT_2PI * ser / x))


_GAMMLN_EM1: dict[float, float] = {}


def _gammln_em1(em: float) -> float:
    """``gammln(em + 1.0)`` for a float32 ``em`` (memoised for finite values)."""
    v = _GAMMLN_EM1.get(em)
    if v is None:
        v = gammln(f32(em + 1.0))
        if math.isfinite(em):
            if len(_GAMMLN_EM1) > 1_000_000:
                _GAMMLN_EM1.clear()
            _GAMMLN_EM1[em] = v
    return v


def _poidev_rejection(
    xm: float, sq: float, alxm: float, g: float, draw: Callable[[], float]
) -> float:
    """The rejection branch of ``poidev`` (12 <= xm <= 1e6) with its cached constants.

    Every intermediate that C keeps in a ``float`` is rounded to float32 (all of them stay far
    inside the float32 range, so the inline ``pack``/``unpack`` cannot overflow).
    """
    pack, unpack = _pack, _unpack
    tan, exp, pi = math.tan, math.exp, math.pi
    while True:
        while True:
            y = unpack(pack(tan(pi * draw())))[0]
            em = unpack(pack(unpack(pack(sq * y))[0] + xm))[0]
            if not em < 0.0:
                break
        if em == em:
            em = float(math.floor(em))
        yy = unpack(pack(y * y))[0]
        arg = unpack(pack(unpack(pack(unpack(pack(em * alxm))[0] - _gammln_em1(em)))[0] - g))[0]
        try:
            t = unpack(pack((0.9 * (1.0 + yy)) * exp(arg)))[0]
        except OverflowError:
            t = math.inf
        if not draw() > t:
            return em


# ---------------------------------------------------------------------------------------------
# The draws of a mosaic domain (the matrices are built in nb_core.crystal.orientation).
@dataclass(frozen=True)
class MosaicDraw:
    """The random part of ``n`` calls of the C ``mosaic_rotation_umat``.

    Attributes:
        axes: (n, 3) float64 unit rotation axes ``v``.
        fractions: (n,) float64 holding float32 values ``powf(1 - r3**2, 1/3)``; the C rotation
            angle is ``float32(float32(mosaicity) * fraction)`` radians.
    """

    axes: np.ndarray
    fractions: np.ndarray


def mosaic_draws(n: int, rng: CRandom, seed: Seed) -> MosaicDraw:
    """Draw the axes and angle fractions of ``n`` successive ``mosaic_rotation_umat`` calls.

    Args:
        n: Number of calls (three ``ran1`` draws each).
        rng: Shared state.
        seed: The seed variable (e.g. ``Seed(-12345678)``, the C default mosaic seed).

    Returns:
        A :class:`MosaicDraw` with (n, 3) axes and (n,) fractions.
    """
    axes = np.empty((n, 3), dtype=np.float64)
    fractions = np.empty(n, dtype=np.float64)
    for i in range(n):
        r1 = 2.0 * rng.ran1(seed) - 1.0
        r2 = 2.0 * rng.ran1(seed) - 1.0
        r3 = 2.0 * rng.ran1(seed) - 1.0
        xyrad = math.sqrt(1.0 - r2 * r2)
        fractions[i] = powf(1.0 - r3 * r3, _THIRD_F32)
        axes[i, 0] = xyrad * math.sin(math.pi * r1)
        axes[i, 1] = xyrad * math.cos(math.pi * r1)
        axes[i, 2] = r2
    return MosaicDraw(axes=axes, fractions=fractions)
