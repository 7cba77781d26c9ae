"""Training accuracy gate: every usable row of profiles/measurements/training.csv through ``estimate_training``.

Each row runs with its exact configuration (chip, architecture, layout, micro/global batch, sequence
length, recompute, ZeRO, interleaving, matmul dtype). The model is built from the row's architecture
columns:

* ``gpt`` from Narayanan et al. 2021 (Megatron-LM): GELU MLP of 4h, LayerNorm with bias, biases in
  every linear layer, learned absolute positions (seq_len rows), tied embeddings; no FlashAttention and
  no sequence parallelism (both were introduced in 2022, Dao et al. and Korthikanti et al.).
* ``gpt`` from MosaicML (MPT): GELU MLP of 4h, ALiBi (no learned positions), no biases, tied
  embeddings, FlashAttention (llm-foundry ``attn_impl: triton``).
* ``llama`` (PyTorch FSDP blog): SwiGLU, RMSNorm, untied embeddings, FlashAttention-2 (SDPA).

Comparison, converting to the row's own convention (``step_time_s`` is what the estimator predicts):

* ``tokens_per_s_per_chip``: estimate's tokens/s per chip, directly.
* ``hardware_tflops_per_chip`` / ``hfu`` (Narayanan): the paper's eq. (3) FLOPs of the row's batch,
  F = 96·B·s·l·h²·(1 + s/6h + V/16lh), divided by the estimated step time (per chip, ÷ 312 TFLOP/s
  for hfu) — so the comparison is of step times, whatever FLOP convention either side uses.
* ``mfu`` / ``model_tflops_per_chip``: MosaicML's 3·(flops_per_seq + attn_flops_per_seq) per sequence
  over the estimated step time.

A blank ``zero`` (PyTorch FSDP rows) is read as FSDP's default FULL_SHARD (ZeRO-3); a blank
``virtual_pp`` as 1. Run: ``PYTHONPATH=. python3 benchmarks/training_accuracy.py``.
"""

from __future__ import annotations

import csv
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofline.chip import load_chip  # noqa: E402
from roofline.errors import RooflineError  # noqa: E402
from roofline.model import Model  # noqa: E402
from roofline.training import TrainingWorkload, estimate_training  # noqa: E402

CSV = ROOT / "profiles" / "measurements" / "training.csv"
OUT = ROOT / "benchmarks" / "results" / "training_accuracy.json"
SOURCE_PEAK_FLOPS = {"A100": 312e12, "H100": 989e12}  # peaks the sources divided by (SCHEMA.md)


def source_of(row: dict) -> str:
    src = row["source"].lower()
    if "narayanan" in src:
        return "Megatron-LM (Narayanan 2021)"
    if "mosaic" in src or row["row_id"].startswith("mpt-"):
        return "MosaicML llm-foundry"
    return "PyTorch FSDP (IBM/Meta 2024)"


