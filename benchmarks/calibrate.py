"""Fit the few efficiency values and engine costs that no microbenchmark gives, and score them out of sample.

Everything else in ``profiles/efficiency.toml`` comes from microbenchmarks (GEMM, HBM, NCCL rows of
microbench.csv) or NCCL's own cost model; the engines' scheduling and memory policies in
``profiles/engines.toml`` come from their documentation. Fitted here, over the measurements shipped in
``profiles/measurements/`` (copies of ``../shared/data/measurements/``) and nothing else:

Serving, over every usable aggregated run of ``serving.csv`` that the estimator can express, each priced
exactly as ``roofline validate`` prices it (the step-level simulation of the row's engine under the
closed-loop client at the row's concurrency):

* per chip family (all engines and models of the family together): ``serving_sustained_fraction`` (share
  of the GEMM microbenchmark throughput that the dense GEMMs of whole serving steps sustain),
  ``serving_attention_fraction`` (fused attention in serving steps, fraction of the 16-bit peak: prompt
  chunks over paged prefixes of many lengths; its upper reference is the FlashAttention-2 forward
  microbenchmark of microbench.csv) and ``serving_expert_fraction`` (the routed experts' grouped GEMMs and
  their weight reads, relative to dense GEMMs and to the HBM microbenchmark);
* per engine (all chips and models of the engine together): ``step_overhead_s`` (seconds per engine step:
  scheduling, sampling launch, host work between steps), ``seq_overhead_s`` (seconds per sequence per
  step), ``kernel_overhead_s`` (seconds per kernel launched) and ``request_overhead_s`` (seconds per request
  outside the steps: the API server on the way in and the first token's way out, added to TTFT).

Objective: the mean |ln(predicted / measured)| over the TPOT rows and over the TTFT rows, weighed equally.
Search: coordinate descent on fixed grids (:mod:`serving_fit`) over linear features of the simulated
schedules, re-simulated at the fitted fractions until the fractions repeat. ``generic`` takes the mean of
the fitted engines; a family without serving runs the mean of the fitted families.

Training, with the serving values in place, over the usable rows of ``training.csv`` per family:
``training_sustained_fraction``, ``training_attention_fraction``, ``training_step_overhead_s`` (grid search
of the median |ln(predicted / measured)|: a coarse grid, then a fine one around each of its
:data:`REFINED_CELLS` best points, since the median has several shallow basins).

Out of sample: for each model of the serving runs, the serving values are refitted without its runs and
its runs scored with them (leave-one-model-out; the refit uses the schedules simulated at the full fit's
fractions, the left-out runs are simulated exactly at the refitted ones); for each source of the training
rows, likewise; for each chip family of the training rows, the family's values are those of a family without
training rows (:func:`transfer_training`: the other families' mean, the attention fraction scaled by the
FlashAttention microbenchmarks) and its rows are scored with them (leave-one-family-out). In-sample figures
are reported beside them and labelled so.

``python benchmarks/calibrate.py`` prints the fit and the accuracy; ``--write`` stores the values (with
their provenance) in ``profiles/efficiency.toml`` and ``profiles/engines.toml``, the figures and a digest
of every input in ``benchmarks/results/calibration.json``, and the accuracy tables in the README.
``tests/test_calibration.py`` checks that the digest and the stored values still match.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import re
import statistics
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
from roofline.loaders.chips import load_chip  # noqa: E402
from roofline.loaders.efficiency import GEMM_CLASS  # noqa: E402
from roofline.results.validation import source_name  # noqa: E402
from roofline.validate.run import validate  # noqa: E402
from roofline.validate.schema import read_rows  # noqa: E402

EFFICIENCY_TOML = ROOT / "profiles" / "efficiency.toml"
ENGINES_TOML = ROOT / "profiles" / "engines.toml"
RESULTS = ROOT / "benchmarks" / "results" / "calibration.json"
README = ROOT / "README.md"
TRAINING_CSV = ROOT / "profiles" / "measurements" / "training.csv"
MICROBENCH_CSV = ROOT / "profiles" / "measurements" / "microbench.csv"
FAMILIES = ("default", "hopper", "ampere", "blackwell")
TRAINING = ("training_sustained_fraction", "training_attention_fraction", "training_step_overhead_s")
#: A family's training values are fitted only with more rows than values to fit, in the product and in every
#: fold alike: all three with at least MIN_TRAINING_ROWS rows; with fewer, but at least two, the sustained
#: fraction alone (it scales every GEMM and attention of a step), the other two as a family without training
#: rows gets them (:func:`fit_sustained`); with fewer still, all three so (:func:`transfer_training`).
MIN_TRAINING_ROWS = len(TRAINING) + 1
MIN_SUSTAINED_ROWS = 2
#: Coarse grid points the fine grid searches around: the median objective has separate basins of nearly equal
#: depth on the coarse grid (sustained fraction against step overhead), and the deeper one after refining
#: need not be the coarse best.
REFINED_CELLS = 3
#: Family-level fixed costs of a pass: serving's fixed costs are the engine's, so these stay 0.
FAMILY_COSTS = ("kernel_overhead_s", "step_overhead_s")
FITTED_KEYS = (*S.FRACTIONS, *TRAINING, *FAMILY_COSTS, *S.COSTS)
#: What the stored values depend on: the data, the profiles (less the fitted lines) and the code that prices.
DIGEST_GLOBS = ("profiles/measurements/*.csv", "profiles/chips/*.toml", "profiles/models/*.toml",
                "profiles/efficiency.toml", "profiles/engines.toml", "roofline/**/*.py", "benchmarks/calibrate.py",
                "benchmarks/serving_fit.py")
DIGEST_SKIP = ("roofline/cli/", "roofline/render/", "roofline/analysis/", "roofline/sweep/")
#: Why an engine's per-step cost is 0 (serving_fit.FITTED_COSTS says more).
UNFITTED_SOURCE = ("not fitted (0): host work the engine runs beside the GPU's step (overlap scheduling), which "
                   "serving.csv cannot tell apart from the per-kernel cost (benchmarks/serving_fit.py FITTED_COSTS)")
START_FRACTION = 0.85
MAX_ROUNDS = 8
README_BEGIN, README_END = "<!-- calibration:begin -->", "<!-- calibration:end -->"



# ---- inputs --------------------------------------------------------------------------------------------

def _strip_fitted(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not re.match(rf"^({'|'.join(FITTED_KEYS)}) = ", line))


def input_digest() -> str:
    """sha256 over every input of the fit (fitted lines left out of the two profiles it writes)."""
    h = hashlib.sha256()
    files = sorted({p for g in DIGEST_GLOBS for p in ROOT.glob(g)
                    if not any(str(p.relative_to(ROOT)).startswith(s) for s in DIGEST_SKIP)})
    for p in files:
        rel = str(p.relative_to(ROOT))
        data = p.read_text(encoding="utf-8")
        if p in (EFFICIENCY_TOML, ENGINES_TOML):
            data = _strip_fitted(data)
        h.update(rel.encode() + b"\0" + data.encode() + b"\0")
    return h.hexdigest()


# ---- serving --------------------------------------------------------------------------------------------

def _fraction_dict(row) -> dict[str, float]:
    return {k: float(v) for k, v in zip(S.FRACTIONS, row)}


def simulate_all(cases, families, fractions):
    """Features of every case at its family's fractions; the cases that cannot run are dropped with reason."""
    kept, feats, skipped = [], [], []
    for c in cases:
        try:
            feats.append(S.features(c, _fraction_dict(fractions[families.index(c.family)])))
            kept.append(c)
        except RooflineError as exc:
            skipped.append((c.key, str(exc)))
    return kept, feats, skipped


