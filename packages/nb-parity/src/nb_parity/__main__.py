"""``python -m nb_parity ARGS``: the ``nb-compare`` command (``nb compare ARGS``)."""

from nb_parity.cli import compare_run

if __name__ == "__main__":
    compare_run()
