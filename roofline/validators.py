"""attrs validators and converters of the input values, each raising the project error with the field,
the value and what is allowed."""

from __future__ import annotations

import numpy as np

from roofline.errors import RooflineError
from roofline.quantity import MAX_COUNT, show


def positive_int(name: str, optional: bool = False):
    """A positive whole number up to 2**53 (``None`` allowed when ``optional``)."""
    def validate(_inst, _attr, value):
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise RooflineError(f"{name}={show(value)} must be a positive whole number")
        if value > MAX_COUNT:
            raise RooflineError(f"{name}={show(value)} exceeds {MAX_COUNT:,} (2**53), far beyond any real "
                                f"run; fix the value")
    return validate


def nonnegative_int(name: str):
    """A whole number from 0 to 2**53."""
    def validate(_inst, _attr, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= MAX_COUNT:
            raise RooflineError(f"{name}={show(value)} must be a whole number from 0 to {MAX_COUNT:,}")
    return validate


def flag(name: str, optional: bool = False):
    """True or False (or ``None`` when ``optional``)."""
    def validate(_inst, _attr, value):
        if not (isinstance(value, bool) or (optional and value is None)):
            raise RooflineError(f"{name}={value!r} must be True or False" + (" (or None)" if optional else ""))
    return validate


def choice(name: str, allowed):
    """A converter: the value lower-cased if it is one of ``allowed``."""
    def convert(value):
        v = str(value).strip().lower()
        if v not in allowed:
            raise RooflineError(f"{name}={value!r} is not one of {', '.join(allowed)}; pick one of those")
        return v
    return convert
