"""nb_cli: the ``nb`` command line over nb_core.

``main(argv) -> int`` runs a command in-process, e.g.
``nb_cli.main(["simulate", "-cell", "100", "100", "100", "90", "90", "90", "-default_F", "100"])``.
"""

from nb_cli.app import app, main, run

__all__ = ["app", "main", "run"]