def fit_serving(cases) -> dict:
    families = tuple(sorted({c.family for c in cases}))
    fractions = np.full((len(families), len(S.FRACTIONS)), START_FRACTION)
    costs = np.zeros((len(S.ENGINE_NAMES), len(S.COSTS)))
    rounds = 0
    while True:
        rounds += 1
        kept, feats, skipped = simulate_all(cases, families, fractions)
        t = S.table(kept, feats, families)
        new_fractions, costs = S.fit(t, np.ones(len(t.measured), dtype=bool), fractions, costs)
        if np.array_equal(new_fractions, fractions) or rounds >= MAX_ROUNDS:
            fractions = new_fractions
            break
        fractions = new_fractions
    kept, feats, skipped = simulate_all(cases, families, fractions)
    t = S.table(kept, feats, families)
    return dict(families=families, fractions=fractions, costs=costs, rounds=rounds, cases=kept, table=t,
                skipped=skipped, converged=rounds < MAX_ROUNDS)


def _per_row(t, pred, cases) -> dict[str, float]:
    """{row_id: predicted value} of the rows of ``t``."""
    ids = [r[0] for c in cases for r in c.rows]
    return {rid: float(f"{p:.9g}") for rid, p in zip(ids, pred)}


def _summary(t, pred, cases) -> dict:
    """Accuracy of ``pred`` on the rows of ``t``: overall, small batches, per engine, chip and model."""
    err = S.errors_pct(pred, t.measured)
    out = {"tpot": S.stats(err[t.is_tpot]), "ttft": S.stats(err[~t.is_tpot]),
           "tpot_concurrency_le_4": S.stats(err[t.is_tpot & t.small])}
    for name, key in (("engine", lambda c: c.engine), ("chip", lambda c: c.chip.name),
                      ("model", lambda c: c.model_ref)):
        labels = np.array([key(cases[k]) for k in t.case])
        out[f"by_{name}"] = {lab: {"tpot": S.stats(err[(labels == lab) & t.is_tpot]),
                                   "ttft": S.stats(err[(labels == lab) & ~t.is_tpot])}
                             for lab in sorted(set(labels))}
    return out


