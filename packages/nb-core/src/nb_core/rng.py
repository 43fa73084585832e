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
    "CRandom",
    "MosaicDraw",
    "Ran1Stream",
    "Seed",
    "f32",
    "mosaic_draws",
    "mosaic_rotation_umat",
    "mosaic_umats",
    "powf",
    "random_misset",
    "rotation_from_axis_angle",
    "umat2misset",
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
            fn = lib.powf
        except (OSError, AttributeError, TypeError):
            continue
        fn.restype = ctypes.c_float
        fn.argtypes = [ctypes.c_float, ctypes.c_float]
        return fn
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
    xf, yf = f32(x), f32(y)
    if _C_POWF is not None:
        return float(_C_POWF(xf, yf))
    try:
        return f32(math.pow(xf, yf))
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
    q = abs(a) // b
    return q if a >= 0 else -q


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
    pk, up = _pack, _unpack
    tan, exp, pi = math.tan, math.exp, math.pi
    while True:
        while True:
            y = up(pk(tan(pi * draw())))[0]
            em = up(pk(up(pk(sq * y))[0] + xm))[0]
            if not em < 0.0:
                break
        if em == em:
            em = float(math.floor(em))
        yy = up(pk(y * y))[0]
        arg = up(pk(up(pk(up(pk(em * alxm))[0] - _gammln_em1(em)))[0] - g))[0]
        try:
            t = up(pk((0.9 * (1.0 + yy)) * exp(arg)))[0]
        except OverflowError:
            t = math.inf
        if not draw() > t:
            return em


# ---------------------------------------------------------------------------------------------
# Fast block generation of ran1 output for the noise loop.
_POW_CACHE: list[np.ndarray] = []


def _lehmer_powers(n: int) -> np.ndarray:
    """``16807**k mod (2**31 - 1)`` for k = 1..n as int64 (cached, built by doubling)."""
    if _POW_CACHE and _POW_CACHE[0].size >= n:
        return _POW_CACHE[0][:n]
    size = max(n, 1 << 16)
    pw = np.empty(size, dtype=np.int64)
    pw[0] = _IA
    filled = 1
    while filled < size:
        m = min(filled, size - filled)
        pw[filled : filled + m] = (pw[:m] * pw[filled - 1]) % _IM
        filled += m
    _POW_CACHE[:] = [pw]
    return pw[:n]


def _shuffle_block(idum: int, iv: list[int], iy: int, n: int) -> tuple[np.ndarray, int, int]:
    """Advance a *regular* state (``0 < idum < IM``, ``iy != 0``) by ``n >= 1`` draws.

    The Lehmer states are computed vectorised; the shuffle runs in Python on indices: the
    table holds, per slot, the index (into ``initial table + new states``) of its value.

    Returns:
        ((n,) int64 successive ``iy`` outputs, final idum, final iy); ``iv`` is updated in place.
    """
    xa = (_lehmer_powers(n) * idum) % _IM
    ext = np.concatenate([np.asarray(iv, dtype=np.int64), xa])
    top = (ext >> _NDIV_SHIFT).tolist()  # slot chosen by each value (value // NDIV)
    slot_src = list(range(_NTAB))
    j = iy >> _NDIV_SHIFT
    src: list[int] = []
    put = src.append
    for k in range(_NTAB, _NTAB + n):
        m = slot_src[j]
        put(m)
        slot_src[j] = k
        j = top[m]
    out = ext[np.fromiter(src, dtype=np.int64, count=n)]
    iv[:] = ext[slot_src].tolist()
    return out, int(xa[-1]), int(out[-1])


def _iy_to_uniform(iys: np.ndarray) -> list[float]:
    """Vectorised ``ran1`` output conversion: float32(AM * iy), clamped to RNMX."""
    d = iys * _AM
    v = d.astype(np.float32).astype(np.float64)
    v[v > _RNMX] = _RNMX_F32
    return v.tolist()


