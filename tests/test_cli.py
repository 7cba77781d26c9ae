"""The command line: every profile runs, JSON has the promised keys, bad input is one line and exit 2."""

import json
import re

import pytest
from click.testing import CliRunner

from roofline.checkpoint import checkpoint_weight_dtype
from roofline.cli import main
from roofline.dtypes import BYTES
from roofline.loaders.chips import CHIPS, load_chip
from roofline.loaders.models import MODELS, load_model

INFERENCE_KEYS = {"tp", "pp", "num_chips", "batch", "input_len", "output_len", "weight_dtype", "kv_dtype", "fits",
                  "memory_per_chip_bytes", "max_batch", "ttft_s", "tpot_s", "output_tokens_per_s",
                  "output_tokens_per_s_per_chip", "prefill_bound", "decode_bound", "ideal"}


def run_cli(*args):
    """Through main() exactly as the console script does, capturing exit code."""
    runner = CliRunner()
    return runner.invoke(main, list(args))


@pytest.mark.parametrize("chip", CHIPS.names())
def test_every_chip_profile_estimates(chip):
    r = run_cli("estimate", "--chip", chip, "--model", "8B", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["chip"]["name"] == chip
    assert INFERENCE_KEYS <= set(d["inference"])
    assert d["inference"]["ttft_s"] > 0 and d["inference"]["tpot_s"] > 0


@pytest.mark.parametrize("model", MODELS.names())
def test_every_model_profile_estimates(model):
    """On one node of 8 H200 a model runs when its weights, in its checkpoint's format (16 bit unless the
    profile's release is quantised; 4-bit checkpoints counted at one byte, an upper bound), fit in the engine's
    share of the 8 chips' memory, and is refused naming the chips it needs otherwise (no profile lies near
    the boundary)."""
    r = run_cli("estimate", "--chip", "H200", "--model", model, "--format", "json")
    m, chip = load_model(model), load_chip("H200")
    share = m.param_count() * max(1.0, BYTES[checkpoint_weight_dtype(m)]) / (8 * chip.hbm_bytes * 0.9)
    assert not 0.9 < share < 1.1, share
    if share < 1:
        assert r.exit_code == 0, r.output
        d = json.loads(r.stdout)
        assert d["model"]["params_total"] >= d["model"]["params_active"] > 0
        assert set(d["inference"]["ideal"]) == {"ttft_s", "tpot_s", "output_tokens_per_s"}
    else:
        assert r.exit_code == 2 and "needs at least" in r.output, r.output


def test_json_values_are_consistent():
    d = json.loads(run_cli("estimate", "--chip", "H20", "--model", "70B", "--batch", "4", "--format", "json").stdout)
    inf = d["inference"]
    assert inf["output_tokens_per_s"] == pytest.approx(4 / inf["tpot_s"])
    assert inf["output_tokens_per_s_per_chip"] == pytest.approx(inf["output_tokens_per_s"] / inf["num_chips"])
    assert inf["num_chips"] == inf["tp"] * inf["pp"]
    assert d["chip"]["peak_flops_per_s"] == 148e12
    assert d["chip"]["hbm_bytes"] == 96e9 and d["chip"]["hbm_bytes_per_s"] == 4.0e12
    assert d["model"]["kv_bytes_per_token"] == 327_680


def test_text_output_shows_its_working():
    r = run_cli("estimate", "--chip", "H20", "--model", "70B", "--ops")
    assert r.exit_code == 0
    for needle in ("TTFT", "TPOT", "critical intensity", "largest batch that fits", "memory", "compute",
                   "Decode ops", "attention"):
        assert needle in r.output


def test_listings():
    r = run_cli("chips")
    assert r.exit_code == 0 and "H20" in r.output and "Ascend-910B" in r.output
    r = run_cli("models")
    assert r.exit_code == 0 and "Llama-3.1-70B" in r.output


@pytest.mark.parametrize("args, needles", [
    (["estimate", "--chip", "H2O", "--model", "70B"], ["chip", "H2O", "H20"]),
    (["estimate", "--chip", "H100", "--model", "lama-70b"], ["model", "lama-70b"]),
    (["estimate", "--chip", "H100", "--model", "70B", "--tp", "3"], ["tp=3", "64 attention heads", "try"]),
    (["estimate", "--chip", "A100", "--model", "8B", "--weight-dtype", "fp8"], ["fp8", "A100", "lacks"]),
    (["estimate", "--chip", "L40S", "--model", "405B", "--tp", "1"], ["does not fit", "needs at least"]),
    (["estimate", "--chip", "H20", "--model", "405B"], ["does not fit", "needs at least", "--pp"]),
    (["estimate", "--chip", "H100", "--model", "8B", "--batch", "0"], ["--batch", "0"]),
    (["estimate", "--chip", "H100", "--model", "8B", "--batch", "nan"], ["--batch", "nan"]),
    (["estimate", "--chip", "H100", "--model", "8B", "--pp", "33"], ["pp=33", "32 layers"]),
    (["estimate", "--chip", "H100", "--model", "8B", "--kv-dtype", "fp4"], ["--kv-dtype", "fp4"]),
    (["estimate", "--chip", "H100"], ["--model"]),
])
def test_bad_input_is_one_line_exit_2(args, needles):
    r = run_cli(*args)
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1, r.output
    assert "Traceback" not in r.output
    for n in needles:
        assert n in lines[0]


def test_user_chip_and_model_files(tmp_path):
    chip = tmp_path / "mychip.toml"
    chip.write_text("""
name = "MyChip"
[peak_flops_per_s]
bf16 = 500e12
[hbm]
bytes = 64e9
bytes_per_s = 2e12
[scale_up]
bytes_per_s = 200e9
domain_size = 4
[scale_out]
bytes_per_s = 25e9
""")
    r = run_cli("estimate", "--chip", str(chip), "--model", "tests/data/hf/llama-Llama-2-7b-hf", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["chip"]["name"] == "MyChip" and d["model"]["params_total"] == 6_738_415_616


@pytest.mark.parametrize("content, needle", [
    ("name = 'x'\n[peak_flops_per_s\n", "not valid TOML"),
    ("name = 'x'\n[hbm]\nbytes = 1e9\n", "peak_flops_per_s"),
    ("[peak_flops_per_s]\nbf16 = -1\n", "bf16"),
    ("[peak_flops_per_s]\nbf16 = nan\n", "bf16"),
    ("[peak_flops_per_s]\nbf16 = '148 TFLOPS'\n", "bf16"),
    ("[peak_flops_per_s]\nbf16 = 1e12\nfp7 = 1e12\n", "fp7"),
])
def test_bad_chip_files(tmp_path, content, needle):
    f = tmp_path / "bad.toml"
    f.write_text(content)
    r = run_cli("estimate", "--chip", str(f), "--model", "8B")
    assert r.exit_code == 2 and needle in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_bad_model_file(tmp_path):
    f = tmp_path / "config.json"
    f.write_text('{"model_type": "llama", "hidden_size": 4096')
    r = run_cli("estimate", "--chip", "H100", "--model", str(f))
    assert r.exit_code == 2 and "not valid JSON" in r.output


def test_a_request_beyond_the_models_context_is_priced_with_one_warning_line():
    """Issue 17 item 4: not an error (users probe long contexts on purpose), one line on stderr and a JSON flag."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-m", "roofline", "estimate", "--chip", "H100", "--model", "8B", "--mode",
                          "inference", "--input-len", "1000000", "--format", "json"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    inf = json.loads(run.stdout)["inference"]
    assert inf["context_exceeds_model"] is True and inf["context_tokens"] == 131072
    lines = [line for line in run.stderr.splitlines() if "context" in line]
    assert len(lines) == 1 and "131,072" in lines[0] and "Traceback" not in run.stderr
    within = subprocess.run([sys.executable, "-m", "roofline", "estimate", "--chip", "H100", "--model", "8B",
                             "--mode", "inference", "--input-len", "131000", "--output-len", "72", "--format", "json"],
                            capture_output=True, text=True)
    assert json.loads(within.stdout)["inference"]["context_exceeds_model"] is False and "context" not in within.stderr


@pytest.mark.parametrize(("chip", "model", "eight"), [("H100", "405B", "fp8"), ("A100", "405B", "int8")])
def test_a_model_that_does_not_fit_is_told_the_layouts_that_do(chip, model, eight):
    """The refusal names the fewest chips at its 16-bit weights and, when fewer, in 8 bits (fp8, or int8
    weight-only on a chip without fp8); both suggested layouts then run. With 8-bit weights given, no second
    suggestion."""
    r = run_cli("estimate", "--chip", chip, "--model", model, "--mode", "inference")
    found = re.search(r"needs at least (\d+) chips, e\.g\. --tp (\d+) --pp (\d+) \(or (\d+) with --weight-dtype "
                      + eight + r": --tp (\d+) --pp (\d+)\)$", r.output.strip())
    assert r.exit_code == 2 and found, r.output
    chips, tp, pp, fewer, tp8, pp8 = map(int, found.groups())
    assert fewer < chips == tp * pp and fewer == tp8 * pp8
    assert run_cli("estimate", "--chip", chip, "--model", model, "--mode", "inference", "--tp", str(tp),
                   "--pp", str(pp)).exit_code == 0
    assert run_cli("estimate", "--chip", chip, "--model", model, "--mode", "inference", "--weight-dtype", eight,
                   "--tp", str(tp8), "--pp", str(pp8)).exit_code == 0
    r = run_cli("estimate", "--chip", chip, "--model", model, "--mode", "inference", "--weight-dtype", eight,
                "--tp", "1")
    assert r.exit_code == 2 and "needs at least" in r.output and "with --weight-dtype" not in r.output


@pytest.mark.parametrize("chip, engine", [("B200", "vllm"), ("H100", "sglang"), ("MI300X", "generic")])
def test_the_expected_line_states_the_fractions_and_engine_costs_the_estimate_prices_at(chip, engine):
    """The text says what "expected" is priced at: the GEMM fraction times the serving share the family's
    fit gives, and the engine's costs; the JSON carries the same costs, and TTFT is the prefill's ops, the
    per-sequence cost of its one step and the per-request cost."""
    from roofline.loaders.efficiency import efficiency_for
    from roofline.loaders.engines import ENGINES

    text = run_cli("estimate", "--chip", chip, "--model", "8B", "--mode", "inference", "--engine", engine)
    assert text.exit_code == 0, text.output
    eff = efficiency_for(load_chip(chip), "bf16")
    assert (f"GEMM {eff.gemm_fraction:.0%} x {eff.serving_sustained_fraction:.0%} sustained in serving steps = "
            f"{eff.gemm_fraction * eff.serving_sustained_fraction:.0%}") in text.stdout
    costs = ENGINES[engine]
    assert f"the {engine} engine's costs: {costs.kernel_overhead_s * 1e6:.2f} µs per kernel" in text.stdout
    d = json.loads(run_cli("estimate", "--chip", chip, "--model", "8B", "--mode", "inference", "--engine", engine,
                           "--format", "json").stdout)["inference"]
    assert d["engine_costs"]["engine"] == engine
    assert d["engine_costs"]["request_overhead_s"] == pytest.approx(costs.request_overhead_s)
    assert d["engine_costs"]["seq_overhead_s"] == pytest.approx(costs.seq_overhead_s)
    prefill = sum(op["time_s"] for op in d["prefill_ops"]) + costs.seq_overhead_s * d["batch"]  # ops + per sequence
    assert d["ttft_s"] == pytest.approx(prefill + costs.request_overhead_s, rel=1e-9)


def test_the_engine_named_without_a_client_prices_the_lone_batch_and_a_typo_or_clash_is_refused():
    """``--engine`` alone (no --concurrency) is the lone-batch estimate's engine, not dropped for the generic
    one; the library refuses an unknown engine and two different ones rather than pricing with another."""
    import roofline
    from roofline.errors import RooflineError

    generic = json.loads(run_cli("estimate", "--chip", "H100", "--model", "8B", "--mode", "inference",
                                 "--format", "json").stdout)["inference"]
    vllm = json.loads(run_cli("estimate", "--chip", "H100", "--model", "8B", "--mode", "inference", "--engine",
                              "vllm", "--format", "json").stdout)["inference"]
    assert generic["engine_costs"]["engine"] == "generic" and vllm["engine_costs"]["engine"] == "vllm"
    assert vllm["ttft_s"] != generic["ttft_s"]
    for kwargs, field in ((dict(engine="vlm"), "engine='vlm'"),
                          (dict(engine="vllm", serving={"engine": "sglang", "concurrency": 4}), "named twice"),
                          (dict(serving={"engine": "vllm", "concurrency": 4}, disagg={"engine": "sglang"}),
                           "serving: 'vllm', disagg: 'sglang'")):
        with pytest.raises(RooflineError, match=field):
            roofline.estimate("H100", "8B", roofline.Workload(), reference=None, **kwargs)
