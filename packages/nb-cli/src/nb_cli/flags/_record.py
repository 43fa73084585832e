"""The records of the flag table: a :class:`Flag` and the C program's :class:`Clause` for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from nb_core.settings import Settings

__all__ = ["Action", "Clause", "Flag", "ValueKind", "clause", "flag"]

#: What a clause does: it updates the settings from the arguments after the flag (padded with
#: empty strings); returning True makes the C program move on to the next argument.
Action = Callable[[Settings, "list[str]"], "bool | None"]
#: How a value is validated: a real number, an integer, a file, a word, 1-6 cell values, three
#: angles or ``random``, an attenuation depth or ``inf``, ``beam`` or ``sample``.
ValueKind = Literal["float", "int", "path", "word", "cell", "misset", "absorb", "pivot"]


@dataclass(frozen=True)
class Clause:
    """One test-and-act block of the C program's argument loop.

    Attributes:
        patterns: Substrings (or exact names) the C program tests the argument against.
        needs: Arguments that must follow for the clause to act (the C ``argc > i+needs``).
        action: What the clause does with the arguments that follow.
        exact: Compare with ``strcmp`` instead of ``strstr``.
        length: Also require ``strlen(arg) == length``.
        min_length: Also require ``strlen(arg) > min_length``.
        stop: The C program ``continue``s to the next argument after acting.
        named_only: Acts only when the ``flags`` quirk is fixed and the argument names this
            clause's flag (a spelling the C program reads through another flag's clause).
    """

    patterns: tuple[str, ...]
    needs: int
    action: Action
    exact: bool = False
    length: int | None = None
    min_length: int | None = None
    stop: bool = False
    named_only: bool = False

    def matches(self, arg: str) -> bool:
        """Whether the C program's test fires for ``arg``."""
        if self.exact:
            hit = arg in self.patterns
        else:
            hit = any(p in arg for p in self.patterns)
        if hit and self.length is not None:
            hit = len(arg) == self.length
        if hit and self.min_length is not None:
            hit = len(arg) > self.min_length
        return hit


@dataclass(frozen=True)
class Flag:
    """A documented flag.

    Attributes:
        name: Canonical name, e.g. ``-distance``.
        values: Kinds of the values that follow (empty for a switch).
        metavar: Names of the values for help text.
        unit: Unit of the values.
        default: Default, as shown in help.
        group: Help section.
        help: One-line description.
        aliases: Other accepted names.
        clauses: The C program's clauses for this flag, in its order.
        nb_only: An nb option the C program does not know (never passed to it).
        note: A line printed when the flag is given (a spelling the C program reads in its
            own way, or ignores).
    """

    name: str
    values: tuple[ValueKind, ...]
    metavar: str
    unit: str
    default: str
    group: str
    help: str
    aliases: tuple[str, ...] = ()
    clauses: tuple[Clause, ...] = ()
    nb_only: bool = False
    note: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical name and its aliases."""
        return (self.name, *self.aliases)


def clause(
    *patterns: str,
    action: Action,
    needs: int = 1,
    exact: bool = False,
    length: int | None = None,
    min_length: int | None = None,
    stop: bool = False,
    named_only: bool = False,
) -> Clause:
    """A :class:`Clause` that tests for ``patterns`` (one row of the flag table's clauses)."""
    return Clause(patterns, needs, action, exact, length, min_length, stop, named_only)


def flag(
    name: str,
    values: tuple[ValueKind, ...],
    metavar: str,
    unit: str,
    default: str,
    group: str,
    help: str,
    *clauses: Clause,
    aliases: tuple[str, ...] = (),
    note: str = "",
) -> Flag:
    """A C program :class:`Flag` (one row of the flag table), its clauses after its help."""
    return Flag(name, values, metavar, unit, default, group, help, aliases, clauses, note=note)
