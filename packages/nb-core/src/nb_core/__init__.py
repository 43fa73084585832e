"""nb_core: a differentiable, vectorized PyTorch re-implementation of nanoBragg.

The public API:

- :class:`Settings` -- what the user asked for (the C program's flags, in flag units);
- :func:`load_inputs` / :func:`resolve` -- the C program's rules, giving an
  :class:`Experiment` of :class:`Params` (tensors) and :class:`Static` (shapes and switches);
- :func:`render` -- the one kernel: ``render(params, static) -> (spixels, fpixels)`` image;
  :func:`render_sparse` -- the same values at chosen pixels only, :func:`spot_pixels` --
  the pixels worth rendering for a fit (:mod:`nb_core.spots`);
- :class:`nb_core.model.Simulator` and :mod:`nb_core.refine` -- refinement;
- :mod:`nb_core.io` -- the files nanoBragg reads and writes;
- :mod:`nb_core.images` -- statistics, SMV counts and PGM bytes from a float image;
- :class:`Quirks` -- switches that fix the C program's plain bugs (reproduced by default);
- :func:`keep_freed_memory` -- keep freed tensor memory for reuse (what ``nb`` runs with).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from nb_core.errors import InputError
from nb_core.images import ImageStats, image_statistics, int_image, pgm_image
from nb_core.options import QUIRK_HELP, Quirks
from nb_core.runtime import keep_freed_memory
from nb_core.settings import Settings

if TYPE_CHECKING:
    from nb_core.params import Experiment, Params, Static
    from nb_core.render import (
        render,
        render_pixels,
        render_sparse,
        rendered_pixels,
        solid_angle_total,
    )
    from nb_core.resolve import Inputs, load_inputs, resolve
    from nb_core.spots import SpotSelection, spot_pixels

#: Exports whose modules import torch, loaded on first use: the flag table, its help and
#: the file readers (``nb simulate --help``, a bad flag) then start without torch.
_LAZY = {
    "Experiment": "nb_core.params",
    "Params": "nb_core.params",
    "Static": "nb_core.params",
    "render": "nb_core.render",
    "render_pixels": "nb_core.render",
    "render_sparse": "nb_core.render",
    "rendered_pixels": "nb_core.render",
    "solid_angle_total": "nb_core.render",
    "Inputs": "nb_core.resolve",
    "load_inputs": "nb_core.resolve",
    "resolve": "nb_core.resolve",
    "SpotSelection": "nb_core.spots",
    "spot_pixels": "nb_core.spots",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nb_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """The package module: ``nb_core.render`` and ``nb_core.resolve`` stay the functions.

    Importing a submodule binds it on its package under its own name; for the two functions
    named like their modules that would replace the function with the module.
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "QUIRK_HELP",
    "Experiment",
    "ImageStats",
    "InputError",
    "Inputs",
    "Params",
    "Quirks",
    "Settings",
    "SpotSelection",
    "Static",
    "image_statistics",
    "int_image",
    "keep_freed_memory",
    "load_inputs",
    "pgm_image",
    "render",
    "render_pixels",
    "render_sparse",
    "rendered_pixels",
    "resolve",
    "solid_angle_total",
    "spot_pixels",
]
