"""``roofline plan`` as text: the top layouts of a training or serving plan and how the search went."""

from __future__ import annotations

from roofline.render.text import count, duration, gb, rate, seconds, table
from roofline.results.serving_plan import ServingPlan
from roofline.results.training import Plan


def render_plan(plan: Plan) -> str:
    """The top layouts of a planner search, fastest first, and how the search went."""
    chip, model, best = plan.chip, plan.model, plan.best
    wl = best.workload
    rows = [[str(i), str(t.workload.tp), str(t.workload.pp), str(t.workload.dp), str(t.workload.cp),
             str(t.workload.ep or 1), str(t.workload.micro_batch), str(t.workload.virtual_pp), t.workload.recompute,
             str(t.workload.zero),
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
        f"--pp {wl.pp} --dp {wl.dp} --cp {wl.cp} "
        + (f"--cp-comm-type {wl.cp_comm_type} " if wl.cp_comm_type != "p2p" else "")
        + (f"--ep {wl.ep or 1} " if model.is_moe else "")
        + (f"--first-stage-layers {wl.first_stage_layers} " if wl.first_stage_layers else "")
        + (f"--last-stage-layers {wl.last_stage_layers} " if wl.last_stage_layers else "")
        + f"--micro-batch {wl.micro_batch} --global-batch {wl.batch()} "
        f"--seq-len {wl.seq_len} --recompute {wl.recompute} --zero {wl.zero} --virtual-pp {wl.virtual_pp} "
        f"--dtype {wl.dtype} " + (f"--kernels {wl.kernels} " if wl.kernels != "fused" else "")
        + "(with --chip, --model)",
    ]
    return "\n".join(out)



def render_serving_plan(plan: ServingPlan) -> str:
    """The top layouts of a serving plan, most tokens/s per chip first, and how the search went."""
    rows = [[str(i), str(s.tp), str(s.pp), str(s.ep), str(s.attn_dp), f"{s.concurrency:,}", f"{s.replicas:,}",
             str(s.chips_per_replica), seconds(s.ttft_s), seconds(s.tpot_s), rate(s.output_tokens_per_s_per_user),
             rate(s.output_tokens_per_s_per_chip), rate(s.output_tokens_per_s)] for i, s in enumerate(plan.top, 1)]
    b = plan.best
    targets = ", ".join(f"{name} <= {limit * 1e3:g} ms" for name, limit in (("TPOT", plan.max_tpot_s),
                                                                            ("TTFT", plan.max_ttft_s)) if limit)
    out = [
        f"roofline plan --mode inference: {plan.model.name} on {b.num_chips:,} x {plan.chip.name}, "
        f"{plan.engine} engine, "
        f"{plan.input_len:,} in + {plan.output_len:,} out tokens, weights {plan.weight_dtype}, KV {plan.kv_dtype}"
        + (f"; {targets}" if targets else ""),
        "",
        table(["rank", "tp", "pp", "ep", "attn dp", "in flight", "replicas", "chips", "TTFT", "TPOT", "tok/s/user",
               "tok/s/chip", "tok/s total"], rows),
        "",
        f"Searched {plan.layouts:,} layouts x concurrency ({plan.candidates:,} configurations); {plan.feasible:,} "
        f"layouts meet the targets; {plan.search_s:.2f} s ({'numba-compiled' if plan.compiled else 'plain Python'}).",
        f"Best: {b.replicas:,} replicas of {b.chips_per_replica} chips with {b.concurrency:,} requests in flight "
        f"each (KV room for {b.kv_capacity:,}), {rate(b.output_tokens_per_s)} output tokens/s"
        + (f"; {b.num_chips - b.replicas * b.chips_per_replica:,} chips idle." if b.num_chips % b.chips_per_replica
           else "."),
        f"Details of the best: roofline estimate --mode inference --tp {b.tp} --pp {b.pp}"
        + (f" --ep {b.ep}" if b.ep > 1 else "") + (f" --attn-dp {b.attn_dp}" if b.attn_dp > 1 else "")
        + f" --input-len {plan.input_len} --output-len {plan.output_len} --weight-dtype {plan.weight_dtype} "
        f"--kv-dtype {plan.kv_dtype} --engine {plan.engine} --concurrency {b.concurrency} (with --chip, --model)",
    ]
    return "\n".join(out)
