"""The verdict, `roofline compare` and `roofline plot`: the H20 story as properties of the estimates.

The H20 has ~15 % of an H100's dense FLOP/s and ~1.19x its HBM bandwidth. Every check below follows
from those two ratios: batch-1 decode (memory-bound) is faster than the H100, prefill and training
(compute-bound) run near the FLOP ratio, and swapping one figure into a synthetic chip moves the verdict.
"""

import json
import os
import sys

import attrs
import pytest
from click.testing import CliRunner

from roofline.analysis.compare import compare
from roofline.analysis.economics import export_figures
from roofline.analysis.probes import half_link
from roofline.api import estimate
from roofline.cli import main
from roofline.loaders.chips import load_chip
from roofline.verdict import SUITS_THRESHOLD, suits
from roofline.workload import Workload

H20, H100 = load_chip("H20"), load_chip("H100")
#: Dense bf16 FLOP/s of the H20 over the H100's (148 / 989.4 = 0.15).
FLOP_RATIO = H20.peak("bf16") / H100.peak("bf16")
#: Compute-bound phases of the H20 run within this band of the FLOP ratio: not below 0.75x (the same
#: family's efficiencies apply to both chips), not above 1.6x (the H20 hides more of its memory-bound and
#: communication time behind its slower GEMMs, and the serving engine's fixed costs per step are the same
#: on both chips: 0.23x prefill and 0.20-0.21x training today).
BAND = (0.75 * FLOP_RATIO, 1.6 * FLOP_RATIO)


def run_cli(*args):
    return CliRunner().invoke(main, list(args))


@pytest.fixture(scope="module")
def h20_h100() -> dict:
    r = run_cli("compare", "--chips", "H20,H100", "--model", "70B", "--format", "json")
    assert r.exit_code == 0, r.output
    return {c["chip"]: c for c in json.loads(r.stdout)["chips"]}


def test_compare_tells_the_h20_story(h20_h100):
    """Alone, a request decodes faster on the H20 (memory-bound, 4.0 vs 3.35 TB/s); at the operating point a
    fleet is sized by, every step also carries other users' prompts, whose prefill is compute-bound, so
    the H20's serving speed-up falls between its FLOP ratio and 1, and the verdict follows the rule."""
    h20, h100 = h20_h100["H20"], h20_h100["H100-SXM"]
    v = h20["verdict"]
    assert v["reference_chip"] == "H100-SXM"
    assert v["decode_speedup"] > 1
    assert h20["serving"]["decode_bound"] == h100["serving"]["decode_bound"] == "memory"
    assert BAND[0] < v["prefill_speedup"] < BAND[1]
    assert BAND[0] < v["training_speedup"] < BAND[1]
    assert BAND[0] < v["serving_speedup"] < 1.0 and v["bounds"]["serving"]["this"] == "compute"
    assert v["serving_speedup"] == pytest.approx(h20["ratios"]["serving"])
    votes = ((v["per_dollar"]["serving_speedup"], v["per_dollar"]["training_speedup"]) if v["basis"] == "per dollar"
             else (v["serving_speedup"], v["training_speedup"]))
    assert v["suits"] == suits(*votes) and h100["verdict"]["suits"] == "both"
    assert h100["verdict"]["decode_speedup"] == h100["verdict"]["training_speedup"] == 1.0
    assert h100["verdict"]["serving_speedup"] == 1.0
    assert "compute-bound" in v["reason"] and "Serving keeps" in v["reason"]


def test_compare_figures_are_consistent(h20_h100):
    for c in h20_h100.values():
        s, t = c["serving"], c["training"]
        assert s["critical_intensity"] == pytest.approx(c["peak_flops_per_s"] / c["hbm_bytes_per_s"])
        best = s["within_targets"]
        assert best["tpot_s"] <= 0.050 and best["ttft_s"] <= 2.0
        assert best["output_tokens_per_s_per_chip"] >= s["decode_tokens_per_s_per_chip"]
        assert t["time_to_train_s"] == pytest.approx(t["train_tokens"] / (t["tokens_per_s_per_chip"] * t["num_chips"]))
        assert 1 <= t["fewest_chips"] <= t["num_chips"]
        effs = [p["efficiency"] for p in c["nvlink_scaling"]]
        assert effs[0] == 1.0 and all(0 < e <= 1.0 for e in effs)
        half = c["half_link"]
        for key in ("decode_batch1_tokens_per_s_per_chip", "decode_tokens_per_s_per_chip",
                    "training_tokens_per_s_per_chip"):
            assert half[key]["half_link"] <= half[key]["full_link"] * (1 + 1e-9)
        cost = c["efficiency_and_cost"]
        assert cost["training_tokens_per_joule"] == pytest.approx(t["tokens_per_s_per_chip"] / cost["tdp_w"])
    # The H20 turns compute-bound at a batch near its critical intensity (37 FLOP/B); the H100 never does
    # at 2,176 tokens of context (the KV-cache reads grow with the batch as fast as the FLOPs).
    assert 10 < h20_h100["H20"]["serving"]["compute_bound_batch"] < 100
    assert h20_h100["H100-SXM"]["serving"]["compute_bound_batch"] is None


