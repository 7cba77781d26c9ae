"""A command's JSON as CSV: the scalar fields of its ``to_dict()`` under dotted names, one row per record.

The CSV is derived from the very dictionary the command prints as JSON, so the two cannot disagree:

- nested dictionaries join their keys with dots (``inference.tpot_s``, ``verdict.serving_speedup``);
- scalars become cells: ``None`` an empty cell, booleans ``true``/``false``, floats ``str(float)`` (the
  shortest text that reads back to the same float, as in the JSON), strings and integers as they are;
- lists of scalars are written as a JSON array (``["a; b", "c"]``: no separator can be confused with the
  items' own text; an empty list is an empty cell);
- lists holding anything else (per-op tables, layout lists: lists of dictionaries) are left out: they are
  in the JSON only.
"""

from __future__ import annotations

import csv
import io
import json


def _is_scalar(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def cell(value) -> str:
    """One scalar as CSV cell text: ``None`` empty, booleans ``true``/``false``, numbers and strings by ``str``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    """The scalar fields of ``d`` as cell texts under dotted names, in the order of ``d``.

    Parameters
    ----------
    d : dict
        A JSON-like dictionary (a result's ``to_dict()``).
    prefix : str
        Put before every name (``"inference."`` gives ``inference.tpot_s``).

    Returns
    -------
    dict[str, str]
        Dotted name -> cell text. Lists of scalars are JSON arrays; lists holding a dictionary or a list are
        left out.
    """
    out: dict[str, str] = {}
    for key, value in d.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            if all(_is_scalar(v) for v in value):
                out[name] = json.dumps(list(value)) if value else ""
        elif _is_scalar(value):
            out[name] = cell(value)
        else:
            raise TypeError(f"{name}: {type(value).__name__} is not a JSON value; to_dict() must return JSON types")
    return out


def per_record(d: dict, records: str) -> list[dict[str, str]]:
    """One flattened row per item of the list ``d[records]``, each led by the other fields of ``d``.

    ``compare``'s JSON holds the comparison-wide settings (model, reference chip, settings) and a list of
    per-chip records under ``chips``: each row is the settings followed by one chip's fields.
    """
    common = flatten({k: v for k, v in d.items() if k != records})
    return [{**common, **flatten(item)} for item in d[records]]


def csv_text(rows: list[dict[str, str]]) -> str:
    """``rows`` as CSV text with a header line and ``\\n`` line endings.

    The header is the union of the rows' names in first-seen order; a row lacking a name gets an empty cell.
    Cells with commas, quotes or line breaks are quoted by :mod:`csv`.
    """
    header = list(dict.fromkeys(name for row in rows for name in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
