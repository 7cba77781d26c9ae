"""Training estimates and the planner: invariants (Hypothesis), the Korthikanti formula, bad input."""

from __future__ import annotations

import math

import attrs
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels import train_memory as KM
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.pack import pack_layout
from roofline.training.estimate import TrainingContext, estimate_training, with_days
from roofline.training.planner import candidate_layouts, chips_needed, plan_training, sweep_layouts, training_estimate
from roofline.workload import RECOMPUTE_MODES, TrainingWorkload, valid_tp_sizes

CHIPS = ["H100-SXM", "A100-SXM-80GB", "H20", "B200", "MI300X"]
MODELS = ["Llama-3.1-8B", "Llama-2-13B", "Llama-3.1-70B", "GPT-3-175B", "Mistral-7B"]
KEYS = {"num_chips", "tp", "pp", "dp", "cp", "cp_comm_type", "micro_batch", "global_batch", "seq_len", "recompute",
        "zero", "dtype", "kernels", "fits", "memory_per_chip_bytes", "step_time_s", "tokens_per_s",
        "tokens_per_s_per_chip", "mfu", "hfu", "model_tflops_per_chip", "train_tokens", "time_to_train_s", "breakdown",
        "ep", "virtual_pp", "first_stage_layers", "middle_stage_layers", "last_stage_layers"}


@st.composite
def layouts(draw, dp_max: int = 64):
    chip = load_chip(draw(st.sampled_from(CHIPS)))
    model = load_model(draw(st.sampled_from(MODELS)))
    tp = draw(st.sampled_from(valid_tp_sizes(model, limit=chip.scale_up_domain)))
    pp = draw(st.sampled_from([d for d in (1, 2, 4, 8) if model.num_layers % d == 0]))
    dp = draw(st.integers(1, dp_max))
    mb = draw(st.sampled_from([1, 2, 4]))
    micro = draw(st.integers(1, 16))
    wl = TrainingWorkload(num_chips=tp * pp * dp, tp=tp, pp=pp, dp=dp, micro_batch=mb, global_batch=dp * mb * micro,
                          seq_len=draw(st.sampled_from([1024, 2048, 4096, 8192])),
                          recompute=draw(st.sampled_from(RECOMPUTE_MODES)), zero=draw(st.integers(0, 3)),
                          dtype=draw(st.sampled_from(["bf16", "fp8"])) if chip.has("fp8") else "bf16",
                          virtual_pp=1, flash_attention=draw(st.booleans()))
    return chip, model, wl


@settings(max_examples=40)
@given(layouts())
def test_mfu_and_hfu_never_exceed_the_achievable_compute_fraction(case):
    chip, model, wl = case
    est = estimate_training(chip, model, wl)
    ctx = TrainingContext.build(chip, model, wl.dtype)
    assert 0 < est.mfu <= est.hfu * (1 + 1e-12)
    eff = ctx.efficiency
    assert est.hfu <= eff.gemm_fraction * eff.training_sustained_fraction * (1 + 1e-9)
    assert math.isclose(sum(v for _, v in est.breakdown), est.step_time_s, rel_tol=1e-9)


def _network_reach(chip, wl) -> tuple[bool, bool]:
    """Which of the DP group and the pipeline's neighbours sit outside the scale-up domain."""
    domain = chip.scale_up_domain
    return wl.tp * wl.cp * wl.dp > domain, wl.tp * wl.cp * wl.dp * wl.pp > domain


@settings(max_examples=60)
@given(layouts(dp_max=32))
def test_adding_data_parallel_replicas_never_lowers_total_tokens_per_s(case):
    """Doubling DP (and the global batch with it) never lowers total tokens/s, as long as the doubling does
    not move the DP group (or the pipeline's neighbours) from the scale-up links onto the network; that
    crossing is a different machine and has its own test below."""
    chip, model, wl = case
    bigger = attrs.evolve(wl, dp=2 * wl.dp, num_chips=2 * wl.num_chips, global_batch=2 * wl.global_batch)
    assume(_network_reach(chip, wl) == _network_reach(chip, bigger))
    assert estimate_training(chip, model, bigger).tokens_per_s >= estimate_training(chip, model, wl).tokens_per_s


def test_dp_leaving_the_scale_up_domain_can_cost_more_than_it_gains_and_says_why():
    """The physical exception: Llama-3.1-70B at tp=8 with one 1,024-token sequence per replica. At dp=1
    there is no gradient reduction; at dp=2 each chip all-reduces its 35 GB of fp32 gradients with a
    partner in another node over a 50 GB/s NIC (~0.9 s), far more than the doubled work (~0.1 s). The
    estimate must show the network time as the reason."""
    chip, model = load_chip("H100-SXM"), load_model("Llama-3.1-70B")
    small = TrainingWorkload(num_chips=8, tp=8, pp=1, dp=1, micro_batch=1, global_batch=1, seq_len=1024,
                             recompute="none", zero=0, virtual_pp=1)
    big = attrs.evolve(small, num_chips=16, dp=2, global_batch=2)
    a, b = estimate_training(chip, model, small), estimate_training(chip, model, big)
    assert b.tokens_per_s < a.tokens_per_s
    assert dict(a.breakdown)["dp_comm"] == 0.0
    assert dict(b.breakdown)["dp_comm"] > 5 * dict(b.breakdown)["compute"]


