"""Compare serving estimates with the measured inference rows this estimator can express.

Rows: TensorRT-LLM perf-overview (``batch = max``, end-to-end output tokens/s) and Azure TensorRT-LLM
(fixed batch, total tokens/s) from ``profiles/measurements/inference.csv``. The static-batch view of
``roofline estimate`` is used, as SCHEMA.md describes each source:

* ``batch = max``: B = the largest batch that fits; every wave of B requests costs one prefill of the B
  prompts plus ``output_len`` decode steps, so output tokens/s = B * O / (TTFT + O * TPOT).
* fixed batch, total tokens/s: B * (I + O) / (TTFT + O * TPOT).

A blank ``kv_dtype`` keeps the tool's default (16-bit KV cache); no per-row adjustment of any kind.
With ``--engine trtllm`` (or vllm, sglang, generic) the rows go through the serving model instead
(``--concurrency max`` for ``batch = max``, the row's batch otherwise).
Usage: ``python benchmarks/inference_accuracy.py [--engine trtllm] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

import roofline
from roofline.model import MODELS
from roofline.registry import profiles_dir

SOURCES = ("trtllm-perf", "azure-")


def row_estimate(row: dict, engine: str | None = None, kv_blank: str | None = None) -> float:
    chip = roofline.load_chip(row["chip_profile"])
    model = roofline.load_model(row["model_ref"]) if MODELS.find(row["model_ref"]) else None
    if model is None:
        raise roofline.RooflineError(f"model_ref {row['model_ref']!r} has no profile")
    i, o = int(row["input_len"]), int(row["output_len"])
    wd = row["weight_dtype"] or row["precision"]
    wl = roofline.Workload(batch=1, input_len=i, output_len=o, tp=int(row["tp"]), pp=int(row["pp"] or 1),
                           weight_dtype=wd, kv_dtype=row["kv_dtype"] or kv_blank)
    if engine is not None:
        from roofline.serving import estimate_serving

        conc = "max" if row["batch"] == "max" else int(row["batch"])
        srv = estimate_serving(chip, model, wl, engine=engine, concurrency=conc)
        if row["metric_std"] == "output_tokens_per_s":
            return srv.output_tokens_per_s
        return srv.requests_per_s * (i + o)
    if row["batch"] == "max":
        probe = roofline.estimate_inference(chip, model, wl)
        wl = roofline.Workload(**{**_fields(wl), "batch": max(probe.max_batch, 1)})
    else:
        wl = roofline.Workload(**{**_fields(wl), "batch": int(row["batch"])})
    est = roofline.estimate_inference(chip, model, wl)
    b = wl.batch
    wave_s = est.ttft_s + o * est.tpot_s
    metric = row["metric_std"]
    if metric == "output_tokens_per_s":
        return b * o / wave_s
    if metric == "total_tokens_per_s":
        return b * (i + o) / wave_s
    raise roofline.RooflineError(f"metric_std {metric!r} is not handled by this script")


def _fields(wl):
    return {k: getattr(wl, k) for k in ("batch", "input_len", "output_len", "tp", "pp", "weight_dtype", "kv_dtype")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--engine", default=None, help="serving model with this engine preset (default: static batch)")
    ap.add_argument("--kv-dtype-when-blank", default=None,
                    help="sensitivity study: KV format to assume where the row does not state it")
    args = ap.parse_args(argv)
    args.json = args.json or f"benchmarks/results/inference_accuracy{'_' + args.engine if args.engine else ''}.json"
    rows = list(csv.DictReader(open(profiles_dir() / "measurements" / "inference.csv")))
    results, skipped = [], []
    for r in rows:
        if not r["row_id"].startswith(SOURCES):
            continue
        if r["usable"] != "yes":
            skipped.append((r["row_id"], r["usable"]))
            continue
        try:
            pred = row_estimate(r, args.engine, args.kv_dtype_when_blank)
        except roofline.RooflineError as exc:
            skipped.append((r["row_id"], str(exc)))
            continue
        meas = float(r["value_std"])
        results.append({"row_id": r["row_id"], "model": r["model_ref"], "measured": meas, "predicted": pred,
                        "error_pct": 100 * (pred - meas) / meas})
    print(f"{'row':62s} {'measured':>10s} {'predicted':>10s} {'error %':>8s}")
    for x in results:
        print(f"{x['row_id']:62s} {x['measured']:10.1f} {x['predicted']:10.1f} {x['error_pct']:8.1f}")
    summary = {}
    groups = {}
    for x in results:
        key = ("azure " if x["row_id"].startswith("azure") else "trtllm ") + x["model"]
        groups.setdefault(key, []).append(abs(x["error_pct"]))
    groups["all"] = [abs(x["error_pct"]) for x in results]
    for k, v in groups.items():
        summary[k] = {"rows": len(v), "median_abs_error_pct": statistics.median(v), "worst_abs_error_pct": max(v)}
        print(f"{k:30s} rows {len(v):3d}  median |err| {statistics.median(v):6.1f}%  worst {max(v):6.1f}%")
    for rid, why in skipped:
        print(f"skipped {rid}: {why}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps({"rows": results, "skipped": skipped, "summary": summary}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