def test_export_control_figures():
    h20 = export_figures(H20)
    assert h20.tpp == pytest.approx(2368) and h20.performance_density == pytest.approx(2368 / 814)
    assert h20.band == "below 3A090"
    assert export_figures(H100).band == "3A090.a" and export_figures(H100).performance_density > 19
    assert export_figures(attrs.evolve(H20, die_area_mm2=None)).band == "unknown (no die area)"


def test_price_per_hour_gives_dollars():
    c = compare(["H20"], "70B", price_per_hour=2.0, reference=H20)
    cost = c.rows[0].cost
    assert cost.price_source == "given"
    rate = c.rows[0].serving.point.layout.output_tokens_per_s_per_chip
    assert cost.usd_per_million_output_tokens == pytest.approx(2.0 / 3600 / rate * 1e6)
    t = c.rows[0].training.estimate
    assert cost.usd_per_training_run == pytest.approx(2.0 * t.workload.num_chips * t.time_to_train_s / 3600)


# ---- the verdict of `estimate`, as properties ------------------------------------------------------

def _verdict(chip, **kw):
    return estimate(chip, "70B", mode="both", reference=H100, **kw).verdict


def test_verdict_in_estimate_text_and_json():
    r = run_cli("estimate", "--chip", "H20", "--model", "70B", "--format", "json")
    v = json.loads(r.stdout)["verdict"]
    assert {"reference_chip", "decode_speedup", "prefill_speedup", "training_speedup", "suits", "reason",
            "serving_speedup", "slo", "confidence", "per_dollar"} <= set(v)
    assert v["slo"] == {"max_tpot_s": 0.05, "max_ttft_s": 2.0}
    assert set(v["confidence"]) == {"H20", "H100-SXM"} and v["confidence"]["H20"]["level"] == "high"
    d = v["per_dollar"]  # both profiles carry a price
    assert d["price_ratio"] == pytest.approx(H20.price_usd_per_hour / H100.price_usd_per_hour)
    assert d["serving_speedup"] == pytest.approx(v["serving_speedup"] / d["price_ratio"])
    assert "Rule: a chip suits serving" in run_cli("estimate", "--chip", "H20", "--model", "70B",
                                                   "--mode", "inference").output
    text = run_cli("estimate", "--chip", "H100", "--model", "70B", "--mode", "inference").output
    assert "Verdict   suits SERVING" in text  # training not estimated: it does not vote


def test_the_reference_against_itself_suits_both():
    v = _verdict(H100)
    assert v.decode_speedup == v.prefill_speedup == v.training_speedup == v.serving_speedup == 1.0
    assert v.suits == "both"


def test_the_verdict_follows_the_figures_not_the_name():
    """Synthetic chips, named neutrally: an H100 with the H20's bandwidth decodes faster still; an H20 with
    the H100's FLOP/s trains like it; an H20 with half its bandwidth suits nothing."""
    fast_hbm = attrs.evolve(H100, name="synthetic-a", hbm_bytes_per_s=H20.hbm_bytes_per_s)
    v = _verdict(fast_hbm)
    assert v.decode_speedup > 1.1 and v.serving_speedup >= 1.0 and v.training_speedup > SUITS_THRESHOLD
    assert v.suits == "both"
    strong = attrs.evolve(H20, name="synthetic-b", peak_flops_per_s=H100.peak_flops_per_s, price_usd_per_hour=None)
    v = _verdict(strong)
    assert v.training_speedup > 0.8 and v.prefill_speedup > 0.8 and v.serving_speedup > 0.8 and v.suits == "both"
    slow = attrs.evolve(H20, name="synthetic-c", hbm_bytes_per_s=H20.hbm_bytes_per_s / 2, price_usd_per_hour=None)
    v = _verdict(slow)
    assert v.decode_speedup < SUITS_THRESHOLD and v.serving_speedup < SUITS_THRESHOLD and v.suits == "neither"


