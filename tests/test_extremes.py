"""Extreme but valid inputs: a 10-trillion-parameter model, million-token contexts, 100,000 chips, batch 1
and batch 100,000. Every number stays finite and positive (no overflow, NaN or negative time) and the
results keep the monotonicity physics demands: a larger batch or a longer context never makes a decode
step faster, and adding data-parallel replicas within one network tier never lowers tokens/s.
"""

from __future__ import annotations

import json
import math

import attrs
import pytest

from roofline.analysis.probes import serving_layout
from roofline.api import estimate
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.serving.static import estimate_inference, phase_times
from roofline.training.planner import plan_training
from roofline.training.planner import training_estimate
from roofline.workload import TrainingWorkload, Workload

#: 200 layers of hidden 65,536 and a gated MLP of 262,144: 12.3 trillion parameters.
HUGE = Model(name="12T", num_layers=200, hidden_size=65536, num_heads=512, num_kv_heads=64, head_dim=128,
             intermediate_size=262144, vocab_size=256000)
#: The same at the limits the loaders accept for layers and heads.
DEEPEST = attrs.evolve(HUGE, name="deepest", num_layers=10_000, num_heads=10_000, num_kv_heads=10_000,
                       head_dim=8, hidden_size=80_000)


#: Result keys that must be strictly positive wherever they appear; every other number must be finite and
#: times, sizes and rates (keys ending in _s, _bytes, _per_s) at least 0.
POSITIVE = {"ttft_s", "tpot_s", "step_time_s", "tokens_per_s", "tokens_per_s_per_chip", "output_tokens_per_s",
            "output_tokens_per_s_per_chip", "memory_per_chip_bytes", "time_to_train_s", "time_s",
            "request_latency_s", "mfu", "hfu", "params_total", "params_active"}


def finite_positive(d, key="") -> None:
    """Every number in a (nested) result dict is finite; times, rates and sizes are not negative and the
    headline figures (``POSITIVE``) are above zero."""
    if isinstance(d, dict):
        for k, v in d.items():
            finite_positive(v, k)
    elif isinstance(d, (list, tuple)):
        for v in d:
            finite_positive(v, key)
    elif isinstance(d, float) or (isinstance(d, int) and not isinstance(d, bool)):
        assert math.isfinite(d), (key, d)
        if key in POSITIVE:
            assert d > 0, (key, d)
        if key.endswith(("_s", "_bytes", "_per_s")):
            assert d >= 0, (key, d)


def test_ten_trillion_parameters():
    assert HUGE.param_count() > 1e13
    chip = load_chip("B200")
    e = estimate_inference(chip, HUGE, Workload(batch=64, tp=8, pp=100, input_len=8192, output_len=1024))
    finite_positive(e.to_dict())
    assert e.fits and e.ttft_s > e.tpot_s > 0
    json.dumps(e.to_dict(), allow_nan=False)
    with pytest.raises(RooflineError, match="needs at least"):
        estimate_inference(chip, HUGE, Workload())  # one scale-up domain cannot hold 25 TB of weights


def test_the_largest_model_the_loaders_take_is_estimated_or_refused():
    """(Its speed is measured by benchmarks/, not asserted here.)"""
    with pytest.raises(RooflineError, match="needs at least 26672 chips"):
        estimate_inference(load_chip("H100"), DEEPEST, Workload())
    assert serving_layout(load_chip("H100"), DEEPEST, Workload()).pp == 3334  # 3 layers a stage, by bisection
    e = training_estimate(load_chip("H100"), DEEPEST, TrainingWorkload(
        num_chips=80_000, tp=8, pp=10_000, dp=1, micro_batch=1, global_batch=10_000, seq_len=2048,
        recompute="full", zero=0, virtual_pp=1))
    finite_positive(e.to_dict())


def test_planner_on_100000_chips_for_a_ten_trillion_parameter_model():
    """The full search in plain Python finds a layout of every chip (its speed: benchmarks/, not tests)."""
    wl = TrainingWorkload(num_chips=100_000)
    plain = plan_training(load_chip("B200"), HUGE, wl, top=3, use_numba=False)
    best = plain.best
    assert best.fits and best.workload.num_chips == 100_000
    assert best.workload.tp * best.workload.pp * best.workload.dp * best.workload.cp == 100_000
    finite_positive(best.to_dict())
    assert 0 < best.mfu <= best.hfu < 1


@pytest.mark.parametrize("model, chips", [("8B", 100_000), ("405B", 100_000), ("DeepSeek-V3", 100_000)])
def test_planner_on_100000_chips(model, chips):
    p = estimate(load_chip("H100"), load_model(model), training=TrainingWorkload(num_chips=chips), mode="training",
                 reference=None).training
    finite_positive(p.to_dict())
    assert p.workload.num_chips == chips and p.tokens_per_s > 0


