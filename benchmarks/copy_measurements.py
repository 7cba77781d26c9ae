"""Copy the shared measurements into ``profiles/measurements/`` (shipped in the wheel; the tool never reads
``../shared`` when it runs).

training.csv, inference.csv, microbench.csv, SCHEMA.md and SOURCES.md are copied as they are. serving.csv
(16 MB with every original column of its source) is copied with its normalized columns only: the schema's
inference and serving columns, ``source`` and ``src_concurrency``; the free-text ``notes`` and
``norm_notes`` and the ``src_*`` originals stay in the shared file, which every row's ``row_id`` finds.

Run: ``python benchmarks/copy_measurements.py [--shared ../shared/data/measurements]``.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "profiles" / "measurements"
WHOLE = ("training.csv", "inference.csv", "microbench.csv", "SCHEMA.md", "SOURCES.md")
DROPPED = ("notes", "norm_notes")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data" / "measurements")
    args = ap.parse_args(argv)
    for name in WHOLE:
        shutil.copyfile(args.shared / name, OUT / name)
    with (args.shared / "serving.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        keep = [c for c in columns[:columns.index("decode_batch") + 1] if c not in DROPPED] + ["src_concurrency"]
        rows = list(reader)
    with (OUT / "serving.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keep, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"copied {', '.join(WHOLE)} and serving.csv ({len(rows)} rows, {len(keep)} of {len(columns)} columns) "
          f"to {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
