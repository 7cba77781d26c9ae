"""Mixture-of-experts and multi-head latent attention models: counts by hand, KV cache, aliases, HF configs.

Every expected count below is written out from the config dimensions in the test itself (weights of
each projection, norm and router), never taken from the package.
"""

from __future__ import annotations

import json

import attrs
import pytest

from roofline.errors import RooflineError
from roofline.loaders.hf_config import fields_from_hf_config
from roofline.loaders.models import load_model, model_from_dict
from roofline.model import Model
from roofline.results.figures import ModelFigures

# ---------------------------------------------------------------------------------------------
# Parameter counts derived by hand


def test_mixtral_8x7b_counts():
    h, L, V, ffn = 4096, 32, 32000, 14336
    attn = h * 32 * 128 + 2 * h * 8 * 128 + 32 * 128 * h  # q, k, v, o (GQA 32/8 heads of 128)
    expert = 3 * h * ffn  # w1, w3 (gate, up) and w2 (down)
    router = h * 8
    norms = 2 * h
    embed_and_head = 2 * V * h  # untied
    total = embed_and_head + L * (attn + 8 * expert + router + norms) + h
    active = embed_and_head + L * (attn + 2 * expert + router + norms) + h
    assert (total, active) == (46_702_792_704, 12_879_925_248)
    m = load_model("Mixtral-8x7B")
    assert m.param_count() == total
    assert m.active_param_count() == active
    assert m.is_moe and not m.is_mla and (m.moe_layers, m.dense_layers) == (32, 0)


def test_deepseek_v3_counts_without_mtp():
    h, L, V, heads = 7168, 61, 129280, 128
    q_lora, kv_lora, nope, rope, v = 1536, 512, 128, 64, 128
    q = h * q_lora + q_lora + q_lora * heads * (nope + rope)  # q_a_proj, q_a_layernorm, q_b_proj
    kv = h * (kv_lora + rope) + kv_lora + kv_lora * heads * (nope + v)  # kv_a_proj_with_mqa, norm, kv_b_proj
    o = heads * v * h
    attn = q + kv + o
    norms = 2 * h
    dense_layer = attn + 3 * h * 18432 + norms  # first_k_dense_replace = 3 layers
    expert = 3 * h * 2048
    router = h * 256 + 256  # gate weight + e_score_correction_bias (noaux_tc)
    moe_layer = attn + 256 * expert + 1 * expert + router + norms  # 256 routed + 1 shared expert
    moe_active = attn + 8 * expert + 1 * expert + router + norms
    embed_and_head = 2 * V * h
    total = embed_and_head + 3 * dense_layer + 58 * moe_layer + h
    active = embed_and_head + 3 * dense_layer + 58 * moe_active + h
    assert (total, active) == (671_026_419_200, 37_552_297_472)
    for name in ("DeepSeek-V3", "DeepSeek-R1"):
        m = load_model(name)
        assert m.num_layers == L  # the 62nd (MTP) layer of the checkpoint is not part of the model
        assert m.param_count() == total
        assert m.active_param_count() == active
        assert m.is_moe and m.is_mla and (m.moe_layers, m.dense_layers) == (58, 3)


def test_qwen3_30b_a3b_counts():
    h, L, V = 2048, 48, 151936
    attn = h * 32 * 128 + 2 * h * 4 * 128 + 32 * 128 * h + 2 * 128  # head_dim 128 > h / heads; q_norm, k_norm
    expert = 3 * h * 768
    router = h * 128
    norms = 2 * h
    embed_and_head = 2 * V * h
    total = embed_and_head + L * (attn + 128 * expert + router + norms) + h
    active = embed_and_head + L * (attn + 8 * expert + router + norms) + h
    assert (total, active) == (30_532_122_624, 3_353_032_704)
    m = load_model("Qwen3-30B-A3B")
    assert (m.param_count(), m.active_param_count()) == (total, active)


