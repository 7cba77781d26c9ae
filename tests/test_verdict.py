"""The verdict at the operating point a fleet is sized by (issue 15): serving within latency targets, each chip
at its own best layout; training at each chip's best layout; per dollar with prices of one market; unknown
(never "neither") when the reference cannot run the request. And the search behind it agrees with the
serving planner's exhaustive grid."""

import json

import attrs
import pytest
from click.testing import CliRunner

from roofline.api import estimate
from roofline.cli import main
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.serving.planner import plan_serving
from roofline.serving.target import Targets, best_within_targets, verdict_point
from roofline.verdict import chip_confidence
from roofline.workload import Workload

H20, H100 = load_chip("H20"), load_chip("H100")
FIGURES = ("peak_flops_per_s", "hbm_bytes", "hbm_bytes_per_s", "scale_up_bytes_per_s", "scale_up_domain",
           "scale_out_bytes_per_s", "family")


def run_cli(*args):
    return CliRunner().invoke(main, list(args))


def with_figures_of(chip, other, name):
    """``chip`` renamed, carrying ``other``'s figures (and no price: the vote is per chip)."""
    return attrs.evolve(chip, name=name, price_usd_per_hour=None,
                        **{k: getattr(other, k) for k in FIGURES})


@pytest.fixture(scope="module")
def h20_vs_h100():
    return estimate(H20, "70B", mode="both", reference=H100).verdict


def test_swapping_the_figures_swaps_the_verdict(h20_vs_h100):
    """Give the H20 the H100's figures and the H100 the H20's: the speed-ups invert and the verdict turns,
    whatever the names say."""
    a = with_figures_of(H20, H100, "a")
    b = with_figures_of(H100, H20, "b")
    v = estimate(a, "70B", mode="both", reference=b).verdict
    assert v.serving_speedup == pytest.approx(1 / h20_vs_h100.serving_speedup, rel=1e-6)
    assert v.training_speedup == pytest.approx(1 / h20_vs_h100.training_speedup, rel=1e-6)
    assert v.decode_speedup == pytest.approx(1 / h20_vs_h100.decode_speedup, rel=1e-6)
    assert h20_vs_h100.serving_speedup < 0.8 and h20_vs_h100.training_speedup < 0.8
    assert h20_vs_h100.suits == "neither" and v.suits == "both" and v.basis == "per chip"


def test_serving_speedup_is_the_ratio_of_the_operating_points(h20_vs_h100):
    points = dict(h20_vs_h100.serving_points)
    this, ref = points["this"], points["reference"]
    assert h20_vs_h100.serving_speedup == pytest.approx(
        this["output_tokens_per_s_per_chip"] / ref["output_tokens_per_s_per_chip"])
    for p in (this, ref):
        assert p["tpot_s"] <= 0.050 and p["ttft_s"] <= 2.0 and p["num_chips"] == 8
    # serving keeps more of the reference's speed than training does (its decode reads HBM, where the
    # H20 is ahead), though both are compute-limited at these lengths
    assert h20_vs_h100.serving_over_training > 1.0
    assert "Serving keeps" in h20_vs_h100.reason


def test_training_speedup_is_each_chip_at_its_own_best_layout():
    """A user-fixed layout for this chip does not force the reference into it (nor count as this chip's best)."""
    from roofline.workload import TrainingWorkload

    free = estimate(H20, "70B", mode="training", reference=H100).verdict
    fixed = estimate(H20, "70B", training=TrainingWorkload(tp=8, pp=8), reference=H100).verdict
    assert fixed.training_speedup == pytest.approx(free.training_speedup)


def test_training_reason_cites_the_training_dtype():
    """DeepSeek-R1 served in fp8 but trained in bf16: the training ratio names bf16 FLOP/s, not fp8."""
    v = estimate("H20", "deepseek-r1", Workload(weight_dtype="fp8"), mode="both", reference="H200").verdict
    train_text = v.reason.split("training is", 1)[1]
    assert "dense bf16 FLOP/s" in train_text.split(";")[0]
    assert v.training_compute_ratio == pytest.approx(H20.peak("bf16") / load_chip("H200").peak("bf16"))


def test_reference_without_the_format_gives_unknown():
    r = run_cli("estimate", "--chip", "H20", "--model", "70B", "--weight-dtype", "fp8", "--mode",
                "inference", "--reference", "A100", "--format", "json")
    assert r.exit_code == 0, r.output
    v = json.loads(r.stdout)["verdict"]
    assert v["suits"] is None and v["serving_speedup"] is None
    assert "no fp8 compute" in v["reason"] and "neither" not in v["reason"]


