"""MoE, MLA, expert parallelism and speculative decoding in the kernels: what a decode step reads, how
time moves with batch, memory that holds every expert, and the CLI on DeepSeek-V3."""

import json

import attrs
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline.cli import main
from roofline.errors import RooflineError
from roofline.kernels import experts as E
from roofline.kernels import forward as F
from roofline.kernels import shapes as S
from roofline.kernels import layout as L
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.passes import Packed
from roofline.serving.static import estimate_inference
from roofline.workload import Workload

MOE = ["Mixtral-8x7B", "Qwen3-30B-A3B", "DeepSeek-V3", "Qwen3-235B-A22B"]


def expert_bytes_read(model, batch, tp=8, ep=1):
    """HBM bytes of routed-expert weights one decode step reads per chip (both expert GEMM rows, minus
    their activation traffic), and the bytes of all routed experts on that chip."""
    wl = Workload(batch=batch, input_len=128, output_len=2, tp=tp, ep=ep, weight_dtype="fp8")
    p = Packed(load_chip("H200"), model, wl)
    w = p.w(batch)
    ops = np.zeros((L.N_OPS, L.OP_COLS))
    F.fill_pass(p.m, w, 8.0, 1.0, 128.0, 1.0, 1.0, 1.0, 0.0, ops)
    per, split, group = E.expert_split(p.m, w)
    n_in = 2.0 if model.gated_mlp else 1.0
    f = model.moe_intermediate_size / split
    routed = w[L.W_BATCH] * group * model.experts_per_token / model.num_experts * per
    act = routed * (model.hidden_size + n_in * f) + routed * (f + model.hidden_size)
    read = ops[L.OP_EXPERT_UP, L.OP_HBM] + ops[L.OP_EXPERT_DOWN, L.OP_HBM] - act * w[L.W_ACT_BYTES]
    every = per * (n_in + 1) * model.hidden_size * f * w[L.W_WEIGHT_BYTES]
    return read, every


@pytest.mark.parametrize("name", MOE)
def test_batch_one_reads_k_of_e_experts_and_a_large_batch_reads_them_all(name):
    model = load_model(name)
    read1, every = expert_bytes_read(model, 1)
    k, e = model.experts_per_token, model.num_experts
    assert read1 == pytest.approx(every * k / e, rel=1e-9)
    big, _ = expert_bytes_read(model, 4096)
    assert big == pytest.approx(every, rel=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(MOE), st.integers(1, 2048), st.integers(1, 64))
def test_moe_decode_time_never_decreases_with_batch(name, batch, more):
    model = load_model(name)
    chip = load_chip("H200")
    wl = Workload(batch=batch, input_len=1024, output_len=128, tp=8, weight_dtype="fp8")
    p = Packed(chip, model, wl)
    assert p.tpot(batch + more) >= p.tpot(batch) * (1 - 1e-12)


def test_memory_holds_every_expert_and_ep_shards_them():
    model, chip = load_model("DeepSeek-V3"), load_chip("H200")
    w8 = Packed(chip, model, Workload(tp=8, weight_dtype="fp8")).w(1)
    weights = S.weight_bytes_per_chip(Packed(chip, model, Workload(tp=8, weight_dtype="fp8")).m, w8)
    assert weights * 8 == pytest.approx(model.param_count(), rel=0.03)  # fp8 linear, bf16 embeddings
    p16 = Packed(chip, model, Workload(tp=1, ep=16, weight_dtype="fp8"))
    w16 = p16.w(1)
    assert S.weight_bytes_per_chip(p16.m, w16) < weights * 8 / 4


def test_mla_cache_is_the_latent_and_not_split_over_tp():
    model, chip = load_model("DeepSeek-V3"), load_chip("H200")
    for tp in (1, 8):
        p = Packed(chip, model, Workload(tp=tp, weight_dtype="fp8"))
        w = p.w(1)
        assert S.kv_bytes_per_chip(p.m, w, 1000.0) == pytest.approx(1000 * 70272, rel=1e-12)


def test_speculative_decoding_divides_the_step_by_the_tokens_accepted():
    model, chip = load_model("DeepSeek-V3"), load_chip("H200")
    base = Workload(batch=8, input_len=1000, output_len=200, tp=8, weight_dtype="fp8")
    plain = Packed(chip, model, base).tpot(8)
    spec = Packed(chip, model, attrs.evolve(base, draft_tokens=1, accepted_tokens=1.8)).tpot(8)
    verify = Packed(chip, model, attrs.evolve(base, draft_tokens=1, accepted_tokens=1.0)).tpot(8)
    assert verify >= plain and spec == pytest.approx(verify / 1.8)
    assert spec < plain
    with pytest.raises(RooflineError, match="accepted_tokens"):
        Workload(draft_tokens=1, accepted_tokens=3.0)


def test_ep_beyond_tp_adds_attention_groups_and_an_all_to_all():
    model, chip = load_model("DeepSeek-V3"), load_chip("H200")
    wl = Workload(batch=64, input_len=1000, output_len=200, tp=1, ep=8, weight_dtype="fp8")
    assert wl.attn_dp == 8 and wl.num_chips == 8
    p = Packed(chip, model, wl)
    w = p.w(64)
    assert w[L.W_BATCH] == 8
    ops = np.zeros((L.N_OPS, L.OP_COLS))
    F.fill_pass(p.m, w, 8.0, 1.0, 1000.0, 61.0, 1.0, 1.0, 0.0, ops)
    assert ops[L.OP_EP_DISPATCH, L.OP_LINK] > 0 and ops[L.OP_EP_COMBINE, L.OP_COUNT] == pytest.approx(58.0)
    with pytest.raises(RooflineError, match="has no experts"):
        estimate_inference(chip, load_model("8B"), Workload(tp=1, ep=2))


