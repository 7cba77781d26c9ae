"""Data-parallel attention with the experts split over the groups (``Workload.dp_attention``, ``--attn-dp``):
SGLang's ``--enable-dp-attention --tp N --dp N``. Each chip runs attention for its own sequences; each MoE
layer gathers every group's tokens, runs its 1/N slice of every expert and scatters the sums back."""

import json

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline.cli import main
from roofline.errors import RooflineError
from roofline.kernels import forward as F
from roofline.kernels import layout as L
from roofline.kernels import shapes as S
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.passes import Packed
from roofline.validate.predict import serving_layout
from roofline.validate.schema import RowError
from roofline.workload import Workload, check_layout

EXPERT_ROWS = (L.OP_EXPERT_UP, L.OP_EXPERT_DOWN, L.OP_EXPERT_ACT)


def decode_ops(model, wl, batch, context=1000.0):
    """The op table of one decode step of ``batch`` sequences (the replica's) and the packed workload row."""
    p = Packed(load_chip("B200"), model, wl)
    w = p.w(batch)
    ops = np.zeros((L.N_OPS, L.OP_COLS))
    F.fill_pass(p.m, w, 8.0, 1.0, context, float(model.num_layers), 1.0, 1.0, 0.0, ops)
    return p, w, ops


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["DeepSeek-V3", "Qwen3-235B-A22B", "Qwen3-30B-A3B"]), st.sampled_from([1, 2]),
       st.sampled_from([2, 4, 8]), st.integers(1, 64))
def test_the_experts_see_what_they_see_under_tp_over_the_same_chips(name, t, n, per_group):
    """N groups of TP t with b sequences each, sharing experts split t x N ways: each chip's expert GEMMs
    are those of TP t x N over the same N x b sequences (the same tokens meet the same expert slices)."""
    model = load_model(name)
    _, w_dp, dp = decode_ops(model, Workload(tp=t, dp_attention=n, weight_dtype="fp8"), n * per_group)
    _, w_tp, tp = decode_ops(model, Workload(tp=t * n, weight_dtype="fp8"), n * per_group)
    assert w_dp[L.W_BATCH] == per_group and w_tp[L.W_BATCH] == n * per_group
    for row in EXPERT_ROWS:
        assert dp[row, L.OP_FLOPS] == pytest.approx(tp[row, L.OP_FLOPS], rel=1e-12)
        assert dp[row, L.OP_COUNT] == tp[row, L.OP_COUNT]
    for row in (L.OP_EXPERT_UP, L.OP_EXPERT_DOWN):  # the same expert weights read, activations per chip
        assert dp[row, L.OP_HBM] == pytest.approx(tp[row, L.OP_HBM], rel=1e-12)


def test_memory_holds_one_slice_of_every_expert_and_whole_attention():
    model = load_model("DeepSeek-V3")
    dp, _, _ = decode_ops(model, Workload(tp=1, dp_attention=8, weight_dtype="fp8"), 64)
    tp, _, _ = decode_ops(model, Workload(tp=8, weight_dtype="fp8"), 64)
    one, _, _ = decode_ops(model, Workload(tp=1, weight_dtype="fp8"), 64)
    routed_dp, _ = S.moe_layer_params_per_chip(dp.m, dp.w(64))
    routed_tp, _ = S.moe_layer_params_per_chip(tp.m, tp.w(64))
    routed_one, _ = S.moe_layer_params_per_chip(one.m, one.w(64))
    assert routed_dp == pytest.approx(routed_tp, rel=1e-12) == pytest.approx(routed_one / 8, rel=1e-12)
    # the rest of the model is whole on every chip: the difference to TP 1 is 7/8 of the routed experts
    weights = {k: S.weight_bytes_per_chip(p.m, p.w(64)) for k, p in (("dp", dp), ("one", one), ("tp", tp))}
    moe_layers = dp.m[L.M_MOE_LAYERS]
    assert weights["one"] - weights["dp"] == pytest.approx(moe_layers * 7 / 8 * routed_one * 1.0, rel=1e-9)
    assert weights["tp"] < weights["dp"] < weights["one"]


