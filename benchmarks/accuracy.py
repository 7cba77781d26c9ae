"""Accuracy report: `roofline validate` over the shipped measurements, summarised and (optionally) plotted.

Writes ``benchmarks/results/accuracy.json`` (the validate JSON plus a per-model breakdown of the
inference rows) and prints the tables the README quotes: median and worst absolute error per source,
per metric family and per served model. With the ``plot`` extra installed (matplotlib), also writes one
predicted-vs-measured scatter plot per metric family to ``benchmarks/results/accuracy_<family>.png``.

``--kv-dtype-when-blank`` is the sensitivity study for inference rows that do not state their KV-cache
format (default ``weights``: 8-bit KV with fp8 weights; ``bf16``: always 16-bit).

Run: ``python benchmarks/accuracy.py [--kv-dtype-when-blank weights|bf16|fp8] [--no-plot]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofline.results.validation import source_name  # noqa: E402
from roofline.validate.run import validate  # noqa: E402
from roofline.validate.schema import KV_WHEN_BLANK  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def _group(rows, key) -> dict:
    groups: dict[str, list[float]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r.error_pct)
    return {k: {"rows": len(v), "median_abs_error_pct": statistics.median(abs(e) for e in v),
                "worst_abs_error_pct": max(abs(e) for e in v), "bias_pct": statistics.median(v)}
            for k, v in sorted(groups.items())}


def served_model(row_id: str) -> str:
    """The model part of an inference row id (``trtllm-perf-llama-3.1-8b-h100-...`` -> ``llama-3.1-8b``)."""
    for part in ("-h100", "-a100", "-h200", "-h20", "-b200"):
        if part in row_id:
            head = row_id.split(part)[0]
            return head.split("-", 2)[-1] if row_id.startswith("trtllm-perf") else head
    return row_id


def plot(result, path_for) -> list[str]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for kind in ("training", "inference"):
        rows = [r for r in result.rows if r.kind == kind]
        if not rows:
            continue
        fig, ax = plt.subplots(figsize=(6, 6))
        for src in sorted({source_name(r.source) for r in rows}):
            pts = [r for r in rows if source_name(r.source) == src]
            ax.scatter([r.measured for r in pts], [r.predicted for r in pts], s=12, label=src)
        lo = min(min(r.measured, r.predicted) for r in rows)
        hi = max(max(r.measured, r.predicted) for r in rows)
        ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        ax.plot([lo, hi], [lo * 1.15, hi * 1.15], "k:", lw=0.6)
        ax.plot([lo, hi], [lo / 1.15, hi / 1.15], "k:", lw=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("measured (row's metric_std)")
        ax.set_ylabel("predicted")
        ax.set_title(f"roofline validate: {kind} rows (dotted: ±15 %)")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = path_for(kind)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(str(path))
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kv-dtype-when-blank", default="weights", choices=KV_WHEN_BLANK)
    ap.add_argument("--no-plot", action="store_true")
    args = ap.parse_args()
    result = validate(kv_when_blank=args.kv_dtype_when_blank)
    report = result.to_dict()
    report["by_served_model"] = _group([r for r in result.rows if r.kind == "inference"],
                                       lambda r: f"{source_name(r.source)}: {served_model(r.row_id)}")
    report["by_source_worst"] = _group(result.rows, lambda r: source_name(r.source))
    report["kv_dtype_when_blank"] = args.kv_dtype_when_blank
    print(f"{'group':58} {'rows':>5} {'median |err|':>13} {'worst':>9} {'bias':>8}")
    for title, groups in (("family", report["summary"]), ("source", report["by_source_worst"]),
                          ("served model", report["by_served_model"])):
        for k, s in groups.items():
            worst = s.get("worst_abs_error_pct")
            print(f"{title + ': ' + k:58} {s['rows']:5d} {s['median_abs_error_pct']:12.1f}% "
                  f"{'' if worst is None else f'{worst:8.1f}%':>9} {s['bias_pct']:+7.1f}%")
    print(f"skipped {len(result.skipped)} rows (reasons in the JSON); training rows the memory model says do "
          f"not fit although they ran: {report['summary']['training']['predicted_not_to_fit']}")
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.kv_dtype_when_blank == "weights" else f"_kv_{args.kv_dtype_when_blank}"
    (OUT / f"accuracy{suffix}.json").write_text(json.dumps(report, indent=1))
    if not args.no_plot:
        for p in plot(result, lambda kind: OUT / f"accuracy_{kind}{suffix}.png"):
            print(f"wrote {Path(p).relative_to(ROOT)}")
    print(f"wrote {(OUT / f'accuracy{suffix}.json').relative_to(ROOT)}")


if __name__ == "__main__":
    main()
