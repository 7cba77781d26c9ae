"""Tests for roofline.hf_config: published config.json files mapped to profile fields.

Each fixture under tests/data/hf/<family>-<model>/config.json is a model's published config.json.
The parameter count is computed here, by hand, with the formula of the model-profile schema, and
compared with the model's known exact count (from its released weights).
"""

from __future__ import annotations

import copy
import json
import math
import tomllib
from pathlib import Path

import pytest

from roofline.errors import RooflineError
from roofline.loaders.hf_config import fields_from_hf_config

DATA = Path(__file__).parent / "data" / "hf"
PROFILES = Path(__file__).parent.parent / "profiles" / "models"

SCHEMA_KEYS = [
    "name", "aliases", "family", "source", "num_layers", "hidden_size", "num_heads", "num_kv_heads",
    "head_dim", "intermediate_size", "vocab_size", "gated_mlp", "norm", "qkv_bias", "o_bias",
    "mlp_bias", "tie_word_embeddings", "learned_pos_embeddings", "max_position_embeddings",
    "sliding_window",
]


def load(fixture: str) -> dict:
    return json.loads((DATA / fixture / "config.json").read_text())


def schema_param_count(m: dict) -> int:
    """The schema's parameter-count formula, written out independently of the package."""
    h, nh, nkv, hd = m["hidden_size"], m["num_heads"], m["num_kv_heads"], m["head_dim"]
    ffn, vocab = m["intermediate_size"], m["vocab_size"]
    norm = h if m["norm"] == "rms" else 2 * h
    embed = vocab * h + m["learned_pos_embeddings"] * h
    layer = h * (nh * hd) + 2 * h * (nkv * hd) + (nh * hd) * h
    if m["qkv_bias"]:
        layer += nh * hd + 2 * nkv * hd
    if m["o_bias"]:
        layer += h
    if m["gated_mlp"]:
        layer += 3 * h * ffn + ((2 * ffn + h) if m["mlp_bias"] else 0)
    else:
        layer += 2 * h * ffn + ((ffn + h) if m["mlp_bias"] else 0)
    layer += 2 * norm
    lm_head = 0 if m["tie_word_embeddings"] else vocab * h
    return embed + m["num_layers"] * layer + norm + lm_head


# fixture, expected fields (besides name/aliases/family/source), exact published parameter count.
CASES = [
    (
        "llama-Llama-2-7b-hf",
        dict(num_layers=32, hidden_size=4096, num_heads=32, num_kv_heads=32, head_dim=128,
             intermediate_size=11008, vocab_size=32000, gated_mlp=True, norm="rms", qkv_bias=False,
             o_bias=False, mlp_bias=False, tie_word_embeddings=False, learned_pos_embeddings=0,
             max_position_embeddings=4096, sliding_window=0),
        6_738_415_616,
    ),
    (
        "llama-Meta-Llama-3.1-8B",
        dict(num_layers=32, hidden_size=4096, num_heads=32, num_kv_heads=8, head_dim=128,
             intermediate_size=14336, vocab_size=128256, gated_mlp=True, norm="rms", qkv_bias=False,
             o_bias=False, mlp_bias=False, tie_word_embeddings=False, learned_pos_embeddings=0,
             max_position_embeddings=131072, sliding_window=0),
        8_030_261_248,
    ),
    (
        "mistral-Mistral-7B-v0.1",
        dict(num_layers=32, hidden_size=4096, num_heads=32, num_kv_heads=8, head_dim=128,
             intermediate_size=14336, vocab_size=32000, gated_mlp=True, norm="rms", qkv_bias=False,
             o_bias=False, mlp_bias=False, tie_word_embeddings=False, learned_pos_embeddings=0,
             max_position_embeddings=32768, sliding_window=4096),
        7_241_732_096,
    ),
    (
        "qwen2-Qwen2.5-7B",
        # sliding_window=131072 in the file, but use_sliding_window=false -> full attention.
        dict(num_layers=28, hidden_size=3584, num_heads=28, num_kv_heads=4, head_dim=128,
             intermediate_size=18944, vocab_size=152064, gated_mlp=True, norm="rms", qkv_bias=True,
             o_bias=False, mlp_bias=False, tie_word_embeddings=False, learned_pos_embeddings=0,
             max_position_embeddings=131072, sliding_window=0),
        7_615_616_512,  # model card: 7.61B
    ),
    (
        "gpt2-gpt2",
        dict(num_layers=12, hidden_size=768, num_heads=12, num_kv_heads=12, head_dim=64,
             intermediate_size=3072, vocab_size=50257, gated_mlp=False, norm="layer", qkv_bias=True,
             o_bias=True, mlp_bias=True, tie_word_embeddings=True, learned_pos_embeddings=1024,
             max_position_embeddings=1024, sliding_window=0),
        124_439_808,
    ),
    (
        "gpt_neox-pythia-160m",
        dict(num_layers=12, hidden_size=768, num_heads=12, num_kv_heads=12, head_dim=64,
             intermediate_size=3072, vocab_size=50304, gated_mlp=False, norm="layer", qkv_bias=True,
             o_bias=True, mlp_bias=True, tie_word_embeddings=False, learned_pos_embeddings=0,
             max_position_embeddings=2048, sliding_window=0),
        162_322_944,
    ),
    (
        "opt-opt-125m",
        dict(num_layers=12, hidden_size=768, num_heads=12, num_kv_heads=12, head_dim=64,
             intermediate_size=3072, vocab_size=50272, gated_mlp=False, norm="layer", qkv_bias=True,
             o_bias=True, mlp_bias=True, tie_word_embeddings=True, learned_pos_embeddings=2050,
             max_position_embeddings=2048, sliding_window=0),
        125_239_296,
    ),
]


