"""``nb series``: a rotation series of N frames in one process.

Frame n is the flags given with ``-phi PHI + (n - 1) * OSC`` (``-osc`` is one frame's
oscillation, ``-phisteps``/``-phistep`` its steps inside a frame), ``-seed SEED + n - 1`` and
its own file names (``frame_#####.img`` templates, or ``_00001`` before the extension), so that
each frame is exactly a separate ``nb simulate`` (and a separate run of the C program) of
those flags, with a header (PHI, OSC_START, OSC_RANGE) of its own. A frame depends only on its
number: ``--first 51 --frames 50`` makes frames 51-100 of the same series. A frame with a phi
step exactly at 0 (frame 1 of ``-phi 0``) has static options of its own, the phi0 quirk's, so
``-compile auto`` weighs building its kernel for that frame alone.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from nb_cli.batch import ImageJob
from nb_cli.flags import parse_args
from nb_cli.per_image import check_image_count, image_seed, output_flags, series_seed
from nb_core.datasets import frame_phi, has_zero_phi_step, number_width
from nb_core.errors import InputError

__all__ = ["series_jobs"]


def series_jobs(argv: Sequence[str], frames: int, first: int = 1) -> list[ImageJob]:
    """The frames of a rotation series, each as the flags of a separate run.

    Args:
        argv: The series' ``nb simulate`` flags (``-phi`` the start of frame 1, ``-osc`` one
            frame's oscillation).
        frames: How many frames.
        first: The number of the first frame made (frames ``first`` .. ``first + frames - 1``).

    Returns:
        One job per frame.

    Raises:
        InputError: Bad flags, no ``-osc``, or a frame count or number out of range.
    """
    check_image_count(frames, "--frames", "frame")
    if first < 0:
        raise InputError(f"expected a frame number >= 0, got {first}", "--first")
    base = [str(a) for a in argv]
    parsed = parse_args(base)
    osc = parsed.settings.osc_deg
    if osc is None or osc <= 0.0:
        raise InputError("a series needs the oscillation of one frame, > 0 (deg)", "-osc")
    width = number_width(first + frames - 1)
    seed = series_seed(parsed)
    jobs = []
    for number in range(first, first + frames):
        phi = frame_phi(parsed.settings.phi_deg, osc, number)
        own = ["-phi", repr(phi), "-seed", str(image_seed(seed, number))]
        argv = (*base, *own, *output_flags(base, parsed, number, width))
        alone = has_zero_phi_step(dataclasses.replace(parsed.settings, phi_deg=phi))
        jobs.append(ImageJob(number, argv, own_kernel=alone))
    return jobs
