"""The formats a quantised checkpoint declares (roofline.loaders.hf_quant) and the default weight format they
give every serving command: each published config of tests/data/hf-configs against what its
quantization_config / hf_quant_config.json says, read by hand; the CLI, the API, the planners and the sweep
price the checkpoint's format unless --weight-dtype says otherwise; a checkpoint of mixed formats has no
default and says so."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from roofline import api
from roofline.checkpoint import checkpoint_weight_dtype
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.hf_quant import checkpoint_fields
from roofline.loaders.models import load_model
from roofline.workload import Workload
from tests.test_hf_families import CONFIGS, EXPECTED_REFUSALS, folders

#: folder -> (weight format, KV-cache format it declares), read from each file by hand; folders not listed
#: declare no quantisation (16-bit checkpoints).
DECLARED = {
    "MiniMaxAI--MiniMax-M2.5": ("fp8", None),  # quant_method fp8, e4m3 block 128x128
    "MiniMaxAI--MiniMax-M2.7": ("fp8", None),
    "Qwen--Qwen3-235B-A22B-FP8": ("fp8", None),
    "Qwen--Qwen3-30B-A3B-FP8": ("fp8", None),
    "Qwen--Qwen3-32B-FP8": ("fp8", None),
    "Qwen--Qwen3-32B-FP8-Static-PerTensor": ("fp8", "fp8"),  # ModelOpt FP8, kv_cache_quant_algo FP8
    "deepseek-ai--DeepSeek-R1": ("fp8", None),
    "deepseek-ai--DeepSeek-V3": ("fp8", None),
    "nvidia--DeepSeek-V3.1-NVFP4": ("fp4", "fp8"),  # hf_quant_config.json NVFP4, KV FP8
    "nvidia--Llama-3.1-70B-Instruct-FP8": ("fp8", "fp8"),
    "nvidia--MiniMax-M2.5-NVFP4": ("fp4", "fp8"),
    "nvidia--MiniMax-M2.7-NVFP4": ("fp4", "fp8"),
    "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4": ("fp4", "fp8"),
    "nvidia--NVIDIA-Nemotron-3-Ultra-550B-A55B-FP8": ("fp8", "fp8"),  # hf_quant_config.json FP8, KV FP8
    "nvidia--NVIDIA-Nemotron-3-Ultra-550B-A55B-NVFP4": ("fp4", "fp8"),
    "nvidia--Qwen3-235B-A22B-NVFP4": ("fp4", "fp8"),
    "nvidia--Qwen3.5-397B-A17B-NVFP4": ("fp4", "fp8"),
    "openai--gpt-oss-120b": ("fp4", None),  # quant_method mxfp4
    # ModelOpt MIXED_PRECISION: every MLP W4A16_NVFP4, every token mixer FP8 (mixer_dtype), KV FP8
    "nvidia--Qwen3.6-27B-NVFP4": ("int4", "fp8"),
    "nvidia--Qwen3.6-35B-A3B-NVFP4": ("int4", "fp8"),
    # MIXED_PRECISION: every MLP W4A16_NVFP4, every Mamba-2 mixer FP8, attention left 16-bit, KV FP8
    "nvidia--NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4": ("int4", "fp8"),
}
#: ModelOpt MIXED_PRECISION that is not one priced split (none in the shared set now).
MIXED: set[str] = set()
LOADABLE = [f for f in folders(CONFIGS) if f not in EXPECTED_REFUSALS]


@pytest.mark.parametrize("folder", LOADABLE)
def test_every_config_declares_what_its_files_say(folder):
    m = load_model(CONFIGS / folder)
    weight, kv = DECLARED.get(folder, (None, None))
    assert m.checkpoint_dtype == weight
    assert dict(m.checkpoint_kv).get(weight) == kv
    assert bool(m.checkpoint_format) == (folder in DECLARED or folder in MIXED)
    if folder in MIXED:
        assert "MIXED_PRECISION" in m.checkpoint_format
        with pytest.raises(RooflineError, match="pass --weight-dtype"):
            checkpoint_weight_dtype(m)
    else:
        assert checkpoint_weight_dtype(m) == (weight or "bf16")


@pytest.mark.parametrize(("q", "expected"), [
    ({"quant_method": "fp8", "fmt": "e4m3"}, "fp8"),
    ({"quant_method": "mxfp4"}, "fp4"),
    ({"quant_method": "modelopt", "quant_algo": "NVFP4"}, "fp4"),
    ({"quant_method": "awq", "bits": 4}, "int4"),
    ({"quant_method": "gptq", "bits": 8}, "int8"),
    ({"quant_method": "gptq", "bits": 3}, None),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True}, None),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int"}, "input_activations": None}}}, "int4"),
    ({"quant_method": "compressed-tensors",  # W8A8 integer: activations quantised too, not weight-only
      "config_groups": {"g": {"weights": {"num_bits": 8, "type": "int"},
                              "input_activations": {"num_bits": 8, "type": "int"}}}}, None),
    ({"quant_method": "compressed-tensors",  # two groups of different formats
      "config_groups": {"a": {"weights": {"num_bits": 8, "type": "float"}, "input_activations": {"type": "float"}},
                        "b": {"weights": {"num_bits": 4, "type": "float"}, "input_activations": None}}}, None),
    ({"quant_algo": "W4A16_NVFP4"}, "int4"),  # weight-only NVFP4: 4-bit stored, 16-bit compute
    ({"quant_method": "compressed-tensors",  # NVFP4 weights and activations: fp4 compute
      "config_groups": {"g": {"weights": {"num_bits": 4, "type": "float"},
                              "input_activations": {"num_bits": 4, "type": "float"}}}}, "fp4"),
    ({"quant_method": "compressed-tensors",  # FP8 weights, 16-bit activations: weight-only 8-bit
      "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"}, "input_activations": None}}}, "int8"),
])
def test_declared_formats_map_or_are_named(q, expected):
    """A format this tool prices maps to its name; any other is named in words with no dtype (never a
    substitute)."""
    out = checkpoint_fields({"quantization_config": q}, None)
    assert out.get("checkpoint_dtype") == expected
    assert out["checkpoint_format"].startswith("config.json quantization_config: ")


def test_hf_quant_config_is_the_description_read():
    """ModelOpt's hf_quant_config.json wins over the config's own quantization_config; its KV format is read."""
    out = checkpoint_fields({"quantization_config": {"quant_method": "fp8"}},
                            {"quantization": {"quant_algo": "NVFP4", "kv_cache_quant_algo": "FP8"}})
    assert out == {"checkpoint_format": "hf_quant_config.json: quant_algo NVFP4", "checkpoint_dtype": "fp4",
                   "checkpoint_kv": {"fp4": "fp8"}}
    assert checkpoint_fields({"torch_dtype": "bfloat16"}, None) == {}


def _run(*args):
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def _layout_weights(folder, *extra):
    code, out = _run("estimate", "--chip", "B200", "--model", str(CONFIGS / folder), "--mode", "inference",
                     "--format", "json", *extra)
    assert code == 0, out
    return json.loads(out)["inference"]["weight_dtype"]


def test_cli_default_is_the_checkpoint_format_and_the_option_wins():
    assert _layout_weights("deepseek-ai--DeepSeek-R1") == "fp8"
    assert _layout_weights("nvidia--Qwen3-235B-A22B-NVFP4") == "fp4"
    assert _layout_weights("Qwen--Qwen3-32B") == "bf16"
    assert _layout_weights("deepseek-ai--DeepSeek-R1", "--weight-dtype", "fp4") == "fp4"


def test_cli_text_says_what_the_checkpoint_declares():
    code, out = _run("estimate", "--chip", "B200", "--model", str(CONFIGS / "nvidia--Qwen3-235B-A22B-NVFP4"),
                     "--mode", "inference")
    assert code == 0, out
    assert ("checkpoint hf_quant_config.json: quant_algo NVFP4 (weights fp4, KV cache fp8, the default "
            "--weight-dtype)") in out
    assert "weights fp4 (computes in fp4)" in out


def test_mixed_checkpoint_without_weight_dtype_is_a_one_line_error(tmp_path):
    """Lightning's config with one Mamba-2 block's projections dropped from its quantized_layers list: not a
    split the estimate prices (every recurrent mixer, or every mixer, in one format)."""
    source = CONFIGS / "nvidia--NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4"
    quant = json.loads((source / "hf_quant_config.json").read_text())
    layers = quant["quantization"]["quantized_layers"]
    for name in ("backbone.layers.0.mixer.in_proj", "backbone.layers.0.mixer.out_proj"):
        del layers[name]
    (tmp_path / "config.json").write_text((source / "config.json").read_text())
    (tmp_path / "hf_quant_config.json").write_text(json.dumps(quant))
    folder = str(tmp_path)
    code, out = _run("estimate", "--chip", "B200", "--model", folder, "--mode", "inference")
    assert code == 2
    assert out.count("\n") == 1 and "Traceback" not in out
    assert "MIXED_PRECISION (FP8 covers 22 of the 29 blocks' token mixers" in out and "pass --weight-dtype" in out
    code, out = _run("estimate", "--chip", "B200", "--model", folder, "--mode", "inference", "--weight-dtype", "fp4")
    assert code == 0, out


def test_trtllm_takes_the_declared_kv_format():
    """TensorRT-LLM's kv_cache_dtype auto follows the checkpoint (profiles/engines.toml): an NVFP4 checkpoint
    declaring an FP8 KV cache is served with one; vLLM's auto stays 16-bit."""
    model = load_model(CONFIGS / "nvidia--Qwen3-235B-A22B-NVFP4")
    kv = {}
    for engine in ("trtllm", "vllm"):
        est = api.estimate("B200", model, serving={"engine": engine, "concurrency": 4, "num_requests": 8},
                           reference=None)
        kv[engine] = est.inference.workload.kv
    assert kv == {"trtllm": "fp8", "vllm": "bf16"}


