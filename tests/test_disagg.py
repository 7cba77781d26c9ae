"""Disaggregated serving (issue 16): the simulator's properties, the closed forms, the planner, the CLI and the
measured rows."""

import json
import math

import attrs
import pytest
from click.testing import CliRunner

from roofline import api
from roofline.cli import main
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.serving.disagg import (
    Pool, deployment, estimate_disagg, kv_transfer_s, pool_capacities, prefill_pass_s, run_deployment,
)
from roofline.serving.simulate import Client

H100, H20 = load_chip("H100"), load_chip("H20")
M8B = load_model("8B")
SHORT = dict(input_len=1024, output_len=64)


ONE_H100 = Pool(H100, tp=1)


def _dep(prefill=ONE_H100, decode=ONE_H100, **kw):
    return deployment(M8B, prefill, decode, **{**SHORT, **kw})


def _simulate(dep, users):
    (send, prefilled, first, finish), output, out, _ = run_deployment(dep, Client(concurrency=users), use_numba=True)
    return send, prefilled, first, finish, output, out


@pytest.mark.parametrize("users", [4, 64, 400])
def test_more_decode_workers_never_raise_tpot(users):
    tpots = [estimate_disagg(M8B, Pool(H100, tp=1, workers=2), Pool(H100, tp=1, workers=y), concurrency=users,
                             use_numba=True, **SHORT).tpot_s for y in (1, 2, 3, 4, 6)]
    assert all(b <= a * (1 + 1e-9) for a, b in zip(tpots, tpots[1:])), tpots
    if users >= 64:
        assert tpots[-1] < tpots[0]  # the property is not vacuous: the batch per worker shrinks


def test_with_an_infinitely_fast_link_and_identical_pools_ttft_is_the_prefill_pools():
    dep = attrs.evolve(_dep(), link_bytes_per_s=math.inf, link_latency_s=0.0)
    send, prefilled, first, finish, output, out = _simulate(dep, 8)
    assert (first == prefilled).all()  # nothing is added between the prefill and the first token
    one = attrs.evolve(dep, prefill_batch=1)
    send, prefilled, first, *_ = _simulate(one, 1)  # one user: no waiting, one prompt per pass
    assert first[0] - send[0] == pytest.approx(prefill_pass_s(one.prefill, one.policy, 1), rel=1e-12)
    est = estimate_disagg(M8B, Pool(H100, tp=1), Pool(H100, tp=1), concurrency=8, use_numba=True, **SHORT)
    assert est.kv_transfer_s > 0.0  # a real link does add time, so the check above is not vacuous


def test_kv_transfer_grows_with_input_length_and_falls_with_link_bandwidth():
    dep = _dep()
    times = [kv_transfer_s(dep.decode, n, dep.link_bytes_per_s, dep.link_latency_s) for n in (128, 1024, 8192, 65536)]
    assert times == sorted(times) and times[-1] > times[0]
    faster = [kv_transfer_s(dep.decode, 8192, dep.link_bytes_per_s * k, dep.link_latency_s) for k in (1, 2, 8)]
    assert faster == sorted(faster, reverse=True) and faster[-1] < faster[0]
    short = estimate_disagg(M8B, Pool(H100, tp=1), Pool(H100, tp=1), input_len=512, output_len=16, concurrency=1,
                            use_numba=True)
    long = estimate_disagg(M8B, Pool(H100, tp=1), Pool(H100, tp=1), input_len=8192, output_len=16, concurrency=1,
                           use_numba=True)
    assert long.kv_transfer_s > short.kv_transfer_s


@pytest.mark.parametrize("x,y", [(1, 4), (4, 1)])
def test_throughput_is_the_smaller_pools_capacity(x, y):
    """Saturated (four times as many users as the decode pool holds), the deployment serves the smaller
    pool's capacity: prefill-bound with one prefill worker for four decode workers, decode-bound the other
    way round."""
    pools = dict(prefill=Pool(H100, tp=1, workers=x, batch=1), decode=Pool(H100, tp=1, workers=y, batch=32))
    dep = deployment(M8B, **pools, **SHORT)
    cap_p, cap_d = pool_capacities(dep)
    est = estimate_disagg(M8B, **pools, **SHORT, concurrency=4 * 32 * y, num_requests=4000, use_numba=True)
    assert est.bound == ("prefill" if cap_p < cap_d else "decode")
    assert est.bound == ("prefill" if x < y else "decode")
    assert est.requests_per_s == pytest.approx(min(cap_p, cap_d), rel=0.1)
    assert est.requests_per_s <= 1.02 * min(cap_p, cap_d)


def test_compiled_and_plain_python_agree():
    kw = dict(prefill=Pool(H100, tp=1, workers=2), decode=Pool(H20, tp=2, workers=2), concurrency=6, num_requests=30,
              **SHORT)
    a = estimate_disagg(M8B, use_numba=False, **kw)
    b = estimate_disagg(M8B, use_numba=True, **kw)
    assert a.ttft_s == pytest.approx(b.ttft_s, rel=1e-9) and a.tpot_s == pytest.approx(b.tpot_s, rel=1e-9)
    assert a.output_tokens_per_s == pytest.approx(b.output_tokens_per_s, rel=1e-9)


