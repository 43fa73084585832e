"""The golden corpus for the end-to-end tests.

The ``device`` and ``dtype`` fixtures, ``shared_dir`` and the Hypothesis profiles come from the
repository's root ``conftest.py``; the tolerances from :data:`nb_parity.tolerances.TOLERANCE`.
"""

from __future__ import annotations

from pathlib import Path

from nb_parity.golden import GoldenCase, find_golden_root, load_cases

REPO = Path(__file__).resolve().parents[1]


def golden_cases() -> list[GoldenCase]:
    """The golden cases, or an empty list without ../shared."""
    root = find_golden_root(REPO)
    return load_cases(root) if root is not None else []