def test_reference_too_small_for_the_model_gives_unknown():
    tiny = attrs.evolve(H100, name="tiny", hbm_bytes=1e9)  # 64 of them hold less than 70B in bf16
    v = estimate(H20, "70B", mode="inference", reference=tiny).verdict
    assert v.suits is None and v.serving_speedup is None
    assert "tiny cannot serve it" in v.reason and "no layout of up to 64 chips" in v.reason


def test_a_chip_that_misses_the_targets_has_serving_speedup_zero():
    """A 300 ms TTFT target: the H100 prefills a 2,048-token prompt of 70B in about 0.2 s at TP 8, the H20
    (15 % of the FLOP/s) in about 0.5 s at best, so only the H100 has an operating point."""
    v = estimate(H20, "70B", mode="inference", reference=H100, max_ttft_s=0.3).verdict
    points = dict(v.serving_points)
    assert points["this"] is None and points["reference"]["ttft_s"] <= 0.3
    assert v.serving_speedup == 0.0 and v.suits == "neither"
    assert any("H20 cannot meet the targets" in n for n in v.notes)


def test_prices_of_one_market_vote_per_dollar():
    h800 = load_chip("H800")
    v = estimate(H20, "70B", mode="inference", reference=h800).verdict
    d = dict(v.per_dollar)
    assert d["votes"] and v.basis == "per dollar" and d["market"] == d["reference_market"] == "china"
    assert d["serving_speedup"] == pytest.approx(v.serving_speedup * h800.price_usd_per_hour / H20.price_usd_per_hour)
    this = dict(v.serving_points)["this"]["output_tokens_per_s_per_chip"]
    assert d["output_tokens_per_dollar"] == pytest.approx(this * 3600 / H20.price_usd_per_hour)
    assert d["output_tokens_per_dollar"] / d["reference_output_tokens_per_dollar"] == pytest.approx(
        d["serving_speedup"])
    mixed = estimate(H20, "70B", mode="inference", reference=H100).verdict
    assert not dict(mixed.per_dollar)["votes"] and mixed.basis == "per chip"
    assert any("different markets" in n for n in mixed.notes)
    given = estimate(H20, "70B", mode="inference", reference=H100, price_per_hour=(1.0, 2.0)).verdict
    assert given.basis == "per dollar" and dict(given.per_dollar)["price_ratio"] == 0.5


def test_confidence_says_when_efficiencies_are_defaulted():
    levels = dict(chip_confidence(load_chip("Ascend-910B"), "bf16"))
    assert levels["efficiency"].startswith("defaulted") and levels["level"] == "low"
    assert dict(chip_confidence(H100, "bf16"))["efficiency"].startswith("measured")


@pytest.mark.parametrize("chip, model", [("H20", "70B"), ("H100", "8B"), ("B200", "70B"), ("H20", "Mixtral-8x7B")])
def test_the_search_matches_the_planner_grid(chip, model):
    """Bisection per layout finds what the serving planner's grid of every layout x concurrency finds (its
    grid steps 1/64 of the concurrency above 64, so it may stop up to 1.6 % short)."""
    c, m = load_chip(chip), load_model(model)
    fast = best_within_targets(c, m, Workload(), num_chips=8, targets=Targets(0.05, 2.0))
    grid = plan_serving(c, m, num_chips=8, max_tpot_s=0.05, max_ttft_s=2.0).best
    assert fast.output_tokens_per_s_per_chip == pytest.approx(grid.output_tokens_per_s_per_chip, rel=0.02)
    assert fast.output_tokens_per_s_per_chip >= grid.output_tokens_per_s_per_chip * (1 - 1e-9)
    assert fast.tpot_s <= 0.05 and fast.ttft_s <= 2.0


def test_the_verdict_fleet_grows_when_one_server_cannot_hold_the_model():
    p = verdict_point(H100, load_model("405B"), Workload())
    assert p.num_chips == 16 and p.tpot_s <= 0.05


def test_the_verdict_fleet_grows_while_memory_caps_the_users():
    """DeepSeek-R1 (fp8) fits 8 H20s with room for a few requests: that server runs at its KV capacity, so
    the verdict also sizes 16 chips, which hold more users per chip within the targets, and takes them. A
    server whose best is capped by the targets (70B on H20: TPOT) is not grown."""
    model, wl = load_model("DeepSeek-R1"), Workload(weight_dtype="fp8")
    one = best_within_targets(H20, model, wl, num_chips=8)
    assert one.concurrency == one.kv_capacity == 8  # the README's "room for 8 requests"
    p = verdict_point(H20, model, wl)
    assert p.num_chips == 16 and p.tpot_s <= 0.05 and p.ttft_s <= 2.0
    assert p.output_tokens_per_s_per_chip > one.output_tokens_per_s_per_chip
    assert p.concurrency < p.kv_capacity
    seventy = verdict_point(H20, load_model("70B"), Workload())
    assert seventy.num_chips == 8 and seventy.concurrency < seventy.kv_capacity