@pytest.mark.parametrize("engine, kv", [("trtllm", "fp8"), ("vllm", "bf16")])
def test_every_command_reads_a_blank_kv_format_as_the_engine_does(engine, kv):
    """The lone batch (--engine without a client), the serving planner, compare and the sweep read a blank KV
    format as the estimate does: the engine's default for the checkpoint, never the 16-bit one silently."""
    model = load_model(CONFIGS / "nvidia--Qwen3-235B-A22B-NVFP4")
    assert api.estimate("B200", model, engine=engine, reference=None).inference.workload.kv == kv
    assert api.plan_serving("B200", model, num_chips=8, engine=engine, top=1).kv_dtype == kv
    compared = api.compare(["B200"], model, engine=engine, reference="B200", tokens="1B")
    assert dict(compared.settings)["kv_dtype"] == kv
    result = api.sweep("B200", model, batch=1, tp=8, engine=engine, use_numba=False)
    assert set(result["kv_dtype"]) == {kv}


def test_api_planners_and_sweep_default_to_the_checkpoint_format():
    model = load_model(CONFIGS / "deepseek-ai--DeepSeek-V3")
    assert api.estimate("B200", model, reference=None).inference.workload.weight_dtype == "fp8"
    explicit = api.estimate("B200", model, Workload(weight_dtype="fp4", tp=8), reference=None)
    assert explicit.inference.workload.weight_dtype == "fp4"
    plan = api.plan_serving("B200", model, num_chips=8, top=1)
    assert plan.weight_dtype == "fp8"
    result = api.sweep("B200", model, batch=1, tp=8, use_numba=False)
    assert set(result["weight_dtype"]) == {"fp8"}


