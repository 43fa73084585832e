"""nb_core: a differentiable, vectorized PyTorch re-implementation of nanoBragg.

The public API:

- :class:`Settings` -- what the user asked for (the C program's flags, in flag units);
- :func:`load_inputs` / :func:`resolve` -- the C program's rules, giving an
  :class:`Experiment` of :class:`Params` (tensors) and :class:`Static` (shapes and switches);
- :func:`render` -- the one kernel: ``render(params, static) -> (spixels, fpixels)`` image;
- :class:`nb_core.model.Simulator` and :mod:`nb_core.refine` -- refinement;
- :mod:`nb_core.io` -- the files nanoBragg reads and writes;
- :mod:`nb_core.images` -- statistics, SMV counts and PGM bytes from a float image;
- :class:`Quirks` -- switches that fix the C program's plain bugs (reproduced by default);
- :func:`keep_freed_memory` -- keep freed tensor memory for reuse (what ``nb`` runs with).
"""

from nb_core.errors import InputError
from nb_core.images import ImageStats, image_statistics, int_image, pgm_image
from nb_core.options import QUIRK_HELP, Quirks
from nb_core.params import Experiment, Params, Static
from nb_core.render import render, render_pixels, rendered_pixels, solid_angle_total
from nb_core.resolve import Inputs, load_inputs, resolve
from nb_core.runtime import keep_freed_memory
from nb_core.settings import Settings

__all__ = [
    "QUIRK_HELP",
    "Experiment",
    "ImageStats",
    "InputError",
    "Inputs",
    "Params",
    "Quirks",
    "Settings",
    "Static",
    "image_statistics",
    "int_image",
    "keep_freed_memory",
    "load_inputs",
    "pgm_image",
    "render",
    "render_pixels",
    "rendered_pixels",
    "resolve",
    "solid_angle_total",
]
