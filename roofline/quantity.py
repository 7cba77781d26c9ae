"""Counts written the way people say them: ``15T``, ``1.5B``, ``300G``, ``2e12``, ``4096``.

Parsed once, at the edge (a converter or the CLI), into a plain float; everything inside stays SI.
Suffixes are decimal and case-insensitive: K = 1e3, M = 1e6, B = G = 1e9, T = 1e12.
"""

from __future__ import annotations

import math

from roofline.errors import RooflineError

SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}
EXAMPLES = "15T, 2e12 or 1.5B (suffixes K, M, B or G, T)"
#: The largest whole count (layers, widths, chips, batch, tokens per sequence...) the estimator takes:
#: every integer up to 2**53 is exact in the float64 vectors the kernels read, and nothing real comes
#: near it, so a larger count is a typo and is refused rather than rounded or overflowed.
MAX_COUNT = 2 ** 53


def show(value) -> str:
    """``repr(value)``, with an integer too long to read shortened to its first digits and its length."""
    text = repr(value)
    if isinstance(value, int) and not isinstance(value, bool) and len(text) > 24:
        return f"{text[:8]}...({len(text.lstrip('-'))} digits)"
    return text


def parse_count(value, field: str) -> float:
    """Return ``value`` as a finite float: a number, or a string such as ``"15T"`` or ``"2e12"``.

    Raises :class:`RooflineError` naming ``field`` and the value for anything else (booleans, empty
    strings, unknown suffixes, nan and infinities). Sign is not checked: that is the caller's rule.

    >>> parse_count("15T", "tokens"), parse_count("1.5b", "tokens"), parse_count(2e12, "tokens")
    (15000000000000.0, 1500000000.0, 2000000000000.0)
    """
    if isinstance(value, bool):
        raise RooflineError(f"{field}={value!r} is not a number; write it like {EXAMPLES}")
    if isinstance(value, (int, float)):
        number = float(value) if abs(value) < 1e308 else (math.inf if value > 0 else -math.inf)
    else:
        text = str(value).strip().replace("_", "")
        scale = SUFFIXES.get(text[-1:].lower(), 1.0)
        if scale != 1.0:
            text = text[:-1].rstrip()
        try:
            number = float(text) * scale
        except ValueError:
            raise RooflineError(f"{field}={value!r} is not a number; write it like {EXAMPLES}") from None
    if not math.isfinite(number):
        raise RooflineError(f"{field}={show(value)} must be a finite number; write it like {EXAMPLES}")
    return number
