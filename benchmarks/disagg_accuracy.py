"""Accuracy of disaggregated serving on the usable ``serving_mode = disagg`` runs of serving.csv.

Nothing is fitted on these rows: the deployment is priced with the engine costs and chip-family serving
fractions that ``benchmarks/calibrate.py`` fitted on the aggregated runs. Two figures:

* **shipped values**: the values in profiles/ (fitted on every aggregated run, the disaggregated rows' own
  models included: in sample as far as those models' aggregated runs inform the fit);
* **leave one model out**: each model's rows priced with the values fitted without that model's
  aggregated runs (the folds stored in benchmarks/results/calibration.json): out of sample.

Writes benchmarks/results/disagg_accuracy.json (``--write``) and prints a summary.

    python benchmarks/disagg_accuracy.py [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import serving_fit as S  # noqa: E402

from roofline.errors import RooflineError  # noqa: E402
from roofline.loaders.engines import ENGINES  # noqa: E402
from roofline.validate.disagg import predict_disagg  # noqa: E402
from roofline.validate.schema import RowError, cell, chip_for_row, model_for_row, read_rows, value_cell  # noqa: E402

SERVING_CSV = ROOT / "profiles" / "measurements" / "serving.csv"
CALIBRATION = ROOT / "benchmarks" / "results" / "calibration.json"
OUT = ROOT / "benchmarks" / "results" / "disagg_accuracy.json"


def disagg_rows() -> list[dict]:
    _, rows = read_rows(SERVING_CSV)
    return [r for r in rows if cell(r, "usable") == "yes" and cell(r, "serving_mode") == "disagg"]


def score(rows: list[dict], overrides: dict | None = None, engines: dict | None = None):
    """[(row, predicted)] and [(row_id, reason)] of ``rows`` at the given values (None: shipped)."""
    chips, cache, out, skipped = {}, {}, [], []
    for row in rows:
        try:
            chip = chip_for_row(row, chips, overrides)
            model = model_for_row(row)
            out.append((row, predict_disagg(row, chip, model, engines=engines, cache=cache)))
        except (RowError, RooflineError) as exc:
            skipped.append((cell(row, "row_id"), str(exc)))
    return out, skipped


def summary(scored) -> dict:
    err = np.array([S.errors_pct(np.array([p]), np.array([value_cell(r)]))[0] for r, p in scored])
    tpot = np.array([cell(r, "metric_std") == "tpot_s" for r, _ in scored], dtype=bool)
    out = {"tpot": S.stats(err[tpot]), "ttft": S.stats(err[~tpot])}
    for name in ("model_ref", "engine", "chip_profile"):
        labels = np.array([cell(r, name) for r, _ in scored])
        out[f"by_{name}"] = {lab: {"tpot": S.stats(err[(labels == lab) & tpot]),
                                   "ttft": S.stats(err[(labels == lab) & ~tpot])} for lab in sorted(set(labels))}
    return out


def fold_values(fold: dict) -> tuple[dict, dict]:
    """(efficiency overrides per family, engine presets) of one stored calibration fold."""
    engines = {name: attrs.evolve(ENGINES[name], **costs) for name, costs in fold["costs"].items()}
    return fold["fractions"], engines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help=f"write {OUT.relative_to(ROOT)}")
    args = ap.parse_args()
    start = time.perf_counter()
    rows = disagg_rows()
    shipped, skipped = score(rows)
    folds = json.loads(CALIBRATION.read_text())["serving"]["folds"]
    held = []
    for model in sorted({cell(r, "model_ref") for r in rows}):
        if model not in folds:
            raise SystemExit(f"calibration.json has no fold without {model}; rerun benchmarks/calibrate.py --write")
        over, engines = fold_values(folds[model])
        scored, _ = score([r for r in rows if cell(r, "model_ref") == model], over, engines)
        held += scored
    result = {"rows": len(rows), "priced": len(shipped), "skipped": dict(skipped),
              "shipped_values": summary(shipped), "leave_one_model_out": summary(held),
              "predicted": {cell(r, "row_id"): float(f"{p:.6g}") for r, p in held}}
    for label in ("shipped_values", "leave_one_model_out"):
        s = result[label]
        print(f"{label:>20}: TPOT {s['tpot']['median_abs_error_pct']} % (bias {s['tpot']['bias_pct']} %), "
              f"TTFT {s['ttft']['median_abs_error_pct']} % (bias {s['ttft']['bias_pct']} %), "
              f"{s['tpot']['rows']} + {s['ttft']['rows']} rows")
        for model, v in s["by_model_ref"].items():
            print(f"{'':>22}{model}: TPOT {v['tpot']['median_abs_error_pct']} % ({v['tpot']['bias_pct']}), "
                  f"TTFT {v['ttft']['median_abs_error_pct']} % ({v['ttft']['bias_pct']})")
    print(f"{len(skipped)} rows skipped; {time.perf_counter() - start:.1f} s")
    if args.write:
        OUT.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
