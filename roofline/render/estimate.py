"""``roofline estimate`` as text: the chip and model, serving, the in-flight engine, training and the verdict."""

from __future__ import annotations

import textwrap

from roofline.chip import Chip
from roofline.dtypes import BYTES
from roofline.model import Model
from roofline.render.text import chip_line, count, duration, gb, mix_summary, ops_table, rate, seconds, share, table
from roofline.results.estimate import Estimate
from roofline.results.training import TrainingEstimate
from roofline.results.verdict import Verdict
from roofline.serving.target import Targets


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
    if model.checkpoint_format:
        out.append(f"        checkpoint {model.checkpoint_format} ({_checkpoint_formats(model)})")
    if model.is_hybrid or model.moe_layers:
        out.append(f"        layer mix {mix_summary(model)} (token mixers / MLPs)"
                   + (f"; {'chunked' if model.attention_chunked else 'sliding-window'} layers keep at most "
                      f"{model.sliding_window:,} tokens"
                      if model.swa_layers else "")
                   + (f"; recurrent state {gb(model.state_bytes_per_sequence())} per sequence"
                      if model.recurrent_layers else ""))
    if est.inference is not None:
        out += _inference_lines(est, show_ops)
    if est.training is not None:
        out += ["", render_training(est.training, model, chip)]
    if est.training_note is not None:
        out += ["", f"Training  not estimated: {est.training_note}"]
    if est.verdict is not None:
        out += ["", render_verdict(est.verdict)]
    return "\n".join(out)


def _checkpoint_formats(model: Model) -> str:
    """What the checkpoint's declaration sets: the default weight format (and its KV-cache format), or none."""
    if model.checkpoint_dtype is None:
        return "not one weight format: --weight-dtype chooses"
    declared = model.declared_kv(model.checkpoint_dtype)  # a profile lists every release's: this one's
    kv = f", KV cache {declared}" if declared else ""
    mixers = f", {_mixer_kinds(model)} {model.mixer_dtype}" if model.mixer_dtype else ""
    mixers += f", LM head {model.head_dtype}" if model.head_dtype else ""
    return f"weights {model.checkpoint_dtype}{mixers}{kv}, the default --weight-dtype"


def _mixer_kinds(model: Model) -> str:
    """Which token mixers ``mixer_dtype`` covers: all, or the recurrent ones beside 16-bit attention."""
    return "recurrent mixers" if model.attention_16bit else "token mixers"


def _kept_mixers(model: Model, weight_dtype: str) -> str:
    """The formats the model's 4-bit checkpoints keep the token mixers (and a quantised LM head) in, when the
    weights are 4-bit."""
    if BYTES[weight_dtype] >= 1.0:
        return ""
    head = f"LM head {model.head_dtype}; " if model.head_dtype and not model.tie_word_embeddings else ""
    if model.attention_16bit and model.mixer_dtype:
        return f"attention 16 bit, recurrent mixers {model.mixer_dtype}; {head}"
    if model.attention_16bit or model.mixer_dtype:
        return f"token mixers {'16 bit' if model.attention_16bit else model.mixer_dtype}; {head}"
    return head


