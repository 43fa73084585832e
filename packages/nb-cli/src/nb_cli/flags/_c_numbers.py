"""The C program's number readers, ``atof`` and ``atoi``, and the range of a C ``int``."""

from __future__ import annotations

import math
import re

__all__ = ["FLOAT_PREFIX", "INT_MAX", "INT_MIN", "INT_PREFIX", "c_atof", "c_atoi"]

#: What C's atof reads after leading white space (C's isspace, ASCII only): a hex float, a
#: decimal, inf or nan. re.ASCII: C reads no other script's digits.
FLOAT_PREFIX = re.compile(
    r"""[ \t\n\v\f\r]*(?:
        (?P<hex>[+-]?0x(?:[0-9a-f]+\.?[0-9a-f]*|\.[0-9a-f]+)(?:p[+-]?[0-9]+)?)
      | (?P<dec>[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:e[+-]?[0-9]+)?)
      | (?P<inf>[+-]?inf(?:inity)?)
      | (?P<nan>[+-]?nan)
    )""",
    re.VERBOSE | re.IGNORECASE | re.ASCII,
)
#: What C's atoi reads after leading white space.
INT_PREFIX = re.compile(r"[ \t\n\v\f\r]*([+-]?[0-9]+)", re.ASCII)
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def c_atof(text: str) -> float:
    """C ``atof``: the longest numeric prefix after leading white space.

    Args:
        text: Text starting with the number.

    Returns:
        The value; 0.0 when no number starts the text; ±inf on overflow.
    """
    match = FLOAT_PREFIX.match(text)
    if not match:
        return 0.0
    if (hexa := match.group("hex")) is not None:
        try:
            return float.fromhex(hexa)
        except OverflowError:
            return -math.inf if hexa.startswith("-") else math.inf
    if match.group("nan") is not None:
        return math.nan
    return float(match.group("dec") or match.group("inf"))


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
