"""Parsing a ``simulate`` argument list the way the C program reads its own.

Parsing runs in two steps:

1. **Validation** walks argv and accepts only the documented names (``-flag`` or ``--flag``),
   with the right number of well-formed values (:mod:`nb_cli.flags._values`); anything else
   is an :class:`InputError` that names the flag. nb's own options are set apart.
2. **Effects** replay the C program's own loop: for every argument that starts with ``-``,
   every clause whose test matches it acts, in the C program's order, on the raw arguments
   that follow (``atof``/``atoi`` semantics). This reproduces the C program's side effects
   (``-misset_seed`` also setting ``-misset`` from the next three arguments, ``-twotheta_axis``
   also setting ``-twotheta``). With the ``flags`` quirk fixed, an argument triggers only the
   clauses of the flag it names.

The ``-img`` and ``-mask`` headers apply before the loop (:func:`nb_cli.smv_keys.apply_headers`).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from nb_cli.exchange import apply_experiment_list
from nb_cli.flags._record import Flag
from nb_cli.flags._table import FLAG_BY_NAME, FLAGS, flag_names
from nb_cli.flags._values import consume_values
from nb_cli.smv_keys import apply_headers
from nb_core.errors import InputError
from nb_core.options import QUIRK_HELP, Quirks
from nb_core.settings import Settings, clock_seed

__all__ = ["ParsedArgs", "parse_args", "to_c_argv"]


@dataclass
class ParsedArgs:
    """The result of parsing a ``simulate`` argument list.

    Attributes:
        settings: The C program's settings after its argument loop (and -img/-mask headers).
        c_argv: The C program's arguments (nb-only options removed, ``--x`` written ``-x``).
        nb: nb's own options (``dtype``, ``device``, ``fix``, ``outdir``, ``quiet``, ``force``).
        quirks: Which C bugs to reproduce.
        notes: One line for each given flag that the C program reads in its own way or
            ignores (printed by ``nb simulate``).
    """

    settings: Settings
    c_argv: list[str]
    nb: dict[str, str | bool] = field(default_factory=dict)
    quirks: Quirks = field(default_factory=Quirks)
    notes: list[str] = field(default_factory=list)


def _canonical_token(token: str) -> str:
    """``--x`` written ``-x``."""
    return token[1:] if token.startswith("--") else token


def _is_number(text: str) -> bool:
    """Whether Python reads ``text`` as a number other than NaN (a value, not a flag)."""
    try:
        value = float(text)
    except ValueError:
        return False
    return not math.isnan(value)


def _unknown(token: str) -> InputError:
    """The error for an unknown flag, with the closest known name."""
    close = difflib.get_close_matches(token, flag_names(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return InputError(f"unknown flag{hint}; see 'nb simulate --help'", token)


def _validate(args: list[str]) -> tuple[list[str], dict[str, str | bool]]:
    """Check every flag and its values; split the C program's arguments from nb's options.

    Args:
        args: The arguments after the command name.

    Returns:
        The C program's arguments (``-x`` form) and nb's options (name without the dash:
        its value, or True for a switch).

    Raises:
        InputError: An unknown flag, a stray value, a missing or malformed value.
    """
    c_argv: list[str] = []
    nb: dict[str, str | bool] = {}
    i = 0
    while i < len(args):
        token = args[i]
        name = _canonical_token(token)
        if not token.startswith("-") or _is_number(token):
            raise InputError(f"unexpected argument {token!r} (values must follow their flag)")
        flag = FLAG_BY_NAME.get(name)
        if flag is None:
            raise _unknown(token)
        j = consume_values(flag, args, i)
        if flag.nb_only:
            nb[flag.name[1:]] = args[i + 1] if flag.values else True
        else:
            c_argv.extend([name, *args[i + 1 : j]])
        i = j
    return c_argv, nb


def _quirks(nb: dict[str, str | bool]) -> Quirks:
    """The quirks to reproduce: all but those named by ``-fix`` (comma-separated, or ``all``)."""
    quirks = Quirks()
    fixes = str(nb.get("fix", "")) if nb.get("fix") else ""
    for item in filter(None, (x.strip() for x in fixes.split(","))):
        try:
            quirks = quirks.fix(item)
        except KeyError:
            raise InputError(
                f"unknown quirk {item!r}; choose from {', '.join(QUIRK_HELP)}, all", "-fix"
            ) from None
    return quirks


def _run_clauses(settings: Settings, c_argv: list[str], i: int, quirks: Quirks) -> None:
    """Run the C program's clauses for the argument ``c_argv[i]``, in its order.

    With the ``flags`` quirk (the default) every clause whose test matches the argument and
    whose values are there acts; otherwise only the clauses of the flag it names. A clause
    that stops (or an action that returns True) ends the argument's turn.
    """
    arg = c_argv[i]
    own = FLAG_BY_NAME.get(arg)
    for flag in FLAGS:
        for clause in flag.clauses:
            if quirks.flags:
                if clause.named_only or not clause.matches(arg) or len(c_argv) <= i + clause.needs:
                    continue
            elif own is not flag:
                continue
            acted = clause.action(settings, c_argv[i + 1 :] + [""] * 8)
            if clause.stop or acted is True:
                return


def _apply_nb_settings(settings: Settings, nb: dict[str, str | bool]) -> None:
    """Run the clauses of nb's own options that set settings (``-sf_column``, ``-model_dmin``)."""
    for name, value in nb.items():
        for clause in FLAG_BY_NAME[f"-{name}"].clauses:
            clause.action(settings, [str(value), *[""] * 8])