def _k(tokens: float) -> str:
    """A count of tokens, short: 1.2M, 340k, 950."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if tokens >= scale:
            return f"{tokens / scale:,.3g}{unit}"
    return f"{tokens:,.0f}"


def render_verdict(v: Verdict) -> str:
    """The Verdict section: speed-ups against the reference chip, what the chip suits, and why."""
    def x(s):
        return "-" if s is None else f"{s:.2f}x"

    suits = "UNKNOWN" if v.suits is None else v.suits.upper()
    per_chip = f"per chip: serving {x(v.serving_speedup)}, training {x(v.training_speedup)}"
    if v.per_dollar is not None:
        d = dict(v.per_dollar)
        dollar = f"per dollar: serving {x(d['serving_speedup'])}, training {x(d['training_speedup'])}"
        head = f"{dollar}; {per_chip}" if d["votes"] else f"{per_chip}; {dollar} (prices of different markets)"
    else:
        head = per_chip
    lines = [f"Verdict   suits {suits} against {v.reference_chip} ({head}; one request alone: decode "
             f"{x(v.decode_speedup)}, prefill {x(v.prefill_speedup)})"]
    points = dict(v.serving_points)
    if v.slo and any(points.values()):
        slo = dict(v.slo)
        lines.append(f"          Serving within {Targets(**slo).text()}, each chip at its best layout:")
        who_names = [("this", v.chip)] + ([("reference", v.reference_chip)] if v.reference_chip != v.chip else [])
        width = max(len(name) for _, name in who_names)
        for who, label in who_names:
            pt = points.get(who)
            if pt is None:
                lines.append(f"            {label:<{width}}  no operating point (the reason follows)")
                continue
            lines.append(f"            {label:<{width}}  {pt['output_tokens_per_s_per_chip']:,.0f} tokens/s per chip: "
                         f"{pt['replicas']} x (TP {pt['tp']} x PP {pt['pp']}"
                         + (f", EP {pt['ep']}" if pt['ep'] > 1 else "")
                         + f") of {pt['num_chips']} chips, {pt['concurrency']} users each, TTFT "
                         f"{seconds(pt['ttft_s'])}, TPOT {seconds(pt['tpot_s'])}")
    if v.per_dollar is not None:
        d = dict(v.per_dollar)
        per = [f"{label} {_k(d[key])} vs {_k(d['reference_' + key])}"
               for key, label in (("output_tokens_per_dollar", "output tokens"),
                                  ("training_tokens_per_dollar", "training tokens"))
               if d[key] is not None and d["reference_" + key] is not None]
        if per:
            lines.append(f"          Tokens per dollar, {v.chip} vs {v.reference_chip}: {'; '.join(per)}")
    lines += textwrap.wrap(v.reason, 110, initial_indent=" " * 10, subsequent_indent=" " * 10)
    for name, conf in v.confidence:
        c = dict(conf)
        lines += textwrap.wrap(f"Confidence {name}: {c['level']} (profile: {c['profile']}; efficiencies "
                               f"{c['efficiency']})", 110, initial_indent=" " * 10, subsequent_indent=" " * 12)
    lines += textwrap.wrap(
        f"Rule: a chip suits serving when its serving speed-up (output tokens/s per chip within the latency "
        f"targets, each chip at its best layout) is at least {v.threshold:.2f}x the reference's, and training "
        f"when its training speed-up (tokens/s per chip, each at its planner's best layout) is; per dollar "
        f"when both chips have a price from one market (roofline/verdict.py).", 110, initial_indent=" " * 10,
        subsequent_indent=" " * 10)
    lines += [f"          Note: {n}." for n in v.notes]
    return "\n".join(lines)


def _inference_lines(est: Estimate, show_ops: bool) -> list[str]:
    inf = est.inference
    wl = inf.workload
    dt = wl.compute_dtype
    out = [
        f"Layout  TP {wl.tp} x PP {wl.pp}"
        + (f", EP {wl.ep}" + (f" ({wl.attn_dp} data-parallel attention groups)" if wl.attn_dp > 1 else "")
           if wl.ep > 1 else "")
        + (f" in each of {wl.dp_attention} data-parallel attention groups, every expert split over all "
           f"{(wl.tp or 1) * wl.dp_attention} chips" if wl.dp_attention > 1 else "")
        + f" = {inf.num_chips} chip(s); weights {wl.weight_dtype} "
        + (f"(the {est.model.checkpoint_dtype} checkpoint, weight-only: no {est.model.checkpoint_dtype} compute; "
           if est.model.runs_weight_only(wl.weight_dtype) else "(")
        + _kept_mixers(est.model, wl.weight_dtype)
        + f"computes in {dt}), KV {wl.kv}; batch {wl.batch}, {wl.input_len} in / {wl.output_len} out"
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
        "Static batches: one lone batch, every prompt prefilled at once, then decoded together (serving under "
        "load: --concurrency, and the verdict)",
        table(["static batch", "TTFT", "TPOT", "tokens/s", "tokens/s/chip", "fits"], [
            [str(p.batch), seconds(p.ttft_s), seconds(p.tpot_s), rate(p.output_tokens_per_s),
             rate(p.output_tokens_per_s / inf.num_chips), "yes" if p.fits else "no"] for p in inf.batch_table
        ]),
        "",
        *_expected_lines(inf),
        "ideal = 100% of every peak, no latency. TPOT is the decode step at the mean context "
        f"({inf.decode_context_tokens:,.0f} tokens cached).",
    ]
    srv = est.serving
    if srv is not None:
        out += ["", *_serving_lines(srv)]
    if est.disagg is not None:
        from roofline.render.disagg import disagg_lines  # only a disaggregated estimate loads it

        out += ["", *disagg_lines(est.disagg)]
    if show_ops:
        link = est.chip.scale_up_label
        out += ["", ops_table("Prefill ops (per chip, whole batch)", inf.prefill, link), "",
                ops_table("Decode ops (per chip, one step)", inf.decode, link)]
    return out


def _expected_lines(inf) -> list[str]:
    """What "expected" prices at: the family's fractions of each peak (the serving shares fitted on
    serving.csv beside the microbenchmarked GEMM fraction) and the engine's fixed costs."""
    eff = inf.efficiency
    us = 1e6
    return [
        f"Expected = achievable fractions of peak for the {eff.family} family: GEMM {eff.gemm_fraction:.0%} x "
        f"{eff.serving_sustained_fraction:.0%} sustained in serving steps = "
        f"{eff.gemm_fraction * eff.serving_sustained_fraction:.0%}, attention {eff.serving_attention_fraction:.0%} "
        f"of its peak, routed experts at {eff.serving_expert_fraction:.0%} of the GEMM and HBM rates, "
        f"HBM {eff.hbm_fraction:.0%}, scale-up {eff.scale_up_fraction:.0%}, network {eff.scale_out_fraction:.0%}, "
        f"collective latency {eff.collective_base_latency_s * us:.1f} µs + "
        f"{eff.scale_up_hop_latency_s * us:.2f} µs/step (TP all-reduces of decode size: the engine's own "
        f"kernels, {eff.scale_up_hop_latency_s * us:.2f} µs per barrier);",
        f"the {inf.engine} engine's costs: {inf.kernel_overhead_s * us:.2f} µs per kernel, "
        f"{inf.seq_overhead_s * us:.2f} µs per sequence per step, {seconds(inf.request_overhead_s)} per request "
        f"(in TTFT). Sources: profiles/efficiency.toml, profiles/engines.toml.",
    ]


