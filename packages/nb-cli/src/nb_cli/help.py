"""Help text for ``nb simulate``, generated from the flag table."""

from __future__ import annotations

from itertools import groupby

from nb_cli.flags import FLAGS, HELP_SECTIONS, NB_OPTIONS, Flag

__all__ = ["flag_help_rows", "print_flag_help"]


def flag_help_rows() -> list[tuple[str, list[Flag]]]:
    """Flags grouped by help section, in display order."""
    flags = sorted(
        (*FLAGS, *NB_OPTIONS), key=lambda f: (HELP_SECTIONS.index(f.group), f.name.lower())
    )
    return [(group, list(items)) for group, items in groupby(flags, key=lambda f: f.group)]


def print_flag_help() -> None:
    """Print every flag with its values, unit, default and help."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        "[bold]nb simulate[/bold] [FLAGS]  -- the nanoBragg flags; '-flag' and '--flag' both work.\n"
        "Outputs default to floatimage.bin, intimage.img, image.pgm and noiseimage.img, as nanoBragg."
    )
    for group, flags in flag_help_rows():
        table = Table(title=group, title_justify="left", show_header=True, box=None, pad_edge=False)
        table.add_column("flag", style="cyan", no_wrap=True)
        table.add_column("values")
        table.add_column("unit")
        table.add_column("default")
        table.add_column("meaning")
        for f in flags:
            names = ", ".join(f.names)
            table.add_row(names, f.metavar, f.unit, f.default, f.help)
        console.print(table)