def build_model(row: dict, source: str) -> Model:
    L, h, a = int(row["layers"]), int(row["hidden"]), int(row["heads"])
    kv = int(row["kv_heads"] or a)
    hd = int(row["head_dim"] or h // a)
    common = dict(name=row["model_ref"], num_layers=L, hidden_size=h, num_heads=a, num_kv_heads=kv, head_dim=hd,
                  intermediate_size=int(row["ffn_hidden"]), vocab_size=int(row["vocab"]))
    if row["arch"] == "llama":
        return Model(**common, gated_mlp=True, norm="rms", tie_word_embeddings=False)
    if source.startswith("Megatron"):
        return Model(**common, gated_mlp=False, norm="layer", qkv_bias=True, o_bias=True, mlp_bias=True,
                     tie_word_embeddings=True, learned_pos_embeddings=int(row["seq_len"]), family="gpt2")
    return Model(**common, gated_mlp=False, norm="layer", tie_word_embeddings=True, family="mpt")


def workload(row: dict, source: str) -> TrainingWorkload:
    megatron = source.startswith("Megatron")
    return TrainingWorkload(
        num_chips=int(row["num_chips"]), tp=int(row["tp"]), pp=int(row["pp"]), dp=int(row["dp"]),
        cp=int(row["cp"] or 1), micro_batch=int(row["micro_batch"]), global_batch=int(row["global_batch"]),
        seq_len=int(row["seq_len"]), recompute=row["recompute"], zero=int(row["zero"] or 3),
        dtype=row["precision"], virtual_pp=int(row["virtual_pp"] or 1),
        sequence_parallel=False if megatron else None, flash_attention=not megatron)


def predicted(row: dict, est, model: Model) -> float:
    metric = row["metric_std"]
    wl = est.workload
    B, s, n = wl.batch(), wl.seq_len, wl.num_chips
    if metric == "tokens_per_s_per_chip":
        return est.tokens_per_s_per_chip
    if metric == "step_time_s":
        return est.step_time_s
    if metric in ("hardware_tflops_per_chip", "hfu"):
        l, h, V = model.num_layers, model.hidden_size, model.vocab_size
        flops = 96 * B * s * l * h * h * (1 + s / (6 * h) + V / (16 * l * h))
        per_chip = flops / est.step_time_s / n
        return per_chip / 1e12 if metric == "hardware_tflops_per_chip" else per_chip / 312e12
    if metric in ("mfu", "model_tflops_per_chip"):
        n_params = model.param_count()
        per_seq = 3 * (2 * n_params * s + model.num_layers * 2 * 2 * model.hidden_size * s * s)
        per_chip = per_seq * B / est.step_time_s / n
        peak = SOURCE_PEAK_FLOPS["H100" if "H100" in row["chip_profile"] else "A100"]
        return per_chip / 1e12 if metric == "model_tflops_per_chip" else per_chip / peak
    raise ValueError(f"metric {metric} not handled")


def run() -> dict:
    rows = [r for r in csv.DictReader(CSV.open()) if r["usable"] == "yes"]
    chips: dict[str, object] = {}
    out = []
    for row in rows:
        source = source_of(row)
        chip = chips.setdefault(row["chip_profile"], load_chip(row["chip_profile"]))
        model = build_model(row, source)
        try:
            est = estimate_training(chip, model, workload(row, source))
        except RooflineError as exc:
            out.append({"row_id": row["row_id"], "source": source, "error": str(exc)})
            continue
        pred = predicted(row, est, model)
        meas = float(row["value_std"])
        out.append({"row_id": row["row_id"], "source": source, "metric": row["metric_std"], "measured": meas,
                    "predicted": pred, "error": pred / meas - 1.0, "fits": est.fits,
                    "breakdown_fraction": {k: v / est.step_time_s for k, v in est.breakdown}})
    summary = {}
    for source in sorted({r["source"] for r in out}):
        errs = [abs(r["error"]) for r in out if r["source"] == source and isinstance(r["error"], float)]
        failed = [r["row_id"] for r in out if r["source"] == source and not isinstance(r["error"], float)]
        summary[source] = {"rows": len(errs), "failed": failed, "median_abs_error": statistics.median(errs),
                           "worst_abs_error": max(errs),
                           "mean_signed_error": statistics.mean(r["error"] for r in out if r["source"] == source
                                                               and isinstance(r["error"], float))}
    return {"summary": summary, "rows": out}


def main() -> None:
    result = run()
    print(f"{'row':58} {'metric':26} {'measured':>10} {'predicted':>10} {'error':>7}  fits")
    for r in result["rows"]:
        if not isinstance(r["error"], float):
            print(f"{r['row_id']:58} ERROR {r['error']}")
            continue
        print(f"{r['row_id']:58} {r['metric']:26} {r['measured']:10.4g} {r['predicted']:10.4g} "
              f"{r['error']:+7.1%}  {'yes' if r['fits'] else 'NO'}")
    print()
    for source, s in result["summary"].items():
        print(f"{source:32} rows {s['rows']:3}  median |err| {s['median_abs_error']:6.1%}  worst {s['worst_abs_error']:6.1%}"
              f"  mean signed {s['mean_signed_error']:+6.1%}  failed {len(s['failed'])}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1))
    print(f"\nwrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
