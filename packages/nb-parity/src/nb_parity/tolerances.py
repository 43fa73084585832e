"""How close nb's images must come, by dtype: the one tolerance table.

Every threshold that depends on the floating dtype lives in :data:`TOLERANCE`: the golden
corpus and ``nb compare`` hold nb to the C program with ``rel_l2`` and ``max_rel``
(:class:`nb_parity.compare.Thresholds` takes its defaults from here), and tests that compare
two nb computation paths of one image in one dtype use ``rtol`` and ``atol``.

The table is keyed by dtype name; a ``torch.dtype`` is accepted as a key too, so
``TOLERANCE[torch.float64]`` and ``TOLERANCE["float64"]`` are the same entry. The module does
not import torch (``nb compare`` starts without it).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

__all__ = ["TOLERANCE", "Tolerance", "ToleranceTable", "dtype_name"]


@dataclass(frozen=True)
class Tolerance:
    """What one dtype must reach.

    Attributes:
        rel_l2: Largest ``||nb - C|| / ||C||`` of the float image against the C program.
        max_rel: Largest ``max |nb - C| / max |C|`` of the float image against the C program.
        rtol: Relative, element by element, between two nb computation paths of one image
            (for example the Simulator and :func:`nb_core.render`, or a batch and single
            renders): the same sums rounded by other kernels.
        atol: Absolute (photons), element by element, for the same comparisons as ``rtol``.
    """

    rel_l2: float
    max_rel: float
    rtol: float
    atol: float


def dtype_name(dtype: object) -> str:
    """``"float64"`` for ``torch.float64`` or ``"float64"``; the name of any dtype."""
    return str(dtype).removeprefix("torch.")


class ToleranceTable(Mapping[str, Tolerance]):
    """Read-only :class:`Tolerance` per dtype name; a ``torch.dtype`` works as a key too."""

    def __init__(self, by_name: Mapping[str, Tolerance]) -> None:
        self._by_name = dict(by_name)

    def __getitem__(self, dtype: object) -> Tolerance:
        return self._by_name[dtype_name(dtype)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, dtype: object) -> bool:
        return dtype_name(dtype) in self._by_name


#: The tolerances of each supported dtype.
TOLERANCE = ToleranceTable(
    {
        "float64": Tolerance(rel_l2=1e-6, max_rel=1e-5, rtol=1e-10, atol=1e-12),
        "float32": Tolerance(rel_l2=1e-3, max_rel=1e-2, rtol=1e-3, atol=1e-5),
    }
)
