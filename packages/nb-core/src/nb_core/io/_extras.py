"""Optional dependencies: imported on first use, a missing one named with its extra."""

from __future__ import annotations

import importlib
from types import ModuleType

from nb_core.errors import InputError, extra_hint

__all__ = ["import_extra"]


def import_extra(module: str, extra: str, needed_by: str) -> ModuleType:
    """Import an optional dependency of nb-core.

    Args:
        module: The module, e.g. ``"fabio"`` or ``"fabio.compression"`` (the message names the
            top-level package).
        extra: The nb-core extra that installs it, e.g. ``"cbf"``.
        needed_by: The flag or file that needs it (put in front of the error line).

    Returns:
        The module.

    Raises:
        InputError: The module is not installed; the line names the extra to install.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InputError(
            f"needs {module.split('.')[0]}, which is not installed; {extra_hint(extra)}",
            needed_by,
        ) from None