def loo_serving(full: dict) -> tuple[dict, dict]:
    """Leave-one-model-out: refit without a model's runs, score them exactly at the refit. Returns the
    out-of-sample summary, each fold's fitted values and the out-of-sample prediction of every row."""
    t, cases, families = full["table"], full["cases"], full["families"]
    labels = np.array([cases[k].model_ref for k in t.case])
    pred = np.full(len(t.measured), np.nan)
    folds = {}
    start = (np.full_like(full["fractions"], START_FRACTION), np.zeros_like(full["costs"]))
    for model in sorted(set(labels)):
        fractions, costs = S.fit(t, labels != model, *start)
        held = [c for c in cases if c.model_ref == model]
        kept, feats, _ = simulate_all(held, families, fractions)
        th = S.table(kept, feats, families)
        by_case = {c.key: i for i, c in enumerate(kept)}
        ph = S.predict(th, fractions, costs)
        for c in held:  # a case's rows are in the same order in both tables
            if c.key in by_case:
                src = np.flatnonzero(th.case == by_case[c.key])
                dst = [k for k in np.flatnonzero(labels == model) if cases[t.case[k]].key == c.key]
                pred[dst] = ph[src]
        folds[model] = {"fractions": {f: _fraction_dict(fractions[i]) for i, f in enumerate(families)},
                        "costs": {e: dict(zip(S.COSTS, map(float, costs[i]))) for i, e in enumerate(S.ENGINE_NAMES)}}
    return _summary(t, pred, cases), folds, _per_row(t, pred, cases)


# ---- training -------------------------------------------------------------------------------------------

def _training_rows(keep=lambda r: True) -> dict[str, set[str]]:
    """Row ids per chip family of the usable training rows that ``keep`` accepts."""
    _, rows = read_rows(TRAINING_CSV)
    out: dict[str, set[str]] = {}
    for r in rows:
        if r["usable"] == "yes" and r["chip_profile"] and keep(r):
            out.setdefault(load_chip(r["chip_profile"]).family, set()).add(r["row_id"])
    return out


#: The coarse grid of the sustained fraction; the fine grid steps 0.01 within 0.04 of a coarse point (:func:`_around`).
COARSE_SUSTAINED = np.round(np.arange(0.40, 1.001, 0.05), 3)


def _around(x0: float) -> np.ndarray:
    """The fine grid about a coarse point: steps of 0.01 within 0.04 of ``x0``, inside (0, 1]."""
    return np.round(np.clip(np.arange(x0 - 0.04, x0 + 0.041, 0.01), 0.01, 1.0), 3)


