"""Plain-text rendering of results: readable tables without colour, every number with its unit."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from roofline.chip import Chip
from roofline.dtypes import BYTES
from roofline.model import Model
from roofline.results import Estimate, Phase

if TYPE_CHECKING:
    from roofline.planner import Plan
    from roofline.training import TrainingEstimate
    from roofline.validate import Validation
    from roofline.compare import Comparison
    from roofline.verdict import Verdict


def seconds(t: float) -> str:
    if t >= 100:
        return f"{t:,.0f} s"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} µs"


def gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB"


def rate(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def table(header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> str:
    """Columns two spaces apart: those in ``left`` (the first by default) left-aligned, others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(c).ljust(widths[i]) if i in left else str(c).rjust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def chip_line(chip: Chip, dtype: str) -> str:
    return (f"{chip.name} ({chip.full_name}): {dtype} dense {chip.peak(dtype) / 1e12:,.0f} TFLOP/s, "
            f"HBM {gb(chip.hbm_bytes)} at {chip.hbm_bytes_per_s / 1e12:.2f} TB/s, "
            f"{chip.scale_up_name or 'scale-up'} {chip.scale_up_bytes_per_s / 1e9:,.0f} GB/s per direction "
            f"x {chip.scale_up_domain} chips")


def ops_table(title: str, phase: Phase) -> str:
    rows = [[o.name, str(o.count), f"{o.flops / 1e12:,.3f}", f"{o.hbm_bytes / 1e9:,.3f}",
             f"{o.link_bytes / 1e9:,.4f}", seconds(o.time_s), o.bound] for o in phase.ops]
    return title + "\n" + table(["op", "count", "TFLOP", "HBM GB", "link GB", "time", "bound"], rows)


def render_estimate(est: Estimate, show_ops: bool = False) -> str:
    chip, model = est.chip, est.model
    dt = est.compute_dtype
    out = [
        f"roofline estimate: {model.name} on {chip.name}",
        "",
        f"Chip    {chip_line(chip, dt)}",
        f"        critical intensity {chip.critical_intensity(dt):,.0f} FLOP/byte ({dt} peak / HBM bandwidth)",
        f"Model   {model.name}: {model.param_count() / 1e9:,.2f} B parameters, {model.num_layers} layers"
        + (f", KV cache {model.kv_bytes_per_token(BYTES[est.inference.workload.kv]):,.0f} bytes/token "
           f"({est.inference.workload.kv})" if est.inference else
           f", hidden {model.hidden_size:,}, {model.num_heads} heads ({model.num_kv_heads} KV)"),
    ]
    if est.inference is not None:
        out += _inference_lines(est, show_ops)
    if est.training is not None:
        out += ["", render_training(est.training, model, chip)]
    if est.training_note is not None:
        out += ["", f"Training  not estimated: {est.training_note}"]
    if getattr(est, "verdict", None) is not None:
        out += ["", render_verdict(est.verdict)]
    return "\n".join(out)


def render_verdict(v: Verdict) -> str:
    """The Verdict section: speed-ups against the reference chip, what the chip suits, and why."""
    def x(s):
        return "-" if s is None else f"{s:.2f}x"

    lines = [f"Verdict   suits {v.suits.upper()} (against {v.reference_chip}, per chip: decode {x(v.decode_speedup)}, "
             f"prefill {x(v.prefill_speedup)}, training {x(v.training_speedup)})",
             *textwrap.wrap(v.reason, 110, initial_indent=" " * 10, subsequent_indent=" " * 10),
             f"          Rule: serving if decode >= {v.threshold:.2f}x the reference, training if training "
             f">= {v.threshold:.2f}x (roofline/verdict.py)."]
    lines += [f"          Note: {n}." for n in v.notes]
    return "\n".join(lines)


