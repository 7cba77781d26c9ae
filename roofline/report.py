"""Plain-text rendering of results: readable tables without colour, every number with its unit."""

from __future__ import annotations

from roofline.chip import Chip
from roofline.dtypes import BYTES
from roofline.model import Model
from roofline.results import Estimate, Phase


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


def table(header: list[str], rows: list[list[str]]) -> str:
    """Left-aligned first column, right-aligned others, two spaces apart."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(r)]
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
    inf = est.inference
    wl, chip, model = inf.workload, est.chip, est.model
    dt = wl.compute_dtype
    eff = inf.efficiency
    kv_per_token = model.kv_bytes_per_token(BYTES[wl.kv])
    out = [
        f"roofline estimate: {model.name} on {chip.name}",
        "",
        f"Chip    {chip_line(chip, dt)}",
        f"        critical intensity {chip.critical_intensity(dt):,.0f} FLOP/byte ({dt} peak / HBM bandwidth)",
        f"Model   {model.name}: {model.param_count() / 1e9:,.2f} B parameters, {model.num_layers} layers, "
        f"KV cache {kv_per_token:,.0f} bytes/token ({wl.kv})",
        f"Layout  TP {wl.tp} x PP {wl.pp} = {inf.num_chips} chip(s); weights {wl.weight_dtype} "
        f"(computes in {dt}), KV {wl.kv}; batch {wl.batch}, {wl.input_len} in / {wl.output_len} out",
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