def test_mixtral_8x22b_and_qwen3_235b_counts():
    h, L = 6144, 56
    attn = 2 * h * 48 * 128 + 2 * h * 8 * 128
    layer = attn + h * 8 + 2 * h
    expert = 3 * h * 16384
    m = load_model("Mixtral-8x22B")
    assert m.param_count() == 2 * 32000 * h + L * (layer + 8 * expert) + h
    assert m.active_param_count() == 2 * 32000 * h + L * (layer + 2 * expert) + h
    h, L = 4096, 94
    attn = 2 * h * 64 * 128 + 2 * h * 4 * 128 + 2 * 128
    layer = attn + h * 128 + 2 * h
    expert = 3 * h * 1536
    m = load_model("Qwen3-235B-A22B")
    assert m.param_count() == 2 * 151936 * h + L * (layer + 128 * expert) + h
    assert m.active_param_count() == 2 * 151936 * h + L * (layer + 8 * expert) + h


# Published totals are given to 3 significant figures, activated counts to 2 (and with varying
# conventions for the embedding table), hence the two tolerances.
@pytest.mark.parametrize("name", ["Mixtral-8x7B", "Mixtral-8x22B", "Qwen3-30B-A3B", "Qwen3-235B-A22B",
                                  "DeepSeek-V3", "DeepSeek-R1"])
def test_counts_agree_with_published(name):
    m = load_model(name)
    assert m.param_count() == pytest.approx(m.params_published, rel=0.005)
    assert m.active_param_count() == pytest.approx(m.params_active_published, rel=0.02)


def test_dense_models_are_unchanged():
    m = load_model("Llama-3.1-70B")
    assert m.active_param_count() == m.param_count() == 70_553_706_496
    assert not m.is_moe and not m.is_mla and (m.moe_layers, m.dense_layers) == (0, 80)
    d = ModelFigures(m, "bf16").to_dict()
    assert d["params_active"] == d["params_total"]
    assert d["num_experts"] == d["kv_lora_rank"] == 0


# ---------------------------------------------------------------------------------------------
# KV cache


def test_deepseek_v3_mla_kv_bytes():
    m = load_model("deepseek-v3")
    assert m.kv_bytes_per_token(2) == 61 * (512 + 64) * 2 == 70_272
    d = ModelFigures(m, "bf16").to_dict()
    assert d["kv_bytes_per_token"] == 70_272
    assert d["params_total"] == 671_026_419_200 and d["params_active"] == 37_552_297_472
    assert (d["num_experts"], d["experts_per_token"], d["shared_experts"], d["kv_lora_rank"]) == (256, 8, 1, 512)
    assert ModelFigures(m, "fp8").to_dict()["kv_bytes_per_token"] == 61 * 576


def test_gqa_moe_kv_bytes_as_dense():
    assert load_model("mixtral-8x7b").kv_bytes_per_token(2) == 2 * 8 * 128 * 32 * 2
    assert load_model("qwen3-235b-a22b").kv_bytes_per_token(1) == 2 * 4 * 128 * 94


# ---------------------------------------------------------------------------------------------
# Names


@pytest.mark.parametrize("alias, name", [
    ("mixtral-8x7b", "Mixtral-8x7B"), ("MIXTRAL-8X7B", "Mixtral-8x7B"),
    ("mistralai/Mixtral-8x7B-Instruct-v0.1", "Mixtral-8x7B"),
    ("mixtral-8x22b", "Mixtral-8x22B"), ("MistralAI/mixtral-8x22b-v0.1", "Mixtral-8x22B"),
    ("qwen3-30b-a3b", "Qwen3-30B-A3B"), ("Qwen/Qwen3-30B-A3B", "Qwen3-30B-A3B"),
    ("QWEN3-235B-A22B", "Qwen3-235B-A22B"), ("qwen/qwen3-235b-a22b", "Qwen3-235B-A22B"),
    ("deepseek-v3", "DeepSeek-V3"), ("deepseek-ai/DeepSeek-V3", "DeepSeek-V3"),
    ("DeepSeek-r1", "DeepSeek-R1"), ("DEEPSEEK-AI/DEEPSEEK-R1", "DeepSeek-R1"),
])
def test_aliases_resolve_case_insensitively(alias, name):
    assert load_model(alias).name == name


# ---------------------------------------------------------------------------------------------
# Hugging Face config.json for each new family