@settings(max_examples=30)
@given(layouts())
def test_stronger_recompute_never_raises_activations_nor_shortens_the_step(case):
    chip, model, wl = case
    ests = [estimate_training(chip, model, attrs.evolve(wl, recompute=r)) for r in RECOMPUTE_MODES]
    for weaker, stronger in zip(ests, ests[1:]):
        assert stronger.activation_bytes_per_chip <= weaker.activation_bytes_per_chip
        assert stronger.memory_per_chip_bytes <= weaker.memory_per_chip_bytes
        assert stronger.step_time_s >= weaker.step_time_s * (1 - 1e-12)


@settings(max_examples=30)
@given(layouts())
def test_higher_zero_stage_never_raises_memory_per_chip(case):
    chip, model, wl = case
    mems = [estimate_training(chip, model, attrs.evolve(wl, zero=z)).memory_per_chip_bytes for z in range(4)]
    assert all(b <= a for a, b in zip(mems, mems[1:]))


@pytest.mark.parametrize("chip,model,n", [("H100-SXM", "Llama-3.1-8B", 64), ("A100-SXM-80GB", "Llama-2-13B", 128)])
def test_planner_choice_is_at_least_as_fast_as_every_fitting_layout(chip, model, n):
    chip, model = load_chip(chip), load_model(model)
    wl = TrainingWorkload(num_chips=n, seq_len=2048)
    plan = plan_training(chip, model, wl, use_numba=False)
    best = plan.best
    assert best.fits and plan.fitting >= len(plan.top)
    offered = candidate_layouts(chip, model, wl)
    for cand in offered:
        est = estimate_training(chip, model, cand)
        if est.fits:
            assert best.step_time_s <= est.step_time_s * (1 + 1e-12)


@pytest.mark.parametrize("model, wl", [
    ("Llama-3.1-70B", TrainingWorkload(num_chips=256)),
    # context parallelism's all-to-all and all-gather exchanges (tests/test_training_cp.py)
    ("Llama-3.1-8B", TrainingWorkload(num_chips=64, seq_len=65536, cp_comm_type="a2a")),
    ("Llama-3.1-8B", TrainingWorkload(num_chips=64, seq_len=65536, cp_comm_type="all_gather")),
])
def test_compiled_and_plain_kernels_agree(model, wl):
    pytest.importorskip("numba")
    chip, model = load_chip("H100-SXM"), load_model(model)
    ctx = TrainingContext.build(chip, model, "bf16")
    packed = np.stack([pack_layout(c, model.num_layers) for c in candidate_layouts(chip, model, wl)])
    assert wl.cp_comm_type == "p2p" or (packed[:, L.T_CP] > 1).any()
    plain, ran_plain = sweep_layouts(ctx, packed, use_numba=False)
    fast, ran_fast = sweep_layouts(ctx, packed, use_numba=True)
    assert not ran_plain and ran_fast
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=0)


def test_korthikanti_activations_per_layer():
    """GPT (MHA, 4h GELU MLP), unfused attention with dropout, no recompute: sbh(34 + 5as/h); with SP:
    divided by t. Without dropout (no masks, no dropout output): sbh(32 + 2as/h)."""
    s, b, h, a = 2048, 2, 4096, 32
    model = Model(name="gpt", num_layers=4, hidden_size=h, num_heads=a, num_kv_heads=a, head_dim=h // a,
                  intermediate_size=4 * h, vocab_size=51200, gated_mlp=False, norm="layer")
    ctx = TrainingContext.build(load_chip("A100-SXM-80GB"), model, "bf16")
    for tp, sp in ((1, False), (8, True)):
        wl = TrainingWorkload(num_chips=tp, tp=tp, pp=1, dp=1, micro_batch=b, global_batch=b, seq_len=s,
                              recompute="none", zero=0, virtual_pp=1, flash_attention=False, sequence_parallel=sp,
                              dropout=True)
        got = KM.activation_bytes_per_layer(ctx.m, pack_layout(wl, 4))
        assert got == pytest.approx(s * b * h * (34 + 5 * a * s / h) / tp)
        plain = KM.activation_bytes_per_layer(ctx.m, pack_layout(attrs.evolve(wl, dropout=False), 4))
        assert plain == pytest.approx(s * b * h * (32 + 2 * a * s / h) / tp)
        full = KM.activation_bytes_per_layer(ctx.m, pack_layout(attrs.evolve(wl, recompute="full"), 4))
        assert full == pytest.approx(2 * s * b * h / tp)


