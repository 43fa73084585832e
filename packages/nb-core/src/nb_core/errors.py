"""Errors that nb reports to a user as one line, without a traceback."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CORE_DISTRIBUTION", "InputError", "extra_hint"]

#: The name under which nb_core is installed (``pip install nanobragg-torch``).
CORE_DISTRIBUTION = "nanobragg-torch"


def extra_hint(extra: str) -> str:
    """The command that installs one of nb_core's optional extras.

    Args:
        extra: The extra's name in nb_core's ``[project.optional-dependencies]``, e.g. ``"gemmi"``.

    Returns:
        E.g. ``"pip install 'nanobragg-torch[gemmi]'"``.
    """
    return f"pip install '{CORE_DISTRIBUTION}[{extra}]'"


class InputError(ValueError):
    """Bad input from a user: a flag, a file or a value.

    The message is one line that names the flag or file and says what is wrong, e.g.
    ``"rand.hkl line 12: expected 'h k l F', got 'a b c'"``. The command line prints it and
    exits non-zero; nothing is written.

    Args:
        message: What is wrong, in one line.
        source: The flag (``"-distance"``) or file path the message is about, if any; it is
            put in front of the message unless the message already starts with it.
    """

    def __init__(self, message: str, source: str | Path | None = None) -> None:
        message = " ".join(str(message).split())
        if source is not None:
            src = str(source)
            if not message.startswith(src):
                message = f"{src}: {message}"
        super().__init__(message)
        self.source = None if source is None else str(source)
