"""The README's prose figures, produced by the tool: every paragraph that quotes an estimate is written here
from the tool's current output and pasted between ``<!-- figures:NAME:begin -->`` and
``<!-- figures:NAME:end -->`` markers, so that it cannot drift (tests/test_readme.py regenerates every block
and compares).

    python benchmarks/readme_figures.py            # print the blocks
    python benchmarks/readme_figures.py --write    # rewrite them in README.md
    python benchmarks/readme_figures.py --check    # exit 1 when README.md differs

Figures quoted from the command excerpts of the README are checked there (tests/test_readme.py); those here
are the ones written in sentences.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.readme_speed import speed_block  # noqa: E402
from roofline import api  # noqa: E402
from roofline.analysis.probes import compute_bound_batch, largest_batch_within  # noqa: E402
from roofline.loaders.chips import CHIPS, load_chip  # noqa: E402
from roofline.loaders.files import profiles_dir  # noqa: E402
from roofline.loaders.hf_config import SUPPORTED_MODEL_TYPES  # noqa: E402
from roofline.loaders.models import MODELS, load_model  # noqa: E402
from roofline.passes import Packed  # noqa: E402
from roofline.render.disagg import render_disagg_plan  # noqa: E402
from roofline.serving.static import estimate_inference  # noqa: E402
from roofline.workload import Workload  # noqa: E402

README = ROOT / "README.md"
WIDTH = 110


def _x(v: float) -> str:
    return f"{v:.2f}x"


def _ms(t: float) -> str:
    return f"{t * 1e3:.0f} ms"


def _n(v: float) -> str:
    return f"{v:,.0f}"


def _wrap(text: str) -> str:
    return "\n".join(textwrap.wrap(" ".join(text.split()), WIDTH, break_on_hyphens=False))


class Figures:
    """Everything the paragraphs quote, computed once."""

    def __init__(self):
        self.h20, self.h100 = load_chip("H20"), load_chip("H100")
        self.model = load_model("70B")
        self.cmp = api.compare(["H20", "H100"], "70B")
        self.rows = {r.chip.name: r for r in self.cmp.rows}
        self.est = api.estimate("H20", "70B", mode="both")
        self.v = self.est.verdict
        self.tp8 = {c.name: estimate_inference(c, self.model, Workload(tp=8)) for c in (self.h20, self.h100)}
        self.reasoning = api.estimate("H20", "70B", Workload(input_len=1024, output_len=4096),
                                      mode="inference").verdict
        self.h800 = api.estimate("H20", "70B", mode="inference", reference="H800").verdict


def worked_example(f: Figures) -> str:
    pre = f.tp8["H20"].prefill.arithmetic_intensity
    dec = f.tp8["H20"].decode.arithmetic_intensity
    return _wrap(
        f"Prefill does {_n(pre)} FLOPs per byte it moves, far above either chip's critical intensity (H20: "
        f"{_n(f.h20.critical_intensity('bf16'))}, H100: {_n(f.h100.critical_intensity('bf16'))} FLOP/byte), so it "
        f"is compute-bound and the H20 is several times slower (TTFT also holds the engine's fixed time per "
        f"request, the same on both). Batch-1 decode does {dec:.0f} FLOP per byte (every weight is read once per "
        f"token), far below both, so it is bandwidth-bound and the H20 is faster. Nothing in the code knows "
        f"which chip is which: both answers come from the same roofline.")


def verdict_story(f: Figures) -> str:
    v, pts = f.v, dict(f.v.serving_points)
    a, b = pts["this"], pts["reference"]
    d = dict(v.per_dollar)
    r, h8 = f.reasoning, f.h800
    h8d = dict(h8.per_dollar)
    return _wrap(
        f"For Llama-3.1-70B with 2,048 tokens in and 256 out, the H20's serving speed-up at the targets is "
        f"{_x(v.serving_speedup)} per chip: its best layout in an 8-chip server (TP {a['tp']}, {a['concurrency']} "
        f"users per replica) delivers {_n(a['output_tokens_per_s_per_chip'])} output tokens/s per chip at a TPOT "
        f"of {_ms(a['tpot_s'])}, the H100's ({b['replicas']} x TP {b['tp']}, {b['concurrency']} users each) "
        f"{_n(b['output_tokens_per_s_per_chip'])}. Alone, a request decodes {_x(v.decode_speedup)} as fast on "
        f"the H20 (HBM bandwidth {_x(dict(v.resource_ratios)['memory'])}), but a fleet runs many users per "
        f"replica, and every step then also prefills other users' prompts, which is compute-bound: the "
        f"point is {v.serving.bound}-bound on both chips, where the H20 has {_x(dict(v.resource_ratios)['compute'])} "
        f"of the FLOP/s. Training (each chip at its planner's best layout on 1,024 chips) runs at "
        f"{_x(v.training_speedup)}, so serving keeps {v.serving_over_training:.2f} times as much of the H100's "
        f"speed as training does. The profile prices (${d['price_usd_per_hour']:.2f} per H20-hour on Chinese "
        f"platforms, ${d['reference_price_usd_per_hour']:.2f} per H100-hour on global clouds) would make that "
        f"{_x(d['serving_speedup'])} and {_x(d['training_speedup'])} per dollar, but prices of different "
        f"markets are not compared, so the vote is per chip and the H20 suits {v.suits}. Against the H800, "
        f"priced on the same platforms, it serves at {_x(h8.serving_speedup)} per chip and "
        f"{_x(h8d['serving_speedup'])} per dollar. Longer answers move it towards serving: at 1,024 tokens in "
        f"and 4,096 out the prompts weigh less per step and the H20 serves at {_x(r.serving_speedup)} per chip.")


def h20_story(f: Figures) -> str:
    h20, h100 = f.rows["H20"], f.rows["H100-SXM"]
    s20, s100 = h20.serving, h100.serving
    ratios = dict(h20.ratios)
    link20, link100 = h20.link, h100.link
    p = Packed(f.h20, f.model, f.tp8["H20"].workload)
    within = largest_batch_within(p, 0.050)
    turn = compute_bound_batch(p)
    return _wrap(
        f"**The H20 story, in the tool's numbers.** Batch-1 decode reads every weight once per token: "
        f"{s20.decode_intensity:.1f} FLOP per byte, far below both chips' critical intensity "
        f"({_n(s20.critical_intensity)} and {_n(s100.critical_intensity)} FLOP/byte), so it is memory-bound and "
        f"the H20, with {_x(f.h20.hbm_bytes_per_s / f.h100.hbm_bytes_per_s)} the HBM bandwidth, decodes "
        f"{_x(ratios['decode'])} as fast. Prefill ({_n(s20.prefill_intensity)} FLOP/byte) and training are above "
        f"both ridges, compute-bound, and the H20 runs at {_x(ratios['prefill'])} and {_x(ratios['training'])}, "
        f"near its {_x(f.h20.peak('bf16') / f.h100.peak('bf16'))} of the dense FLOP/s. The low ridge also ends "
        f"the H20's advantage early: at TP 8 its decode turns compute-bound at batch {turn:,}, and its TPOT "
        f"passes 50 ms at batch {within:,}, while the "
        f"H100's decode stays memory-bound up to its memory limit (batch {f.tp8['H100-SXM'].max_batch:,}). Served "
        f"as fleets are, within 50 ms TPOT and 2 s TTFT, the H100 delivers "
        f"{_n(s100.point.layout.output_tokens_per_s_per_chip)} output tokens/s per chip against the H20's "
        f"{_n(s20.point.layout.output_tokens_per_s_per_chip)} ({_x(ratios['serving'])}). Its full 900 GB/s NVLink "
        f"matters little: halving it costs the H20 {link20.loss(link20.decode_batch1):.1%} of batch-1 decode at "
        f"TP 8, {link20.loss(link20.decode_full_batch):.1%} at its largest batch and "
        f"{link20.loss(link20.training):.1%} of training, because its slow GEMMs hide the collectives (the H100 "
        f"loses {link100.loss(link100.decode_full_batch):.1%} and {link100.loss(link100.training):.1%}). And it "
        f"sits just under the export thresholds it was designed for: TPP {h20.export.tpp:,.0f} (< 2,400), "
        f"performance density {h20.export.performance_density:.2f} (< 3.2).")


def plots(f: Figures) -> str:
    p20 = Packed(f.h20, f.model, f.tp8["H20"].workload)
    turn, within = compute_bound_batch(p20), largest_batch_within(p20, 0.050)
    ci20, ci100 = f.h20.critical_intensity("bf16"), f.h100.critical_intensity("bf16")
    full100 = f.tp8["H100-SXM"].max_batch
    return _wrap(
        f"The roofline (above): each chip's HBM slope and compute ceilings (bf16/fp16 in use, fp8/int8 dashed), "
        f"the scale-up link's slope, and the workload at TP 8: batch-1 decode sits at "
        f"{f.tp8['H20'].decode.arithmetic_intensity:.0f} FLOP/byte on both; the H20's decode crosses its ridge at "
        f"{_n(ci20)} FLOP/byte and flattens under its ceiling, the H100's stays left of its ridge ({_n(ci100)}) up "
        f"to its memory limit (batch {full100:,}); prefill and the training step sit far right, under the compute "
        f"ceiling. Points are expected FLOP/s, below the lines by the achievable fractions of peak.") + "\n\n" + \
        "![Decode throughput and latency against batch, H20 and H100](docs/h20-h100-batch.png)\n\n" + _wrap(
        f"Static decode against batch (above), at TP 8: output tokens/s per chip (left) and TPOT (right). The H20 "
        f"leads until batch {turn:,}, where it turns compute-bound (diamond); after that its throughput flattens "
        f"and its TPOT climbs through 50 ms at batch {within:,} (circle), while the H100 keeps gaining up to its "
        f"memory limit (cross, batch {full100:,}). These are lone batches; a fleet also prefills other users' "
        f"prompts in its steps (the verdict above, `--concurrency` in the plot).")


def profiles(f: Figures) -> str:
    chips = [load_chip(n) for n in CHIPS.names()]
    models = [load_model(n) for n in MODELS.names()]
    priced = [c for c in chips if c.price_usd_per_hour is not None]
    prices = ", ".join(f"{c.name} ${c.price_usd_per_hour:.2f} ({c.price_market}, {c.price_date})" for c in priced)
    return _wrap(
        f"`profiles/chips/*.toml` ({len(chips)} chips: {', '.join(c.name for c in chips)}) hold **dense** peaks per "
        f"dtype (a dtype the chip lacks is absent), HBM capacity and bandwidth, the scale-up link (bytes/s per "
        f"direction per chip and domain size), the network per chip and TDP, each figure with its source and "
        f"confidence. Names and aliases are case-insensitive (`H100` is H100-SXM, `910B` is Ascend-910B). "
        f"`--chip my_chip.toml` loads your own chip in the same layout. {len(priced)} profiles carry a dated "
        f"hourly rental price per chip with its source, confidence and market (`global` clouds, or Chinese "
        f"platforms, `china`, which list in CNY and rent chips the global clouds do not): {prices}. Rental "
        f"prices move fast; `--price-per-hour` sets your own.") + "\n\n" + _wrap(
        f"`profiles/models/*.toml` ({len(models)} models: {', '.join(m.name for m in models)}) hold their "
        f"dimensions with their sources (`70B`, `8B`, `405B` are Llama-3.1). `--model` also takes a Hugging Face "
        f"`config.json` or a folder holding one (model types {', '.join(SUPPORTED_MODEL_TYPES)}), honouring "
        f"`head_dim`, `num_key_value_heads`, `intermediate_size`, `tie_word_embeddings` and `sliding_window`. "
        f"Parameter counts are exact (Llama-3.1-70B: {f.model.param_count():,}).")


def dsv3_validate(f: Figures) -> str:
    v = api.validate([profiles_dir() / "measurements" / "inference.csv"]).to_dict()
    err = {r["row_id"]: r["error_pct"] for r in v["rows"]}
    pre, dec = err["sglang-pd-h100-ds3-prefill-ep32-4096-in"], err["sglang-pd-h100-ds3-decode-ep72-2000-out"]
    return _wrap(
        f"`roofline validate` runs the SGLang DeepSeek-V3 rows (H100, EP32 prefill and EP72 decode with "
        f"data-parallel attention, per-node rates): {pre:+.1f} % and {dec:+.1f} % (negative: the estimate is "
        f"slower than measured). They are not in the serving fit, which uses serving.csv alone, so these are "
        f"out-of-sample figures: the Hopper serving fractions fitted there (attention, routed experts) apply to "
        f"them, and no run of the fit is like them (expert parallelism over 32 and 72 GPUs, prefill and decode "
        f"on separate pools: disaggregated serving, issue 16).")


DISAGG_COMMAND = "roofline plan --mode inference --disagg --chip H20 --prefill-chip H100 --model 70B"
DISAGG_ACCURACY = ROOT / "benchmarks" / "results" / "disagg_accuracy.json"


def disagg_story(f: Figures) -> str:
    plan = api.plan_disagg(f.model, f.h100, f.h20)
    b, agg = plan.best, dict(plan.aggregated)
    h100, h20 = agg[f.h100.name], agg[f.h20.name]
    acc = json.loads(DISAGG_ACCURACY.read_text())
    lomo, ship = acc["leave_one_model_out"], acc["shipped_values"]
    prose = _wrap(
        f"H100 prefill with H20 decode serves {b.output_tokens_per_s_per_chip:.0f} output tokens/s per chip "
        f"within the targets: {b.output_tokens_per_s_per_chip / h100.output_tokens_per_s_per_chip:.2f}x an "
        f"all-H100 fleet and {b.output_tokens_per_s_per_chip / h20.output_tokens_per_s_per_chip:.1f}x an all-H20 "
        f"one per chip; per dollar at the profiles' dated prices (quoted in different markets) "
        f"{_n(b.output_tokens_per_dollar)} output tokens against {_n(plan.aggregated_dollars(f.h100.name))} and "
        f"{_n(plan.aggregated_dollars(f.h20.name))}. The H20 is bound by HBM bandwidth, where it is strong, and "
        f"never computes a prompt. Accuracy on the {acc['rows']} usable disaggregated runs of serving.csv "
        f"({lomo['tpot']['rows']} TPOT + {lomo['ttft']['rows']} TTFT priced, the rest not expressible): nothing is "
        f"fitted on them; with each model's serving values refitted without it (out of sample) the median "
        f"|error| is {lomo['tpot']['median_abs_error_pct']} % on TPOT (bias {lomo['tpot']['bias_pct']:+} %) and "
        f"{lomo['ttft']['median_abs_error_pct']} % on TTFT (bias {lomo['ttft']['bias_pct']:+} %); with the "
        f"shipped values, fitted on aggregated runs of the same models, {ship['tpot']['median_abs_error_pct']} % "
        f"and {ship['ttft']['median_abs_error_pct']} % (benchmarks/disagg_accuracy.py). Issue 16's targets are "
        f"12 % and 35 %.")
    return f"```\n$ {DISAGG_COMMAND}\n{render_disagg_plan(plan, timing=False)}\n```\n\n{prose}"


def speed(f: Figures) -> str:
    return speed_block()  # from the benchmark scripts' JSON, not from the tool


BLOCKS = {"worked-example": worked_example, "verdict-story": verdict_story, "h20-story": h20_story, "plots": plots,
          "profiles": profiles, "dsv3-validate": dsv3_validate, "disagg-story": disagg_story, "speed": speed}


def blocks() -> dict[str, str]:
    """Every block's text, from the tool as it is now."""
    f = Figures()
    return {name: fn(f) for name, fn in BLOCKS.items()}