def fit_training(fam: str, ids: set[str], fixed: dict) -> dict:
    """Grid search of the three training values of ``fam`` over the rows ``ids`` (median |ln error|)."""
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

    coarse = [run(s, a) for s in COARSE_SUSTAINED for a in np.round(np.arange(0.10, 0.901, 0.05), 3)]
    points = {(s, a) for _, s0, a0, _ in sorted(coarse)[:REFINED_CELLS] for s in _around(s0) for a in _around(a0)}
    fine = [run(s, a) for s, a in sorted(points)]
    obj, s, a, oh = min(coarse + fine)
    return {"training_sustained_fraction": s, "training_attention_fraction": a, "training_step_overhead_s": oh,
            "objective": obj, "rows": len(ids)}


def fit_sustained(fam: str, ids: set[str], base: dict) -> dict:
    """The sustained fraction of ``fam`` fitted on its few rows ``ids`` (the same median |ln error| and grid
    steps as :func:`fit_training`), its attention fraction and step overhead those of ``base`` (what a family
    without training rows gets)."""
    def run(s):
        vals = {**{k: base[k] for k in TRAINING}, "training_sustained_fraction": float(s)}
        rows = _training_errors({fam: vals}, ids)
        return statistics.median(abs(math.log(r.predicted / r.measured)) for r in rows), float(s)

    coarse = [run(s) for s in COARSE_SUSTAINED]
    points = {s for _, s0 in sorted(coarse)[:REFINED_CELLS] for s in _around(s0)}
    fine = [run(s) for s in sorted(points)]
    obj, s = min(coarse + fine)
    return {**{k: base[k] for k in TRAINING}, "training_sustained_fraction": s, "objective": obj,
            "rows": len(ids), "fitted": "training_sustained_fraction"}


def fit_families(rows_by_family: dict[str, set[str]]) -> dict:
    """Every family's training values by the row rule of MIN_TRAINING_ROWS (families with too few rows to fit
    anything are left out: they get :func:`transfer_training`)."""
    full = {fam: fit_training(fam, ids, {}) for fam, ids in sorted(rows_by_family.items())
            if len(ids) >= MIN_TRAINING_ROWS}
    partial = {fam: fit_sustained(fam, ids, transfer_training(full, fam)) for fam, ids in sorted(rows_by_family.items())
               if MIN_SUSTAINED_ROWS <= len(ids) < MIN_TRAINING_ROWS and full}
    return {**full, **partial}


def _training_errors(values: dict[str, dict], ids: set[str] | None = None) -> list:
    over = {fam: {k: v[k] for k in TRAINING} for fam, v in values.items() if all(k in v for k in TRAINING)}
    return [r for r in validate([TRAINING_CSV], efficiency_overrides=over).rows if ids is None or r.row_id in ids]


def _stats_rows(rows) -> dict:
    errs = [r.error_pct for r in rows]
    return S.stats(np.array(errs))


def train_all() -> tuple[dict, dict]:
    with_rows = sorted(_training_rows())
    fits = fit_families(_training_rows())
    _, rows = read_rows(TRAINING_CSV)
    sources = sorted({source_name(r["source"]) for r in rows if r["usable"] == "yes"})
    in_sample = _training_errors({fam: fits.get(fam) or transfer_training(fits, fam) for fam in with_rows})
    report = {"in_sample": {src: _stats_rows([r for r in in_sample if source_name(r.source) == src])
                            for src in sources}, "leave_one_source_out": {}, "folds": {}}
    report["in_sample"]["all"] = _stats_rows(in_sample)
    oos = []
    for src in sources:
        fold_ids = _training_rows(lambda r, s=src: source_name(r["source"]) != s)
        fold = fit_families(fold_ids)
        held_ids = {r["row_id"] for r in rows if r["usable"] == "yes" and source_name(r["source"]) == src}
        fill = {fam: fold.get(fam) or transfer_training(fold, fam) for fam in with_rows}
        held = _training_errors(fill, held_ids)
        oos += held
        report["leave_one_source_out"][src] = _stats_rows(held)
        report["folds"][src] = {fam: {k: v[k] for k in TRAINING} for fam, v in fold.items()}
    report["leave_one_source_out"]["all"] = _stats_rows(oos)
    # leave one chip family out: the other families' fit, and the left-out family gets what a family
    # without training rows gets in the product (transfer_training)
    report["leave_one_family_out"] = {}
    oos = []
    for left in sorted(fits):
        fold = {fam: fit for fam, fit in fits.items() if fam != left}
        fill = {fam: fold.get(fam) or transfer_training(fold, fam) for fam in with_rows}
        held_ids = _training_rows()[left]
        held = _training_errors(fill, held_ids)
        oos += held
        report["leave_one_family_out"][left] = _stats_rows(held)
    report["leave_one_family_out"]["all"] = _stats_rows(oos)
    report["predicted"] = {r.row_id: r.predicted for r in in_sample}
    return fits, report