def test_json_keys_and_days():
    est = estimate_training(load_chip("H100-SXM"), load_model("Llama-3.1-8B"),
                            TrainingWorkload(num_chips=64, tp=1, pp=1, dp=64, micro_batch=1, recompute="selective",
                                             zero=1, virtual_pp=1), days=10)
    d = est.to_dict()
    assert set(d) == KEYS | {"chips_needed"}
    assert set(d["breakdown"]) == {"compute", "tp_comm", "pp_bubble", "pp_comm", "dp_comm", "cp_comm", "optimizer"}
    assert d["time_to_train_s"] == pytest.approx(15e12 / d["tokens_per_s"])
    assert d["chips_needed"] >= 1
    assert chips_needed(load_chip("H100-SXM"), load_model("Llama-3.1-8B"), 10,
                        attrs.evolve(est.workload)) == d["chips_needed"]


def test_h20_tracks_its_compute_peak_against_h100():
    model = load_model("Llama-3.1-70B")
    h100 = training_estimate(load_chip("H100-SXM"), model, TrainingWorkload()).tokens_per_s_per_chip
    h20 = training_estimate(load_chip("H20"), model, TrainingWorkload()).tokens_per_s_per_chip
    assert 0.10 < h20 / h100 < 0.25  # dense bf16 peaks 148 / 989 = 0.15


def test_planner_405b_on_16k_h100_fits():
    plan = plan_training(load_chip("H100-SXM"), load_model("405B"), TrainingWorkload(num_chips=16384))
    assert plan.best.fits and plan.best.workload.tp * plan.best.workload.pp * plan.best.workload.dp == 16384


# ---- bad input ---------------------------------------------------------------------------------------
H100, LLAMA8 = load_chip("H100-SXM"), load_model("Llama-3.1-8B")


@pytest.mark.parametrize("kwargs,field", [
    (dict(num_chips=64, tp=2, pp=2, dp=8), "num_chips"),
    (dict(num_chips=64, tp=16, pp=1, dp=4), "tp=16"),
    (dict(num_chips=24, tp=3, pp=1, dp=8), "tp=3"),
    (dict(num_chips=60, tp=1, pp=5, dp=12), "pp=5"),
    (dict(num_chips=64, tp=1, pp=1, dp=64, micro_batch=3, global_batch=100), "global_batch"),
    (dict(num_chips=64, tp=1, pp=1, dp=64, virtual_pp=2), "virtual_pp"),
    (dict(num_chips=64, tp=1, pp=4, dp=16, micro_batch=1, global_batch=16 * 6, virtual_pp=2), "virtual_pp"),
    (dict(num_chips=64, cp=3, seq_len=4096), "cp=3"),
])
def test_bad_layouts_raise_the_project_error(kwargs, field):
    with pytest.raises(RooflineError, match=field.replace("=", "=").split("=")[0]) as err:
        estimate_training(H100, LLAMA8, TrainingWorkload(**kwargs))
    assert field.split("=")[0] in str(err.value)


@pytest.mark.parametrize("kwargs,field", [
    (dict(recompute="sometimes"), "recompute"), (dict(zero=4), "zero"), (dict(dtype="int4"), "dtype"),
    (dict(tokens="lots"), "tokens"), (dict(num_chips=0), "num_chips"), (dict(micro_batch=-1), "micro_batch"),
])
def test_bad_values_raise_the_project_error(kwargs, field):
    with pytest.raises(RooflineError, match=field):
        TrainingWorkload(**kwargs)


def test_fp8_on_a_chip_without_fp8():
    with pytest.raises(RooflineError, match="dtype=fp8"):
        estimate_training(load_chip("A100-SXM-80GB"), LLAMA8, TrainingWorkload(num_chips=8, dtype="fp8"))


def test_model_that_fits_no_layout_says_what_is_missing():
    with pytest.raises(RooflineError, match=r"does not fit .* GB per chip, .* GB usable"):
        plan_training(load_chip("A100-40GB"), load_model("405B"), TrainingWorkload(num_chips=8), use_numba=False)


def test_bad_days():
    est = estimate_training(H100, LLAMA8, TrainingWorkload(num_chips=8, tp=1, pp=1, dp=8, micro_batch=1,
                                                           recompute="full", zero=3, virtual_pp=1))
    with pytest.raises(RooflineError, match="days"):
        with_days(est, -1)


def test_h20_trains_at_about_its_dense_peak_share_of_an_h100():
    """Llama-3.1-70B on 1,024 chips, planner's layout on each: tokens/s per chip follows the dense BF16
    peak ratio (148 / 989 = 0.15). The H20 lands a little above it, never below: its slow GEMMs hide the
    collectives and element-wise memory traffic that an H100 step still pays for, so its MFU is higher."""
    from roofline.api import estimate

    h20 = estimate("H20", "70B", mode="training").training
    h100 = estimate("H100", "70B", mode="training").training
    peak_ratio = h20.peak_flops_per_s / h100.peak_flops_per_s
    ratio = h20.tokens_per_s_per_chip / h100.tokens_per_s_per_chip
    assert math.isclose(peak_ratio, 0.15, abs_tol=0.005)
    assert peak_ratio <= ratio <= peak_ratio * 1.35
    assert h20.mfu >= h100.mfu