def marker(name: str, end: bool = False) -> str:
    return f"<!-- figures:{name}:{'end' if end else 'begin'} -->"


def in_readme(text: str, name: str) -> str | None:
    """The block ``name`` as written in ``text`` (None when its markers are missing)."""
    m = re.search(re.escape(marker(name)) + r"\n(.*?)\n" + re.escape(marker(name, True)), text, re.S)
    return None if m is None else m.group(1)


def rewrite(text: str, new: dict[str, str]) -> str:
    for name, body in new.items():
        if in_readme(text, name) is None:
            raise SystemExit(f"README.md has no {marker(name)} ... {marker(name, True)} markers")
        text = re.sub(re.escape(marker(name)) + r"\n.*?\n" + re.escape(marker(name, True)),
                      lambda _m, n=name, b=body: f"{marker(n)}\n{b}\n{marker(n, True)}", text, flags=re.S)
    return text


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="rewrite the blocks in README.md")
    ap.add_argument("--check", action="store_true", help="exit 1 when README.md differs from the tool")
    args = ap.parse_args()
    new = blocks()
    text = README.read_text()
    if args.write:
        README.write_text(rewrite(text, new))
        print(f"wrote {len(new)} blocks to {README}")
        return 0
    if args.check:
        stale = [n for n, b in new.items() if in_readme(text, n) != b]
        print("README figures " + (f"differ from the tool: {', '.join(stale)}" if stale else "match the tool"))
        return 1 if stale else 0
    for name, body in new.items():
        print(f"{marker(name)}\n{body}\n{marker(name, True)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
