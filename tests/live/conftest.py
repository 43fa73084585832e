"""Fixtures for the live suite: the C binary, and run statistics printed at the end.

Every test here needs the reference C program: ``NB_C_BIN`` names it, and without it the
tests report as skipped ("NB_C_BIN is not set"). The default suite deselects them anyway
(``-m 'not live and not slow'``); run them with ``pytest -m live tests/live``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from nb_parity.runs import find_c_binary


@dataclass
class LiveStats:
    """What the live property tests ran.

    Attributes:
        examples: Geometries compared (both programs run).
        failures: Comparisons that failed (shrinking runs included).
        c_seconds: Time in the C program.
        nb_seconds: Time in nb.
        first: ``perf_counter`` at the first comparison.
        last: ``perf_counter`` at the end of the last comparison.
        by_test: Comparisons per test id.
    """

    examples: int = 0
    failures: int = 0
    c_seconds: float = 0.0
    nb_seconds: float = 0.0
    first: float | None = None
    last: float | None = None
    by_test: dict[str, int] = field(default_factory=dict)

    def record(self, test: str, c_seconds: float, nb_seconds: float, *, ok: bool) -> None:
        """Count one comparison."""
        now = time.perf_counter()
        if self.first is None:
            self.first = now - c_seconds - nb_seconds
        self.last = now
        self.examples += 1
        self.failures += 0 if ok else 1
        self.c_seconds += c_seconds
        self.nb_seconds += nb_seconds
        self.by_test[test] = self.by_test.get(test, 0) + 1

    def _repr_pretty_(self, p: object, cycle: bool) -> None:
        p.text(f"LiveStats(examples={self.examples})")  # type: ignore[attr-defined]


STATS = LiveStats()


@pytest.fixture(scope="session")
def c_binary() -> Path:
    """The reference C binary from ``NB_C_BIN``; skips the test when it is not set."""
    path = find_c_binary()
    if path is None:
        pytest.skip("NB_C_BIN is not set")
    return path


@pytest.fixture(scope="session")
def live_stats() -> LiveStats:
    """The session's live statistics."""
    return STATS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print how many geometries the live tests compared, and how long that took."""
    if not STATS.examples:
        return
    wall = (STATS.last or 0.0) - (STATS.first or 0.0)
    tr = terminalreporter
    tr.write_sep("-", "live parity against the C binary")
    tr.write_line(
        f"{STATS.examples} geometries compared in {wall:.1f} s "
        f"(C {STATS.c_seconds:.1f} s, nb {STATS.nb_seconds:.1f} s); "
        f"{STATS.failures} failing comparisons (shrinking included)"
    )
    for test, count in sorted(STATS.by_test.items()):
        tr.write_line(f"  {test}: {count}")
