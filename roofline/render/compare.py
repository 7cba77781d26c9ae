"""``roofline compare`` as text: one column per chip, one row per figure, then each chip's verdict."""

from __future__ import annotations

import textwrap

from roofline.render.disagg import render_disagg_plan
from roofline.render.text import count, duration, rate, seconds, table
from roofline.results.compare import Comparison
from roofline.serving.target import Targets
from roofline.verdict import bound_text


def _x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def _or(value, fmt) -> str:
    return "-" if value is None else fmt(value)


def render_compare(cmp: Comparison) -> str:
    """``roofline compare``: one column per chip, one row per figure, sections as in roofline/analysis/compare.py;
    then each chip's verdict and its reason."""
    rows, ref = cmp.rows, cmp.reference
    st = dict(cmp.settings)
    targets = Targets(st["max_tpot_s"], st["max_ttft_s"]).text()
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
    def pt(fn):
        return srv(lambda s: "none" if s.point is None else fn(s.point.layout))

    section(f"Serving within {targets} ({st['engine']} engine)")
    line("tokens/s per chip", pt(lambda p: rate(p.output_tokens_per_s_per_chip)))
    line("replicas x (TP x PP) of chips", pt(lambda p: f"{p.replicas} x ({p.tp} x {p.pp}"
                                              + (f", EP {p.ep}" if p.ep > 1 else "")
                                              + (f", {p.attn_dp} attention groups" if p.attn_dp > 1 else "")
                                              + f") of {p.num_chips}"))
    line("users per replica", pt(lambda p: f"{p.concurrency:,}"))
    line("TTFT / TPOT (means)", pt(lambda p: f"{seconds(p.ttft_s)} / {seconds(p.tpot_s)}"))
    line("bound", lambda r: "-" if r.serving is None or r.serving.point is None
         else bound_text(r.serving.point.bound, r.chip))
    if st.get("concurrency"):
        c = st["concurrency"]

        def at(fn):
            return srv(lambda s: "-" if s.at_concurrency is None else fn(s.at_concurrency))
        section(f"Serving {c:,} users (batch-1 layout, closed form)")
        line("tokens/s per chip", at(lambda a: rate(a.output_tokens_per_s / a.num_chips)))
        line("TTFT / TPOT (means)", at(lambda a: f"{seconds(a.ttft_s)} / {seconds(a.tpot_s)}"))
    section("Serving, one request (batch 1)")
    line("TP x PP" + (" (given)" if st.get("tp") else " (smallest that fits)"), srv(lambda s: f"{s.tp} x {s.pp}"))
    line("TTFT", srv(lambda s: seconds(s.ttft_s)))
    line("TPOT", srv(lambda s: seconds(s.tpot_s)))
    line("bound prefill / decode", srv(lambda s: f"{s.prefill_bound} / {s.decode_bound}"))
    line("FLOP/B prefill / decode", srv(lambda s: f"{s.prefill_intensity:,.0f} / {s.decode_intensity:.1f}"))
    line("largest batch that fits", srv(lambda s: f"{s.max_batch:,}"))
    line("decode compute-bound at", srv(lambda s: "never" if s.compute_bound_batch is None
                                        else f"batch {s.compute_bound_batch:,}"))
    section(f"Training ({st['num_chips']:,} chips)")
    line("tokens/s per chip", trn(lambda t: rate(t.estimate.tokens_per_s_per_chip)))
    line("MFU", trn(lambda t: f"{t.estimate.mfu:.1%}"))
    line(f"time to train {count(st['train_tokens'])} tokens", trn(lambda t: duration(t.estimate.time_to_train_s)))
    line("layout TP x PP x DP", trn(lambda t: f"{t.estimate.workload.tp} x {t.estimate.workload.pp} x "
                                              f"{t.estimate.workload.dp}"))
    line("dominant part of step", trn(lambda t: f"{t.dominant} {t.dominant_share:.0%}"))
    line("fewest chips that hold it", trn(lambda t: _or(t.fewest_chips, lambda n: f"{n:,}")))
    section(f"vs {ref}, per chip")
    for key, label in (("serving", "serving within the targets"), ("training", "training"),
                       ("decode", "decode, batch 1"), ("prefill", "prefill, batch 1")):
        line(label, lambda r, k=key: _x(dict(r.ratios).get(k)))
    if any(r.verdict is not None and r.verdict.per_dollar is not None for r in rows):
        section(f"vs {ref}, per dollar")
        for key, label in (("serving_speedup", "serving within the targets"), ("training_speedup", "training")):
            line(label, lambda r, k=key: "-" if r.verdict is None or r.verdict.per_dollar is None
                 else _x(dict(r.verdict.per_dollar)[k]))
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
    line("suits", lambda r: "-" if r.verdict is None else (r.verdict.suits or "unknown"))
    line("voted", lambda r: "-" if r.verdict is None else r.verdict.basis)
    line("confidence", lambda r: "-" if r.verdict is None else dict(dict(r.verdict.confidence)[r.chip.name])["level"])
    line("efficiencies", lambda r: "-" if r.verdict is None else
         dict(dict(r.verdict.confidence)[r.chip.name])["efficiency"].split(":")[0])

    out = [f"roofline compare: {cmp.model.name}, reference {ref}; serving {st['input_len']} in / "
           f"{st['output_len']} out, {st['weight_dtype']} weights, {targets}; training "
           f"{count(st['train_tokens'])} tokens on {st['num_chips']:,} chips (planner's best layout)",
           "", table(header, body), ""]
    for r in rows:
        if r.verdict is not None:
            out += textwrap.wrap(r.verdict.reason, 110, subsequent_indent="  ")
        for note in (r.serving_note, r.training_note):
            if note:
                out += textwrap.wrap(f"{r.chip.name}: {note}", 110, subsequent_indent="  ")
    th = rows[0].verdict.threshold
    out += ["", f"Rule: a chip suits serving when its serving speed-up (tokens/s per chip within the targets) is at "
                f"least {th:.2f}x the reference's, training when its training speed-up is; per dollar when both "
                f"chips have a price (roofline/verdict.py).",
            "Each chip runs at its own best layout. Serving within the targets: the in-flight engine under a "
            "closed-loop client (mean-value steady state), one 8-chip server or the smallest fleet that holds it "
            "on every chip compared (larger while its KV capacity, not the targets, caps the users and more chips "
            "serve more per chip).",
            "NVLink scaling: decode at batch 1 per TP, efficiency = tokens/s "
            "per chip vs TP 1 (* the model does not fit at that TP: a what-if);",
            "the half-link rows are the same chip with half its scale-up bandwidth (an H800/A800 is an H100/A100 "
            "with a 400 GB/s link). Tokens/J at TDP; serving at its point within the targets.",
            "Prices are per chip-hour (--price-per-hour, or the profile's dated reference price). Export control: "
            "TPP = dense TOPS x bit length, density = TPP / die mm2,",
            "band = where the ECCN 3A090 thresholds (BIS, Oct 2023) put them; arithmetic, not a legal "
            "classification."]
    if cmp.mixed is not None:
        out += ["", "Mixed fleet (roofline plan --mode inference --disagg):", render_disagg_plan(cmp.mixed)]
    return "\n".join(out)