def test_a_stated_decode_batch_caps_the_slots_and_the_kv_cache_caps_it_too():
    assert _dep(decode=Pool(H100, tp=1, batch=7)).decode_slots == 7
    full = _dep()
    assert full.decode_limit == "kv_cache"
    capped = _dep(decode=Pool(H100, tp=1, batch=full.decode_slots * 10))
    assert capped.decode_slots == full.decode_slots and capped.decode_limit == "kv_cache"


def test_mixed_chips_cross_the_network_and_one_domain_uses_the_scale_up_link():
    assert "InfiniBand" in _dep(decode=Pool(H20, tp=1)).link
    assert _dep().link == H100.scale_up_label  # 2 chips in an 8-chip NVLink domain
    wide = _dep(prefill=Pool(H100, tp=8), decode=Pool(H100, tp=8))
    assert wide.link != H100.scale_up_label  # 16 chips: two servers


def test_bad_pools_are_one_clear_error():
    with pytest.raises(api.RooflineError, match="prefill_workers=0"):
        estimate_disagg(M8B, Pool(H100, workers=0), Pool(H100))
    with pytest.raises(api.RooflineError, match="decode pool: tp=3"):
        estimate_disagg(M8B, Pool(H100), Pool(H100, tp=3))
    with pytest.raises(api.RooflineError, match="output_len=1"):
        estimate_disagg(M8B, Pool(H100), Pool(H100), output_len=1)