MIXTRAL_8X7B = {
    "architectures": ["MixtralForCausalLM"], "model_type": "mixtral", "hidden_size": 4096,
    "intermediate_size": 14336, "max_position_embeddings": 32768, "num_attention_heads": 32,
    "num_experts_per_tok": 2, "num_hidden_layers": 32, "num_key_value_heads": 8, "num_local_experts": 8,
    "rms_norm_eps": 1e-05, "rope_theta": 1e6, "sliding_window": None, "tie_word_embeddings": False,
    "vocab_size": 32000,
}
QWEN3_30B_A3B = {
    "architectures": ["Qwen3MoeForCausalLM"], "model_type": "qwen3_moe", "attention_bias": False,
    "decoder_sparse_step": 1, "head_dim": 128, "hidden_size": 2048, "intermediate_size": 6144,
    "max_position_embeddings": 40960, "mlp_only_layers": [], "moe_intermediate_size": 768,
    "num_attention_heads": 32, "num_experts": 128, "num_experts_per_tok": 8, "num_hidden_layers": 48,
    "num_key_value_heads": 4, "sliding_window": None, "tie_word_embeddings": False,
    "use_sliding_window": False, "vocab_size": 151936,
}
DEEPSEEK_V3 = {
    "architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "attention_bias": False,
    "first_k_dense_replace": 3, "hidden_size": 7168, "intermediate_size": 18432, "kv_lora_rank": 512,
    "max_position_embeddings": 163840, "moe_intermediate_size": 2048, "moe_layer_freq": 1,
    "n_routed_experts": 256, "n_shared_experts": 1, "num_attention_heads": 128, "num_experts_per_tok": 8,
    "num_hidden_layers": 61, "num_key_value_heads": 128, "num_nextn_predict_layers": 1, "q_lora_rank": 1536,
    "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "tie_word_embeddings": False, "topk_method": "noaux_tc",
    "v_head_dim": 128, "vocab_size": 129280,
}
# Qwen1.5-MoE-A2.7B: 60 experts of 1408, top 4, one shared expert of 5632 with a gate; 14.3B / 2.7B.
QWEN15_MOE = {
    "model_type": "qwen2_moe", "hidden_size": 2048, "intermediate_size": 5632, "max_position_embeddings": 8192,
    "moe_intermediate_size": 1408, "num_attention_heads": 16, "num_experts": 60, "num_experts_per_tok": 4,
    "num_hidden_layers": 24, "num_key_value_heads": 16, "shared_expert_intermediate_size": 5632,
    "decoder_sparse_step": 1, "mlp_only_layers": [], "tie_word_embeddings": False, "use_sliding_window": False,
    "vocab_size": 151936,
}
# DeepSeek-V2-Lite: MLA without query compression, 64 experts of 1408, top 6, 2 shared, 1 dense layer; 15.7B.
DEEPSEEK_V2_LITE = {
    "model_type": "deepseek_v2", "attention_bias": False, "first_k_dense_replace": 1, "hidden_size": 2048,
    "intermediate_size": 10944, "kv_lora_rank": 512, "max_position_embeddings": 163840,
    "moe_intermediate_size": 1408, "moe_layer_freq": 1, "n_routed_experts": 64, "n_shared_experts": 2,
    "num_attention_heads": 16, "num_experts_per_tok": 6, "num_hidden_layers": 27, "num_key_value_heads": 16,
    "q_lora_rank": None, "qk_nope_head_dim": 128, "qk_rope_head_dim": 64, "tie_word_embeddings": False,
    "topk_method": "greedy", "v_head_dim": 128, "vocab_size": 102400,
}

#: Not the architecture: names, sources, published counts, and the formats its published checkpoints declare
#: (these hand-written configs carry no quantization_config).
SHAPE_ONLY = {"name", "aliases", "family", "source", "params_published", "params_active_published", "checkpoint_kv",
              "checkpoint_dtype", "checkpoint_format"}


def write_config(tmp_path, cfg):
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    return tmp_path


def shape(model: Model) -> dict:
    return {k: v for k, v in attrs.asdict(model).items() if k not in SHAPE_ONLY}


@pytest.mark.parametrize("cfg, profile", [(MIXTRAL_8X7B, "Mixtral-8x7B"), (QWEN3_30B_A3B, "Qwen3-30B-A3B"),
                                          (DEEPSEEK_V3, "DeepSeek-V3")])
