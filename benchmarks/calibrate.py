"""Fit the training efficiency parameters of each chip family to the calibration rows.

Three parameters per chip family, fitted jointly over *every* usable training row of that family in
``profiles/measurements/training.csv`` (a copy of ``../shared/data/measurements/``), never per row or
per model:

* ``training_sustained_fraction``: the share of the GEMM microbenchmark throughput (``gemm_fraction``,
  itself from MAMF/cuBLASLt rows of microbench.csv) that whole training steps sustain: clocks under the
  power cap over minutes rather than 100-iteration bursts, kernel-launch gaps, memory-allocator stalls.
* ``training_attention_fraction``: fused-attention throughput (forward and backward together, causal)
  as a fraction of the 16-bit dense peak. The FlashAttention-2 *forward* microbenchmark (A100 0.575,
  H100 0.33 of peak) is its upper reference; backward kernels run slower.
* ``training_step_overhead_s``: fixed seconds per optimizer step outside the modelled ops (gradient
  clipping and its norm all-reduce, launches of the optimizer's many small kernels, data loading,
  logging synchronisation).

Objective: the median over the family's rows of |ln(predicted / measured)|, predictions made exactly as
``benchmarks/training_accuracy.py`` makes them (each row's own layout, batch, recompute, ZeRO, dtype).
Search: a coarse grid, then a fine grid around the coarse optimum (the overhead enters the step time
additively, so it is scanned without re-pricing). Families without rows get the mean of the fitted ones.

Run ``python benchmarks/calibrate.py`` to print the fit; ``--write`` stores it in
``profiles/efficiency.toml`` with its provenance (rows, objective). The stored values are what this
script reproduces.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import sys
from pathlib import Path

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from roofline.chip import load_chip  # noqa: E402
from roofline.training import estimate_training  # noqa: E402
from training_accuracy import CSV, build_model, predicted, source_of, workload  # noqa: E402

TOML = ROOT / "profiles" / "efficiency.toml"
PARAMS = ("training_sustained_fraction", "training_attention_fraction", "training_step_overhead_s")
OVERHEADS = np.round(np.arange(0.0, 0.501, 0.01), 3)


def load_rows() -> list[tuple]:
    """(row, source, chip, model, workload) for every usable training row."""
    out = []
    for row in csv.DictReader(CSV.open()):
        if row["usable"] != "yes":
            continue
        source = source_of(row)
        out.append((row, source, load_chip(row["chip_profile"]), build_model(row, source), workload(row, source)))
    return out


def base_estimates(rows, sustained: float, attention: float) -> list:
    """Each row's estimate with the given sustained and attention fractions and no step overhead."""
    over = (("training_sustained_fraction", sustained), ("training_attention_fraction", attention),
            ("training_step_overhead_s", 0.0))
    return [estimate_training(attrs.evolve(chip, efficiency_overrides=over), model, wl)
            for _, _, chip, model, wl in rows]


def log_errors(rows, ests, overhead: float) -> np.ndarray:
    errs = []
    for (row, _, _, model, _), est in zip(rows, ests):
        est = attrs.evolve(est, step_time_s=est.step_time_s + overhead)
        errs.append(math.log(predicted(row, est, model) / float(row["value_std"])))
    return np.array(errs)


def best_overhead(rows, ests) -> tuple[float, float]:
    """(objective, overhead) minimising the median |ln error| over the overhead grid."""
    best = (math.inf, 0.0)
    for oh in OVERHEADS:
        obj = float(np.median(np.abs(log_errors(rows, ests, oh))))
        if obj < best[0]:
            best = (obj, float(oh))
    return best


def fit_family(rows) -> dict:
    """Coarse grid over (sustained, attention), each with its best overhead; then a fine grid."""
    def search(sus_grid, att_grid):
        best = None
        for s in sus_grid:
            for a in att_grid:
                ests = base_estimates(rows, float(s), float(a))
                obj, oh = best_overhead(rows, ests)
                if best is None or obj < best[0]:
                    best = (obj, float(s), float(a), oh)
        return best

    coarse = search(np.round(np.arange(0.40, 1.001, 0.05), 3), np.round(np.arange(0.10, 0.901, 0.05), 3))
    _, s0, a0 = coarse[:3]
    fine = search(np.round(np.clip(np.arange(s0 - 0.04, s0 + 0.041, 0.01), 0.01, 1.0), 3),
                  np.round(np.clip(np.arange(a0 - 0.04, a0 + 0.041, 0.01), 0.01, 1.0), 3))
    obj, s, a, oh = min(coarse, fine)
    return {"training_sustained_fraction": s, "training_attention_fraction": a, "training_step_overhead_s": oh,
            "objective": obj, "rows": len(rows), "sources": sorted({r[1] for r in rows})}


def fit() -> dict:
    rows = load_rows()
    fams = sorted({r[2].family for r in rows})
    fits = {fam: fit_family([r for r in rows if r[2].family == fam]) for fam in fams}
    fits["default"] = {p: round(statistics.mean(fits[f][p] for f in fams), 3) for p in PARAMS}
    fits["default"]["from"] = fams
    return fits


def source_text(fam: str, f: dict, param: str) -> str:
    if fam == "default":
        return f"mean of the fitted {' and '.join(f['from'])} values (no training rows for other families)"
    extra = ""
    if param == "training_attention_fraction":
        extra = "; upper reference: the FlashAttention-2 forward microbenchmark of microbench.csv"
    return (f"benchmarks/calibrate.py: fitted jointly over the {f['rows']} usable {fam} rows of training.csv "
            f"({', '.join(f['sources'])}); median |ln(pred/meas)| {f['objective']:.3f}{extra}")


def write(fits: dict) -> None:
    text = TOML.read_text()
    for fam, f in fits.items():
        start = re.search(rf"^\[{fam}\][ \t]*$", text, flags=re.M).start()
        nxt = re.compile(r"^(\[|# )", flags=re.M).search(text, start + 1)
        end = nxt.start() if nxt else len(text)
        section = text[start:end]
        for p in PARAMS:
            line = f'{p} = {{ value = {f[p]}, source = "{source_text(fam, f, p)}" }}'
            section, n = re.subn(rf"^{p} = .*$", line.replace("\\", "\\\\"), section, flags=re.M)
            if n != 1:
                section = section.rstrip("\n") + "\n" + line + "\n"
        text = text[:start] + section + text[end:]
    TOML.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="store the fit in profiles/efficiency.toml")
    args = ap.parse_args()
    fits = fit()
    for fam, f in fits.items():
        vals = "  ".join(f"{p} {f[p]}" for p in PARAMS)
        obj = f" objective {f['objective']:.4f} over {f['rows']} rows" if "objective" in f else ""
        print(f"{fam:8} {vals}{obj}")
    if args.write:
        write(fits)
        print(f"wrote {TOML.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
