"""Uneven pipeline stages (issue 18) and the pipeline physics that tests must guard: the 1F1B / interleaved
bubble against its closed form, and FlashAttention's backward factor.

Mutations these tests catch (checked by hand when they were written): halving the bubble
(``res[R_BUBBLE] = (pp - 1) / vpp * ...`` with an extra ``/ 2``) fails
``test_bubble_is_the_closed_form``; a FlashAttention backward of 2.0x instead of 2.5x its forward fails
``test_flash_attention_backward_costs_two_and_a_half_forwards``.
"""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from roofline import api, estimate, load_chip, load_model
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.roofline import op_time
from roofline.kernels.training import fill_training_layer, train_step
from roofline.pack import pack_layout
from roofline.stages import stage_split
from roofline.training.estimate import TrainingContext
from roofline.workload import TrainingWorkload


@pytest.mark.parametrize("layers, pp, first, last, split", [
    (126, 16, None, None, (7, 8, 7)),  # Llama 3 405B as Meta ran it: one layer fewer on each end
    (70, 12, None, None, (5, 6, 5)),  # BLOOM's 70 layers on 12 stages
    (126, 8, None, None, (15, 16, 15)),
    (80, 4, None, None, (20, 20, 20)),  # dividing: even
    (61, 2, None, None, (31, 0, 30)),
    (10, 8, None, None, (2, 1, 2)),  # ceil would leave the ends nothing: floor in the middle
    (126, 16, 6, None, (6, 8, 8)),
    (126, 16, None, 6, (8, 8, 6)),
    (126, 16, 6, 8, (6, 8, 8)),
])
def test_the_split_rule(layers, pp, first, last, split):
    assert stage_split(layers, pp, first, last) == split
    f, middle, l_ = split
    assert f + (pp - 2) * middle + l_ == layers if pp > 2 else f + l_ == layers


@pytest.mark.parametrize("layers, pp, first, last, words", [
    (126, 200, None, None, "every stage needs a layer"),
    (126, 16, 5, 8, "do not split equally"),
    (126, 16, 120, None, "leaves 6 layers for the other 15 stages"),
    (126, 2, 60, 60, "must be the 126 layers"),
    (126, 1, 7, None, "need pipeline parallelism"),
])
def test_impossible_splits_are_refused(layers, pp, first, last, words):
    with pytest.raises(RooflineError, match=words):
        stage_split(layers, pp, first, last)


LLAMA3_405B = ["--mode", "training", "--chip", "H100", "--model", "405B", "--num-chips", "16384", "--tp", "8",
               "--pp", "16", "--dp", "128", "--micro-batch", "1", "--global-batch", "2048", "--seq-len", "8192"]


def test_llama3_405b_on_16_stages_runs_with_meta_s_split():
    r = CliRunner().invoke(main, ["estimate", *LLAMA3_405B, "--format", "json"])
    assert r.exit_code == 0, r.output
    t = json.loads(r.stdout)["training"]
    assert (t["first_stage_layers"], t["middle_stage_layers"], t["last_stage_layers"]) == (7, 8, 7)
    assert t["fits"] and 0.15 < t["mfu"] < 0.6


def test_uneven_options_reach_the_estimate_and_bad_ones_exit_2():
    r = CliRunner().invoke(main, ["estimate", *LLAMA3_405B, "--first-stage-layers", "6", "--format", "json"])
    t = json.loads(r.stdout)["training"]
    assert (t["first_stage_layers"], t["middle_stage_layers"], t["last_stage_layers"]) == (6, 8, 8)
    bad = CliRunner().invoke(main, ["estimate", *LLAMA3_405B, "--first-stage-layers", "5", "--last-stage-layers", "8"])
    assert bad.exit_code == 2 and "do not split equally" in bad.output and len(bad.output.splitlines()) == 1


def test_the_planner_offers_sixteen_stage_layouts_for_405b_on_16384_h100():
    plan = api.plan("H100", "405B", TrainingWorkload(num_chips=16384, seq_len=8192, global_batch=2048), top=50)
    assert any(e.workload.pp == 16 for e in plan.top)


def _context(chip="H100", model="405B"):
    return TrainingContext.build(load_chip(chip), load_model(model), "bf16")


def _price(ctx, wl):
    t = pack_layout(wl, ctx.model.num_layers)
    res = np.zeros(L.R_SIZE)
    scratch = (np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros((1, L.OP_COLS)), np.zeros(L.H_SIZE),
               np.zeros(L.W_SIZE))
    train_step(ctx.m, ctx.hw, ctx.x, t, scratch, res)
    return res


LAYOUT = dict(tp=8, dp=16, micro_batch=1, global_batch=512, seq_len=4096, recompute="selective", zero=1)