@pytest.mark.parametrize("fixture, expected, params", CASES, ids=[c[0] for c in CASES])
def test_published_config_maps_to_expected_fields(fixture, expected, params):
    cfg = load(fixture)
    fields = fields_from_hf_config(cfg, fixture)
    assert list(fields) == SCHEMA_KEYS
    assert fields["name"] == fixture
    assert fields["aliases"] == ()
    assert fields["family"] == cfg["model_type"]
    assert fields["source"] == f"Hugging Face config.json: {fixture}"
    for key, value in expected.items():
        assert fields[key] == value, key
        assert type(fields[key]) is type(value), key
    assert schema_param_count(fields) == params


# Fixtures whose dimensions must equal those of a profile in profiles/models/.
PROFILE_MATCHES = [
    ("llama-Llama-2-7b-hf", "Llama-2-7B"),
    ("llama-Meta-Llama-3.1-8B", "Llama-3.1-8B"),
    ("mistral-Mistral-7B-v0.1", "Mistral-7B"),
    ("qwen2-Qwen2.5-7B", "Qwen2.5-7B"),
]


@pytest.mark.parametrize("fixture, profile", PROFILE_MATCHES)
def test_fixture_agrees_with_profile(fixture, profile):
    path = PROFILES / f"{profile}.toml"
    if not path.exists():
        pytest.skip(f"{path} not present")
    prof = tomllib.loads(path.read_text())
    fields = fields_from_hf_config(load(fixture), profile)
    for key in SCHEMA_KEYS[2:]:
        if key == "source":
            continue
        assert fields[key] == prof[key], key


# ---------------------------------------------------------------------------------------------
# Behaviour of individual flags


def test_head_dim_is_honoured_when_given():
    cfg = load("mistral-Mistral-7B-v0.1")
    cfg.update(hidden_size=5120, head_dim=128)  # Mistral-Nemo style: 32 * 128 != 5120
    fields = fields_from_hf_config(cfg, "nemo-like")
    assert fields["head_dim"] == 128
    assert fields["hidden_size"] == 5120


def test_null_head_dim_falls_back_to_hidden_over_heads():
    cfg = load("llama-Meta-Llama-3.1-8B")
    cfg["head_dim"] = None
    assert fields_from_hf_config(cfg, "x")["head_dim"] == 128


@pytest.mark.parametrize("value", ["absent", None])
def test_missing_or_null_kv_heads_means_no_gqa(value):
    cfg = load("llama-Llama-2-7b-hf")
    if value == "absent":
        del cfg["num_key_value_heads"]
    else:
        cfg["num_key_value_heads"] = value
    assert fields_from_hf_config(cfg, "x")["num_kv_heads"] == 32


@pytest.mark.parametrize(
    "fixture, default",
    [
        ("llama-Llama-2-7b-hf", False),
        ("mistral-Mistral-7B-v0.1", False),
        ("qwen2-Qwen2.5-7B", False),
        ("gpt2-gpt2", True),
        ("gpt_neox-pythia-160m", False),
        ("opt-opt-125m", True),
    ],
)
def test_tie_word_embeddings_family_default(fixture, default):
    cfg = load(fixture)
    cfg.pop("tie_word_embeddings", None)
    assert fields_from_hf_config(cfg, "x")["tie_word_embeddings"] is default


def test_qwen2_tied_small_model():
    cfg = load("qwen2-Qwen2.5-7B")
    cfg["tie_word_embeddings"] = True
    assert fields_from_hf_config(cfg, "x")["tie_word_embeddings"] is True