def test_each_moe_layer_gathers_and_scatters_the_groups_tokens():
    model = load_model("DeepSeek-V3")
    p, w, ops = decode_ops(model, Workload(tp=1, dp_attention=8, weight_dtype="fp8"), 64)
    tokens_bytes = w[L.W_BATCH] * model.hidden_size * w[L.W_ACT_BYTES]  # one decode token per sequence
    for row in (L.OP_EP_DISPATCH, L.OP_EP_COMBINE):  # ring all-gather / reduce-scatter over 8 chips
        assert ops[row, L.OP_LINK] == pytest.approx(7 * tokens_bytes, rel=1e-12)
        assert ops[row, L.OP_STEPS] == 7 and ops[row, L.OP_COUNT] == p.m[L.M_MOE_LAYERS]
    # TP 2 inside each of 4 groups: the ring joins one chip of each group; the MLP rows' TP all-reduce sums
    # the two ranks' partial sums inside the group
    p, w, ops = decode_ops(model, Workload(tp=2, dp_attention=4, weight_dtype="fp8"), 64)
    tokens_bytes = w[L.W_BATCH] * model.hidden_size * w[L.W_ACT_BYTES]
    assert ops[L.OP_EP_COMBINE, L.OP_LINK] == pytest.approx(3 * tokens_bytes, rel=1e-12)
    assert ops[L.OP_AR_MLP, L.OP_LINK] == pytest.approx(tokens_bytes, rel=1e-12)  # 2 (n - 1) / n, n = 2
    _, _, plain = decode_ops(model, Workload(tp=1, weight_dtype="fp8"), 8)
    assert plain[L.OP_EP_DISPATCH, L.OP_COUNT] == 0 and plain[L.OP_EP_COMBINE, L.OP_COUNT] == 0


def test_layouts_it_does_not_express_are_refused_with_the_fix():
    chip = load_chip("B200")
    with pytest.raises(RooflineError, match="dp_attention=2: Llama-3.1-8B has no experts; use --attn-dp 1"):
        check_layout(chip, load_model("8B"), Workload(tp=1, dp_attention=2))
    with pytest.raises(RooflineError, match=r"dp_attention=4 with ep=4: .*use --ep 1, or --attn-dp 1 --ep 8"):
        check_layout(chip, load_model("DeepSeek-V3"), Workload(tp=2, ep=4, dp_attention=4))
    check_layout(chip, load_model("DeepSeek-V3"), Workload(tp=2, dp_attention=4))  # TP inside each group
    assert Workload(tp=1, dp_attention=8).num_chips == 8 and Workload(tp=2, dp_attention=4, pp=2).num_chips == 16


def test_serving_rows_with_experts_split_over_attention_groups_are_expressed():
    model = load_model("DeepSeek-R1")
    row = {"tp": "1", "pp": "1", "attn_dp": "8", "moe_tp": "8", "moe_ep": "1"}
    assert serving_layout(row, model) == (1, 1, 1, 8)
    assert serving_layout(dict(row, moe_tp="1", moe_ep="8"), model) == (1, 1, 8, 1)  # whole experts: ep 8
    assert serving_layout(dict(row, tp="2", attn_dp="4"), model) == (2, 1, 1, 4)
    with pytest.raises(RowError, match="attn_dp=8 with moe_tp=4 and moe_ep=2: experts both split and spread"):
        serving_layout(dict(row, moe_tp="4", moe_ep="2"), model)


