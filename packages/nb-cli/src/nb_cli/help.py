"""Help text for ``nb simulate``, generated from the flag table."""

from __future__ import annotations

from itertools import groupby

from nb_cli.flags import FLAGS, HELP_SECTIONS, NB_OPTIONS, Flag

__all__ = ["MIN_MEANING_WIDTH", "flag_entry_lines", "flag_help_rows", "print_flag_help"]


def flag_help_rows() -> list[tuple[str, list[Flag]]]:
    """Flags grouped by help section, in display order."""
    flags = sorted(
        (*FLAGS, *NB_OPTIONS), key=lambda f: (HELP_SECTIONS.index(f.group), f.name.lower())
    )
    return [(group, list(items)) for group, items in groupby(flags, key=lambda f: f.group)]


#: Narrowest meaning column (characters) the one-table layout leaves before the help switches
#: to one entry per flag, its meaning wrapped beneath it.
MIN_MEANING_WIDTH = 40
#: Indent of a flag's meaning under its name in the narrow layout.
_MEANING_INDENT = 6


def _table_width(rows: list[tuple[str, list[Flag]]]) -> int:
    """Width the one-table layout needs for every column but the meaning, gaps included."""
    flags = [f for _, items in rows for f in items]
    columns = (
        max(len(", ".join(f.names)) for f in flags),
        max(len(f.metavar) for f in flags),
        max(len(f.unit) for f in flags),
        max(len(f.default) for f in flags),
    )
    return sum(columns) + 2 * len(columns)


def flag_entry_lines(flag: Flag, width: int) -> list[str]:
    """One flag in the narrow layout: names, values, unit and default, then the meaning.

    Args:
        flag: The flag.
        width: Console width (characters).

    Returns:
        Lines no longer than ``width`` (a single word longer than the width stays whole).
    """
    import textwrap

    head = " ".join(part for part in (", ".join(flag.names), flag.metavar) if part)
    extras = [
        f"[{flag.unit}]" if flag.unit else "",
        f"default: {flag.default}" if flag.default else "",
    ]
    head = "  ".join(part for part in (head, *extras) if part)
    lines = textwrap.wrap(head, width, initial_indent="  ", subsequent_indent="    ")
    indent = " " * _MEANING_INDENT
    lines += textwrap.wrap(flag.help, width, initial_indent=indent, subsequent_indent=indent)
    return lines


def print_flag_help(width: int | None = None) -> None:
    """Print every flag with its values, unit, default and help.

    A console wide enough for a meaning column of :data:`MIN_MEANING_WIDTH` characters gets
    one table per section; a narrower one (80 columns, or a pipe) one entry per flag.

    Args:
        width: Console width (characters); None: the terminal's (``COLUMNS``, else 80 when
            the output is not a terminal).
    """
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(width=width)
    console.print(
        "[bold]nb simulate[/bold] [FLAGS]  -- the nanoBragg flags; '-flag' and '--flag' both work.\n"
        "Outputs default to floatimage.bin, intimage.img, image.pgm and noiseimage.img, as nanoBragg."
    )
    rows = flag_help_rows()
    narrow = console.width < _table_width(rows) + MIN_MEANING_WIDTH
    for group, flags in rows:
        console.print(Text(f"\n{group}", style="bold"))
        if narrow:
            for f in flags:
                entry = Text("\n".join(flag_entry_lines(f, console.width)))
                entry.stylize("cyan", 2, 2 + len(", ".join(f.names)))
                console.print(entry, soft_wrap=True)
            continue
        table = Table(show_header=True, box=None, pad_edge=False)
        table.add_column("flag", style="cyan", no_wrap=True)
        table.add_column("values")
        table.add_column("unit")
        table.add_column("default")
        table.add_column("meaning")
        for f in flags:
            table.add_row(", ".join(f.names), f.metavar, f.unit, f.default, f.help)
        console.print(table)