def _layout(pp, **kw):
    return TrainingWorkload(**{**LAYOUT, **kw}, num_chips=8 * pp * 16, pp=pp)


@pytest.mark.parametrize("pp, vpp, first", [(8, 1, None), (16, 1, None), (14, 1, None), (14, 3, None),
                                            (16, 2, None), (18, 1, 5), (6, 3, None)])
def test_bubble_is_the_closed_form(pp, vpp, first):
    """1F1B: (pp - 1) micro-batch times of the slowest stage, over m micro-batches per step: bubble /
    (compute + TP) = (pp - 1) / (m v) with v virtual stages; uneven stages included."""
    res = _price(_context(), _layout(pp, virtual_pp=vpp, first_stage_layers=first))
    micro = LAYOUT["global_batch"] / (LAYOUT["dp"] * LAYOUT["micro_batch"])
    assert res[L.R_BUBBLE] == pytest.approx((pp - 1) / (micro * vpp) * (res[L.R_COMPUTE] + res[L.R_TP]), rel=1e-12)


def test_uneven_stages_are_paced_by_the_slowest():
    """Ends heavier than the middle stages pace the step; Meta's lighter ends (7/8/7) are never slower than
    heavier ones (14 + 14 x 7 + 14) on the same 16 stages."""
    ctx = _context()
    meta = _price(ctx, _layout(16, virtual_pp=1))
    heavy = _price(ctx, _layout(16, virtual_pp=1, first_stage_layers=14, last_stage_layers=14))
    assert heavy[L.R_STEP] > meta[L.R_STEP]
    assert heavy[L.R_COMPUTE] / meta[L.R_COMPUTE] == pytest.approx(14 / 8, rel=0.05)  # 14 layers pace, not 8


def test_flash_attention_backward_costs_two_and_a_half_forwards():
    """compute = m x k x (3 x linear + attention x (1 forward + 2.5 backward) + recompute) + ends: with
    attention priced from the op table as the kernel prices it, the attention part of the compute time is
    exactly 3.5 attention forwards per layer and micro-batch (no recompute)."""
    ctx = _context("H100", "70B")
    wl = TrainingWorkload(num_chips=64, tp=8, pp=1, dp=8, micro_batch=1, global_batch=64, seq_len=8192,
                          recompute="none", zero=1, virtual_pp=1)
    t = pack_layout(wl, 80)
    ops, w = np.zeros((L.N_OPS, L.OP_COLS)), np.zeros(L.W_SIZE)
    fill_training_layer(ctx.m, t, ctx.hw[L.H_UP_DOMAIN], ops, w)
    hwa = ctx.hw.copy()
    hwa[L.H_PEAK_FLOPS] = ctx.x[L.X_ATTN_PEAK]
    hwa[L.H_EFF_COMPUTE] = ctx.x[L.X_ATTN_EFF] * ctx.x[L.X_SUSTAINED]
    la, _ = op_time(ops, L.OP_ATTN, hwa)
    fast = ctx.hw.copy()
    fast[L.H_ATTN_PEAK] *= 1e6  # attention compute nearly free (attention runs at the hardware's attention peak)
    res = _price(ctx, wl)
    scratch = (np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros((1, L.OP_COLS)), np.zeros(L.H_SIZE),
               np.zeros(L.W_SIZE))
    res_fast = np.zeros(L.R_SIZE)
    train_step(ctx.m, fast, ctx.x, pack_layout(wl, 80), scratch, res_fast)
    hwa[L.H_ATTN_PEAK] *= 1e6
    la_fast, _ = op_time(ops, L.OP_ATTN, hwa)
    micro = 64 / (8 * 1)
    assert la > 2 * la_fast  # compute-bound: the check below has something to measure
    assert res[L.R_COMPUTE] - res_fast[L.R_COMPUTE] == pytest.approx(micro * 80 * 3.5 * (la - la_fast), rel=1e-9)


def test_estimate_api_reports_the_split():
    e = estimate("H100", "405B", mode="training", reference=None,
                 training=TrainingWorkload(num_chips=16384, tp=8, pp=16, dp=128, micro_batch=1, global_batch=2048,
                                           seq_len=8192))
    assert e.training.stages == (7, 8, 7)


def test_the_plan_lists_no_two_layouts_alike_in_every_figure():
    plan = api.plan("A100", "Llama-2-13B", TrainingWorkload(num_chips=64, seq_len=4096), top=40)
    figures = [(e.step_time_s, e.memory_per_chip_bytes, e.activation_bytes_per_chip, e.hardware_flops_per_chip)
               for e in plan.top]
    assert len(set(figures)) == len(figures) == 40

