"""Helpers several end-to-end test files share: running ``nb`` in a folder, comparing counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from nb_cli import main


def in_folder(folder: Path, argv: list[str]) -> int:
    """``nb ARGV`` in-process with ``folder`` (created) as the current folder; the exit code."""
    folder.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return main(argv)
    finally:
        os.chdir(cwd)


def run_nb(folder: Path, argv: list[str], prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``nb ARGV`` through the console entry in a fresh interpreter, in ``folder``."""
    code = prelude + "\nfrom nb_cli import run\nrun()\n"
    return subprocess.run(
        [sys.executable, "-c", code, *argv],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def assert_same_counts(a: np.ndarray, b: np.ndarray) -> None:
    """Two noise images drawn from float images of two computation paths.

    The C generator's draws follow the mean exactly, so a last-bit difference between the two
    means can change a count only where it sits on a rounding edge: allow one count, in at
    most one pixel in ten thousand.
    """
    diff = np.abs(np.asarray(a, dtype=np.int64) - np.asarray(b, dtype=np.int64))
    assert diff.max(initial=0) <= 1
    assert np.count_nonzero(diff) <= max(1, diff.size // 10_000)
