"""Axes of a sweep: the numbers and names a user lists, parsed once at the edge.

A numeric axis is an int, a sequence, or a string of comma-separated items: a number (``k`` multiplies
by 1024, as context lengths are quoted), a range ``a:b``, a geometric range ``a:b:xF`` or a stepped
range ``a:b:s``. A name axis is a comma-separated string, one loaded value, or a sequence of both.
"""

from __future__ import annotations

import re

import numpy as np

from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.model import Model

_NUMBER = re.compile(r"^\s*(\d+)\s*([kK]?)\s*$")
_AXIS_HELP = ("write a value, a list 1,8,64, a range 1:64, a geometric range 1:1024:x2 or a stepped one 256:4k:256 "
              "(k = 1024)")


def _whole(text: str, field: str, spec: str) -> int:
    hit = _NUMBER.match(text)
    if not hit:
        raise RooflineError(f"{field}={spec!r}: {text.strip()!r} is not a whole number; {_AXIS_HELP}")
    return int(hit.group(1)) * (1024 if hit.group(2) else 1)


def parse_axis(spec, field: str) -> list[int]:
    """The positive whole numbers of an axis: an int, a sequence of ints, or a string of comma-separated
    items, each a number (``k`` multiplies by 1024), a range ``a:b`` (step 1, ``b`` included when
    reached), a geometric range ``a:b:xF`` or a stepped range ``a:b:s``. Repeats are dropped."""
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        values = [int(spec)]
    elif isinstance(spec, str):
        values = []
        if not spec.strip():
            raise RooflineError(f"{field}={spec!r} is empty; {_AXIS_HELP}")
        for item in spec.split(","):
            parts = item.split(":")
            if len(parts) == 1:
                values.append(_whole(parts[0], field, spec))
                continue
            if len(parts) > 3:
                raise RooflineError(f"{field}={spec!r}: {item.strip()!r} has too many colons; {_AXIS_HELP}")
            lo, hi = _whole(parts[0], field, spec), _whole(parts[1], field, spec)
            if hi < lo:
                raise RooflineError(f"{field}={spec!r}: the range {item.strip()!r} runs backwards; write it as "
                                    f"{parts[1].strip()}:{parts[0].strip()}")
            step = parts[2].strip() if len(parts) == 3 else "1"
            if step[:1] in ("x", "X", "*"):
                factor = _whole(step[1:], field, spec)
                if factor < 2 or lo < 1:
                    raise RooflineError(f"{field}={spec!r}: a geometric range needs a start of at least 1 and a "
                                        f"factor of at least 2, as in 1:1024:x2")
                v = lo
                while v <= hi:
                    values.append(v)
                    v *= factor
            else:
                s = _whole(step, field, spec)
                if s < 1:
                    raise RooflineError(f"{field}={spec!r}: the step of {item.strip()!r} must be at least 1")
                values.extend(range(lo, hi + 1, s))
    else:
        try:
            items = list(spec)
        except TypeError:
            raise RooflineError(f"{field}={spec!r} is not a number, a list of numbers or a range string; "
                                f"{_AXIS_HELP}") from None
        values = []
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer, str)):
                raise RooflineError(f"{field}={spec!r}: {v!r} is not a whole number; {_AXIS_HELP}")
            values.extend(parse_axis(v, field))
    for v in values:
        if v < 1:
            raise RooflineError(f"{field}={spec!r}: {v} must be at least 1; {_AXIS_HELP}")
    if not values:
        raise RooflineError(f"{field}={spec!r} has no values; {_AXIS_HELP}")
    return list(dict.fromkeys(values))


def parse_names(spec, field: str) -> list:
    """Items of a name axis: a comma-separated string, one object, or a sequence of both."""
    if isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
        if any(not s for s in items):
            raise RooflineError(f"{field}={spec!r} has an empty name; separate names with commas, e.g. H20,H100")
        return list(dict.fromkeys(items))
    if spec is None or isinstance(spec, (Chip, Model)):
        return [spec]
    out = []
    for item in spec:
        out.extend(parse_names(item, field) if isinstance(item, str) else [item])
    if not out:
        raise RooflineError(f"{field} is empty; give at least one name")
    return out