def _inference_lines(est: Estimate, show_ops: bool) -> list[str]:
    inf = est.inference
    wl = inf.workload
    dt = wl.compute_dtype
    eff = inf.efficiency
    out = [
        f"Layout  TP {wl.tp} x PP {wl.pp}"
        + (f", EP {wl.ep}" + (f" ({wl.attn_dp} data-parallel attention groups)" if wl.attn_dp > 1 else "")
           if wl.ep > 1 else "")
        + f" = {inf.num_chips} chip(s); weights {wl.weight_dtype} "
        f"(computes in {dt}), KV {wl.kv}; batch {wl.batch}, {wl.input_len} in / {wl.output_len} out"
        + (f"; speculative: {wl.draft_tokens} draft token(s), {wl.accept:g} accepted per step"
           if wl.draft_tokens else ""),
        "",
        f"Memory per chip  {gb(inf.memory_per_chip_bytes)} of {gb(inf.usable_bytes_per_chip)} usable "
        f"(weights {gb(inf.weights_bytes_per_chip)}, KV cache {gb(inf.kv_bytes_per_chip)}, "
        f"workspace {gb(inf.workspace_bytes_per_chip)})",
        f"Fits             {'yes' if inf.fits else 'NO: batch ' + str(wl.batch) + ' exceeds the memory'}; "
        f"largest batch that fits: {inf.max_batch}",
        "",
        table(["", "expected", "ideal", "bound", "FLOP/byte"], [
            ["TTFT (prefill)", seconds(inf.ttft_s), seconds(inf.ideal_ttft_s), inf.prefill.bound,
             f"{inf.prefill.arithmetic_intensity:,.0f}"],
            ["TPOT (decode)", seconds(inf.tpot_s), seconds(inf.ideal_tpot_s), inf.decode.bound,
             f"{inf.decode.arithmetic_intensity:,.1f}"],
            ["output tokens/s", rate(inf.output_tokens_per_s), rate(wl.batch / inf.ideal_tpot_s), "", ""],
            ["  per chip", rate(inf.output_tokens_per_s / inf.num_chips),
             rate(wl.batch / inf.ideal_tpot_s / inf.num_chips), "", ""],
        ]),
        "",
        table(["batch", "TTFT", "TPOT", "tokens/s", "tokens/s/chip", "fits"], [
            [str(p.batch), seconds(p.ttft_s), seconds(p.tpot_s), rate(p.output_tokens_per_s),
             rate(p.output_tokens_per_s / inf.num_chips), "yes" if p.fits else "no"] for p in inf.batch_table
        ]),
        "",
        f"Expected = achievable fractions of peak for the {eff.family} family: GEMM {eff.gemm_fraction:.0%}, "
        f"HBM {eff.hbm_fraction:.0%}, scale-up {eff.scale_up_fraction:.0%}, network {eff.scale_out_fraction:.0%}, "
        f"collective latency {eff.collective_base_latency_s * 1e6:.1f} µs + {eff.scale_up_hop_latency_s * 1e6:.2f} µs/step;",
        "ideal = 100% of every peak, no latency. TPOT is the decode step at the mean context "
        f"({inf.decode_context_tokens:,.0f} tokens cached).",
    ]
    srv = est.serving
    if srv is not None:
        mode = (f"Poisson arrivals at {srv.request_rate:g} requests/s (utilisation {srv.utilization:.0%} of "
                f"{srv.capacity_requests_per_s:.3g}/s)" if srv.request_rate else
                f"{srv.concurrency} requests in flight (closed loop)")
        out += ["", f"Serving ({srv.engine} engine, continuous batching): {mode}; the engine runs "
                    f"{srv.inflight} at once, its KV cache holds {srv.kv_capacity_sequences}"
                    + ("; prefill is the bottleneck" if srv.prefill_bound else ""),
                table(["", "value"], [
                    ["TTFT (incl. waiting)", seconds(srv.ttft_s)], ["TPOT (incl. prefill chunks)", seconds(srv.tpot_s)],
                    ["request latency", seconds(srv.request_latency_s)], ["requests/s", rate(srv.requests_per_s)],
                    ["output tokens/s", rate(srv.output_tokens_per_s)],
                    ["  per chip", rate(srv.output_tokens_per_s / srv.num_chips)]])]
    if show_ops:
        out += ["", ops_table("Prefill ops (per chip, whole batch)", inf.prefill), "",
                ops_table("Decode ops (per chip, one step)", inf.decode)]
    return out


#: What each part of a training step is, for the breakdown table (keys of ``TrainingEstimate.breakdown``).
STEP_PARTS = {
    "compute": "GEMMs, attention and element-wise ops (recompute included)",
    "tp_comm": "tensor-parallel collectives, exposed",
    "pp_bubble": "pipeline fill and drain",
    "pp_comm": "pipeline sends between stages, exposed",
    "dp_comm": "gradient reduce / ZeRO gathers over DP, exposed",
    "cp_comm": "context-parallel ring attention, exposed",
    "optimizer": "Adam update (HBM-bound) and the fixed per-step overhead",
}