def test_chips_compared_start_from_the_fleet_every_one_of_them_needs():
    """DeepSeek-R1 (fp8) needs 16 H100s but fits 8 H200s. Judged on 8, the H200 could spread its experts
    over half as many chips as the H100 and served less per chip; the verdict and compare judge both on 16
    (N chips of each), where the H200's bandwidth and memory serve more per chip than the H100's."""
    from roofline.analysis.compare import compare
    from roofline.serving.target import common_fleet, smallest_fleet

    model, wl = load_model("DeepSeek-R1"), Workload(weight_dtype="fp8")
    h200 = load_chip("H200")
    assert smallest_fleet(h200, model, wl) == 8 and smallest_fleet(H100, model, wl) == 16
    assert common_fleet([h200, H100], model, wl) == 16
    alone = verdict_point(h200, model, wl)
    judged = verdict_point(h200, model, wl, min_chips=16)
    assert alone.num_chips == 8 and judged.num_chips == 16
    assert judged.output_tokens_per_s_per_chip > alone.output_tokens_per_s_per_chip
    v = estimate(h200, model, Workload(weight_dtype="fp8"), mode="inference").verdict
    ref = verdict_point(H100, model, wl)
    assert v.serving_speedup == pytest.approx(judged.output_tokens_per_s_per_chip / ref.output_tokens_per_s_per_chip)
    assert v.serving_speedup > 1.0
    rows = {r.chip.name: r for r in compare(["H200", "H100"], model, tokens="1B").rows}
    assert {r.serving.point.layout.num_chips for r in rows.values()} == {16}
    seventy = [verdict_point(c, load_model("70B"), Workload(),
                             min_chips=common_fleet([c, H100], load_model("70B"), Workload()))
               for c in (H20, h200)]
    assert [p.num_chips for p in seventy] == [8, 8]  # both hold 70B on one server: unchanged


def test_sweep_best_defaults_to_the_in_flight_model_within_the_targets():
    r = run_cli("sweep", "--chips", "H20,H100,B200", "--models", "8B,70B", "--batch", "1:4096:x2", "--best",
                "--format", "json")
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)["rows"]
    assert len(rows) == 6
    for row in rows:
        assert row["ttft_s"] <= 2.0 and row["tpot_s"] <= 0.050, row
    static = run_cli("sweep", "--chips", "H20", "--models", "70B", "--batch", "1:4096:x2", "--best", "--engine",
                     "static", "--max-ttft-ms", "1e9", "--max-tpot-ms", "1e9", "--format", "json")
    assert max(r["ttft_s"] for r in json.loads(static.stdout)["rows"]) > 2.0  # the old default's choice


def test_labels_say_nvlink_and_the_sequence_cap():
    r = run_cli("estimate", "--chip", "B200", "--model", "70B", "--tp", "8", "--mode", "inference", "--ops")
    ops = r.output.split("Decode ops", 1)[1]
    assert "NVLink" in ops and " network" not in ops.split("Verdict")[0]
    j = json.loads(run_cli("estimate", "--chip", "B200", "--model", "70B", "--tp", "8", "--mode", "inference",
                           "--format", "json").stdout)
    assert any(op["bound"] == "scale-up" for op in j["inference"]["decode_ops"])
    r = run_cli("estimate", "--chip", "H100", "--model", "8B", "--mode", "inference", "--engine", "vllm",
                "--concurrency", "2000", "--num-requests", "2000", "--input-len", "128", "--output-len", "128")
    assert "sequence cap (max_num_seqs) is 1024" in r.output and "KV cache holds 1024" not in r.output


def test_estimate_labels_the_static_table():
    out = run_cli("estimate", "--chip", "H20", "--model", "8B", "--mode", "inference").output
    assert "Static batches: one lone batch" in out and "static batch" in out


def test_compare_takes_the_serving_options():
    r = run_cli("compare", "--chips", "H20", "--model", "8B", "--reference", "H100", "--tp", "2", "--engine",
                "vllm", "--kv-dtype", "fp8", "--concurrency", "32", "--max-ttft-ms", "1000", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["settings"]["engine"] == "vllm" and d["settings"]["kv_dtype"] == "fp8" and d["settings"]["tp"] == 2
    for c in d["chips"]:
        s = c["serving"]
        assert s["tp"] == 2 and s["within_targets"]["tp"] == 2 and s["within_targets"]["ttft_s"] <= 1.0
        assert s["at_concurrency"]["concurrency"] == 32
