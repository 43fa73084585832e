"""Switches for the C program's plain bugs, reproduced by default.

nb reproduces the nanoBragg C program exactly, quirks included. Where a quirk is a plain bug,
``Quirks`` lets a caller turn it off; ``nb simulate -fix NAME`` does the same from the command
line. Every field is True by default (bug reproduced); ``Quirks.fixed()`` turns all of them off.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

__all__ = ["QUIRK_HELP", "Quirks"]

#: One line per quirk, keyed by its -fix name.
QUIRK_HELP: dict[str, str] = {
    "phi0": "a phi step that lands exactly on 0 reuses the previous step's rotated lattice; "
    "fixed: it uses the unrotated lattice",
    "oversample": "-oversample_thick/_polar/_omega multiply the running pixel sum after every term "
    "(compounding); fixed: each term is multiplied by its own factor",
    "misset": "-misset random passes 90 (degrees) to a routine that expects radians; "
    "fixed: a uniformly random orientation over the full sphere",
    "pix0": "-pix0_vector is read but ignored; fixed: it sets the detector origin (m)",
    "flags": "flag names are matched by substring, so -misset_seed also sets -misset from the "
    "next three arguments and -twotheta_axis also sets -twotheta; fixed: only the named flag acts",
}


@dataclass(frozen=True)
class Quirks:
    """Which of the C program's bugs to reproduce (True) or fix (False).

    Attributes:
        phi0: A phi step exactly at 0 reuses the lattice of the previous rotation.
        oversample: The ``-oversample_*`` factors compound on the running sum.
        misset: ``-misset random`` draws its rotation angle in the wrong unit.
        pix0: ``-pix0_vector`` is ignored.
        flags: Flags are matched by substring (a command-line rule; see nb_cli.flags).
    """

    phi0: bool = True
    oversample: bool = True
    misset: bool = True
    pix0: bool = True
    flags: bool = True

    @classmethod
    def fixed(cls) -> Quirks:
        """All bugs fixed."""
        return cls(**{f.name: False for f in fields(cls)})

    def fix(self, *names: str) -> Quirks:
        """Return a copy with the named quirks fixed ("all" fixes every one).

        Raises:
            KeyError: An unknown quirk name.
        """
        out = self
        for name in names:
            if name == "all":
                out = Quirks.fixed()
                continue
            if name not in QUIRK_HELP:
                raise KeyError(name)
            out = replace(out, **{name: False})
        return out
