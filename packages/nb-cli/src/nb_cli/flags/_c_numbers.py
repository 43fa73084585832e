"""The C program's number readers, ``atof`` (shared with the SMV reader) and ``atoi``, and the range of
a C ``int``."""

from __future__ import annotations

import re

from nb_core.io import ATOF_PREFIX as FLOAT_PREFIX
from nb_core.io import c_atof

__all__ = ["FLOAT_PREFIX", "INT_MAX", "INT_MIN", "INT_PREFIX", "c_atof", "c_atoi"]

#: What C's atoi reads after leading white space.
INT_PREFIX = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", re.ASCII)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def c_atoi(text: str) -> int:
    """C ``atoi``: the longest integer prefix after leading white space.

    Args:
        text: Text starting with the number.

    Returns:
        The value as a C ``int`` (wrapped to 32 bits, as this platform's conversion from
        ``long`` does); 0 when no integer starts the text.
    """
    match = INT_PREFIX.match(text)
    if not match:
        return 0
    value = int(match.group(1))
    return (value + 2**31) % 2**32 - 2**31
