"""The training side of the command line: JSON keys, token budgets, --days, modes, `plan`, bad input."""

import json
import math
import subprocess
import sys

import pytest
from click.testing import CliRunner

import roofline.training.planner
from roofline.api import estimate
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.loaders.chips import CHIPS
from roofline.loaders.models import MODELS
from roofline.quantity import parse_count
from roofline.workload import TrainingWorkload, Workload

KEYS = {"num_chips", "tp", "pp", "dp", "cp", "micro_batch", "global_batch", "seq_len", "recompute", "zero", "dtype",
        "fits", "memory_per_chip_bytes", "step_time_s", "tokens_per_s", "tokens_per_s_per_chip", "mfu", "hfu",
        "model_tflops_per_chip", "train_tokens", "time_to_train_s", "breakdown"}
BREAKDOWN = {"compute", "tp_comm", "pp_bubble", "pp_comm", "dp_comm", "cp_comm", "optimizer"}
#: A complete layout of 1,024 chips for Llama-3.1-70B: no planner, one plain-Python kernel call.
LAYOUT = ["--tp", "8", "--pp", "4", "--dp", "32", "--micro-batch", "1", "--recompute", "selective", "--zero", "1",
          "--virtual-pp", "1"]


def run_cli(*args):
    return CliRunner().invoke(main, list(args))


