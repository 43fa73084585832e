"""The C program's ``-printout`` block, printed after a ``simulate`` run."""

from __future__ import annotations

import numpy as np

from nb_core.render import rendered_pixels
from nb_core.trace import format_printout, trace_pixel

__all__ = ["print_printout"]


def print_printout(prepared: object, image: np.ndarray) -> None:
    """Print the ``-printout`` block for ``-printout_pixel F S``, or for every rendered pixel.

    Args:
        prepared: The prepared run (:class:`nb_cli.simulate.Prepared`).
        image: ``(S, F)`` float32 image that was written.
    """
    exp = prepared.experiment  # type: ignore[attr-defined]
    settings = prepared.parsed.settings  # type: ignore[attr-defined]
    params, static = exp.params, exp.static
    fpix, spix = settings.printout_pixel
    if fpix >= 0:
        targets = [(fpix, spix)]
    else:
        flat = rendered_pixels(params, static).tolist()
        targets = [(i % static.fpixels, i // static.fpixels) for i in flat]
    keep = rendered_pixels(params, static)
    rendered = set(keep.tolist())
    for f, s in targets:
        if not (0 <= f < static.fpixels and 0 <= s < static.spixels):
            continue
        if s * static.fpixels + f not in rendered:
            continue
        trace = trace_pixel(params, static, f, s)
        for line in format_printout(trace, float(image[s, f])):
            print(line)