def test_hf_config_matches_profile(tmp_path, cfg, profile):
    m = load_model(write_config(tmp_path, cfg))
    assert m.family == cfg["model_type"]
    assert shape(m) == shape(load_model(profile))


def test_hf_qwen2_moe_shared_expert_and_gate(tmp_path):
    m = load_model(write_config(tmp_path, QWEN15_MOE))
    assert (m.shared_experts, m.shared_expert_intermediate_size, m.shared_expert_gate) == (1, 5632, True)
    assert (m.qkv_bias, m.o_bias, m.qk_norm) == (True, False, False)
    h = 2048
    attn = 4 * h * h + 3 * h  # q, k, v, o of 16 x 128; biases on q, k, v
    expert = 3 * h * 1408
    shared = 3 * h * 5632 + h  # shared expert and its hidden -> 1 gate
    base = attn + shared + h * 60 + 2 * h
    total = 2 * 151936 * h + 24 * (base + 60 * expert) + h
    active = 2 * 151936 * h + 24 * (base + 4 * expert) + h
    assert (m.param_count(), m.active_param_count()) == (total, active) == (14_315_784_192, 2_689_173_504)


def test_hf_deepseek_v2_without_query_compression(tmp_path):
    m = load_model(write_config(tmp_path, DEEPSEEK_V2_LITE))
    assert (m.q_lora_rank, m.router_bias, m.head_dim, m.num_kv_heads) == (0, False, 192, 16)
    h, heads = 2048, 16
    attn = h * heads * 192 + h * (512 + 64) + 512 + 512 * heads * (128 + 128) + heads * 128 * h
    dense = attn + 3 * h * 10944 + 2 * h
    expert = 3 * h * 1408
    base = attn + 2 * expert + h * 64 + 2 * h  # two shared experts, router without bias
    total = 2 * 102400 * h + dense + 26 * (base + 64 * expert) + h
    active = 2 * 102400 * h + dense + 26 * (base + 6 * expert) + h
    assert (m.param_count(), m.active_param_count()) == (total, active)
    assert m.param_count() == pytest.approx(15.7e9, rel=0.005)  # model card: 15.7B
    assert m.kv_bytes_per_token(2) == 27 * (512 + 64) * 2


def test_hf_moe_fields_follow_dense_fields():
    fields = fields_from_hf_config(DEEPSEEK_V3, "x")
    keys = list(fields)
    assert keys.index("sliding_window") < keys.index("num_experts") < keys.index("kv_lora_rank")
    assert "qk_norm" not in fields and fields_from_hf_config(QWEN3_30B_A3B, "x")["qk_norm"] is True
    assert fields["first_dense_layers"] == 3 and fields["router_bias"] is True


def test_hf_moe_layer_frequency(tmp_path):
    cfg = dict(DEEPSEEK_V2_LITE, num_hidden_layers=10, first_k_dense_replace=1, moe_layer_freq=2)
    m = load_model(write_config(tmp_path, cfg))
    assert (m.moe_layers, m.dense_layers) == (4, 6)  # MoE at layers 2, 4, 6, 8


def test_hf_mixtral_window_and_dense_keys_unchanged():
    assert fields_from_hf_config(dict(MIXTRAL_8X7B, sliding_window=4096), "x")["sliding_window"] == 4096
    no_window = dict(MIXTRAL_8X7B)
    del no_window["sliding_window"]
    assert fields_from_hf_config(no_window, "x")["sliding_window"] == 0


# ---------------------------------------------------------------------------------------------
# Bad values: one-line RooflineError naming the field


def one_line_error(fn, *words):
    with pytest.raises(RooflineError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)
    return message


@pytest.mark.parametrize("cfg, key", [
    (MIXTRAL_8X7B, "num_local_experts"), (MIXTRAL_8X7B, "num_experts_per_tok"),
    (QWEN3_30B_A3B, "moe_intermediate_size"), (QWEN3_30B_A3B, "num_experts"),
    (QWEN15_MOE, "shared_expert_intermediate_size"),
    (DEEPSEEK_V3, "kv_lora_rank"), (DEEPSEEK_V3, "n_routed_experts"), (DEEPSEEK_V3, "qk_rope_head_dim"),
    (DEEPSEEK_V3, "first_k_dense_replace"), (DEEPSEEK_V3, "v_head_dim"),
])
def test_hf_missing_key(cfg, key):
    bad = dict(cfg)
    del bad[key]
    one_line_error(lambda: fields_from_hf_config(bad, "x"), key, "missing")