def run_json(*args) -> dict:
    r = run_cli(*args, "--format", "json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_training_json_has_every_key_and_the_breakdown_sums_to_the_step():
    d = run_json("estimate", "--chip", "H20", "--model", "70B", "--mode", "training")
    assert "inference" not in d
    t = d["training"]
    assert KEYS <= set(t)
    assert set(t["breakdown"]) == BREAKDOWN
    assert math.isclose(sum(t["breakdown"].values()), t["step_time_s"], rel_tol=1e-9)
    assert t["fits"] is True and t["num_chips"] == 1024 == t["tp"] * t["pp"] * t["dp"] * t["cp"]
    assert t["train_tokens"] == 15e12 and "chips_needed" not in t
    assert t["tokens_per_s"] == pytest.approx(t["global_batch"] * t["seq_len"] / t["step_time_s"])
    assert t["time_to_train_s"] == pytest.approx(t["train_tokens"] / t["tokens_per_s"])


#: Valid on every chip and model (tp=1, pp=1): a complete layout is priced once, without the planner.
PURE_DP = ["--tp", "1", "--pp", "1", "--dp", "1024", "--micro-batch", "1", "--recompute", "full", "--zero", "3",
           "--virtual-pp", "1"]


@pytest.mark.parametrize("chip, model", [(c, "8B") for c in CHIPS.names()] + [("H200", m) for m in MODELS.names()])
def test_every_profile_trains(chip, model):
    """Every profile trains, layer mixes included (sliding-window and sparse attention:
    tests/test_training_mix.py; recurrent mixers: tests/test_hybrid_training.py)."""
    args = ("estimate", "--chip", chip, "--model", model, "--mode", "training", *PURE_DP)
    t = run_json(*args)["training"]
    assert KEYS <= set(t) and t["step_time_s"] > 0 and 0 < t["mfu"] <= t["hfu"] < 1


def test_a_complete_layout_is_kept():
    t = run_json("estimate", "--chip", "H100", "--model", "70B", "--mode", "training", *LAYOUT, "--global-batch",
                 "512", "--seq-len", "8192", "--dtype", "fp8")["training"]
    assert (t["tp"], t["pp"], t["dp"], t["micro_batch"], t["recompute"], t["zero"]) == (8, 4, 32, 1, "selective", 1)
    assert (t["global_batch"], t["seq_len"], t["dtype"]) == (512, 8192, "fp8")


@pytest.mark.parametrize("tokens, expected", [("15T", 15e12), ("2e12", 2e12), ("1.5b", 1.5e9), ("300G", 300e9),
                                              ("4096", 4096.0)])
def test_token_budgets(tokens, expected):
    t = run_json("estimate", "--chip", "H100", "--model", "70B", "--mode", "training", *LAYOUT,
                 "--tokens", tokens)["training"]
    assert t["train_tokens"] == expected
    assert t["time_to_train_s"] == pytest.approx(expected / t["tokens_per_s"])


@pytest.mark.parametrize("text, expected", [("15T", 15e12), (" 15 t ", 15e12), ("2.5K", 2500.0), ("3M", 3e6),
                                            ("1_000", 1000.0), (7, 7.0), (1.5e9, 1.5e9)])
def test_parse_count(text, expected):
    assert parse_count(text, "tokens") == expected


@pytest.mark.parametrize("text", ["abc", "", "T", "15X", "nan", "inf", "1e999", True])
def test_parse_count_rejects(text):
    with pytest.raises(RooflineError, match="tokens="):
        parse_count(text, "tokens")


def test_days_adds_the_chips_that_finish_in_time():
    t = run_json("estimate", "--chip", "H100", "--model", "70B", "--mode", "training", *LAYOUT,
                 "--days", "30")["training"]
    chips = t["chips_needed"]
    assert chips % (t["tp"] * t["pp"] * t["cp"]) == 0
    days_with = t["train_tokens"] / (chips * t["tokens_per_s_per_chip"]) / 86400
    days_with_one_replica_less = t["train_tokens"] / ((chips - 32) * t["tokens_per_s_per_chip"]) / 86400
    assert days_with <= 30 < days_with_one_replica_less


def test_modes():
    both = run_json("estimate", "--chip", "H20", "--model", "70B")
    assert {"inference", "training"} <= set(both) and "training_note" not in both
    inf = run_json("estimate", "--chip", "H20", "--model", "70B", "--mode", "inference")
    assert "training" not in inf and inf["inference"] == both["inference"]
    # --tp/--pp apply to both halves in mode both
    shared = run_json("estimate", "--chip", "H100", "--model", "70B", "--tp", "4", "--pp", "2")
    assert (shared["inference"]["tp"], shared["inference"]["pp"]) == (4, 2)
    assert (shared["training"]["tp"], shared["training"]["pp"]) == (4, 2)


def test_mode_both_notes_a_default_training_that_cannot_be_made(monkeypatch):
    def nowhere(*_args, **_kwargs):
        raise RooflineError("model X does not fit on 1024 x H20 under any layout; use more chips")

    monkeypatch.setattr(roofline.training.planner, "plan_training", nowhere)
    d = run_json("estimate", "--chip", "H20", "--model", "70B")
    assert "inference" in d and "training" not in d and "does not fit" in d["training_note"]
    r = run_cli("estimate", "--chip", "H20", "--model", "70B")
    assert r.exit_code == 0 and "Training  not estimated: model X does not fit" in r.output
    for args in (["--mode", "training"], ["--num-chips", "512"]):
        r = run_cli("estimate", "--chip", "H20", "--model", "70B", *args)
        assert r.exit_code == 2 and "does not fit" in r.output, r.output


def test_library_modes_follow_the_arguments():
    assert estimate("H20", "70B", Workload(batch=2)).training is None
    e = estimate("H100", "70B", training=TrainingWorkload(tp=8, pp=4, dp=32, micro_batch=1, recompute="none",
                                                           zero=1, virtual_pp=1))
    assert e.inference is None and e.training.workload.dp == 32 and "inference" not in e.to_dict()
    with pytest.raises(RooflineError, match="mode="):
        estimate("H20", "70B", Workload(), mode="training")
    with pytest.raises(RooflineError, match="engine"):  # a serving engine asks for serving: not dropped silently
        estimate("H20", "70B", engine="vllm", mode="training")
    assert estimate("H20", "8B", engine="vllm", reference=None).training is None  # the engine implies inference
    with pytest.raises(RooflineError, match="max_tpot_s, price_per_hour: only the verdict uses them"):
        estimate("H20", "8B", reference=None, max_tpot_s=0.03, price_per_hour=2.0)


def test_training_text_shows_its_working():
    r = run_cli("estimate", "--chip", "H20", "--model", "70B", "--mode", "training", "--days", "90")
    assert r.exit_code == 0, r.output
    for needle in ("Training", "TP ", "PP ", "DP ", "CP ", "micro-batch", "global batch", "recompute", "ZeRO",
                   "virtual pp", "usable", "fits: yes", "% of step", "compute", "tp_comm", "pp_bubble", "pp_comm",
                   "dp_comm", "cp_comm", "optimizer", "tokens/s", "per chip", "MFU", "HFU", "TFLOP/s per chip",
                   "time to train 15T tokens", "days", "chips to train in 90 days", "Bound"):
        assert needle in r.output, needle
    assert "TTFT" not in r.output


def test_plan_json_returns_fitting_layouts_fastest_first():
    d = run_json("plan", "--chip", "H100", "--model", "405B", "--num-chips", "16384")
    p = d["plan"]
    layouts = p["layouts"]
    assert 1 <= len(layouts) <= 10 and p["candidates"] >= p["fitting"] >= len(layouts)
    assert all(t["fits"] and KEYS <= set(t) and t["num_chips"] == 16384 for t in layouts)
    steps = [t["step_time_s"] for t in layouts]
    assert steps == sorted(steps)
    assert d["training"] == layouts[0]
    assert isinstance(p["compiled"], bool) and p["search_s"] >= 0


def test_plan_keeps_fixed_choices_and_prints_a_table():
    r = run_cli("plan", "--chip", "H100", "--model", "70B", "--num-chips", "256", "--tp", "8", "--zero", "1",
                "--top", "3", "--days", "60")
    assert r.exit_code == 0, r.output
    for needle in ("rank", "recompute", "GB/chip", "tokens/s/chip", "MFU", "Searched", "candidate layouts", "fit",
                   "chips to train in 60 days"):
        assert needle in r.output, needle
    rows = [ln.split() for ln in r.output.splitlines() if ln[:1].isdigit()]
    assert len(rows) == 3 and all(row[1] == "8" and row[9] == "1" for row in rows)


@pytest.mark.parametrize("args, needles", [
    (["--mode", "training", "--num-chips", "1024", "--tp", "8", "--pp", "2", "--dp", "8"],
     ["num_chips=1024", "8x2x8x1", "--dp 64"]),
    (["--mode", "training", "--tp", "16"], ["tp=16", "scale-up domain", "--tp 8"]),
    (["--tp", "16"], ["training: tp=16", "scale-up domain", "--mode inference"]),
    (["--mode", "training", "--pp", "81"], ["pp=81", "80 layers"]),
    (["--mode", "training", "--tp", "8", "--pp", "1", "--dp", "128", "--micro-batch", "3", "--global-batch", "1000"],
     ["global_batch=1000", "dp x micro_batch", "384"]),
    (["--mode", "training", "--num-chips", "1", "--seq-len", "131072"], ["does not fit", "any layout", "GB"]),
    (["--mode", "training", "--tokens", "abc"], ["tokens='abc'", "15T"]),
    (["--mode", "training", "--tokens", "-3T"], ["tokens='-3T'", "positive"]),
    (["--mode", "training", "--days", "0"], ["--days", "days=0", "positive"]),
    (["--mode", "training", "--days", "nan"], ["--days", "positive"]),
    (["--mode", "training", "--concurrency", "4"], ["--concurrency", "inference only", "--mode both"]),
    (["--mode", "training", "--batch", "4", "--ops"], ["--batch, --ops", "inference only"]),
    (["--mode", "inference", "--dp", "4"], ["--dp", "training only"]),
    (["--mode", "training", "--zero", "4"], ["--zero", "4"]),
    (["--mode", "training", "--recompute", "some"], ["--recompute", "some"]),
    (["--mode", "training", "--dtype", "fp4"], ["--dtype", "fp4"]),
    (["--mode", "train"], ["--mode", "train"]),
    (["--mode", "training", "--ep", "8"], ["ep=8", "no experts", "ep=1"]),
])
def test_bad_training_input_is_one_line_exit_2(args, needles):
    r = run_cli("estimate", "--chip", "H100", "--model", "70B", *args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("roofline: error:"), r.output
    for n in needles:
        assert n in lines[0], n


#: A complete layout of 256 chips for Mixtral-8x7B, all but its expert parallelism.
MOE_LAYOUT = ["--chip", "H100", "--model", "mixtral-8x7b", "--num-chips", "256", "--tp", "1", "--pp", "1", "--dp",
              "256", "--micro-batch", "1", "--recompute", "none", "--zero", "1", "--virtual-pp", "1"]


def test_training_expert_parallelism_from_the_command_line():
    """--ep sets the training EP (experts over ep of the DP ranks): the MoE all-to-alls appear in the exposed
    collectives, the figures are the library's for that layout, and the text names it."""
    runs = {ep: run_json("estimate", "--mode", "training", *MOE_LAYOUT, "--ep", str(ep))["training"] for ep in (1, 8)}
    assert runs[1]["ep"] == 1 and runs[8]["ep"] == 8
    assert runs[1]["breakdown"]["tp_comm"] == 0 < runs[8]["breakdown"]["tp_comm"]  # tp 1: only the all-to-all
    lib = estimate("H100", "mixtral-8x7b", training=TrainingWorkload(num_chips=256, tp=1, pp=1, dp=256, micro_batch=1,
                                                                       recompute="none", zero=1, virtual_pp=1, ep=8))
    assert lib.training.step_time_s == pytest.approx(runs[8]["step_time_s"], rel=1e-12)
    text = run_cli("estimate", "--mode", "training", *MOE_LAYOUT, "--ep", "8").output
    assert "experts over EP 8 of the DP ranks" in text and "MoE all-to-alls over EP" in text
    # mode both: --ep applies to both halves, as --tp and --pp do
    both = run_json("estimate", *MOE_LAYOUT[:4], "--tp", "2", "--ep", "2")
    assert both["inference"]["ep"] == 2 and both["training"]["ep"] == 2
    bad = run_cli("estimate", "--mode", "training", *MOE_LAYOUT, "--ep", "3")
    assert bad.exit_code == 2 and "ep=3 does not divide dp=256" in bad.output and len(bad.output.splitlines()) == 1


@pytest.mark.parametrize("command, args, needles", [
    ("estimate", ["--mode", "training", "--ep", "3"], ["ep=3 does not divide the 8 experts", "Megatron-LM"]),
    ("estimate", ["--mode", "training", "--ep", "8", "--tp", "2"], ["ep=8 x tp=2 exceeds the 8 experts"]),
    ("plan", ["--num-chips", "12", "--ep", "8"], ["num_chips=12", "ep=8 dividing dp", "--ep"]),
    ("estimate", ["--mode", "training", "--num-chips", "12", "--ep", "8"], ["ep=8 dividing dp", "--ep"]),
])
def test_bad_training_ep_is_one_line_exit_2(command, args, needles):
    r = run_cli(command, "--chip", "H100", "--model", "mixtral-8x7b", *args)
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1 and r.output.startswith("roofline: error:"), r.output
    for n in needles:
        assert n in r.output, n


def test_plan_fixes_the_training_ep_and_its_details_command_reproduces_the_best():
    r = run_cli("plan", *MOE_LAYOUT[:6], "--ep", "4", "--top", "3")
    assert r.exit_code == 0, r.output
    rows = [ln.split() for ln in r.output.splitlines() if ln[:1].isdigit()]
    assert rows and all(row[5] == "4" for row in rows)
    best = run_json("plan", *MOE_LAYOUT[:6], "--ep", "4", "--top", "1")["training"]
    details = next(ln for ln in r.output.splitlines() if ln.startswith("Details of the best: "))
    args = details.removeprefix("Details of the best: roofline ").removesuffix(" (with --chip, --model)").split()
    assert "--ep" in args and args[args.index("--ep") + 1] == "4"
    again = run_json(*args, *MOE_LAYOUT[:4])["training"]
    assert again["ep"] == 4 and again["step_time_s"] == pytest.approx(best["step_time_s"], rel=1e-12)


def test_plan_bad_input_is_one_line_exit_2():
    r = run_cli("plan", "--chip", "H100", "--model", "405B", "--num-chips", "8")
    assert r.exit_code == 2 and "does not fit" in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_estimate_never_imports_numba():
    code = ("import sys\nfrom roofline.cli import main\n"
            "try:\n    main(['estimate', '--chip', 'H20', '--model', '70B', '--format', 'json'])\n"
            "except SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "assert 'numba' not in sys.modules, 'numba was imported'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '"training"' in done.stdout