class Ran1Stream:
    """Blocks of successive ``ran1(seed)`` outputs, for sequential consumers (the noise loop).

    The ran1 output sequence of a seed does not depend on how it is consumed, so it can be
    generated ahead in blocks (vectorised Lehmer steps plus a tight shuffle loop).  The
    consumer reads ``buf[pos]``; when ``buf`` runs out it calls :meth:`next_block` (optionally
    keeping the tail of the old block so that a value range can be re-read).  :meth:`close`
    then rewinds the :class:`CRandom` and :class:`Seed` to just after the last value used,
    exactly where the C program would be.

    Args:
        rng: The shared state (advanced by this stream).
        seed: The seed variable.
        block: Values per generated block.

    Attributes:
        buf: The current block (list of float32 values as Python floats).
        pos: Index of the next value in ``buf`` (maintained by :meth:`draw`; consumers that
            index ``buf`` themselves pass their own count to :meth:`close`).
    """

    def __init__(self, rng: CRandom, seed: Seed, block: int = 1 << 16) -> None:
        self.rng = rng
        self.seed = seed
        self.block = max(int(block), 1)
        self.buf: list[float] = []
        self.pos = 0
        self._buf_start = 0  # stream index of buf[0]
        self._end = 0  # stream index after the last generated value (= rng's position)
        # (stream index, idum, iv, iy, regular) at the start of every generated block
        self._snaps: list[tuple[int, int, list[int], int, bool]] = []

    def next_block(self, keep_from: int | None = None) -> list[float]:
        """Generate the next block.

        Args:
            keep_from: If given, ``buf[keep_from:]`` is kept in front of the new values and
                ``pos`` is set to its length; otherwise ``pos`` is set to 0 (the old block
                must have been used up).

        Returns:
            The new ``buf``.
        """
        rng, seed = self.rng, self.seed
        carry = self.buf[keep_from:] if keep_from is not None else []
        regular = 0 < seed.value < _IM and rng.iy != 0
        self._snaps.append((self._end, seed.value, list(rng.iv), rng.iy, regular))
        if regular:
            iys, seed.value, rng.iy = _shuffle_block(seed.value, rng.iv, rng.iy, self.block)
            fresh = _iy_to_uniform(iys)
        else:
            # irregular state (first load, or a pathological seed): one exact scalar draw
            fresh = [rng.ran1(seed)]
        self._end += len(fresh)
        self.buf = carry + fresh if carry else fresh
        self._buf_start = self._end - len(self.buf)
        self.pos = len(carry)
        return self.buf

    def draw(self) -> float:
        """Next value, using and advancing ``pos`` (for slow paths)."""
        try:
            r = self.buf[self.pos]
        except IndexError:
            self.next_block()
            r = self.buf[0]
        self.pos += 1
        return r

    def close(self, used: int | None = None) -> None:
        """Rewind the generator state to just after the last value used.

        Args:
            used: Values used from the current ``buf`` (default ``pos``).
        """
        target = self._buf_start + (self.pos if used is None else used)
        if target == self._end:
            return
        snap = next((sn for sn in reversed(self._snaps) if sn[0] <= target), None)
        if snap is None:  # pragma: no cover - target >= 0, the first snapshot's start
            raise AssertionError("stream position before its first block")
        start, idum, iv, iy, regular = snap
        rng, seed = self.rng, self.seed
        rng.iv[:] = iv
        rng.iy = iy
        seed.value = idum
        n = target - start
        if n == 0:
            return
        if regular:
            _, seed.value, rng.iy = _shuffle_block(idum, rng.iv, iy, n)
        else:  # pragma: no cover - irregular blocks hold one value
            for _ in range(n):
                rng.ran1(seed)
        self._end = target


# ---------------------------------------------------------------------------------------------
# Mosaic domains and random orientation.
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