def test_estimate_disagg_json_has_the_promised_keys():
    r = CliRunner().invoke(main, ["estimate", "--chip", "H100", "--model", "8B", "--mode", "inference", "--disagg",
                                  "--decode-chip", "H20", "--decode-workers", "2", "--concurrency", "16",
                                  "--output-len", "64", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)["inference"]["disagg"]
    for key in ("prefill", "decode", "ttft_s", "tpot_s", "ttft_p50_s", "ttft_p90_s", "ttft_p99_s", "tpot_p50_s",
                "tpot_p90_s", "tpot_p99_s", "kv_transfer_s", "output_tokens_per_s_per_chip", "bound"):
        assert key in d, key
    assert d["decode"]["chip"] == "H20" and d["prefill"]["chip"] == "H100-SXM" and d["decode"]["workers"] == 2
    assert d["bound"] in ("prefill", "decode")
    assert d["ttft_p50_s"] <= d["ttft_p90_s"] <= d["ttft_p99_s"]


@pytest.mark.parametrize("args,field", [
    (["--prefill-tp", "2"], "--prefill-tp"),  # a pool option without --disagg
    (["--disagg", "--prefill-chip", "H9000"], "H9000"),
    (["--disagg", "--decode-tp", "3"], "tp=3"),
    (["--disagg", "--concurrency", "max"], "--concurrency"),
])
def test_estimate_disagg_bad_input_exits_2_with_one_line(args, field):
    r = CliRunner().invoke(main, ["estimate", "--chip", "H100", "--model", "8B", "--mode", "inference", *args])
    assert r.exit_code == 2, r.output
    assert field in r.output and "Traceback" not in r.output


def test_plan_disagg_mixed_fleet_beside_the_single_chip_fleets():
    plan = api.plan_disagg("8B", "H100", "H20", **SHORT, top=2)
    assert plan.best.simulated and plan.best.prefill.chip == "H100-SXM" and plan.best.decode.chip == "H20"
    assert plan.best.ttft_s <= plan.targets.max_ttft_s and plan.best.tpot_s <= plan.targets.max_tpot_s
    assert {name for name, _ in plan.aggregated} == {"H100-SXM", "H20"}
    d = plan.to_dict()
    assert d["disagg"]["output_tokens_per_s_per_chip"] > 0 and set(d["aggregated"]) == {"H100-SXM", "H20"}
    # the simulated point is what estimate --disagg gives for the same deployment
    b = plan.best
    est = estimate_disagg(load_model("8B"), Pool(H100, tp=b.prefill.tp, ep=b.prefill.ep, workers=b.prefill.workers,
                                                 batch=b.prefill.batch),
                          Pool(H20, tp=b.decode.tp, ep=b.decode.ep, workers=b.decode.workers, batch=b.decode.batch),
                          concurrency=b.concurrency, **SHORT)
    assert est.ttft_s == pytest.approx(b.ttft_s, rel=1e-9) and est.tpot_s == pytest.approx(b.tpot_s, rel=1e-9)


def test_plan_disagg_cli_runs_and_refuses_aggregated_layout_options():
    r = CliRunner().invoke(main, ["plan", "--mode", "inference", "--disagg", "--chip", "H20", "--prefill-chip",
                                  "H100", "--model", "8B", "--output-len", "64"])
    assert r.exit_code == 0, r.output
    assert "all H100-SXM" in r.output and "all H20" in r.output and "tok/$" in r.output
    r = CliRunner().invoke(main, ["plan", "--mode", "inference", "--disagg", "--chip", "H20", "--model", "8B",
                                  "--tp", "2"])
    assert r.exit_code == 2 and "--prefill-tp" in r.output


def test_compare_mixed_adds_the_mixed_fleet():
    r = CliRunner().invoke(main, ["compare", "--chips", "H20", "--model", "8B", "--output-len", "64", "--mixed",
                                  "H100:H20", "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)["mixed"]
    assert d["disagg"]["prefill"]["chip"] == "H100-SXM" and d["disagg"]["decode"]["chip"] == "H20"
    r = CliRunner().invoke(main, ["compare", "--chips", "H20", "--model", "8B", "--mixed", "H100"])
    assert r.exit_code == 2 and "PREFILL:DECODE" in r.output


# ---- the measured disaggregated runs (benchmarks/disagg_accuracy.py) ---------------------------------------

def _accuracy():
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import disagg_accuracy

    return disagg_accuracy


def test_the_stored_disaggregated_accuracy_is_what_the_tool_gives_today():
    """Out-of-sample predictions of a sample of rows (each model's, at the fold fitted without it) equal the
    stored ones: benchmarks/results/disagg_accuracy.json is current."""
    acc = _accuracy()
    stored = json.loads(acc.OUT.read_text())
    folds = json.loads(acc.CALIBRATION.read_text())["serving"]["folds"]
    rows = acc.disagg_rows()
    assert stored["rows"] == len(rows)
    for model in sorted({r["model_ref"] for r in rows}):
        sample = [r for r in rows if r["model_ref"] == model and r["row_id"] in stored["predicted"]][:4]
        scored, _ = acc.score(sample, *acc.fold_values(folds[model]))
        assert len(scored) == len(sample) > 0
        for row, predicted in scored:
            assert predicted == pytest.approx(stored["predicted"][row["row_id"]], rel=1e-5), row["row_id"]


@pytest.mark.xfail(strict=True, reason="issue 16's targets are not met yet: out of sample TPOT median 14.0 % "
                                       "(target 12 %), TTFT 39.6 % (target 35 %)")
def test_disaggregated_out_of_sample_meets_issue_16_targets():
    stored = json.loads(_accuracy().OUT.read_text())["leave_one_model_out"]
    assert stored["tpot"]["median_abs_error_pct"] <= 12.0
    assert stored["ttft"]["median_abs_error_pct"] <= 35.0


def test_disaggregated_out_of_sample_accuracy_holds():
    """Regression bounds just above today's leave-one-model-out figures (issue 16's targets are below them).
    The 197 + 197 rows include the 28 + 28 whose pools split the experts over data-parallel attention groups
    (expressed since ``Workload.dp_attention``); on the 169 + 169 before them the figures were 12.4 / 38.7 %.
    Pricing the engines' one-shot all-reduces moved them from 13.2 / 41.0 % to 14.0 / 39.6 % (the refit engine
    costs per sequence are lower; the decode pools' large batches weigh them)."""
    stored = json.loads(_accuracy().OUT.read_text())["leave_one_model_out"]
    assert stored["tpot"]["median_abs_error_pct"] <= 14.5
    assert stored["ttft"]["median_abs_error_pct"] <= 40.5
    assert abs(stored["tpot"]["bias_pct"]) <= 10.0


def test_validate_prices_the_disaggregated_rows():
    from roofline.validate.schema import chip_for_row, model_for_row
    from roofline.validate.disagg import predict_disagg

    row = next(r for r in _accuracy().disagg_rows() if r["model_ref"] == "deepseek-r1"
               and r["metric_std"] == "tpot_s" and "tp8ep8" in r["row_id"])
    chip, model = chip_for_row(row, {}, None), model_for_row(row)
    assert 0 < predict_disagg(row, chip, model) < 1.0


def test_plan_disagg_takes_the_users_prices():
    r = CliRunner().invoke(main, ["plan", "--mode", "inference", "--disagg", "--chip", "H20", "--prefill-chip",
                                  "H100", "--model", "8B", "--output-len", "64", "--price-per-hour", "2,1",
                                  "--format", "json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["plan"]["prices_usd_per_hour"] == {"H100-SXM": 2.0, "H20": 1.0}
    best = d["disagg"]
    dollars = best["prefill"]["num_chips"] * 2.0 + best["decode"]["num_chips"] * 1.0
    assert best["output_tokens_per_dollar"] == pytest.approx(best["output_tokens_per_s"] * 3600 / dollars, rel=1e-9)
    assert d["aggregated"]["H20"]["output_tokens_per_dollar"] == pytest.approx(
        d["aggregated"]["H20"]["output_tokens_per_s_per_chip"] * 3600 / 1.0, rel=1e-9)
    r = CliRunner().invoke(main, ["plan", "--mode", "inference", "--chip", "H20", "--model", "8B",
                                  "--price-per-hour", "2"])
    assert r.exit_code == 2 and "--disagg" in r.output
