"""Properties of the in-flight-batching serving model (issue 4, partial)."""

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import roofline
from roofline import Workload, load_chip, load_model
from roofline.loaders.engines import ENGINES
from roofline.serving.inflight import estimate_serving

CASES = [("H100", "8B", 1, "fp8"), ("H20", "70B", 8, "bf16"), ("A100", "Llama-2-13B", 2, "bf16")]


@pytest.mark.parametrize("chip, model, tp, wd", CASES)
@pytest.mark.parametrize("engine", list(ENGINES))
def test_concurrency_one_equals_static_batch_one(chip, model, tp, wd, engine):
    wl = Workload(tp=tp, weight_dtype=wd, input_len=1024, output_len=128)
    static = roofline.estimate(chip, model, wl).inference
    srv = estimate_serving(load_chip(chip), load_model(model), static.workload, engine=engine, concurrency=1)
    assert srv.ttft_s == pytest.approx(static.ttft_s, rel=1e-9)
    assert srv.tpot_s == pytest.approx(static.tpot_s, rel=1e-9)


@given(st.sampled_from(CASES), st.sampled_from(list(ENGINES)), st.integers(1, 4096), st.integers(2, 2048),
       st.integers(1, 200), st.integers(1, 50))
def test_latency_and_throughput_monotone_in_concurrency(case, engine, i_len, o_len, c, more):
    chip, model, tp, wd = case
    wl = Workload(tp=tp, weight_dtype=wd, input_len=i_len, output_len=o_len)
    c1 = load_chip(chip)
    m = load_model(model)
    try:
        lo = estimate_serving(c1, m, wl, engine=engine, concurrency=c)
    except roofline.RooflineError:
        assume(False)
    hi = estimate_serving(c1, m, wl, engine=engine, concurrency=c + more)
    assert hi.ttft_s >= lo.ttft_s * (1 - 1e-9)
    assert hi.tpot_s >= lo.tpot_s * (1 - 1e-9)
    if c + more <= lo.kv_capacity_sequences:
        assert hi.output_tokens_per_s >= lo.output_tokens_per_s * (1 - 1e-9)


def test_request_rate_limits():
    c, m = load_chip("H100"), load_model("8B")
    wl = Workload(tp=1, input_len=1000, output_len=200)
    lone = estimate_serving(c, m, wl, concurrency=1)
    slow = estimate_serving(c, m, wl, request_rate=1e-4)
    assert slow.ttft_s == pytest.approx(lone.ttft_s, rel=1e-3)
    cap = slow.capacity_requests_per_s
    ttfts = [estimate_serving(c, m, wl, request_rate=cap * r).ttft_s for r in (0.5, 0.9, 0.99, 0.999)]
    assert ttfts == sorted(ttfts) and ttfts[-1] > 50 * lone.ttft_s
    with pytest.raises(roofline.RooflineError, match="capacity"):
        estimate_serving(c, m, wl, request_rate=cap * 1.01)


def test_cli_serving_json():
    from click.testing import CliRunner
    import json

    from roofline.cli import main

    r = CliRunner().invoke(main, ["estimate", "--chip", "H100", "--model", "8B", "--concurrency", "max",
                                  "--engine", "trtllm", "--format", "json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)["inference"]["serving"]
    for key in ("concurrency", "ttft_s", "tpot_s", "request_latency_s", "output_tokens_per_s",
                "output_tokens_per_s_per_chip", "requests_per_s"):
        assert s[key] > 0
    r = CliRunner().invoke(main, ["estimate", "--chip", "H100", "--model", "8B", "--concurrency", "lots"])
    assert r.exit_code == 2 and "--concurrency" in r.output