def rotation_from_axis_angle(axes: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Rotation matrices about unit axes, with the C program's exact operation order.

    Args:
        axes: (n, 3) unit axes.
        angles: (n,) angles in radians.

    Returns:
        (n, 3, 3) float64 matrices ``m`` with ``new = m @ old``; row i is
        ``umat[3i:3i+3]`` of the C code.
    """
    axes = np.asarray(axes, dtype=np.float64).reshape(-1, 3)
    angles = np.asarray(angles, dtype=np.float64).reshape(-1)
    # libm cos/sin element by element (numpy's SIMD versions may differ in the last bit)
    t1 = np.array([math.cos(a) for a in angles.tolist()], dtype=np.float64)
    t8 = np.array([math.sin(a) for a in angles.tolist()], dtype=np.float64)
    v1, v2, v3 = axes[:, 0], axes[:, 1], axes[:, 2]
    t2 = 1.0 - t1
    t6 = t2 * v1
    t7 = t6 * v2
    t9 = t8 * v3
    t11 = t6 * v3
    t12 = t8 * v2
    t19 = t2 * v2 * v3
    t20 = t8 * v1
    m = np.empty((axes.shape[0], 3, 3), dtype=np.float64)
    m[:, 0, 0] = t1 + t2 * (v1 * v1)
    m[:, 0, 1] = t7 - t9
    m[:, 0, 2] = t11 + t12
    m[:, 1, 0] = t7 + t9
    m[:, 1, 1] = t1 + t2 * (v2 * v2)
    m[:, 1, 2] = t19 - t20
    m[:, 2, 0] = t11 - t12
    m[:, 2, 1] = t19 + t20
    m[:, 2, 2] = t1 + t2 * (v3 * v3)
    return m


def _angles(mosaicity: float, fractions: np.ndarray) -> np.ndarray:
    """float32(float32(mosaicity) * fraction) for every fraction (float32 multiply)."""
    mf = f32(float(mosaicity))
    return np.array([f32(mf * fr) for fr in np.asarray(fractions).tolist()], dtype=np.float64)


def mosaic_rotation_umat(mosaicity: float, rng: CRandom, seed: Seed) -> np.ndarray:
    """One exact C ``mosaic_rotation_umat`` call: a random rotation within a spherical cap.

    Args:
        mosaicity: Cap size in radians (passed as a C ``float``: rounded to float32).
        rng: Shared state.
        seed: The seed variable; three draws.

    Returns:
        (3, 3) float64 rotation matrix (rows = C ``umat[0..2]``, ``[3..5]``, ``[6..8]``).
    """
    draw = mosaic_draws(1, rng, seed)
    return rotation_from_axis_angle(draw.axes, _angles(mosaicity, draw.fractions))[0]


def mosaic_umats(mosaic_spread_rad: float, domains: int, rng: CRandom, seed: Seed) -> np.ndarray:
    """The mosaic domain orientations exactly as the C main loop builds them.

    Every domain makes one ``mosaic_rotation_umat`` call (three draws), including domain 0,
    whose matrix is then overwritten with the identity.

    Args:
        mosaic_spread_rad: Mosaic spread in radians (C double; the callee rounds it to float32).
        domains: Number of domains (the C program has already forced this to >= 1).
        rng: Shared state.
        seed: The mosaic seed variable (C default ``-12345678``); advanced by 3 * domains draws.

    Returns:
        (domains, 3, 3) float64 rotation matrices.
    """
    draw = mosaic_draws(max(int(domains), 0), rng, seed)
    umats = rotation_from_axis_angle(draw.axes, _angles(mosaic_spread_rad, draw.fractions))
    if umats.shape[0] > 0:
        umats[0] = np.eye(3)
    return umats


def umat2misset(umat: np.ndarray) -> np.ndarray:
    """Missetting angles (rotx, roty, rotz) of a rotation matrix, exactly as the C ``umat2misset``.

    The rows are renormalised (a zero row is replaced by the cross product of the other two)
    before the angles are read off; the degenerate ``|uzx| >= 1`` case gives (pi, pi/2, ...).

    Args:
        umat: (3, 3) matrix (rows = C ``umat[0..2]``, ``[3..5]``, ``[6..8]``).

    Returns:
        (3,) float64 angles in radians (the C ``missets[1..3]``).
    """
    u = np.asarray(umat, dtype=np.float64).reshape(9).tolist()
    xx, xy, xz, yx, yy, yz, zx, zy, zz = u
    sqrt = math.sqrt

    mx = sqrt(xx * xx + xy * xy + xz * xz)
    my = sqrt(yx * yx + yy * yy + yz * yz)
    mz = sqrt(zx * zx + zy * zy + zz * zz)
    if mx > 0:
        xx, xy, xz = xx / mx, xy / mx, xz / mx
    if my > 0:
        yx, yy, yz = yx / my, yy / my, yz / my
    if mz > 0:
        zx, zy, zz = zx / mz, zy / mz, zz / mz
    if mx >= 0 and my <= 0 and mz <= 0:
        yx, yy, yz = 0.0, 1.0, 0.0
        zx, zy, zz = 0.0, 0.0, 1.0
    if mx <= 0 and my >= 0 and mz <= 0:
        xx, xy, xz = 1.0, 0.0, 0.0
        zx, zy, zz = 0.0, 0.0, 1.0
    if mx <= 0 and my <= 0 and mz >= 0:
        xx, xy, xz = 1.0, 0.0, 0.0
        yx, yy, yz = 0.0, 1.0, 0.0

    def unit(a: float, b: float, c: float) -> tuple[float, float, float]:
        m = sqrt(a * a + b * b + c * c)
        if m > 0:
            return a / m, b / m, c / m
        return a, b, c

    for _ in range(2):
        xcy = unit(xy * yz - xz * yy, xz * yx - xx * yz, xx * yy - xy * yx)
        ycz = unit(yy * zz - yz * zy, yz * zx - yx * zz, yx * zy - yy * zx)
        zcx = unit(zy * xz - zz * xy, zz * xx - zx * xz, zx * xy - zy * xx)
        if mx <= 0:
            xx, xy, xz = ycz
        if my <= 0:
            yx, yy, yz = zcx
        if mz <= 0:
            zx, zy, zz = xcy

    mx = sqrt(xx * xx + xy * xy + xz * xz)
    my = sqrt(yx * yx + yy * yy + yz * yz)
    mz = sqrt(zx * zx + zy * zy + zz * zz)
    if mx > 0:
        xx, xy, xz = xx / mx, xy / mx, xz / mx
    if my > 0:
        yx, yy, yz = yx / my, yy / my, yz / my
    if mz > 0:
        zx, zy, zz = zx / mz, zy / mz, zz / mz

    if zx * zx < 1.0:
        rotx = math.atan2(zy, zz)
        roty = math.atan2(-zx, sqrt(zy * zy + zz * zz))
        rotz = math.atan2(yx, xx)
    else:
        rotx = math.atan2(1, 1) * 4
        roty = math.atan2(1, 1) * 2
        rotz = math.atan2(xy, -yy)
    return np.array([rotx, roty, rotz], dtype=np.float64)


def uniform_rotation(rng: CRandom, seed: Seed) -> np.ndarray:
    """A rotation drawn uniformly over all orientations (Shoemake's quaternion method).

    Uses three ``ran1`` draws ``u1, u2, u3``: the unit quaternion
    ``(sqrt(1-u1) sin 2pi u2, sqrt(1-u1) cos 2pi u2, sqrt(u1) sin 2pi u3, sqrt(u1) cos 2pi u3)``
    is uniform on the 3-sphere, so its rotation is uniform over SO(3).

    Args:
        rng: Shared state.
        seed: The seed variable (three draws).

    Returns:
        (3, 3) float64 rotation matrix ``U`` with ``new = U @ old``.
    """
    u1, u2, u3 = rng.ran1(seed), rng.ran1(seed), rng.ran1(seed)
    a, b = math.sqrt(1.0 - u1), math.sqrt(u1)
    x, y = a * math.sin(2 * math.pi * u2), a * math.cos(2 * math.pi * u2)
    z, w = b * math.sin(2 * math.pi * u3), b * math.cos(2 * math.pi * u3)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_misset(rng: CRandom, seed: Seed, *, degrees_quirk: bool = True) -> np.ndarray:
    """The missetting angles that ``-misset random`` produces.

    The C program calls ``mosaic_rotation_umat(90.0, ...)`` -- 90 meant as degrees, but the
    routine takes radians, so the rotation angle is ``90 * (1 - r3**2)**(1/3)`` *radians*, and
    the orientations it draws are not uniform. ``degrees_quirk=False`` (``-fix misset``) draws a
    uniformly random orientation instead (:func:`uniform_rotation`, three draws as well).

    Args:
        rng: Shared state.
        seed: The misset seed variable (three draws).
        degrees_quirk: True reproduces the C program; False draws a uniform orientation.

    Returns:
        (3,) float64 angles (rotx, roty, rotz) in radians.
    """
    if degrees_quirk:
        return umat2misset(mosaic_rotation_umat(90.0, rng, seed))
    return umat2misset(uniform_rotation(rng, seed))