def test_million_token_context_serving():
    chip, model = load_chip("H200"), load_model("8B")
    e = estimate_inference(chip, model, Workload(batch=1, input_len=1_000_000, output_len=1000, tp=8))
    finite_positive(e.to_dict())
    assert e.fits and e.ttft_s > 1  # a million-token prefill takes seconds, even on eight chips
    # ... and more than a 100k-token one: attention is quadratic in the context
    short = estimate_inference(chip, model, Workload(batch=1, input_len=100_000, output_len=1000, tp=8))
    assert e.ttft_s > 10 * short.ttft_s and e.tpot_s > short.tpot_s


def test_million_token_sequences_train_with_context_parallelism():
    e = estimate(load_chip("H100"), load_model("8B"), training=TrainingWorkload(num_chips=1024, seq_len=1 << 20),
                 mode="training", reference=None).training
    finite_positive(e.to_dict())
    assert e.fits and e.workload.cp > 1


@pytest.mark.parametrize("batch", [1, 100_000])
def test_batch_1_and_100000(batch):
    e = estimate_inference(load_chip("H100"), load_model("8B"), Workload(batch=batch, tp=8))
    finite_positive(e.to_dict())
    assert e.fits == (batch == 1)  # 100,000 sequences of 2,304 tokens need 30 TB of KV cache
    assert e.output_tokens_per_s == pytest.approx(batch / e.tpot_s)


def test_extremes_through_the_cli_give_finite_json():
    from click.testing import CliRunner

    from roofline.cli import main

    for args in (["--batch", "100000", "--tp", "8", "--mode", "inference"],
                 ["--input-len", "1000000", "--tp", "8", "--mode", "inference"],
                 ["--num-chips", "100000", "--mode", "training"]):
        r = CliRunner().invoke(main, ["estimate", "--chip", "H200", "--model", "8B", "--format", "json", *args])
        assert r.exit_code == 0, r.output
        finite_positive({k: v for k, v in json.loads(r.stdout).items() if k != "verdict"})


# ---- monotone where physics says so ---------------------------------------------------------------

BATCHES = [1, 2, 3, 4, 8, 16, 31, 64, 100, 256, 1000, 4096, 10_000, 65_536, 100_000]
CONTEXTS = [1, 2, 16, 128, 1000, 2048, 8192, 32_768, 131_072, 500_000, 1_000_000]


@pytest.mark.parametrize("chip, model, tp", [("H100", "8B", 8), ("H20", "70B", 8), ("B200", "Mixtral-8x7B", 4),
                                             ("H200", "DeepSeek-V3", 8), ("MI300X", "Qwen3-30B-A3B", 2)])
def test_more_batch_never_lowers_tpot(chip, model, tp):
    c, m = load_chip(chip), load_model(model)
    prev = 0.0
    for b in BATCHES:
        t = phase_times(c, m, Workload(batch=b, tp=tp))
        assert math.isfinite(t["tpot_s"]) and t["tpot_s"] >= prev * (1 - 1e-12), (b, t["tpot_s"], prev)
        assert t["ttft_s"] > 0 and t["ideal_tpot_s"] <= t["tpot_s"] * (1 + 1e-12)
        prev = t["tpot_s"]


@pytest.mark.parametrize("chip, model, batch", [("H100", "8B", 1), ("H100", "8B", 64), ("H20", "70B", 8),
                                                ("H200", "DeepSeek-V3", 4), ("H100", "Mistral-7B", 16)])
def test_longer_context_never_lowers_tpot(chip, model, batch):
    c, m = load_chip(chip), load_model(model)
    prev = 0.0
    for ctx in CONTEXTS:
        t = phase_times(c, m, Workload(batch=batch, input_len=ctx, output_len=1, tp=8))
        assert math.isfinite(t["tpot_s"]) and t["tpot_s"] >= prev * (1 - 1e-12), (ctx, t["tpot_s"], prev)
        prev = t["tpot_s"]


@pytest.mark.parametrize("model, tp, pp", [("8B", 8, 1), ("70B", 8, 4), ("405B", 8, 9)])
def test_more_data_parallel_chips_never_lower_tokens_per_s(model, tp, pp):
    """Weak scaling over the network (every replica already fills a scale-up domain, so every DP size
    reduces over the same tier): the global batch grows with DP, tokens/s never falls."""
    c, m = load_chip("H100"), load_model(model)
    prev = 0.0
    for dp in (1, 2, 4, 8, 16, 64, 256, 1024, 4096):
        wl = TrainingWorkload(num_chips=tp * pp * dp, tp=tp, pp=pp, dp=dp, micro_batch=1, global_batch=dp * 4 * pp,
                              seq_len=4096, recompute="full", zero=1, virtual_pp=1)
        e = training_estimate(c, m, wl)
        finite_positive(e.to_dict())
        assert e.tokens_per_s >= prev * (1 - 1e-12), (dp, e.tokens_per_s, prev)
        prev = e.tokens_per_s
