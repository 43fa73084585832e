"""Process-level memory allocator settings for long renders.

A render allocates and frees the same few-megabyte tensors once per chunk and per operation.
glibc serves blocks of that size with ``mmap`` and returns them to the kernel on ``free``, so
every operation of every chunk pays for fresh page faults. Raising the ``mmap`` threshold and
the trim threshold keeps those blocks on the heap, where they are reused (about 15% of the
wall time of the Pilatus frame on this project's 2-core machine; more for a pass with
gradients, whose saved tensors would otherwise be faulted in fresh on every pass). Peak
memory is unchanged: the heap keeps what the render already used at its peak.

``nb simulate``, ``nb refine``, the data set commands and each Dask worker call
:func:`keep_freed_memory` at start; from Python call it once before rendering in a loop (it
changes the whole process's ``malloc``, so nb never calls it on import).
"""

from __future__ import annotations

import ctypes
import sys

__all__ = ["keep_freed_memory"]

_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3

#: glibc's largest accepted mmap threshold on 64-bit systems (bytes).
_MMAP_THRESHOLD = 32 * 1024 * 1024
_TRIM_THRESHOLD = 1 << 30
_TOP_PAD = 64 * 1024 * 1024


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks up to 32 MB on the heap for reuse.

    Returns:
        Whether the settings were applied (False off Linux/glibc; nothing changes then).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD) == 1 and ok
    ok = mallopt(_M_TOP_PAD, _TOP_PAD) == 1 and ok
    return ok