def _full(fits: dict) -> dict:
    """The families whose three training values were all fitted (not :func:`fit_sustained`'s)."""
    return {fam: f for fam, f in fits.items() if "fitted" not in f}


def _mean_training(fits: dict) -> dict:
    return {k: round(statistics.mean(f[k] for f in _full(fits).values()), 3) for k in TRAINING}


def attention_references() -> dict[str, float]:
    """Per chip family: the FlashAttention-2 forward microbenchmark of microbench.csv as a fraction of the
    chip's 16-bit peak (the mean over the family's chips measured)."""
    per: dict[str, list[float]] = {}
    with open(MICROBENCH_CSV, newline="") as f:
        for r in csv.DictReader(f):
            if r["what_std"] == "attention_tflops" and r["chip_profile"]:
                chip = load_chip(r["chip_profile"])
                per.setdefault(chip.family, []).append(float(r["value_std"]) * 1e12 / chip.peak(chip.half_dtype))
    return {fam: statistics.mean(v) for fam, v in per.items()}


def transfer_training(fits: dict, fam: str) -> dict:
    """The training values of a family without training rows (in the product, and for the left-out family
    of a fold): the mean of the fully fitted families, except the attention fraction when the family has a
    FlashAttention microbenchmark: the fitted families' mean share of their own microbenchmark, times its
    (fused attention's efficiency differs between chips as the kernel benchmark does: 58 % of peak on A100,
    33 % on H100)."""
    fits = _full(fits)
    out = _mean_training(fits)
    refs = attention_references()
    known = [f for f in fits if f in refs]
    if fam in refs and known:
        share = statistics.mean(fits[f]["training_attention_fraction"] / refs[f] for f in known)
        out["training_attention_fraction"] = round(share * refs[fam], 3)
    return out


# ---- the inference rows: nothing is fitted on them, so all out of sample --------------------------------

def inference_check(values: dict, engines: dict) -> dict:
    """``roofline validate`` over inference.csv at the fitted values: median |error| per source and model."""
    from roofline.loaders.engines import ENGINES

    presets = {name: attrs.evolve(ENGINES[name], **d["values"]) for name, d in engines.items()}
    over = {fam: {k: v[k] for k in (*S.FRACTIONS, *TRAINING) if k in v} for fam, v in values.items()}
    rows = validate([ROOT / "profiles" / "measurements" / "inference.csv"], efficiency_overrides=over,
                    engines=presets).rows
    groups: dict[str, list[float]] = {}
    for r in rows:
        label = source_name(r.source)
        if r.row_id.startswith("trtllm-perf"):
            label += " " + r.row_id.split("-h100")[0].removeprefix("trtllm-perf-")
        groups.setdefault(label, []).append(r.error_pct)
    return {k: S.stats(np.array(v)) for k, v in sorted(groups.items())}


# ---- the whole fit --------------------------------------------------------------------------------------

def repeats(t) -> dict:
    """Configurations measured more than once: how far their runs' TPOTs differ (max / min - 1), the floor
    no single prediction can beat for both runs."""
    by_case: dict[int, list[float]] = {}
    for k in np.where(t.is_tpot)[0]:
        by_case.setdefault(int(t.case[k]), []).append(float(t.measured[k]))
    spread = [100.0 * (max(v) / min(v) - 1.0) for v in by_case.values() if len(v) > 1]
    return {"configurations": len(spread), "median_spread_pct": round(float(np.median(spread)), 1) if spread else None,
            "over_20_pct": int(sum(s > 20.0 for s in spread))}