def test_cli_estimate_reports_the_groups_and_refuses_what_it_cannot_run():
    args = ["estimate", "--chip", "B200", "--model", "DeepSeek-R1", "--mode", "inference", "--weight-dtype", "fp8",
            "--tp", "1", "--attn-dp", "8", "--batch", "64"]
    r = CliRunner().invoke(main, [*args, "--format", "json"])
    assert r.exit_code == 0, r.output
    inf = json.loads(r.output)["inference"]
    assert (inf["attn_dp"], inf["num_chips"], inf["tp"], inf["ep"], inf["fits"]) == (8, 8, 1, 1, True)
    text = CliRunner().invoke(main, args).output
    assert "in each of 8 data-parallel attention groups, every expert split over all 8 chips = 8 chip(s)" in text
    bad = CliRunner().invoke(main, [*args[:-4], "--ep", "8", "--attn-dp", "4"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert bad.output.strip().splitlines()[-1].startswith("roofline: error: dp_attention=4 with ep=8: ")


def test_cli_disagg_pools_take_attention_groups():
    args = ["estimate", "--chip", "B200", "--model", "DeepSeek-R1", "--mode", "inference", "--weight-dtype", "fp8",
            "--disagg", "--prefill-tp", "1", "--prefill-attn-dp", "8", "--decode-tp", "1", "--decode-ep", "8",
            "--concurrency", "64", "--input-len", "2048", "--output-len", "64", "--num-requests", "64",
            "--format", "json"]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    pools = json.loads(r.output)["inference"]["disagg"]
    prefill = pools["prefill"] if "prefill" in pools else pools["pools"]["prefill"]
    assert (prefill["attn_dp"], prefill["chips_per_worker"]) == (8, 8)


def test_the_serving_planner_searches_attention_groups_and_prices_them_as_the_estimate_does():
    from roofline.serving.inflight import closed_form_serving
    from roofline.serving.planner import plan_serving

    chip, model = load_chip("H200"), load_model("DeepSeek-R1")
    plan = plan_serving(chip, model, num_chips=8, weight_dtype="fp8", engine="sglang", top=20)
    grouped = [s for s in plan.top if s.attn_dp > 1]
    assert grouped and all(s.ep == 1 and s.chips_per_replica == s.tp * s.attn_dp * s.pp for s in grouped)
    for s in grouped[:3]:
        e = closed_form_serving(chip, model, Workload(tp=s.tp, pp=s.pp, dp_attention=s.attn_dp, weight_dtype="fp8"),
                                engine="sglang", concurrency=s.concurrency)
        assert e.tpot_s == pytest.approx(s.tpot_s, rel=1e-9) and e.ttft_s == pytest.approx(s.ttft_s, rel=1e-9)
    # a TP or EP the user fixes leaves the groups out
    assert all(t.attn_dp == 1 for t in plan_serving(chip, model, num_chips=8, weight_dtype="fp8", engine="sglang",
                                                    ep=8, top=20).top)


def test_the_disaggregated_planner_offers_pools_of_attention_groups():
    from roofline.results.disagg import PoolLayout
    from roofline.serving.disagg_plan import _pools

    chip = load_chip("H200")
    moe = {(p.tp, p.ep, p.dp_attention) for p in _pools(chip, load_model("DeepSeek-R1"), None, None, None)}
    assert {(1, 1, 2), (1, 1, 4), (1, 1, 8)} <= moe and not any(d > chip.scale_up_domain for *_, d in moe)
    assert all(p.dp_attention == 1 for p in _pools(chip, load_model("DeepSeek-R1"), None, None, 8))
    assert all(p.dp_attention == 1 for p in _pools(chip, load_model("70B"), None, None, None))
    layout = dict(role="decode", chip="H200", pp=1, workers=1, chips_per_worker=8, batch=8,
                  capacity_requests_per_s=1.0)
    assert PoolLayout(tp=1, ep=1, attn_dp=8, **layout).dp_attention == 8  # groups over split experts
    assert PoolLayout(tp=1, ep=8, attn_dp=8, **layout).dp_attention == 1  # groups from ep > tp


@pytest.mark.parametrize("use_numba", [False, True])
def test_a_sweep_over_attention_groups_prices_each_as_the_single_estimate(use_numba):
    from roofline.serving.static import estimate_inference
    from roofline.sweep.run import sweep

    chip, model = load_chip("H200"), load_model("Qwen3-30B-A3B")
    s = sweep(chip, model, tp=1, attn_dp="1,2,8", batch="8,64", input_len="1k,4k", output_len="16,256",
              weight_dtype="fp8", use_numba=use_numba)
    assert s["fits"].all()
    assert sorted(set(s["attn_dp"].tolist())) == [1, 2, 8] and len(s["attn_dp"]) == 24
    for k in range(len(s["attn_dp"])):
        wl = Workload(batch=int(s["batch"][k]), input_len=int(s["input_len"][k]), output_len=int(s["output_len"][k]),
                      tp=1, dp_attention=int(s["attn_dp"][k]), weight_dtype="fp8")
        e = estimate_inference(chip, model, wl)
        assert s["chips"][k] == int(s["attn_dp"][k])
        assert s["tpot_s"][k] == pytest.approx(e.tpot_s, rel=1e-9)
        assert s["ttft_s"][k] == pytest.approx(e.ttft_s, rel=1e-9)
        assert s["memory_bytes_per_chip"][k] == pytest.approx(e.memory_per_chip_bytes, rel=1e-9)


def test_pool_text_says_which_kind_of_attention_groups():
    from roofline.render.disagg import _pool
    from roofline.results.disagg import PoolLayout

    layout = dict(role="decode", chip="H200", pp=1, workers=2, chips_per_worker=8, batch=8,
                  capacity_requests_per_s=1.0)
    split = "2 x 8 H200 (tp 1 (8 attention groups over split experts))"
    assert _pool(PoolLayout(tp=1, ep=1, attn_dp=8, **layout)) == split
    assert _pool(PoolLayout(tp=1, ep=8, attn_dp=8, **layout)) == "2 x 8 H200 (tp 1, ep 8 (8 attention groups))"
