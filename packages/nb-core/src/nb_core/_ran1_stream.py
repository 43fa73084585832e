"""Successive ``ran1`` outputs generated ahead in blocks, for the noise loop.

The ran1 output sequence of a seed does not depend on how it is consumed, so
:class:`Ran1Stream` computes the Lehmer states of a block at once (numpy, by powers of the
multiplier) and runs only the Bays-Durham shuffle in Python. Every value, and the generator
state left behind, is the scalar :meth:`nb_core.rng.CRandom.ran1`'s bit for bit.
"""

from __future__ import annotations

import numpy as np

from nb_core.rng import _AM, _IA, _IM, _NDIV_SHIFT, _NTAB, _RNMX, _RNMX_F32, CRandom, Seed

__all__ = ["Ran1Stream"]

_POW_CACHE: list[np.ndarray] = []


def _lehmer_powers(n: int) -> np.ndarray:
    """``16807**k mod (2**31 - 1)`` for k = 1..n as int64 (cached, built by doubling)."""
    if _POW_CACHE and _POW_CACHE[0].size >= n:
        return _POW_CACHE[0][:n]
    size = max(n, 1 << 16)
    powers = np.empty(size, dtype=np.int64)
    powers[0] = _IA
    filled = 1
    while filled < size:
        count = min(filled, size - filled)
        powers[filled : filled + count] = (powers[:count] * powers[filled - 1]) % _IM
        filled += count
    _POW_CACHE[:] = [powers]
    return powers[:n]


def _shuffle_block(idum: int, iv: list[int], iy: int, n: int) -> tuple[np.ndarray, int, int]:
    """Advance a *regular* state (``0 < idum < IM``, ``iy != 0``) by ``n >= 1`` draws.

    The Lehmer states are computed vectorised; the shuffle runs in Python on indices: the
    table holds, per slot, the index (into ``initial table + new states``) of its value.

    Returns:
        ((n,) int64 successive ``iy`` outputs, final idum, final iy); ``iv`` is updated in place.
    """
    states = (_lehmer_powers(n) * idum) % _IM
    pool = np.concatenate([np.asarray(iv, dtype=np.int64), states])
    slot_of = (pool >> _NDIV_SHIFT).tolist()  # slot chosen by each value (value // NDIV)
    slot_holds = list(range(_NTAB))  # index into pool of the value each slot holds
    slot = iy >> _NDIV_SHIFT
    taken: list[int] = []
    take = taken.append
    for new in range(_NTAB, _NTAB + n):
        held = slot_holds[slot]
        take(held)
        slot_holds[slot] = new
        slot = slot_of[held]
    outputs = pool[np.fromiter(taken, dtype=np.int64, count=n)]
    iv[:] = pool[slot_holds].tolist()
    return outputs, int(states[-1]), int(outputs[-1])


def _iy_to_uniform(iys: np.ndarray) -> list[float]:
    """Vectorised ``ran1`` output conversion: float32(AM * iy), clamped to RNMX."""
    uniform = (iys * _AM).astype(np.float32).astype(np.float64)
    uniform[uniform > _RNMX] = _RNMX_F32
    return uniform.tolist()


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
        snap = next((held for held in reversed(self._snaps) if held[0] <= target), None)
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