def count(x: float) -> str:
    """A large count with a decimal suffix: 15e12 -> '15T', 1.5e9 -> '1.5B'."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= scale:
            return f"{x / scale:,.3g}{suffix}"
    return f"{x:,.0f}"


def duration(t: float) -> str:
    """Seconds as days (hours below one day)."""
    return f"{t / 86400:,.1f} days" if t >= 86400 else f"{t / 3600:,.1f} hours"


def _share(t: float, total: float) -> str:
    return f"{t / total:.1%}" if total > 0 else "-"


def render_training(est: TrainingEstimate, model: Model, chip: Chip) -> str:
    """The Training section: layout, memory, step-time breakdown, throughput, MFU/HFU and time to train."""
    wl, eff, step = est.workload, est.efficiency, est.step_time_s
    parts = dict(est.breakdown)
    bound = max(parts, key=parts.get)
    tokens_per_step = wl.batch() * wl.seq_len
    out = [
        f"Training  {model.name} on {wl.num_chips:,} x {chip.name}, {wl.dtype} matmuls at dense "
        f"{est.peak_flops_per_s / 1e12:,.0f} TFLOP/s per chip, budget {count(wl.tokens)} tokens",
        f"Layout    TP {wl.tp} x PP {wl.pp} x DP {wl.dp} x CP {wl.cp} = {wl.num_chips:,} chips; micro-batch "
        f"{wl.micro_batch}, global batch {wl.batch():,} sequences of {wl.seq_len:,} tokens "
        f"({count(tokens_per_step)} tokens/step)",
        f"          recompute {wl.recompute}, ZeRO {wl.zero}, virtual pp {wl.virtual_pp}, sequence parallel "
        f"{'on' if wl.sp else 'off'}, {'flash' if wl.flash_attention else 'unfused'} attention, {wl.dtype}",
        f"Memory    {gb(est.memory_per_chip_bytes)} per chip of {gb(est.usable_bytes_per_chip)} usable "
        f"(weights, gradients and optimizer {gb(est.state_bytes_per_chip)}, stored activations "
        f"{gb(est.activation_bytes_per_chip)}, working layer and logits "
        f"{gb(est.memory_per_chip_bytes - est.state_bytes_per_chip - est.activation_bytes_per_chip)}); "
        f"fits: {'yes' if est.fits else 'NO: use more chips, more recompute, a higher ZeRO stage or more TP/PP'}",
        "",
        table(["step part", "time", "% of step", "what"],
              [[k, seconds(v) if v > 0 else "0", _share(v, step), STEP_PARTS.get(k, "")] for k, v in parts.items()]
              + [["step", seconds(step), _share(step, step), "sum of the parts"]], left=(0, 3)),
        "",
        table(["", "value"], [
            ["tokens/s", rate(est.tokens_per_s)],
            ["  per chip", rate(est.tokens_per_s_per_chip)],
            ["MFU", f"{est.mfu:.1%}"],
            ["HFU (recompute counted)", f"{est.hfu:.1%}"],
            ["model TFLOP/s per chip", f"{est.model_flops_per_chip / step / 1e12:,.1f}"],
            [f"time to train {count(wl.tokens)} tokens", duration(est.time_to_train_s)],
        ] + ([[f"chips to train in {est.days:g} days", f"{est.chips_needed:,}"]] if est.chips_needed else [])),
        "",
        f"Bound     {bound}, {_share(parts[bound], step)} of the step.",
        f"          Expected = {eff.family} fractions of peak: GEMM {eff.gemm_fraction:.0%} ({wl.dtype}), "
        f"HBM {eff.hbm_fraction:.0%}, scale-up {eff.scale_up_fraction:.0%}, network {eff.scale_out_fraction:.0%};",
        f"          training calibration: {eff.training_sustained_fraction:.0%} of kernel throughput sustained, "
        f"fused attention {eff.training_attention_fraction:.0%} of peak, {eff.training_step_overhead_s * 1e3:.0f} ms "
        "per step (benchmarks/calibrate.py);",
        "          MFU counts 6·N·tokens plus attention, HFU the FLOPs executed.",
    ]
    if est.chips_needed:
        out.append(f"          Chips needed scale DP in whole replicas of {wl.tp * wl.pp * wl.cp} chips at "
                   f"{rate(est.tokens_per_s_per_chip)} tokens/s per chip (weak scaling).")
    return "\n".join(out)


def render_plan(chip: Chip, model: Model, plan: Plan) -> str:
    """The top layouts of a planner search, fastest first, and how the search went."""
    best = plan.best
    wl = best.workload
    rows = [[str(i), str(t.workload.tp), str(t.workload.pp), str(t.workload.dp), str(t.workload.cp),
             str(t.workload.ep or 1), str(t.workload.micro_batch), str(t.workload.virtual_pp), t.workload.recompute, str(t.workload.zero),
             f"{t.memory_per_chip_bytes / 1e9:,.1f}", seconds(t.step_time_s), rate(t.tokens_per_s_per_chip),
             f"{t.mfu:.1%}"] for i, t in enumerate(plan.top, 1)]
    out = [
        f"roofline plan: {model.name} on {wl.num_chips:,} x {chip.name}, {wl.dtype}, global batch "
        f"{wl.batch():,} sequences of {wl.seq_len:,} tokens, budget {count(wl.tokens)} tokens",
        "",
        table(["rank", "tp", "pp", "dp", "cp", "ep", "mb", "vpp", "recompute", "zero", "GB/chip", "step",
               "tokens/s/chip", "MFU"], rows),
        "",
        f"Searched {plan.candidates:,} candidate layouts, {plan.fitting:,} fit in {gb(best.usable_bytes_per_chip)} "
        f"usable per chip; {plan.search_s:.2f} s ({'numba-compiled' if plan.compiled else 'plain Python'}).",
        f"Best: {rate(best.tokens_per_s):} tokens/s, {count(wl.tokens)} tokens in {duration(best.time_to_train_s)}"
        + (f"; {best.chips_needed:,} chips to train in {best.days:g} days." if best.chips_needed else "."),
        f"Details of the best: roofline estimate --mode training --num-chips {wl.num_chips} --tp {wl.tp} "
        f"--pp {wl.pp} --dp {wl.dp} --cp {wl.cp} --micro-batch {wl.micro_batch} --global-batch {wl.batch()} "
        f"--seq-len {wl.seq_len} --recompute {wl.recompute} --zero {wl.zero} --virtual-pp {wl.virtual_pp} "
        f"--dtype {wl.dtype} (with --chip, --model)",
    ]
    return "\n".join(out)


def render_chips(chips: list[Chip]) -> str:
    rows = []
    for c in chips:
        d = dict(c.peak_flops_per_s)
        bf = d.get("bf16") or d.get("fp16")
        fp8 = d.get("fp8")
        rows.append([c.name, f"{bf / 1e12:,.0f}", f"{fp8 / 1e12:,.0f}" if fp8 else "-", f"{c.hbm_bytes / 1e9:,.0f}",
                     f"{c.hbm_bytes_per_s / 1e12:.2f}", f"{c.scale_up_bytes_per_s / 1e9:,.0f} x {c.scale_up_domain}",
                     f"{c.scale_out_bytes_per_s / 1e9:,.1f}", f"{c.tdp_w:,.0f}" if c.tdp_w else "-",
                     f"{bf / c.hbm_bytes_per_s:,.0f}", ", ".join(c.aliases[:3])])
    return table(["chip", "bf16 TFLOP/s", "fp8", "HBM GB", "TB/s", "scale-up GB/s x domain", "net GB/s", "TDP W",
                  "crit. FLOP/B", "aliases"], rows) + "\nAll peaks are dense (no 2:4 sparsity); link figures per direction per chip."


def render_models(models: list[Model]) -> str:
    rows = [[m.name, f"{m.param_count() / 1e9:,.2f}", str(m.num_layers), str(m.hidden_size),
             f"{m.num_heads}/{m.num_kv_heads}", str(m.intermediate_size), f"{m.vocab_size:,}",
             f"{m.kv_bytes_per_token(2):,.0f}", ", ".join(m.aliases[:2])] for m in models]
    return table(["model", "params B", "layers", "hidden", "heads/kv", "ffn", "vocab", "KV B/token bf16",
                  "aliases"], rows)


def _value(x: float) -> str:
    return f"{x:.4g}"


def render_validation(v: Validation) -> str:
    """Per source: every row (measured, predicted, error); then the summaries and the skipped rows."""
    from roofline.validate import source_name

    out = []
    for src in sorted({source_name(r.source) for r in v.rows}):
        rows = [r for r in v.rows if source_name(r.source) == src]
        out += [f"{src} ({len(rows)} rows)",
                table(["row", "metric", "measured", "predicted", "error"],
                      [[r.row_id + ("" if r.fits is not False else " *"), r.metric_std, _value(r.measured),
                        _value(r.predicted), f"{r.error_pct:+.1f}%"] for r in rows], left=(0, 1)), ""]

    def summary(title: str, groups: dict) -> list[str]:
        return [title, table(["", "rows", "median |error|", "mean |error|", "bias (median)"],
                             [[k, str(s["rows"]), f"{s['median_abs_error_pct']:.1f}%", f"{s['mean_abs_error_pct']:.1f}%",
                               f"{s['bias_pct']:+.1f}%"] for k, s in groups.items()]), ""]

    out += summary("Summary by metric family", v.summary())
    out += summary("By chip", v.summary(lambda r: r.chip_profile))
    out += summary("By source", v.summary(lambda r: source_name(r.source)))
    not_fit = sum(1 for r in v.rows if r.fits is False)
    if not_fit:
        out.append(f"* {not_fit} measured training layouts that the memory model says do not fit (timed anyway).")
    if v.skipped:
        out.append(f"Skipped {len(v.skipped)} rows:")
        out += [f"  {s.row_id}: {s.reason}" for s in v.skipped]
    return "\n".join(out).rstrip()


def _x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def _or(value, fmt) -> str:
    return "-" if value is None else fmt(value)


def render_compare(cmp: Comparison) -> str:
    """``roofline compare``: one column per chip, one row per figure, sections as in roofline/compare.py;
    then each chip's verdict and its reason."""
    rows, ref = cmp.rows, cmp.reference
    st = dict(cmp.settings)
    budget_ms = st["max_tpot_s"] * 1e3
    header = [""] + [r.chip.name + (" (ref)" if r.chip.name == ref else "") for r in rows]
    body: list[list[str]] = []

    def section(title: str) -> None:
        body.append([title] + [""] * len(rows))

    def line(label: str, fn) -> None:
        body.append([f"  {label}"] + [fn(r) for r in rows])

    def srv(fn):
        return lambda r: "-" if r.serving is None else fn(r.serving)

    def trn(fn):
        return lambda r: "-" if r.training is None else fn(r.training)

    section("Chip")
    line("dense TFLOP/s (dtype)", lambda r: f"{r.chip.peak(r.dtype) / 1e12:,.0f} ({r.dtype})")
    line("HBM TB/s, GB", lambda r: f"{r.chip.hbm_bytes_per_s / 1e12:.2f}, {r.chip.hbm_bytes / 1e9:,.0f}")
    line("critical intensity FLOP/B", lambda r: f"{r.chip.critical_intensity(r.dtype):,.0f}")
    line("scale-up GB/s x domain", lambda r: f"{r.chip.scale_up_bytes_per_s / 1e9:,.0f} x {r.chip.scale_up_domain}")
    section("Serving (batch 1)")
    line("TP x PP (smallest that fits)", srv(lambda s: f"{s.tp} x {s.pp}"))
    line("TTFT", srv(lambda s: seconds(s.ttft_s)))
    line("TPOT", srv(lambda s: seconds(s.tpot_s)))
    line("bound prefill / decode", srv(lambda s: f"{s.prefill_bound} / {s.decode_bound}"))
    line("FLOP/B prefill / decode", srv(lambda s: f"{s.prefill_intensity:,.0f} / {s.decode_intensity:.1f}"))
    line("largest batch that fits", srv(lambda s: f"{s.max_batch:,}"))
    line("decode compute-bound at", srv(lambda s: "never" if s.compute_bound_batch is None
                                        else f"batch {s.compute_bound_batch:,}"))
    line(f"best tok/s/chip, TPOT<={budget_ms:g} ms",
         srv(lambda s: "none" if s.budget is None else rate(s.budget.tokens_per_s_per_chip)))
    line("  at TP x batch", srv(lambda s: "-" if s.budget is None else f"{s.budget.tp} x {s.budget.batch:,}"))
    section(f"Training ({st['num_chips']:,} chips)")
    line("tokens/s per chip", trn(lambda t: rate(t.estimate.tokens_per_s_per_chip)))
    line("MFU", trn(lambda t: f"{t.estimate.mfu:.1%}"))
    line(f"time to train {count(st['train_tokens'])} tokens", trn(lambda t: duration(t.estimate.time_to_train_s)))
    line("layout TP x PP x DP", trn(lambda t: f"{t.estimate.workload.tp} x {t.estimate.workload.pp} x "
                                              f"{t.estimate.workload.dp}"))
    line("dominant part of step", trn(lambda t: f"{t.dominant} {t.dominant_share:.0%}"))
    line("fewest chips that hold it", trn(lambda t: _or(t.fewest_chips, lambda n: f"{n:,}")))
    section(f"vs {ref}, per chip")
    for key, label in (("decode", "decode, batch 1"), ("prefill", "prefill, batch 1"),
                       ("throughput_within_budget", f"tokens/s within {budget_ms:g} ms"), ("training", "training")):
        line(label, lambda r, k=key: _x(dict(r.ratios).get(k)))
    tps = sorted({p.tp for r in rows for p in r.scaling})
    section("NVLink scaling")
    for tp in tps:
        def cell(r, tp=tp):
            p = next((p for p in r.scaling if p.tp == tp), None)
            return "-" if p is None else f"{rate(p.tokens_per_s_per_chip)} ({p.efficiency:.0%}){'' if p.fits else '*'}"
        line(f"TP {tp}: decode b1 tok/s/chip", cell)
    line("half link, at TP", lambda r: _or(r.link, lambda k: str(k.tp)))
    line("  decode batch 1 loses", lambda r: _or(r.link, lambda k: f"{k.loss(k.decode_batch1):.1%}"))
    line("  decode at largest batch loses", lambda r: _or(r.link, lambda k: f"{k.loss(k.decode_full_batch):.1%} "
                                                                           f"(b {k.decode_batch:,})"))
    line("  training (same layout) loses",
         lambda r: _or(r.link, lambda k: _or(k.loss(k.training), lambda v: f"{v:.1%}")))
    section("Efficiency and cost")
    line("TDP W", lambda r: _or(r.cost.tdp_w, lambda w: f"{w:,.0f}"))
    line("decode tokens/J", lambda r: _or(r.cost.decode_tokens_per_joule, lambda v: f"{v:.3g}"))
    line("training tokens/J", lambda r: _or(r.cost.training_tokens_per_joule, lambda v: f"{v:.3g}"))
    line("$ per chip-hour", lambda r: _or(r.cost.price_usd_per_hour, lambda p: f"{p:.2f} ({r.cost.price_source})"))
    line("$ per M output tokens", lambda r: _or(r.cost.usd_per_million_output_tokens, lambda v: f"{v:,.3g}"))
    line("$ per training run", lambda r: _or(r.cost.usd_per_training_run, lambda v: f"{v / 1e6:,.1f}M"))
    section("Export control")
    line("TPP (TOPS x bits)", lambda r: f"{r.export.tpp:,.0f} ({r.export.tpp_dtype})")
    line("die mm2", lambda r: _or(r.export.die_area_mm2, lambda a: f"{a:,.0f}"))
    line("performance density", lambda r: _or(r.export.performance_density, lambda v: f"{v:.2f}"))
    line("band", lambda r: r.export.band)
    section("Verdict")
    line("suits", lambda r: "-" if r.verdict is None else r.verdict.suits)

    out = [f"roofline compare: {cmp.model.name}, reference {ref}; serving {st['input_len']} in / "
           f"{st['output_len']} out, {st['weight_dtype']} weights, TPOT budget {budget_ms:g} ms; training "
           f"{count(st['train_tokens'])} tokens on {st['num_chips']:,} chips (planner's best layout)",
           "", table(header, body), ""]
    for r in rows:
        if r.verdict is not None:
            out += textwrap.wrap(r.verdict.reason, 110, subsequent_indent="  ")
        for note in (r.serving_note, r.training_note):
            if note:
                out += textwrap.wrap(f"{r.chip.name}: {note}", 110, subsequent_indent="  ")
    out += ["", f"Rule: serving if decode (batch 1) >= {rows[0].verdict.threshold:.2f}x the reference per chip, "
                f"training if training >= {rows[0].verdict.threshold:.2f}x (roofline/verdict.py).",
            "Each chip runs at its own layout. NVLink scaling: decode at batch 1 per TP, efficiency = tokens/s "
            "per chip vs TP 1 (* the model does not fit at that TP: a what-if);",
            "the half-link rows are the same chip with half its scale-up bandwidth (an H800/A800 is an H100/A100 "
            "with a 400 GB/s link). Tokens/J at TDP; decode at the best point within the TPOT budget.",
            "Prices are per chip-hour (--price-per-hour, or the profile's dated reference price). Export control: "
            "TPP = dense TOPS x bit length, density = TPP / die mm2,",
            "band = where the ECCN 3A090 thresholds (BIS, Oct 2023) put them; arithmetic, not a legal "
            "classification."]
    return "\n".join(out)
