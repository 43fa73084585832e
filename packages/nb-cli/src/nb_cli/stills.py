"""``nb stills``: shots at random orientations, with their manifest of true parameters.

Shot n is the flags given plus ``-misset X Y Z`` (an orientation uniform over SO(3), drawn
from ``--shot-seed`` and n only), optionally ``-mosaic``, ``-N``, ``-flux`` (or ``-fluence``)
and ``-lambda`` drawn the same way (:class:`nb_core.datasets.ShotVariation`), ``-seed SEED +
n - 1`` and its own file names; its orientation is also written as a ``-mat`` file. Each shot
is exactly a separate ``nb simulate`` of its flags.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from nb_cli.batch import ImageJob
from nb_cli.flags import ParsedArgs, parse_args
from nb_cli.per_image import check_image_count, image_seed, output_flags, series_seed
from nb_core.datasets import (
    ShotParameters,
    ShotVariation,
    image_name,
    number_width,
    read_spectrum,
    shot_parameters,
)
from nb_core.errors import InputError

__all__ = ["parse_range", "shot_flags", "stills_jobs", "variation_from"]


def parse_range(text: str, option: str, *, integer: bool = False) -> tuple[float, float]:
    """A ``LOW:HIGH`` range (``LOW`` alone: that value for every shot).

    Raises:
        InputError: Not one or two numbers, a negative one, or ``LOW > HIGH``.
    """
    parts = text.split(":")
    try:
        values = [int(p) if integer else float(p) for p in parts]
    except ValueError:
        kind = "integers" if integer else "numbers"
        raise InputError(f"expected LOW:HIGH {kind}, got {text!r}", option) from None
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(math.isfinite(v) for v in values):
        raise InputError(f"expected LOW:HIGH, got {text!r}", option)
    if values[0] < 0 or values[0] > values[1]:
        raise InputError(f"expected LOW:HIGH with 0 <= LOW <= HIGH, got {text!r}", option)
    return float(values[0]), float(values[1])


def variation_from(
    mosaic_range: str | None,
    cells_range: str | None,
    flux_sigma: float,
    spectrum: str | None,
) -> ShotVariation:
    """The per-shot variation the ``nb stills`` options ask for.

    Args:
        mosaic_range: ``LOW:HIGH`` mosaic spread (deg), or None.
        cells_range: ``LOW:HIGH`` unit cells along each axis, or None.
        flux_sigma: Log-normal spread of the flux (>= 0).
        spectrum: A spectrum file (``wavelength(A) weight`` lines), or None.

    Raises:
        InputError: A bad range, spread or spectrum file.
    """
    if not (math.isfinite(flux_sigma) and flux_sigma >= 0.0):
        raise InputError(f"expected a spread >= 0, got {flux_sigma}", "--flux-sigma")
    cells = None
    if cells_range is not None:
        low, high = parse_range(cells_range, "--cells-range", integer=True)
        if low < 1:
            raise InputError(f"expected at least 1 unit cell, got {cells_range!r}", "--cells-range")
        cells = (int(low), int(high))
    return ShotVariation(
        mosaic_deg=None if mosaic_range is None else parse_range(mosaic_range, "--mosaic-range"),
        n_cells=cells,
        flux_sigma=flux_sigma,
        spectrum=None if spectrum is None else read_spectrum(spectrum),
    )


def shot_flags(shot: ShotParameters, parsed: ParsedArgs) -> list[str]:
    """The flags that give a shot its orientation and variations.

    Args:
        shot: What the shot drew.
        parsed: The stills' common flags (their flux or fluence is scaled).

    Returns:
        Flags to append to the common ones.
    """
    flags = ["-misset", *(repr(a) for a in shot.misset_deg)]
    if shot.mosaic_deg is not None:
        flags += ["-mosaic", repr(shot.mosaic_deg)]
    if shot.n_cells is not None:
        flags += ["-N", str(shot.n_cells)]
    if shot.flux_factor is not None:
        s = parsed.settings
        if "-flux" in s.given:
            flags += ["-flux", repr(s.flux * shot.flux_factor)]
        else:
            flags += ["-fluence", repr(s.fluence * shot.flux_factor)]
    if shot.lambda_A is not None:
        flags += ["-lambda", repr(shot.lambda_A)]
    return flags


def stills_jobs(
    argv: Sequence[str],
    shots: int,
    *,
    first: int = 1,
    seed: int = 0,
    variation: ShotVariation = ShotVariation(),
    matfile: str = "orientation.mat",
) -> list[ImageJob]:
    """The shots of a stills data set, each as the flags of a separate run.

    Args:
        argv: The common ``nb simulate`` flags.
        shots: How many shots.
        first: The number of the first shot made.
        seed: The seed of the orientations and variations (>= 0).
        variation: What varies besides the orientation.
        matfile: Template of each shot's orientation matrix file (``-mat`` format).

    Returns:
        One job per shot.

    Raises:
        InputError: Bad flags, counts or seed.
    """
    check_image_count(shots, "--shots", "shot")
    if first < 0:
        raise InputError(f"expected a shot number >= 0, got {first}", "--first")
    if seed < 0:
        raise InputError(f"expected a seed >= 0, got {seed}", "--shot-seed")
    base = [str(a) for a in argv]
    parsed = parse_args(base)
    width = number_width(first + shots - 1)
    noise_seed = series_seed(parsed)
    jobs = []
    for number in range(first, first + shots):
        shot = shot_parameters(seed, number, variation)
        own = [*shot_flags(shot, parsed), "-seed", str(image_seed(noise_seed, number))]
        names = output_flags(base, parsed, number, width)
        jobs.append(
            ImageJob(number, (*base, *own, *names), matfile=image_name(matfile, number, width))
        )
    return jobs