def calibrate(skip_training: bool = False) -> dict:
    start = time.perf_counter()
    cases, unexpressed = S.load_cases()
    full = fit_serving(cases)
    t = full["table"]
    fitted = S.predict(t, full["fractions"], full["costs"])
    in_sample = _summary(t, fitted, full["cases"])
    oos, folds, oos_pred = loo_serving(full)
    families = full["families"]
    values: dict[str, dict] = {f: {} for f in FAMILIES}
    notes: dict[str, dict] = {f: {} for f in FAMILIES}
    for i, fam in enumerate(families):
        n = int((t.family == i).sum())
        values.setdefault(fam, {}).update(_fraction_dict(full["fractions"][i]))
        values[fam]["serving_fraction_dtypes"] = sorted(
            {GEMM_CLASS[full["cases"][c].wl.compute_dtype] for c in set(t.case[t.family == i].tolist())})
        notes.setdefault(fam, {})["serving"] = (f"fitted jointly over the {n} {fam} rows (TPOT and TTFT) of the usable "
                                                f"aggregated serving.csv runs, all engines and models together")
    for fam in FAMILIES:
        if fam not in families:
            values[fam].update({k: round(statistics.mean(values[f][k] for f in families), 2) for k in S.FRACTIONS})
            notes[fam]["serving"] = (f"no serving runs of this family: mean of the fitted "
                                     f"{' and '.join(families)} values")
        values[fam].update({k: 0.0 for k in FAMILY_COSTS})
    engines = {}
    for i, eng in enumerate(S.ENGINE_NAMES):
        n = int((t.engine == i).sum())
        engines[eng] = {"values": dict(zip(S.COSTS, map(float, full["costs"][i]))),
                        "source": (f"benchmarks/calibrate.py: fitted jointly over the {n} rows (TPOT and TTFT) of "
                                   f"the usable aggregated {eng} runs of serving.csv, all chips and models together")}
    engines["generic"] = {"values": {k: float(np.mean(full["costs"][:, j])) for j, k in enumerate(S.COSTS)},
                          "source": "benchmarks/calibrate.py: the mean of the fitted vllm, sglang and trtllm values"}
    training = {}
    if not skip_training:
        fits, training = train_all()
        for fam in FAMILIES:
            if fam in fits:
                values[fam].update({k: fits[fam][k] for k in TRAINING})
                rows = fits[fam]["rows"]
                notes[fam]["training"] = (f"fitted jointly over the {rows} usable {fam} rows of training.csv"
                                          if "fitted" not in fits[fam] else
                                          f"sustained fraction fitted over the {rows} usable {fam} rows of "
                                          f"training.csv (too few for three values); the others as a family "
                                          f"without training rows")
            else:
                values[fam].update(transfer_training(fits, fam))
                ref = fam in attention_references()
                notes[fam]["training"] = (f"no training rows for this family: mean of the fitted "
                                          f"{' and '.join(sorted(_full(fits)))} values"
                                          + ("; attention: their mean share of their FlashAttention-2 "
                                             "microbenchmark times this family's" if ref else ""))
    return {"digest": input_digest(), "values": values, "notes": notes, "engines": engines,
            "inference_check": inference_check(values, engines) if not skip_training else {},
            "serving": {"in_sample": in_sample, "leave_one_model_out": oos, "folds": folds,
                        "predicted": {"in_sample": _per_row(t, fitted, full["cases"]), "leave_one_model_out": oos_pred},
                        "rounds": full["rounds"], "converged": full["converged"], "repeats": repeats(t),
                        "cases": len(full["cases"]), "rows": int(len(t.measured)),
                        "not_expressed": len(unexpressed) + sum(len(c.rows) for c in cases
                                                                 if c.key in {k for k, _ in full["skipped"]})},
            "training": training, "seconds": round(time.perf_counter() - start, 1)}


# ---- writing --------------------------------------------------------------------------------------------