def test_a_chip_without_the_format_runs_the_checkpoint_weight_only():
    """fp4 on Hopper and fp8 on Ampere run weight-only (int4 / int8: the bytes stored, 16-bit compute), as
    vLLM's Marlin kernels do and as validate prices such rows (roofline.workload.runs_as); a chip with the
    format runs it as stored."""
    gpt_oss = load_model(CONFIGS / "openai--gpt-oss-120b")
    qwen_fp8 = load_model(CONFIGS / "Qwen--Qwen3-32B-FP8")
    ran = {(chip, m.name): api.estimate(chip, m, mode="inference", reference=None).inference.workload.weight_dtype
           for chip in ("H100", "B200", "A100") for m in (gpt_oss, qwen_fp8) if not (chip == "A100" and m is gpt_oss)}
    assert ran == {("H100", gpt_oss.name): "int4", ("B200", gpt_oss.name): "fp4",
                   ("H100", qwen_fp8.name): "fp8", ("B200", qwen_fp8.name): "fp8", ("A100", qwen_fp8.name): "int8"}
    code, out = _run("estimate", "--chip", "H100", "--model", str(CONFIGS / "openai--gpt-oss-120b"),
                     "--mode", "inference")
    assert code == 0, out
    assert ("weights int4 (the fp4 checkpoint, weight-only: no fp4 compute; token mixers 16 bit; computes in "
            "bf16)") in out


def test_a_format_the_user_names_is_not_swapped():
    """Only the checkpoint's own format falls back: fp8 asked of a 16-bit profile on an A100 is refused."""
    code, out = _run("estimate", "--chip", "A100", "--model", "70B", "--mode", "inference", "--weight-dtype", "fp8")
    assert code == 2 and "needs fp8 compute" in out