def _serving_lines(srv) -> list[str]:
    """The in-flight engine under its benchmark client: latency means and percentiles, throughput."""
    def pct(*values):
        return ["-" if v is None else seconds(v) for v in values]

    if srv.request_rate:
        client = (f"Poisson arrivals at {srv.request_rate:g} requests/s" + (
            f" (engine busy {srv.utilization:.0%} of the time)" if srv.utilization is not None else ""))
    else:
        client = f"{srv.concurrency} users, one request in flight each (closed loop)"
    how = (f"{srv.num_requests:,} requests simulated step by step, seed {srv.seed}" if srv.num_requests
           else "closed-form steady state")
    held = (f"its sequence cap (max_num_seqs) is {srv.kv_capacity_sequences}" if srv.capacity_limit == "max_num_seqs"
            else f"its KV cache holds {srv.kv_capacity_sequences} of these requests")
    lines = [f"Serving ({srv.engine} engine, continuous batching): {client}; {how}. The engine runs up to "
             f"{srv.inflight} at once; {held}"
             + (f"; {srv.preemptions:,} evicted and recomputed" if srv.preemptions else "")
             + ("; prefill takes most of the time" if srv.prefill_bound else ""),
             table(["", "mean", "p50", "p90", "p99"], [
                 ["TTFT (incl. waiting)", seconds(srv.ttft_s), *pct(srv.ttft_p50_s, srv.ttft_p90_s, srv.ttft_p99_s)],
                 ["TPOT (incl. prefill steps)", seconds(srv.tpot_s),
                  *pct(srv.tpot_p50_s, srv.tpot_p90_s, srv.tpot_p99_s)],
                 ["inter-token latency", "", "", "", *pct(srv.itl_p99_s)],
                 ["request latency", seconds(srv.request_latency_s), *pct(srv.e2e_p50_s), "", *pct(srv.e2e_p99_s)],
             ]),
             table(["", "value"], [
                 ["requests/s", rate(srv.requests_per_s)], ["output tokens/s", rate(srv.output_tokens_per_s)],
                 ["  per chip", rate(srv.output_tokens_per_s / srv.num_chips)]]
                 + ([["goodput, requests/s within the targets", rate(srv.goodput_requests_per_s)]]
                    if srv.goodput_requests_per_s is not None and srv.goodput_requests_per_s != srv.requests_per_s
                    else []))]
    return lines