@pytest.mark.parametrize("cfg, key, value", [
    (MIXTRAL_8X7B, "num_local_experts", 0), (QWEN3_30B_A3B, "num_experts_per_tok", 1.5),
    (DEEPSEEK_V3, "n_shared_experts", -1), (DEEPSEEK_V3, "q_lora_rank", "1536"),
    (DEEPSEEK_V3, "first_k_dense_replace", True),
])
def test_hf_bad_count(cfg, key, value):
    one_line_error(lambda: fields_from_hf_config(dict(cfg, **{key: value}), "x"), key)


def test_hf_refusals():
    one_line_error(lambda: fields_from_hf_config(dict(QWEN3_30B_A3B, decoder_sparse_step=2), "x"),
                   "decoder_sparse_step=2")
    one_line_error(lambda: fields_from_hf_config(dict(QWEN15_MOE, mlp_only_layers=[0]), "x"), "mlp_only_layers")
    one_line_error(lambda: fields_from_hf_config(dict(DEEPSEEK_V3, attention_bias=True), "x"), "attention_bias")


def test_hf_top_k_above_experts(tmp_path):
    path = write_config(tmp_path, dict(MIXTRAL_8X7B, num_experts_per_tok=9))
    one_line_error(lambda: load_model(path), "experts_per_token=9", "num_experts=8")


DENSE = dict(name="toy", num_layers=4, hidden_size=256, num_heads=4, num_kv_heads=4, intermediate_size=512,
             vocab_size=1000)
MOE = dict(DENSE, num_experts=4, experts_per_token=2, moe_intermediate_size=128)
MLA = dict(DENSE, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16)


@pytest.mark.parametrize("fields, words", [
    (dict(MOE, experts_per_token=5), ["experts_per_token=5", "num_experts=4"]),
    (dict(MOE, experts_per_token=0), ["experts_per_token=0"]),
    (dict(MOE, moe_intermediate_size=0), ["moe_intermediate_size=0"]),
    (dict(MOE, first_dense_layers=4), ["first_dense_layers=4", "no MoE layer"]),
    (dict(MOE, moe_layer_freq=0), ["moe_layer_freq=0"]),
    (dict(MOE, shared_expert_intermediate_size=256), ["shared_experts=0"]),
    (dict(DENSE, experts_per_token=2), ["experts_per_token=2", "num_experts=0"]),
    (dict(DENSE, router_bias=True), ["router_bias", "num_experts=0"]),
    (dict(MOE, num_experts=-4), ["num_experts=-4"]),
    (dict(MOE, num_experts=4.5), ["num_experts=4.5"]),
    (dict(MOE, num_experts=True), ["num_experts=True"]),
    (dict(DENSE, q_lora_rank=64), ["q_lora_rank=64", "kv_lora_rank=0"]),
    (dict(MLA, v_head_dim=0), ["v_head_dim"]),
    (dict(MLA, head_dim=64), ["head_dim=64", "24"]),
    (dict(MLA, num_kv_heads=2), ["num_kv_heads=2", "num_heads=4"]),
    (dict(MLA, qk_norm=True), ["qk_norm"]),
])
def test_bad_values_raise(fields, words):
    one_line_error(lambda: model_from_dict(fields, where="model file toy.toml"), "toy.toml", *words)
    kw = dict(fields)
    if "head_dim" not in kw:
        kw["head_dim"] = 24 if "kv_lora_rank" in kw else 64
    one_line_error(lambda: Model(**kw), "model toy", *words[:1])


def test_toml_mla_head_dim_defaults_to_nope_plus_rope():
    m = model_from_dict(MLA)
    assert (m.head_dim, m.num_kv_heads, m.kv_elements_per_token()) == (24, 4, 4 * (32 + 8))
    assert (model_from_dict(MOE).moe_layers, model_from_dict(dict(MOE, first_dense_layers=1, moe_layer_freq=2))
            .moe_layers) == (4, 1)  # 4 layers: MoE at 0..3; then only layer 2
