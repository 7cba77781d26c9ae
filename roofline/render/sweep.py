"""A sweep's rows as CSV or JSON, written to a stream or atomically to a file, and its progress bar."""

from __future__ import annotations

import json
import math
import os
import time

import numpy as np

from roofline.render.files import atomic_write
from roofline.sweep.result import SweepResult, rows_as_records

#: Rows formatted at a time when writing.
WRITE_BLOCK = 1 << 16


def _cells(values: np.ndarray) -> list[str]:
    """One column block as CSV cells: floats round-trip (``repr``), NaN/inf empty, booleans true/false."""
    if values.dtype == bool:
        return ["true" if v else "false" for v in values.tolist()]
    if values.dtype.kind == "f":
        return [repr(v) if math.isfinite(v) else "" for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def write_csv(result: SweepResult, fh) -> None:
    """Write the rows as CSV with a header of column names."""
    names = list(result)
    fh.write(",".join(names) + "\n")
    for lo in range(0, result.n_rows, WRITE_BLOCK):
        hi = min(lo + WRITE_BLOCK, result.n_rows)
        cols = [_cells(result.column(name, lo, hi)) for name in names]
        fh.write("".join(",".join(row) + "\n" for row in zip(*cols)))


def write_json(result: SweepResult, fh) -> None:
    """Write one JSON object: how the sweep ran (``configurations``, ``seconds``, ``compiled``,
    ``threads``, ``reduce``, ``engine``, ``skipped``, ``unmet``) and ``rows``, one object per row."""
    head = {"kind": result.kind, "engine": result.engine, "reduce": result.reduce,
            "configurations": result.configurations, "rows_count": result.n_rows, "seconds": result.seconds,
            "compiled": result.compiled, "threads": result.threads, "skipped": list(result.skipped),
            "unmet": [{"chip": c, "model": m} for c, m in result.unmet]}
    text = json.dumps(head, indent=2)
    fh.write(text[:-2] + ',\n  "rows": [')
    first = True
    for lo in range(0, result.n_rows, WRITE_BLOCK):
        hi = min(lo + WRITE_BLOCK, result.n_rows)
        for row in rows_as_records(result, lo, hi):
            fh.write(("\n    " if first else ",\n    ") + json.dumps(row, allow_nan=False))
            first = False
    fh.write("\n  ]\n}\n" if not first else "]\n}\n")


def save(result: SweepResult, path: str | os.PathLike, fmt: str = "csv") -> None:
    """Write ``result`` to ``path`` atomically (:func:`roofline.render.files.atomic_write`)."""
    writer = {"csv": write_csv, "json": write_json}[fmt]
    atomic_write(path, lambda fh: writer(result, fh))


class ProgressBar:
    """``progress`` callback drawing a bar on ``stream`` once a sweep has run for ``delay_s`` seconds."""

    def __init__(self, stream, delay_s: float = 1.0, width: int = 30, clock=time.perf_counter):
        self.stream = stream
        self.delay_s = delay_s
        self.width = width
        self.clock = clock
        self.start = clock()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        elapsed = self.clock() - self.start
        if elapsed < self.delay_s and not self.shown:
            return
        self.shown = True
        filled = int(self.width * done / total) if total else self.width
        self.stream.write(f"\rsweep [{'#' * filled}{'.' * (self.width - filled)}] {done / max(total, 1):4.0%} "
                          f"{done:,}/{total:,} configurations, {elapsed:.1f} s")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