def test_llama_attention_and_mlp_bias_flags():
    cfg = load("llama-Meta-Llama-3.1-8B")
    cfg.update(attention_bias=True, mlp_bias=True)
    f = fields_from_hf_config(cfg, "x")
    assert (f["qkv_bias"], f["o_bias"], f["mlp_bias"]) == (True, True, True)
    base = schema_param_count(fields_from_hf_config(load("llama-Meta-Llama-3.1-8B"), "x"))
    # q (4096) + k, v (2 * 1024) + o (4096) + gate, up (2 * 14336) + down (4096), per layer.
    assert schema_param_count(f) - base == 32 * (4096 + 2048 + 4096 + 2 * 14336 + 4096)


def test_mistral_null_sliding_window_is_full_attention():
    cfg = load("mistral-Mistral-7B-v0.1")
    cfg["sliding_window"] = None  # as in Mistral-7B-v0.2 / v0.3
    assert fields_from_hf_config(cfg, "x")["sliding_window"] == 0


def test_qwen2_sliding_window_only_when_enabled():
    cfg = load("qwen2-Qwen2.5-7B")
    cfg.update(use_sliding_window=True, sliding_window=32768)
    assert fields_from_hf_config(cfg, "x")["sliding_window"] == 32768
    cfg["use_sliding_window"] = False
    assert fields_from_hf_config(cfg, "x")["sliding_window"] == 0


def test_gpt2_n_inner():
    cfg = load("gpt2-gpt2")
    cfg["n_inner"] = None
    assert fields_from_hf_config(cfg, "x")["intermediate_size"] == 3072
    cfg["n_inner"] = 2048
    assert fields_from_hf_config(cfg, "x")["intermediate_size"] == 2048


def test_gpt_neox_20b_count():
    cfg = load("gpt_neox-pythia-160m")
    cfg.update(hidden_size=6144, num_hidden_layers=44, num_attention_heads=64,
               intermediate_size=24576, vocab_size=50432)
    # EleutherAI/gpt-neox-20b: 20,554,567,680 parameters.
    assert schema_param_count(fields_from_hf_config(cfg, "x")) == 20_554_567_680


def test_opt_disabled_bias():
    cfg = load("opt-opt-125m")
    cfg["enable_bias"] = False
    f = fields_from_hf_config(cfg, "x")
    assert (f["qkv_bias"], f["o_bias"], f["mlp_bias"]) == (False, False, False)


def test_integral_float_is_accepted():
    cfg = load("llama-Llama-2-7b-hf")
    cfg["hidden_size"] = 4096.0
    f = fields_from_hf_config(cfg, "x")
    assert f["hidden_size"] == 4096 and type(f["hidden_size"]) is int


def test_input_is_not_modified():
    cfg = load("qwen2-Qwen2.5-7B")
    before = copy.deepcopy(cfg)
    fields_from_hf_config(cfg, "x")
    assert cfg == before


# ---------------------------------------------------------------------------------------------
# Bad input: RooflineError with a one-line message naming the field


def expect_error(cfg, *words):
    with pytest.raises(RooflineError) as info:
        fields_from_hf_config(cfg, "bad")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("config.json: ")
    for word in words:
        assert word in message, (word, message)
    return message


def test_unknown_model_type():
    cfg = load("llama-Llama-2-7b-hf")
    cfg["model_type"] = "bert"
    message = expect_error(cfg, "model_type", "'bert'")
    for family in ("gpt2", "gpt_neox", "llama", "mistral", "opt", "qwen2"):
        assert family in message


def test_missing_model_type():
    cfg = load("llama-Llama-2-7b-hf")
    del cfg["model_type"]
    expect_error(cfg, "model_type")


def test_unhashable_model_type():
    cfg = load("llama-Llama-2-7b-hf")
    cfg["model_type"] = ["llama"]
    expect_error(cfg, "model_type")


def test_not_a_dict():
    expect_error([1, 2], "JSON object")


@pytest.mark.parametrize(
    "fixture, key",
    [
        ("llama-Llama-2-7b-hf", "hidden_size"),
        ("llama-Llama-2-7b-hf", "num_hidden_layers"),
        ("llama-Llama-2-7b-hf", "intermediate_size"),
        ("mistral-Mistral-7B-v0.1", "vocab_size"),
        ("qwen2-Qwen2.5-7B", "num_attention_heads"),
        ("qwen2-Qwen2.5-7B", "max_position_embeddings"),
        ("gpt2-gpt2", "n_embd"),
        ("gpt2-gpt2", "n_positions"),
        ("gpt_neox-pythia-160m", "intermediate_size"),
        ("opt-opt-125m", "ffn_dim"),
    ],
)
def test_missing_required_key(fixture, key):
    cfg = load(fixture)
    del cfg[key]
    expect_error(cfg, key, "missing")


BAD_COUNTS = [0, -1, True, False, math.nan, math.inf, 4096.5, "4096", None, [4096]]


