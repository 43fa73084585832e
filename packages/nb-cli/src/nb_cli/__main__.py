"""``python -m nb_cli ARGS``: the ``nb`` command."""

from nb_cli.app import run

if __name__ == "__main__":
    run()
