"""``nb --version``: the installed versions of nb's packages and of torch.

Read from the installed distributions' metadata, so that asking does not import torch.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["DISTRIBUTIONS", "version_lines"]

#: nb's distributions (the names ``pip install`` takes) and the import package each provides.
DISTRIBUTIONS = (
    ("nanobragg-torch-cli", "nb_cli"),
    ("nanobragg-torch", "nb_core"),
    ("nanobragg-torch-parity", "nb_parity"),
)


def _installed(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "not installed"


def version_lines() -> list[str]:
    """One line per package: nb's three distributions, then torch and Python.

    Returns:
        E.g. ``["nb 0.1.0", "nanobragg-torch-cli 0.1.0 (nb_cli)", ..., "torch 2.13.0+cpu",
        "Python 3.11.2"]``; a distribution that is not installed reads ``not installed``.
    """
    import platform

    cli = _installed(DISTRIBUTIONS[0][0])
    lines = [f"nb {cli}"]
    lines += [f"{name} {_installed(name)} ({package})" for name, package in DISTRIBUTIONS]
    lines.append(f"torch {_installed('torch')}")
    lines.append(f"Python {platform.python_version()}")
    return lines