def test_cli_deepseek_on_h20_fits_or_says_how_many_chips_and_reports_active_params():
    r = CliRunner().invoke(main, ["estimate", "--chip", "H20", "--model", "deepseek-v3", "--mode", "inference",
                                  "--weight-dtype", "fp8", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["inference"]["fits"] and d["inference"]["num_chips"] >= 8
    assert d["model"]["params_total"] > 600e9 and 30e9 < d["model"]["params_active"] < 45e9
    r = CliRunner().invoke(main, ["estimate", "--chip", "H20", "--model", "deepseek-v3", "--mode", "inference",
                                  "--weight-dtype", "bf16"])
    assert r.exit_code == 2 and "needs at least" in r.output and "chips" in r.output


def test_training_planner_considers_expert_parallelism_for_moe():
    from roofline.training.estimate import estimate_training
    from roofline.training.planner import plan_training
    from roofline.workload import TrainingWorkload

    chip, model = load_chip("H100-SXM"), load_model("Mixtral-8x7B")
    plan = plan_training(chip, model, TrainingWorkload(num_chips=64, seq_len=4096), use_numba=False, top=50)
    assert plan.best.fits and {t.workload.ep for t in plan.top} - {1}
    fixed = dict(num_chips=64, tp=2, pp=1, dp=32, micro_batch=1, recompute="full", zero=1, virtual_pp=1)
    one = estimate_training(chip, model, TrainingWorkload(**fixed, ep=1))
    four = estimate_training(chip, model, TrainingWorkload(**fixed, ep=4))
    assert four.state_bytes_per_chip < one.state_bytes_per_chip
    assert dict(four.breakdown)["tp_comm"] > dict(one.breakdown)["tp_comm"]  # the all-to-all
    assert one.model_flops_per_chip == pytest.approx(four.model_flops_per_chip)
    # MFU counts active parameters: 6 x ~12.9e9 per token, not 6 x 46.7e9
    per_token = one.model_flops_per_chip * 64 / (one.workload.batch() * 4096)
    assert 6 * 12.5e9 < per_token < 6 * 16e9


def test_expected_largest_normal_matches_the_integral():
    """z of the busiest chip: the expected largest of n standard normals, E = integral of x n phi Phi^(n-1)."""
    x = np.linspace(-9.0, 9.0, 40001)
    phi = np.exp(-x * x / 2.0) / np.sqrt(2.0 * np.pi)
    cdf = np.cumsum(phi) * (x[1] - x[0])
    assert E.expected_max_z(1.0) == 0.0
    for n in (2, 3, 4, 8, 16, 64, 256):
        exact = float(np.trapezoid(x * n * phi * cdf ** (n - 1), x))
        assert E.expected_max_z(float(n)) == pytest.approx(exact, abs=0.03), n


@pytest.mark.parametrize("e, k, tokens, spread", [(128, 8, 4, 8), (128, 8, 4, 4), (256, 8, 1, 8), (256, 8, 32, 8),
                                                  (128, 8, 16, 2), (8, 2, 4, 4)])
def test_busiest_chip_load_matches_random_routing(e, k, tokens, spread):
    """Uniform routing drawn at random (each token picks k distinct experts; chip c holds experts
    c n .. c n + n - 1): the mean over draws of the busiest chip's experts touched and token-expert pairs
    is what the kernel prices, within 10 %; both exceed the per-chip mean whenever the chips are several."""
    rng = np.random.default_rng(7)
    n, draws = e // spread, 1500
    choice = np.argpartition(rng.random((draws, tokens, e), dtype=np.float32), k, axis=2)[:, :, :k]
    touched = np.zeros((draws, e), dtype=bool)
    np.put_along_axis(touched, choice.reshape(draws, -1), True, axis=1)
    experts_seen = touched.reshape(draws, spread, n).sum(axis=2).max(axis=1).mean()
    pairs_seen = np.mean([np.bincount(c, minlength=spread).max() for c in (choice // n).reshape(draws, -1)])
    chance = 1.0 - (1.0 - k / e) ** tokens
    experts, pairs = E.busiest_expert_load(float(n), float(e), float(tokens * k), chance, float(spread))
    assert experts == pytest.approx(experts_seen, rel=0.1) and pairs == pytest.approx(pairs_seen, rel=0.1)
    assert experts > n * chance and pairs > tokens * k / spread
    assert E.busiest_expert_load(float(n), float(e), float(tokens * k), chance, 1.0) == (n * chance, tokens * k * n / e)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(MOE), st.integers(1, 2048), st.integers(1, 64), st.sampled_from([2, 4, 8]))
def test_moe_decode_time_with_expert_parallelism_never_decreases_with_batch(name, batch, more, ep):
    """The busiest chip's load grows with the batch too (mean + z sigma, capped at every expert it holds)."""
    model = load_model(name)
    if model.num_experts % ep:
        return
    wl = Workload(batch=batch, input_len=1024, output_len=128, tp=8, ep=ep, weight_dtype="fp8")
    p = Packed(load_chip("H200"), model, wl)
    assert p.tpot(batch + more) >= p.tpot(batch) * (1 - 1e-12)