def _source(note: str, key: str) -> str:
    extra = ""
    if key in ("training_attention_fraction", "serving_attention_fraction"):
        extra = "; upper reference: the FlashAttention-2 forward microbenchmark of microbench.csv"
    return f"benchmarks/calibrate.py: {note}{extra}"


def _set_line(section: str, key: str, value, source: str) -> str:
    line = f'{key} = {{ value = {value!r}, source = "{source}" }}'
    section, n = re.subn(rf"^{key} = .*$", line.replace("\\", "\\\\"), section, flags=re.M)
    return section if n == 1 else section.rstrip("\n") + "\n" + line + "\n"


def _rewrite(path: Path, tables: dict[str, dict[str, tuple]]) -> None:
    """Set ``key = { value, source }`` lines in the ``[table]`` sections of a TOML profile."""
    text = path.read_text()
    for name, lines in tables.items():
        m = re.search(rf"^\[{name}\][ \t]*$", text, flags=re.M)
        if m is None:
            raise SystemExit(f"{path.name}: no [{name}] section; add one")
        nxt = re.compile(r"^(\[|# )", flags=re.M).search(text, m.end())
        end = nxt.start() if nxt else len(text)
        section = text[m.start():end]
        for key, (value, source) in lines.items():
            section = _set_line(section, key, value, source)
        text = text[:m.start()] + section + text[end:]
    path.write_text(text)


def cost_source(engine: dict, key: str) -> str:
    """The source line of an engine's cost in profiles/engines.toml: the fit's, or why it is not fitted."""
    return UNFITTED_SOURCE if key in S.UNFITTED_COSTS else engine["source"]


def _round(v: float) -> float:
    return float(f"{v:.6g}")


def write(result: dict) -> None:
    eff = {}
    for fam in FAMILIES:
        v, n = result["values"][fam], result["notes"][fam]
        lines = {k: (_round(v[k]), _source(n["serving"], k)) for k in S.FRACTIONS}
        if "serving_fraction_dtypes" in v:
            lines["serving_fraction_dtypes"] = (
                v["serving_fraction_dtypes"],
                "benchmarks/calibrate.py: the GEMM formats of the fitted rows; serving_sustained_fraction and "
                "serving_expert_fraction apply to these formats only (others cannot be identified from the data: "
                "their GEMMs run at the microbenchmarked fraction alone)")
        lines.update({k: (0.0, "not fitted: the fixed costs of serving are the engine's (profiles/engines.toml)")
                      for k in FAMILY_COSTS})
        if "training" in n:
            lines.update({k: (_round(v[k]), _source(n["training"], k)) for k in TRAINING})
        eff[fam] = lines
    _rewrite(EFFICIENCY_TOML, eff)
    _rewrite(ENGINES_TOML, {e: {k: (_round(x), cost_source(d, k)) for k, x in d["values"].items()}
                            for e, d in result["engines"].items()})
    result = {**result, "digest": input_digest()}
    RESULTS.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    text = README.read_text()
    if README_BEGIN in text:
        head, rest = text.split(README_BEGIN, 1)
        _, tail = rest.split(README_END, 1)
        README.write_text(head + README_BEGIN + "\n" + readme_tables(result) + README_END + tail)


def _pct(s: dict) -> str:
    if not s or s.get("rows", 0) == 0:
        return "–"
    return f"{s['median_abs_error_pct']:.1f} % ({s['bias_pct']:+.1f} %)"