def test_suits_rule():
    assert suits(1.2, 0.2) == "serving" and suits(0.5, 0.9) == "training"
    assert suits(0.8, 0.8) == "both" and suits(0.79, 0.1) == "neither"
    assert suits(None, 1.0, serving_voted=False) == "training"  # serving not estimated: it does not vote
    assert suits(None, 1.0) is None  # estimated but without a ratio: unknown, never "neither"


def test_the_h800_is_an_h100_with_a_slower_link():
    """The H800 profile is an H100 with 200 GB/s per direction of NVLink instead of 450: the math alone
    gives its decode step, and halving the H100's link (225 GB/s) lands between the two."""
    h800 = load_chip("H800")
    wl = Workload(tp=8, batch=64)

    def tpot(chip):
        return estimate(chip, "70B", wl, reference=None).inference.tpot_s

    assert tpot(attrs.evolve(H100, scale_up_bytes_per_s=h800.scale_up_bytes_per_s)) == pytest.approx(tpot(h800))
    assert tpot(H100) < tpot(half_link(H100)) < tpot(h800)


# ---- plots -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["roofline", "batch", "scaling"])
def test_each_plot_renders_png_and_svg(kind, tmp_path):
    pytest.importorskip("matplotlib")
    from roofline.render import plots

    options = {"scaling": {"counts": (1024, 4096)}}.get(kind, {})
    fig = {"roofline": plots.roofline_figure, "batch": plots.batch_figure,
           "scaling": plots.scaling_figure}[kind](["H20", "H100"], "70B", **options)
    png, svg = plots.save(fig, tmp_path / f"{kind}.png"), plots.save(fig, tmp_path / f"{kind}.svg")
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n") and png.stat().st_size > 10_000
    text = svg.read_text()
    assert "<svg" in text and text.rstrip().endswith("</svg>") and len(text) > 10_000
    assert sorted(os.listdir(tmp_path)) == sorted([png.name, svg.name])  # no temporary file left


def test_plot_command_writes_the_file(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "batch.svg"
    r = run_cli("plot", "batch", "--chips", "H20,H100", "--model", "70B", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert out.stat().st_size > 0 and "wrote" in r.output


def test_a_failed_write_leaves_nothing(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from roofline.render import plots

    fig = plots._figure(2, 2)
    monkeypatch.setattr(fig, "savefig", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        plots.save(fig, tmp_path / "x.png")
    assert os.listdir(tmp_path) == []


def test_missing_matplotlib_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    r = run_cli("plot", "roofline", "--chips", "H20", "--model", "70B", "-o", str(tmp_path / "x.png"))
    assert r.exit_code == 2 and "pip install 'roofline[plot]'" in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1 and not os.listdir(tmp_path)


@pytest.mark.parametrize("args, needle", [
    (["compare", "--chips", "H20,nope", "--model", "70B"], "nope"),
    (["compare", "--chips", "H20,,H100", "--model", "70B"], "empty name"),
    (["compare", "--chips", "H20,H20", "--model", "70B"], "listed twice"),
    (["compare", "--chips", "H20,H100", "--model", "70B", "--price-per-hour", "1,2,3"], "3 prices for 2 chips"),
    (["compare", "--chips", "H20", "--model", "70B", "--price-per-hour", "-1"], "positive"),
    (["compare", "--chips", "H20", "--model", "70B", "--max-tpot-ms", "0"], "--max-tpot-ms"),
    (["compare", "--chips", "H20", "--model", "70B", "--reference", "nope"], "--reference"),
    (["estimate", "--chip", "H20", "--model", "70B", "--reference", "nope"], "--reference"),
    (["plot", "pie", "--chips", "H20", "--model", "70B", "-o", "x.png"], "KIND"),
    (["plot", "batch", "--chips", "H20", "--model", "70B", "-o", "x.jpg"], ".png or .svg"),
    (["plot", "batch", "--chips", "H20", "--model", "70B", "-o", "/no/such/folder/x.png"], "does not exist"),
    (["plot", "scaling", "--chips", "H20", "--model", "70B", "-o", "x.png", "--counts", "0"], "--counts"),
])
def test_bad_input_is_one_line_exit_2(args, needle):
    r = run_cli(*args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("roofline: error:") and needle in lines[0], r.output