def test_the_weight_only_run_keeps_the_checkpoints_kv_format():
    """An NVFP4 checkpoint declaring an FP8 KV cache, run weight-only on Hopper under TensorRT-LLM (whose
    kv_cache_dtype auto follows the checkpoint), keeps its FP8 cache (Model.declared_kv)."""
    model = load_model(CONFIGS / "nvidia--Qwen3-235B-A22B-NVFP4")
    est = api.estimate("H200", model, serving={"engine": "trtllm", "concurrency": 4, "num_requests": 8},
                       reference=None)
    assert (est.inference.workload.weight_dtype, est.inference.workload.kv) == ("int4", "fp8")


def test_compare_and_sweep_run_each_chip_its_own_way():
    model = load_model(CONFIGS / "openai--gpt-oss-120b")
    result = api.sweep("H100,B200", model, batch=1, tp=1, use_numba=False)
    assert dict(zip(result["chip"], result["weight_dtype"])) == {"H100-SXM": "int4", "B200": "fp4"}
    code, out = _run("compare", "--chips", "H100,B200", "--model", str(CONFIGS / "openai--gpt-oss-120b"),
                     "--format", "json")
    assert code == 0, out
    rows = {r["chip"]: r for r in json.loads(out)["chips"]}
    assert all(rows[c]["serving"] is not None for c in ("H100-SXM", "B200")), rows.keys()


def test_each_pool_of_a_mixed_fleet_runs_the_checkpoint_its_way():
    """H100 prefill (no fp4 compute: weight-only) and B200 decode (fp4) of the MXFP4 checkpoint."""
    from roofline.serving.disagg import Pool, estimate_disagg

    model = load_model(CONFIGS / "openai--gpt-oss-120b")
    h100, b200 = load_chip("H100"), load_chip("B200")
    dep = estimate_disagg(model, Pool(h100, tp=1), Pool(b200, tp=1), concurrency=4, num_requests=8,
                          use_numba=False)
    assert (dep.prefill.weight_dtype, dep.decode.weight_dtype) == ("int4", "fp4")
    plan = api.plan_serving(h100, model, num_chips=8, top=1)
    assert plan.weight_dtype == "int4"


def _released_folder(source: str) -> str | None:
    """The tests/data/hf-configs folder of the Hugging Face repository a profile's ``source`` names, or None."""
    if "huggingface.co/" not in source:
        return None
    repo = source.split("huggingface.co/", 1)[1].split("/blob/", 1)[0]
    return repo.replace("/", "--")


def test_a_profile_defaults_to_its_released_checkpoints_format():
    """A shipped profile names a released model (its ``source``); where that release's config.json is in
    tests/data/hf-configs, the profile's default weight format is what that file declares, so ``--model
    DeepSeek-R1`` and ``--model <its config.json>`` price the same checkpoint (fp8 there, bf16 for the
    16-bit releases)."""
    from roofline.loaders.models import MODELS

    checked = {}
    for name in MODELS.names():
        profile = load_model(name)
        folder = _released_folder(profile.source)
        if folder is None or folder not in LOADABLE:
            continue
        released = load_model(CONFIGS / folder)
        assert profile.checkpoint_dtype == released.checkpoint_dtype, name
        assert profile.mixer_dtype == released.mixer_dtype, name
        assert checkpoint_weight_dtype(profile) == checkpoint_weight_dtype(released), name
        if profile.checkpoint_dtype is not None:
            assert dict(profile.checkpoint_kv).get(profile.checkpoint_dtype, "bf16") == (
                dict(released.checkpoint_kv).get(released.checkpoint_dtype) or "bf16"), name
        checked[name] = profile.checkpoint_dtype
    assert {n: checked.get(n) for n in ("DeepSeek-R1", "DeepSeek-V3", "MiniMax-M2.5", "gpt-oss-120b")} == {
        "DeepSeek-R1": "fp8", "DeepSeek-V3": "fp8", "MiniMax-M2.5": "fp8", "gpt-oss-120b": "fp4"}
    assert checked.get("Qwen3-32B", "missing") is None  # a 16-bit release stays bf16


def test_the_profile_and_the_released_config_give_the_same_estimate():
    """Same checkpoint, same numbers: the DeepSeek-R1 profile on 8 H20 is its released FP8 config.json's."""
    a = api.estimate("H20", "DeepSeek-R1", reference=None).inference
    b = api.estimate("H20", CONFIGS / "deepseek-ai--DeepSeek-R1", reference=None).inference
    assert (a.workload.weight_dtype, a.workload.kv, a.workload.tp) == ("fp8", "bf16", 8)
    assert (a.ttft_s, a.tpot_s, a.max_batch) == (b.ttft_s, b.tpot_s, b.max_batch)