@pytest.mark.parametrize("value", BAD_COUNTS, ids=repr)
@pytest.mark.parametrize(
    "fixture, key",
    [
        ("llama-Llama-2-7b-hf", "num_attention_heads"),
        ("llama-Meta-Llama-3.1-8B", "num_key_value_heads"),
        ("mistral-Mistral-7B-v0.1", "hidden_size"),
        ("gpt2-gpt2", "n_layer"),
        ("opt-opt-125m", "vocab_size"),
    ],
)
def test_bad_count(fixture, key, value):
    cfg = load(fixture)
    cfg[key] = value
    if key == "num_key_value_heads" and value is None:
        # null num_key_value_heads is valid: no GQA.
        assert fields_from_hf_config(cfg, "x")["num_kv_heads"] == cfg["num_attention_heads"]
        return
    expect_error(cfg, key)


@pytest.mark.parametrize("value", [0, -4096, True, math.nan, 1.5, "4096"], ids=repr)
def test_bad_head_dim(value):
    cfg = load("llama-Meta-Llama-3.1-8B")
    cfg["head_dim"] = value
    expect_error(cfg, "head_dim")


def test_bad_sliding_window():
    cfg = load("mistral-Mistral-7B-v0.1")
    cfg["sliding_window"] = -1
    expect_error(cfg, "sliding_window", "-1")


def test_heads_not_divisible_by_kv_heads():
    cfg = load("llama-Meta-Llama-3.1-8B")
    cfg["num_key_value_heads"] = 6
    expect_error(cfg, "num_attention_heads=32", "num_key_value_heads=6")


@pytest.mark.parametrize("fixture, hidden_key, heads_key",
                         [("llama-Llama-2-7b-hf", "hidden_size", "num_attention_heads"),
                          ("gpt2-gpt2", "n_embd", "n_head")])
def test_hidden_not_divisible_by_heads(fixture, hidden_key, heads_key):
    cfg = load(fixture)
    cfg.pop("num_key_value_heads", None)  # absent -> = heads, so only the hidden/heads check can fail
    cfg[heads_key] = 7
    expect_error(cfg, hidden_key, f"{heads_key}=7")


def test_opt_word_embed_projection_is_rejected():
    cfg = load("opt-opt-125m")
    cfg.update(hidden_size=1024, ffn_dim=4096, num_hidden_layers=24, num_attention_heads=16,
               word_embed_proj_dim=512, do_layer_norm_before=False)  # facebook/opt-350m
    expect_error(cfg, "word_embed_proj_dim=512")


@pytest.mark.parametrize("key", ["tie_word_embeddings", "attention_bias", "mlp_bias"])
def test_flag_must_be_boolean(key):
    cfg = load("llama-Llama-2-7b-hf")
    cfg[key] = "false"
    expect_error(cfg, key)


# ---- issue 17: dense qwen3 and mimo (configs copied from ../shared/data/hf-configs) ----------------------

@pytest.mark.parametrize("fixture, published", [
    # model cards, "Number of Parameters": huggingface.co/Qwen/Qwen3-0.6B "0.6B", Qwen3-1.7B "1.7B",
    # Qwen3-8B "8.2B", Qwen3-32B "32.8B" (one decimal: within half of its last digit)
    ("qwen3-Qwen3-0.6B", 0.6e9), ("qwen3-Qwen3-1.7B", 1.7e9), ("qwen3-Qwen3-8B", 8.2e9), ("qwen3-Qwen3-32B", 32.8e9),
])
def test_dense_qwen3_configs_load_with_the_published_parameter_counts(fixture, published):
    from roofline.loaders.models import load_model

    m = load_model(DATA / fixture / "config.json")
    assert m.family == "qwen3" and m.qk_norm and not m.qkv_bias and not m.o_bias
    assert abs(m.param_count() - published) <= 0.05e9


def test_qwen3_matches_its_profile_and_honours_attention_bias():
    from roofline.loaders.models import load_model

    assert load_model(DATA / "qwen3-Qwen3-32B" / "config.json").param_count() == load_model("Qwen3-32B").param_count()
    cfg = load("qwen3-Qwen3-8B")
    cfg["attention_bias"] = True
    fields = fields_from_hf_config(cfg, "biased")
    assert fields["qkv_bias"] and fields["o_bias"] and fields["qk_norm"]
    cfg["use_sliding_window"], cfg["sliding_window"] = True, 4096
    assert fields_from_hf_config(cfg, "windowed")["sliding_window"] == 4096


def test_mimo_is_qwen2_attention_without_its_prediction_layers():
    cfg = load("mimo-MiMo-7B-Base")
    fields = fields_from_hf_config(cfg, "MiMo-7B")
    assert fields["qkv_bias"] and not fields["o_bias"] and fields["family"] == "mimo"
    assert fields["sliding_window"] == 0  # use_sliding_window false
    cfg["attention_bias"] = False
    expect_error(cfg, "attention_bias")
