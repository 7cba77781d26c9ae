"""Disaggregated serving as text: one deployment simulated, and the disaggregated plan beside aggregated fleets."""

from __future__ import annotations

from roofline.render.text import rate, seconds, table
from roofline.results.disagg import DisaggEstimate, DisaggPlan, DisaggPoint, PoolLayout


def _pool(p: PoolLayout) -> str:
    layout = f"tp {p.tp}" + (f", pp {p.pp}" if p.pp > 1 else "") + (f", ep {p.ep}" if p.ep > 1 else "") \
        + (f" ({p.attn_dp} attention groups" + (" over split experts)" if p.dp_attention > 1 else ")")
           if p.attn_dp > 1 else "")
    return f"{p.workers} x {p.chips_per_worker} {p.chip} ({layout})"


def disagg_lines(d: DisaggEstimate) -> list[str]:
    """The simulated deployment: its pools, latencies with percentiles, throughput and the binding pool."""
    client = (f"Poisson arrivals at {d.request_rate:g} requests/s" if d.request_rate
              else f"{d.concurrency:,} users, one request in flight each (closed loop)")
    held = "its batch" if d.decode.limit == "batch" else "its KV cache"
    return [
        f"Disaggregated serving ({d.engine} engine): prefill on {_pool(d.prefill)}, {d.prefill.batch} prompt(s) per "
        f"attention group per pass; decode on {_pool(d.decode)}, up to {d.decode.batch:,} sequences per attention "
        f"group ({held}); KV caches over {d.prefill.link}. {client}; {d.num_requests:,} requests simulated, seed "
        f"{d.seed}.",
        table(["", "mean", "p50", "p90", "p99"], [
            ["TTFT (incl. waiting, KV transfer)", seconds(d.ttft_s), seconds(d.ttft_p50_s), seconds(d.ttft_p90_s),
             seconds(d.ttft_p99_s)],
            ["TPOT (decode only)", seconds(d.tpot_s), seconds(d.tpot_p50_s), seconds(d.tpot_p90_s),
             seconds(d.tpot_p99_s)],
            ["KV transfer (incl. link queue)", seconds(d.kv_transfer_s), "", "", ""],
            ["request latency", seconds(d.request_latency_s), "", "", ""]]),
        table(["", "prefill pool", "decode pool", "deployment"], [
            ["chips", f"{d.prefill.num_chips:,}", f"{d.decode.num_chips:,}", f"{d.num_chips:,}"],
            ["weights", d.prefill.weight_dtype, d.decode.weight_dtype, ""],
            ["capacity, requests/s", rate(d.prefill.capacity_requests_per_s), rate(d.decode.capacity_requests_per_s),
             rate(d.capacity_requests_per_s)],
            ["busy", f"{d.prefill_utilization:.0%}", f"{d.decode_utilization:.0%}", ""],
            ["requests/s", "", "", rate(d.requests_per_s)],
            ["output tokens/s", "", "", rate(d.output_tokens_per_s)],
            ["  per chip", "", "", rate(d.output_tokens_per_s_per_chip)]]),
        f"The {d.bound} pool binds: its capacity is the smaller, so the deployment serves at most "
        f"{rate(d.capacity_requests_per_s)} requests/s.",
    ]


def _row(label: str, q: DisaggPoint) -> list[str]:
    return [label, _pool(q.prefill), _pool(q.decode), f"{q.concurrency:,}", seconds(q.ttft_s), seconds(q.tpot_s),
            rate(q.output_tokens_per_s_per_chip), "-" if q.output_tokens_per_dollar is None
            else rate(q.output_tokens_per_dollar)]


def render_disagg_plan(plan: DisaggPlan, timing: bool = True) -> str:
    """The best disaggregated deployments, simulated, and the best aggregated fleet of each chip (``timing``:
    with the search's seconds)."""
    rows = [_row(str(i), q) for i, q in enumerate(plan.top, 1)]
    for name, layout in plan.aggregated:
        if isinstance(layout, str):
            rows.append([f"all {name}", "aggregated", "-", "-", "-", "-", "-", "-"])
            continue
        dollars = plan.aggregated_dollars(name)
        rows.append([f"all {name}", f"aggregated: {layout.replicas} x {layout.chips_per_replica} (tp {layout.tp}"
                     + (f", pp {layout.pp}" if layout.pp > 1 else "") + (f", ep {layout.ep}" if layout.ep > 1 else "")
                     + (f", attn dp {layout.attn_dp}" if layout.attn_dp > 1 else "") + ")", "",
                     f"{layout.concurrency * layout.replicas:,}", seconds(layout.ttft_s),
                     seconds(layout.tpot_s), rate(layout.output_tokens_per_s_per_chip),
                     "-" if dollars is None else rate(dollars)])
    b = plan.best
    markets = dict(plan.markets)
    prices = ", ".join(f"{n} ${p:.2f}/h ({markets.get(n) or 'market not stated'})" for n, p in plan.prices if p) \
        or "none"
    if len({markets.get(n) for n, p in plan.prices if p}) > 1:
        prices += "; quoted in different markets, so the per-dollar figures compare prices as quoted"

    out = [
        f"roofline plan --mode inference --disagg: {plan.model}, {plan.engine} engine, {plan.input_len:,} in + "
        f"{plan.output_len:,} out tokens, weights {plan.weight_dtype}, KV {plan.kv_dtype}; {plan.targets.text()}",
        "",
        table(["", "prefill", "decode", "in flight", "TTFT", "TPOT", "tok/s/chip", "tok/$"], rows, left=(0, 1, 2)),
        "",
        f"Disaggregated rows: {plan.searched:,} pool-layout pairs ranked in closed form (M/D/c queue at the prefill "
        f"pool), the best {len(plan.top)} simulated under the closed-loop client at the most users meeting the "
        f"targets; figures are the simulation's. Aggregated rows: each chip's best in-flight layout within the "
        f"targets (as the verdict, closed form). Prices: {prices}." + (f" {plan.search_s:.1f} s." if timing else ""),
        f"Details of the best: roofline estimate --mode inference --disagg --prefill-chip {b.prefill.chip} "
        f"--prefill-tp {b.prefill.tp} --prefill-ep {b.prefill.ep} --prefill-workers {b.prefill.workers} "
        f"--prefill-batch {b.prefill.batch} "
        + (f"--prefill-attn-dp {b.prefill.dp_attention} " if b.prefill.dp_attention > 1 else "")
        + f"--decode-chip {b.decode.chip} --decode-tp {b.decode.tp} --decode-ep "
        f"{b.decode.ep} --decode-workers {b.decode.workers} --decode-batch {b.decode.batch} "
        + (f"--decode-attn-dp {b.decode.dp_attention} " if b.decode.dp_attention > 1 else "")
        + "--concurrency "
        f"{b.concurrency} --input-len {plan.input_len} --output-len {plan.output_len} --weight-dtype "
        f"{plan.weight_dtype} --engine {plan.engine} (with --chip, --model)",
    ]
    return "\n".join(out)
