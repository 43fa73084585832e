"""The nanoBragg command-line flags: one table for parsing, help text and the C binary's argv.

Where each thing is decided:

- :mod:`nb_cli.flags._table`: the flags themselves, one row each (names, values, unit,
  default, help, and the C program's clauses: the substring test it applies to every argument
  and the action it takes), and nb's own options;
- :mod:`nb_cli.flags._actions`: what each clause does to the settings;
- :mod:`nb_cli.flags._values`: which values are accepted (numbers read whole by C ``atoi`` /
  ``atof``, counts in range, ``-roi`` boxes not empty);
- :mod:`nb_cli.flags._parser`: the walk over argv (validation, nb's options, ``-fix``) and the
  replay of the C program's argument loop;
- :mod:`nb_cli.flags._c_numbers`: the C program's ``atof`` and ``atoi``;
- :mod:`nb_cli.smv_keys`: the ``-img``/``-mask`` header values applied before the flags.
"""

from nb_cli.flags._c_numbers import INT_MAX, INT_MIN, c_atof, c_atoi
from nb_cli.flags._parser import ParsedArgs, parse_args, to_c_argv
from nb_cli.flags._record import Action, Clause, Flag, ValueKind
from nb_cli.flags._table import FLAG_BY_NAME, FLAGS, HELP_SECTIONS, NB_OPTIONS, flag_names

__all__ = [
    "FLAGS",
    "FLAG_BY_NAME",
    "HELP_SECTIONS",
    "INT_MAX",
    "INT_MIN",
    "NB_OPTIONS",
    "Action",
    "Clause",
    "Flag",
    "ParsedArgs",
    "ValueKind",
    "c_atof",
    "c_atoi",
    "flag_names",
    "parse_args",
    "to_c_argv",
]
