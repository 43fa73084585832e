"""The flags of one image of a data set: its own file names and its own noise seed.

Every image of a series, a jobs file or a stills run is the base flags plus a few flags
appended after them (the C program and nb both let a later flag win): its angles, its
``-seed`` and its output names. Output names are templates (:func:`nb_core.datasets.image_name`:
a run of ``#`` becomes the image number; a name without one gets ``_00001`` before its
extension), so the default names give one file per image too. Every flag of the Outputs
section that takes a file is templated, together with the default outputs the flags write.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from nb_cli.flags import FLAG_BY_NAME, INT_MAX, INT_MIN, ParsedArgs
from nb_cli.flags._table import OUTPUTS
from nb_cli.flags._values import consume_values
from nb_core.datasets import image_name
from nb_core.errors import InputError

__all__ = [
    "MAX_IMAGES",
    "OUTPUT_FLAGS",
    "check_distinct_files",
    "check_image_count",
    "given_flags",
    "image_seed",
    "output_flags",
    "series_seed",
]

#: The flags that name an image file (the Outputs section's file flags).
OUTPUT_FLAGS = tuple(
    sorted({f.name for f in FLAG_BY_NAME.values() if f.group == OUTPUTS and f.values == ("path",)})
)


def _walk(argv: Sequence[str]) -> Iterator[tuple[str, list[str]]]:
    """``(canonical flag name, its values)`` for each flag of a validated argv."""
    i = 0
    while i < len(argv):
        token = argv[i]
        flag = FLAG_BY_NAME[token[1:] if token.startswith("--") else token]
        j = consume_values(flag, argv, i)
        yield flag.name, list(argv[i + 1 : j])
        i = j


def given_flags(argv: Sequence[str]) -> dict[str, list[str]]:
    """The last values of each flag a (validated) argv gives, by canonical name."""
    return dict(_walk(argv))


def output_flags(
    argv: Sequence[str],
    parsed: ParsedArgs,
    number: int,
    width: int,
    *,
    own: Sequence[str] = (),
) -> list[str]:
    """The flags naming image ``number``'s files, to append to ``argv``.

    Args:
        argv: The flags the image's names come from.
        parsed: ``parse_args(argv)``.
        number: The image number.
        width: Digits of the number in names without ``#``.
        own: Flags of ``argv`` that name this image's files already (jobs-file lines): kept
            as they are unless they hold a ``#``.

    Returns:
        ``["-floatfile", NAME, "-intfile", NAME, ...]``.
    """
    s = parsed.settings
    names = {flag: values[0] for flag, values in _walk(argv) if flag in OUTPUT_FLAGS}
    names["-floatfile"], names["-intfile"] = s.floatfile, s.intfile
    names.pop("-pgmfile", None)
    names.pop("-noisefile", None)
    if s.write_pgm:
        names["-pgmfile"] = s.pgmfile
    if s.write_noise:
        names["-noisefile"] = s.noisefile
    out: list[str] = []
    for flag in sorted(names):
        name = names[flag]
        if flag not in own or "#" in name:
            name = image_name(name, number, width)
        out += [flag, name]
    return out


#: Most images one data-set command makes (their flags are listed before the first render:
#: about 70 µs and 1 kB each); a larger data set is made in parts with ``--first``.
MAX_IMAGES = 1_000_000


def check_image_count(count: int, option: str, noun: str) -> None:
    """Refuse fewer than 1 or more than :data:`MAX_IMAGES` images, naming ``option``.

    Args:
        count: Images asked for.
        option: The option that asked (``--frames``, ``--shots``).
        noun: What an image is called there (``frame``, ``shot``).
    """
    if count < 1:
        raise InputError(f"expected at least 1 {noun}, got {count}", option)
    if count > MAX_IMAGES:
        raise InputError(
            f"at most {MAX_IMAGES} {noun}s in one run, got {count} (make a larger data set "
            f"in parts: --first N starts a part at {noun} N)",
            option,
        )


def series_seed(parsed: ParsedArgs) -> int:
    """The ``-seed`` value of image 1 (the clock's when not given): image n's is it plus n - 1."""
    seed = parsed.settings.seed
    return -seed if seed is not None else 0


def image_seed(first_seed: int, number: int) -> int:
    """Image ``number``'s ``-seed`` value.

    Raises:
        InputError: It falls outside the C program's int range.
    """
    seed = first_seed + number - 1
    if not INT_MIN <= seed <= INT_MAX:
        raise InputError(f"image {number} would get seed {seed}, outside the int range", "-seed")
    return seed


def check_distinct_files(images: Sequence[tuple[int, Sequence[str], str | None]]) -> None:
    """Refuse, before any work, two images that would write the same file.

    Args:
        images: ``(number, argv, matfile)`` of each image: its flags name its files (the last
            value of each output flag, inside ``-outdir``), plus an orientation file.

    Raises:
        InputError: The first file two images name, with both numbers.
    """
    owner: dict[str, int] = {}
    for number, argv, matfile in images:
        given = given_flags(argv)
        folder = Path(given.get("-outdir", ["."])[0])
        names = [values[0] for flag, values in given.items() if flag in OUTPUT_FLAGS]
        names += [matfile] if matfile is not None else []
        for name in names:
            key = os.path.realpath(folder / name)
            if key in owner and owner[key] != number:
                raise InputError(
                    f"images {owner[key]} and {number} would both write {folder / name}; "
                    "give each image its own name (a # in it becomes the image number)"
                )
            owner[key] = number