def readme_tables(result: dict) -> str:
    """The accuracy tables the README shows (rendered from calibration.json, checked by a test)."""
    srv = result["serving"]
    ins, oos = srv["in_sample"], srv["leave_one_model_out"]
    lines = [f"Serving: {srv['rows']:,} measured TPOT and TTFT values ({srv['cases']:,} configurations) of the "
             f"usable aggregated runs in `serving.csv`; median |error| (median signed error).", "",
             "| runs | TPOT out of sample | TTFT out of sample | TPOT in sample | TTFT in sample |",
             "|---|---|---|---|---|"]
    lines.append(f"| all | {_pct(oos['tpot'])} | {_pct(oos['ttft'])} | {_pct(ins['tpot'])} | {_pct(ins['ttft'])} |")
    lines.append(f"| concurrency <= 4 | {_pct(oos['tpot_concurrency_le_4'])} | – | "
                 f"{_pct(ins['tpot_concurrency_le_4'])} | – |")
    for group in ("engine", "chip", "model"):
        for label in oos[f"by_{group}"]:
            o, i = oos[f"by_{group}"][label], ins[f"by_{group}"][label]
            lines.append(f"| {group} {label} | {_pct(o['tpot'])} | {_pct(o['ttft'])} | {_pct(i['tpot'])} | "
                         f"{_pct(i['ttft'])} |")
    rep = srv.get("repeats")
    if rep and rep["configurations"]:
        lines += ["", f"{rep['configurations']} of these configurations were measured more than once: their runs' "
                      f"TPOTs differ by a median {rep['median_spread_pct']:.1f} %, and by more than 20 % in "
                      f"{rep['over_20_pct']} of them."]
    tr = result.get("training") or {}
    if tr:
        lines += ["", "Training: median |error| (median signed error) per source.", "",
                  "| source | leave-one-source-out | in sample |", "|---|---|---|"]
        for src in tr["in_sample"]:
            oos = tr["leave_one_source_out"].get(src, {})
            lines.append(f"| {src} | {_pct(oos)} | {_pct(tr['in_sample'][src])} |")
        lofo = tr.get("leave_one_family_out") or {}
        if lofo:
            lines += ["", "Training: median |error| (median signed error) per chip family, scored with the values "
                          "a family without training rows gets, from the other families alone (their mean; the "
                          "attention fraction scaled by the FlashAttention-2 microbenchmarks).", "",
                      "| chip family | rows | leave-one-family-out |", "|---|---|---|"]
            for fam in sorted(lofo, key=lambda f: (f == "all", f)):
                lines.append(f"| {fam} | {lofo[fam]['rows']} | {_pct(lofo[fam])} |")
    inf = result.get("inference_check") or {}
    if inf:
        lines += ["", "Inference rows of `inference.csv` (nothing is fitted on them: all out of sample).", "",
                  "| rows | n | median abs. error (median signed error) |", "|---|---|---|"]
        for label, s in inf.items():
            lines.append(f"| {label} | {s['rows']} | {_pct(s)} |")
    eng = result["engines"]
    lines += ["", "Fitted engine costs (the cost per step is not fitted: 0, see Calibration):", "",
              "| engine | per sequence per step | per kernel | per request |", "|---|---|---|---|"]
    for e in ("vllm", "sglang", "trtllm", "generic"):
        v = eng[e]["values"]
        lines.append(f"| {e} | {v['seq_overhead_s'] * 1e6:.0f} us | {v['kernel_overhead_s'] * 1e6:.2f} us | "
                     f"{v['request_overhead_s'] * 1e3:.0f} ms |")
    fams = [f for f in FAMILIES if f in ("hopper", "blackwell")]
    lines += ["", "Fitted serving fractions per chip family:", "",
              "| family | sustained (dense GEMMs) | attention (of 16-bit peak) | routed experts |", "|---|---|---|---|"]
    for f in fams:
        v = result["values"][f]
        lines.append(f"| {f} | {v['serving_sustained_fraction']:.2f} | {v['serving_attention_fraction']:.2f} | "
                     f"{v['serving_expert_fraction']:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--write", action="store_true", help="store the fit in the profiles, results and README")
    ap.add_argument("--skip-training", action="store_true",
                    help="fit serving only (a quicker look; not for --write)")
    args = ap.parse_args()
    if args.write and args.skip_training:
        raise SystemExit("--write needs the whole fit; drop --skip-training")
    result = calibrate(skip_training=args.skip_training)
    print(readme_tables(result))
    print(f"serving fit: {result['serving']['rounds']} rounds, converged {result['serving']['converged']}; "
          f"{result['seconds']} s")
    if args.write:
        write(result)
        print(f"wrote {EFFICIENCY_TOML.relative_to(ROOT)}, {ENGINES_TOML.relative_to(ROOT)}, "
              f"{RESULTS.relative_to(ROOT)} and the README tables")


if __name__ == "__main__":
    main()