def _says_note(flag: Flag, quirks: Quirks) -> bool:
    """Whether to print ``flag``'s note: a note on the C program's substring reading of a
    spelling is not printed once ``-fix flags`` reads the spelling as named."""
    if not flag.note:
        return False
    return quirks.flags or not any(c.named_only for c in flag.clauses)


def parse_args(argv: Sequence[str], *, read_headers: bool = True) -> ParsedArgs:
    """Parse a ``simulate`` argument list the way the C program reads its own.

    Args:
        argv: Arguments after the command name (C flags and nb options, ``-x`` or ``--x``).
        read_headers: Read -img/-mask SMV headers (their values apply before the flags).

    Returns:
        The settings, the C argv and nb's own options.

    Raises:
        InputError: An unknown flag, a missing or malformed value, an unreadable header file.
    """
    c_argv, nb = _validate([str(a) for a in argv])
    quirks = _quirks(nb)
    settings = Settings()
    apply_headers(settings, c_argv, read=read_headers)
    notes: list[str] = []
    if read_headers and isinstance(nb.get("from_expt"), str):
        apply_experiment_list(settings, str(nb["from_expt"]))
    for i, arg in enumerate(c_argv):
        if not arg.startswith("-") or _is_number(arg):
            continue
        _run_clauses(settings, c_argv, i, quirks)
        own = FLAG_BY_NAME.get(arg)
        if own is not None and own.name not in settings.given:
            settings.given.append(own.name)
            notes.extend([own.note] if _says_note(own, quirks) else [])
    _apply_nb_settings(settings, nb)
    # The C program seeds with the clock unless told otherwise; -misset_seed defaults to the
    # clock value too (not to -seed).
    clock = clock_seed()
    if settings.seed is None:
        settings.seed = clock
    if settings.misset_seed is None:
        settings.misset_seed = clock
    return ParsedArgs(settings=settings, c_argv=c_argv, nb=nb, quirks=quirks, notes=notes)


def to_c_argv(parsed: ParsedArgs, **outputs: str) -> list[str]:
    """The C program's argv for a parsed command, with output paths replaced.

    Args:
        parsed: A parsed command.
        **outputs: Output flags to set or replace, e.g. ``floatfile="float.bin"``.

    Returns:
        Arguments after the program name.
    """
    argv: list[str] = []
    args = parsed.c_argv
    replace = {f"-{k}": v for k, v in outputs.items()}
    i = 0
    while i < len(args):
        flag = FLAG_BY_NAME[args[i]]
        j = consume_values(flag, args, i)
        if flag.name in replace or any(a in replace for a in flag.names):
            i = j
            continue
        argv.extend(args[i:j])
        i = j
    for name, value in replace.items():
        argv.extend([name, value])
    return argv