#: How the layout line names each context-parallel exchange (``--cp-comm-type``).
CP_COMM_NAMES = {"p2p": "ring K/V exchange", "a2a": "all-to-all of heads", "all_gather": "K/V all-gathered"}
#: What each part of a training step is, for the breakdown table (keys of ``TrainingEstimate.breakdown``).
STEP_PARTS = {
    "compute": "GEMMs, attention and element-wise ops (recompute included)",
    "tp_comm": "tensor-parallel collectives, exposed",
    "pp_bubble": "pipeline fill and drain",
    "pp_comm": "pipeline sends between stages, exposed",
    "dp_comm": "gradient reduce / ZeRO gathers over DP, exposed",
    "cp_comm": "context-parallel exchange of K/V (or Q, K, V, output), exposed",
    "optimizer": "Adam update (HBM-bound) and the fixed per-step overhead",
}


def render_training(est: TrainingEstimate, model: Model, chip: Chip) -> str:
    """The Training section: layout, memory, step-time breakdown, throughput, MFU/HFU and time to train."""
    wl, eff, step = est.workload, est.efficiency, est.step_time_s
    parts = dict(est.breakdown)
    bound = max(parts, key=parts.get)
    ep = wl.ep or 1  # the planner's choice, 1 for a dense model
    what = dict(STEP_PARTS)
    if ep > 1:
        what["tp_comm"] = "tensor-parallel collectives and the MoE all-to-alls over EP, exposed"
    tokens_per_step = wl.batch() * wl.seq_len
    out = [
        f"Training  {model.name} on {wl.num_chips:,} x {chip.name}, {wl.dtype} matmuls at dense "
        f"{est.peak_flops_per_s / 1e12:,.0f} TFLOP/s per chip, budget {count(wl.tokens)} tokens",
        f"Layout    TP {wl.tp} x PP {wl.pp} x DP {wl.dp} x CP {wl.cp}"
        + (f" ({CP_COMM_NAMES[wl.cp_comm_type]})" if wl.cp > 1 else "")
        + f" = {wl.num_chips:,} chips"
        + (f", experts over EP {ep} of the DP ranks" if ep > 1 else "")
        + "; micro-batch "
        f"{wl.micro_batch}, global batch {wl.batch():,} sequences of {wl.seq_len:,} tokens "
        f"({count(tokens_per_step)} tokens/step)",
        *([f"          pipeline stages: first {est.stages[0]}, {wl.pp - 2} x {est.stages[1]} in the middle, last "
           f"{est.stages[2]} layers (uneven: the slowest stage sets the pace)"]
          if wl.pp > 1 and len(set(k for k in est.stages if k)) > 1 else []),
        f"          recompute {wl.recompute}, ZeRO {wl.zero}, virtual pp {wl.virtual_pp}, sequence parallel "
        f"{'on' if wl.sp else 'off'}, {'flash' if wl.flash_attention else 'unfused'} attention, {wl.dtype}"
        + (", eager kernels (PyTorch op by op)" if wl.kernels == "eager" else ""),
        f"Memory    {gb(est.memory_per_chip_bytes)} per chip of {gb(est.usable_bytes_per_chip)} usable "
        f"(weights, gradients and optimizer {gb(est.state_bytes_per_chip)}, stored activations "
        f"{gb(est.activation_bytes_per_chip)}, working layer and logits "
        f"{gb(est.memory_per_chip_bytes - est.state_bytes_per_chip - est.activation_bytes_per_chip)}); "
        f"fits: {'yes' if est.fits else 'NO: use more chips, more recompute, a higher ZeRO stage or more TP/PP'}",
        "",
        table(["step part", "time", "% of step", "what"],
              [[k, seconds(v) if v > 0 else "0", share(v, step), what.get(k, "")] for k, v in parts.items()]
              + [["step", seconds(step), share(step, step), "sum of the parts"]], left=(0, 3)),
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
        f"Bound     {bound}, {share(parts[bound], step)} of the step.",
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
