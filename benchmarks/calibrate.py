"""Fit the calibrated efficiency parameters of each chip family to the calibration rows.

Everything else in ``profiles/efficiency.toml`` comes from microbenchmarks (GEMM, HBM, NCCL rows of
microbench.csv) or from NCCL's own cost model. Six parameters per family cannot be read off a
microbenchmark and are fitted here, jointly over *all* usable rows of the family of one kind in
``profiles/measurements/`` (the copy of ``../shared/data/measurements/``), never per row or per model:

Serving (fitted first, over the inference rows measured at an unbounded request rate, ``batch = max``:
whole engine runs where fixed costs show):

* ``serving_sustained_fraction``: share of the GEMM and HBM microbenchmark throughput (``gemm_fraction``,
  ``hbm_fraction``) that whole serving steps sustain under load (clocks under the power cap, paged-KV
  and skinny-GEMM kernels that stream less well than STREAM).
* ``kernel_overhead_s``: fixed seconds per op occurrence (one kernel): launch gap, ramp-up and tail; a
  kernel that moves a few MB never reaches the streaming bandwidth of the microbenchmarks.
* ``step_overhead_s``: fixed seconds per engine step (scheduling, sampling, host work).

Training (fitted second, with the serving values in place, over the training rows):

* ``training_sustained_fraction``: share of the GEMM microbenchmark throughput (``gemm_fraction``) that
  whole training steps sustain: clocks under the power cap over minutes rather than 100-iteration
  bursts, memory-allocator stalls.
* ``training_attention_fraction``: fused-attention throughput (forward and backward together, causal)
  as a fraction of the 16-bit dense peak. The FlashAttention-2 *forward* microbenchmark (A100 0.575,
  H100 0.33 of peak) is its upper reference; backward kernels run slower.
* ``training_step_overhead_s``: fixed seconds per optimizer step outside the modelled ops (gradient
  clipping and its norm all-reduce, the optimizer's many small kernels, data loading, logging).

Objective: the median over the family's rows of |ln(predicted / measured)|, predictions made exactly as
``roofline validate`` makes them. Search: a grid, then a finer grid around its optimum; the training
step overhead enters every training metric through the step time alone, so it is scanned without
re-running the estimator. Families without rows of a kind get the mean of the fitted families (or the
only fitted one) and say so.

Run ``python benchmarks/calibrate.py`` to print the fit; ``--write`` stores it in
``profiles/efficiency.toml`` with its provenance. The stored values are what this script reproduces.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofline.loaders.chips import load_chip  # noqa: E402
from roofline.validate.run import validate  # noqa: E402
from roofline.validate.schema import default_files, read_rows  # noqa: E402

TOML = ROOT / "profiles" / "efficiency.toml"
TRAINING_CSV, INFERENCE_CSV = (str(p) for p in default_files())
SERVING = ("serving_sustained_fraction", "kernel_overhead_s", "step_overhead_s")
TRAINING = ("training_sustained_fraction", "training_attention_fraction", "training_step_overhead_s")


def _family_of_rows(path: str, keep) -> dict[str, set[str]]:
    """Row ids per chip family, for the usable rows of ``path`` that ``keep`` accepts."""
    _, rows = read_rows(path)
    out: dict[str, set[str]] = {}
    for r in rows:
        if r["usable"] == "yes" and r["chip_profile"] and keep(r):
            out.setdefault(load_chip(r["chip_profile"]).family, set()).add(r["row_id"])
    return out


def _objective(results, ids) -> float:
    errs = [abs(math.log(r.predicted / r.measured)) for r in results if r.row_id in ids]
    return statistics.median(errs) if errs else math.inf


def fit_serving(fam: str, ids: set[str], fixed: dict) -> dict:
    def run(s, k, oh):
        over = {fam: {**fixed, "serving_sustained_fraction": float(s), "kernel_overhead_s": float(k),
                      "step_overhead_s": float(oh)}}
        return _objective(validate([INFERENCE_CSV], efficiency_overrides=over).rows, ids), float(s), float(k), float(oh)

    grid = [run(s, k, oh) for s in np.round(np.arange(0.60, 1.001, 0.05), 3) for k in np.arange(0, 5.01, 1) * 1e-6
            for oh in np.arange(0, 3.01, 1) * 1e-3]
    _, s0, k0, oh0 = min(grid)
    fine = [run(s, k, oh) for s in np.round(np.clip(np.arange(s0 - 0.04, s0 + 0.041, 0.01), 0.01, 1.0), 3)
            for k in np.clip(np.arange(k0 - 1e-6, k0 + 1.01e-6, 0.5e-6), 0, None)
            for oh in np.clip(np.arange(oh0 - 1e-3, oh0 + 1.01e-3, 0.5e-3), 0, None)]
    obj, s, k, oh = min(grid + fine)
    return {"serving_sustained_fraction": s, "kernel_overhead_s": round(k, 7), "step_overhead_s": round(oh, 5),
            "objective": obj, "rows": len(ids)}


def fit_training(fam: str, ids: set[str], fixed: dict) -> dict:
    overheads = np.round(np.arange(0.0, 0.501, 0.01), 3)

    def run(s, a):
        over = {fam: {**fixed, "training_sustained_fraction": float(s), "training_attention_fraction": float(a),
                      "training_step_overhead_s": 0.0}}
        rows = [r for r in validate([TRAINING_CSV], efficiency_overrides=over).rows if r.row_id in ids]
        best = (math.inf, 0.0)
        for oh in overheads:
            errs = []
            for r in rows:
                scale = (r.step_time_s + oh) / r.step_time_s
                pred = r.predicted * scale if r.metric_std == "step_time_s" else r.predicted / scale
                errs.append(abs(math.log(pred / r.measured)))
            obj = statistics.median(errs)
            if obj < best[0]:
                best = (obj, float(oh))
        return best[0], float(s), float(a), best[1]

    coarse = [run(s, a) for s in np.round(np.arange(0.40, 1.001, 0.05), 3)
              for a in np.round(np.arange(0.10, 0.901, 0.05), 3)]
    _, s0, a0, _ = min(coarse)
    fine = [run(s, a) for s in np.round(np.clip(np.arange(s0 - 0.04, s0 + 0.041, 0.01), 0.01, 1.0), 3)
            for a in np.round(np.clip(np.arange(a0 - 0.04, a0 + 0.041, 0.01), 0.01, 1.0), 3)]
    obj, s, a, oh = min(coarse + fine)
    return {"training_sustained_fraction": s, "training_attention_fraction": a, "training_step_overhead_s": oh,
            "objective": obj, "rows": len(ids)}


def fit() -> dict[str, dict]:
    families = ("default", "hopper", "ampere")
    fits: dict[str, dict] = {f: {} for f in families}
    serving_rows = _family_of_rows(INFERENCE_CSV, lambda r: r["batch"] == "max")
    for fam, ids in sorted(serving_rows.items()):
        fits[fam].update(fit_serving(fam, ids, {}))
        fits[fam]["serving_note"] = (f"fitted over the {len(ids)} usable {fam} inference rows measured at an "
                                     f"unbounded request rate (batch = max)")
    fitted = [f for f in serving_rows]
    for fam in families:
        if fam not in serving_rows:
            for p in SERVING:
                fits[fam][p] = round(statistics.mean(fits[f][p] for f in fitted), 7)
            fits[fam]["serving_note"] = (f"no serving calibration rows for this family: "
                                         f"{'mean of ' if len(fitted) > 1 else ''}{' and '.join(fitted)}'s value")
    training_rows = _family_of_rows(TRAINING_CSV, lambda r: True)
    for fam, ids in sorted(training_rows.items()):
        fits[fam].update(fit_training(fam, ids, {p: fits[fam][p] for p in SERVING}))
        fits[fam]["training_note"] = f"fitted jointly over the {len(ids)} usable {fam} rows of training.csv"
    fitted = list(training_rows)
    for fam in families:
        if fam not in training_rows:
            for p in TRAINING:
                fits[fam][p] = round(statistics.mean(fits[f][p] for f in fitted), 3)
            fits[fam]["training_note"] = (f"no training rows for this family: mean of the fitted "
                                          f"{' and '.join(fitted)} values")
    return fits


def source_text(f: dict, param: str) -> str:
    note = f["serving_note"] if param in SERVING else f["training_note"]
    extra = ("; upper reference: the FlashAttention-2 forward microbenchmark of microbench.csv"
             if param == "training_attention_fraction" else "")
    return f"benchmarks/calibrate.py: {note}{extra}"


def write(fits: dict) -> None:
    text = TOML.read_text()
    for fam, f in fits.items():
        start = re.search(rf"^\[{fam}\][ \t]*$", text, flags=re.M).start()
        nxt = re.compile(r"^(\[|# )", flags=re.M).search(text, start + 1)
        end = nxt.start() if nxt else len(text)
        section = text[start:end]
        for p in (*SERVING, *TRAINING):
            line = f'{p} = {{ value = {f[p]}, source = "{source_text(f, p)}" }}'
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
        print(f"{fam:8} " + "  ".join(f"{p} {f[p]}" for p in (*SERVING, *TRAINING)))
    if args.write:
        write(fits)
        print(f"wrote {TOML.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
