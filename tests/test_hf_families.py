"""The Hugging Face families with a layer mix (roofline.loaders.hf_families): every published config in
tests/data/hf-configs loads or is refused for a stated reason; parameter counts agree with the publishers'
figures; decode caches agree with counts derived by hand from the config numbers.

tests/data/hf-configs is a byte-for-byte copy of /work/shared/data/hf-configs (public config.json and
hf_quant_config.json files, via github.com/ai-dynamo/aiconfigurator, Apache-2.0; see its README.md).

SOURCE of tests/data/hf-configs-extra (families not in that folder), reconstructed from public configs:
- google--gemma-2-2b: huggingface.co/google/gemma-2-2b-it/blob/main/config.json (quoted in full in the
  stored reference code); gemma-2-9b / 27b: the same keys with the dimensions of the Gemma 2 report
  (arXiv 2408.00118, Table 1: d_model 3584 / 4608, 42 / 46 layers, 16 / 32 heads, 8 / 16 KV heads, head
  size 256 / 128, feedforward 14336x2 / 36864x2 gated, vocab 256,128 -> 256,000 in the HF release).
- google--gemma-3-*: huggingface.co/google/gemma-3-{1b,4b,27b}-it config.json (text_config: hidden 1152 /
  2560 / 5376, 26 / 34 / 62 layers, 4 / 8 / 32 heads, 1 / 4 / 16 KV heads, sliding_window 512 / 1024 /
  1024; keys the 4b/27b text_config omit take Gemma3TextConfig's defaults).
- microsoft--Phi-3-mini-4k-instruct: its config.json (quoted in the stored reference code: hidden 3072,
  8192, 32 layers, 32 heads, vocab 32064); sliding_window 2047 as in the published file.
  microsoft--Phi-4-mini-instruct: its config.json (hidden 3072, 24 heads, 8 KV heads, vocab 200064, tied).
- Qwen--Qwen3-Next-80B-A3B-Thinking: aiconfigurator model_configs/Qwen--Qwen3-Next-80B-A3B-Thinking_config.json.
- meta-llama--Llama-4-Maverick-17B-128E-Instruct: its config.json text_config (as Scout's, with 128 experts
  and interleave_moe_layer_step 2, use_qk_norm false).
- deepseek-ai--DeepSeek-V3.2-Exp: DeepSeek-V3's config with model_type deepseek_v32 and index_n_heads 64,
  index_head_dim 128, index_topk 2048 (huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp config.json).
- moonshotai--Kimi-K2-Instruct / Kimi-K2.5: aiconfigurator model_configs/moonshotai--Kimi-K2-*_config.json
  (61 layers, 64 heads, 384 experts, first_k_dense_replace 1, vocab 163840); K2.5 nests it under text_config
  (model_type deepseek_v3) beside its MoonViT vision_config.
- zai-org--GLM-4.5 / GLM-4.5-Air: huggingface.co/zai-org/GLM-4.5(-Air) config.json (Air quoted in the stored
  reference code; 4.5: 92 layers, 96 heads, 8 KV heads, 160 experts of 1536, use_qk_norm true).
- zai-org--GLM-5: huggingface.co/zai-org/GLM-5 config.json (model_type glm_moe_dsa: 78 layers, hidden
  6144, MLA q_lora 2048 / kv_lora 512 / nope 192 / rope 64 / v 256, DSA index_n_heads 32, index_head_dim 128,
  index_topk 2048, 256 experts of 2048 + 1 shared, first_k_dense_replace 3).
"""

from __future__ import annotations

import copy
import json
import tomllib
from pathlib import Path

import pytest

from roofline.errors import RooflineError
from roofline.loaders.hf_config import SUPPORTED_MODEL_TYPES, fields_from_hf_config
from roofline.loaders.hf_families import REFUSED
from roofline.loaders.models import load_model, model_from_dict

DATA = Path(__file__).parent / "data"
CONFIGS = DATA / "hf-configs"
EXTRA = DATA / "hf-configs-extra"
PROFILES = Path(__file__).parent.parent / "profiles" / "models"

#: folder -> part of the reason it is refused with.
EXPECTED_REFUSALS = {
    "MiniMaxAI--MiniMax-M3": "block-sparse attention (sparse_attention_config)",
    "nvidia--MiniMax-M3-NVFP4": "block-sparse attention (sparse_attention_config)",
    "deepseek-ai--DeepSeek-V4-Flash": "compressed sparse attention (compress_ratios)",
    "deepseek-ai--DeepSeek-V4-Pro": "compressed sparse attention (compress_ratios)",
    "nvidia--DeepSeek-V4-Flash-NVFP4": "compressed sparse attention (compress_ratios)",
    "nvidia--DeepSeek-V4-Pro-NVFP4": "compressed sparse attention (compress_ratios)",
    "sgl-project--DeepSeek-V4-Flash-FP8": "compressed sparse attention (compress_ratios)",
    "sgl-project--DeepSeek-V4-Pro-FP8": "compressed sparse attention (compress_ratios)",
    "nvidia--Gemma-4-31B-IT-NVFP4": "global_head_dim",
    "nvidia--Llama-3_3-Nemotron-Super-49B-v1": "block_configs",
}


def folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def config(folder: str) -> dict:
    root = EXTRA if (EXTRA / folder).is_dir() else CONFIGS
    return json.loads((root / folder / "config.json").read_text())


def model(folder: str):
    return load_model(EXTRA / folder if (EXTRA / folder).is_dir() else CONFIGS / folder)


@pytest.mark.parametrize("folder", folders(CONFIGS) + folders(EXTRA))
def test_every_config_loads_or_is_refused_for_its_reason(folder):
    path = (EXTRA if (EXTRA / folder).is_dir() else CONFIGS) / folder
    if folder in EXPECTED_REFUSALS:
        with pytest.raises(RooflineError) as info:
            load_model(path)
        assert EXPECTED_REFUSALS[folder] in str(info.value)
        assert "\n" not in str(info.value)
    else:
        m = load_model(path)
        assert m.param_count() >= m.active_param_count() > 0


def test_the_copy_holds_every_published_folder():
    assert len(folders(CONFIGS)) == 56
    assert set(EXPECTED_REFUSALS) <= set(folders(CONFIGS))


# ---- parameter counts against the publishers' figures -----------------------------------------------------
# (folder, published total, published active or None, rounding step of the published figures). A figure
# agrees when within 1 % or within half its rounding step ("80B" stands for 79.5-80.5B). Adjusted figures
# show their arithmetic. "emb" = vocab x hidden, one embedding table.
B = 1e9
PUBLISHED = [
    # https://arxiv.org/abs/2408.00118 (Gemma 2 report, Table 1): embedding 590,118,912 + non-embedding
    # 2,024,517,888; 9B: 917,962,752 + 8,324,201,984; 27B: 1,180,237,824 + 26,047,480,320.
    ("google--gemma-2-2b", 590_118_912 + 2_024_517_888, None, 1),
    ("google--gemma-2-9b", 917_962_752 + 8_324_201_984, None, 1),
    ("google--gemma-2-27b", 1_180_237_824 + 26_047_480_320, None, 1),
    # https://arxiv.org/abs/2503.19786 (Gemma 3 report, Table 1), vision encoder (417M) excluded: 1B 302M
    # embedding + 698M non-embedding; 4B 675M + 3,209M; 27B 1,416M + 25,600M.
    ("google--gemma-3-1b-it", (302 + 698) * 1e6, None, 1e6),
    ("google--gemma-3-4b-it", (675 + 3209) * 1e6, None, 1e6),
    ("google--gemma-3-27b-it", (1416 + 25600) * 1e6, None, 1e6),
    # https://huggingface.co/openai/gpt-oss-120b model card / https://arxiv.org/abs/2508.10925 Table 1:
    # "116.83B total", "5.13B active". OpenAI counts the unembedding but not the embedding table as active:
    # adjusted active = 5.13B + emb (201,088 x 2,880 = 0.579B) = 5.709B.
    ("openai--gpt-oss-120b", 116.83 * B, 5.13 * B + 201_088 * 2880, 0.01 * B),
    # https://huggingface.co/Qwen/Qwen3.5-397B-A17B: "397B in total and 17B activated" (vision encoder and MTP
    # layer included in 397B; the text model's 396.3B is within the rounding).
    ("Qwen--Qwen3.5-397B-A17B", 397 * B, 17 * B, 1 * B),
    ("nvidia--Qwen3.5-397B-A17B-NVFP4", 397 * B, 17 * B, 1 * B),
    # https://huggingface.co/Qwen/Qwen3.5-27B: "27B"; https://huggingface.co/Qwen/Qwen3.5-35B-A3B: "35B in total
    # and 3B activated" (the active figure is rounded too coarsely to test: 3.46B with embeddings).
    ("Qwen--Qwen3.5-27B", 27 * B, None, 1 * B),
    ("Qwen--Qwen3.5-35B-A3B", 35 * B, None, 1 * B),
    # https://huggingface.co/Qwen/Qwen3-Next-80B-A3B-Thinking: "80B in total and 3B activated" (active too
    # coarse: 3.88B with embeddings, 3.25B without).
    ("Qwen--Qwen3-Next-80B-A3B-Thinking", 80 * B, None, 1 * B),
    # https://huggingface.co/Qwen/Qwen3-32B: "32.8B"; Qwen3-VL-32B's text model has the same config numbers
    # (its vision tower is ignored), so the figure is Qwen3-32B's.
    ("Qwen--Qwen3-32B", 32.8 * B, None, 0.1 * B),
    ("Qwen--Qwen3-VL-32B-Instruct", 32.8 * B, None, 0.1 * B),
    # https://huggingface.co/Qwen/Qwen3-30B-A3B: "30.5B in total and 3.3B activated"; Qwen3-VL-30B-A3B's text
    # model has the same numbers. The active count here is 3.353B (1.6 % above 3.3B, just outside 3.25-3.35B;
    # 3.04B without the embedding table), so only the total is tested.
    ("Qwen--Qwen3-30B-A3B", 30.5 * B, None, 0.1 * B),
    ("Qwen--Qwen3-VL-30B-A3B-Instruct", 30.5 * B, None, 0.1 * B),
    # https://huggingface.co/Qwen/Qwen3-235B-A22B: "235B in total and 22B activated".
    ("Qwen--Qwen3-235B-A22B", 235 * B, 22 * B, 1 * B),
    # https://huggingface.co/nvidia/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16: "31.6B total parameters ... 3.6B
    # including embeddings" active.
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16", 31.6 * B, 3.6 * B, 0.1 * B),
    # https://huggingface.co/nvidia/Nemotron-H-56B-Base-8K (https://arxiv.org/abs/2504.03624): "56B".
    ("nvidia--Nemotron-H-56B-Base-8K", 56 * B, None, 1 * B),
    # https://huggingface.co/nvidia/NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16: "550B" total, "A55B" active (a
    # latent MoE: 512 experts of 2,048 -> 5,120 -> 2,048 in the latent; the count with the experts in the
    # hidden width would be 2,094B). The active figure is not tested: 56.06B with both embedding tables,
    # 54.99B without the input one, and the card does not say which it counts.
    ("nvidia--NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16", 550 * B, None, 1 * B),
    # https://ai.meta.com/blog/llama-4-multimodal-intelligence/: Maverick "17B active, 400B total"; Scout
    # "17B active, 109B total" (with the vision encoder: 34 layers x (4 x (1408^2 + 1408) + 2 x 1408 x 5632 +
    # 5632 + 1408 + 4 x 1408) = 0.810B plus patch/position embeddings and adapters ~0.06B: text model
    # 109B - 0.87B = 108.13B).
    ("meta-llama--Llama-4-Maverick-17B-128E-Instruct", 400 * B, 17 * B, 1 * B),
    ("meta-llama--Llama-4-Scout-17B-16E-Instruct", 109 * B - 0.87 * B, 17 * B, 1 * B),
    # https://huggingface.co/microsoft/Phi-3-mini-4k-instruct: "3.8B"; Phi-4-mini-instruct: "3.8B".
    ("microsoft--Phi-3-mini-4k-instruct", 3.8 * B, None, 0.1 * B),
    ("microsoft--Phi-4-mini-instruct", 3.8 * B, None, 0.1 * B),
    # https://huggingface.co/deepseek-ai/DeepSeek-V3: "671B of the Main Model weights and 14B of the Multi-Token
    # Prediction (MTP) Module weights". https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp: 685B with the
    # 14B MTP module and the indexers: text model 685B - 14B = 671B (the indexers add 0.85B, within rounding).
    ("deepseek-ai--DeepSeek-V3", 671 * B, None, 1 * B),
    ("deepseek-ai--DeepSeek-V3.2-Exp", 685 * B - 14 * B, None, 1 * B),
    # https://huggingface.co/moonshotai/Kimi-K2-Instruct: "32 billion activated parameters and 1 trillion total"
    # (total too coarse to test: 1.026T). Moonshot counts active without the embedding table (as OpenAI):
    # adjusted active = 32B + emb (163,840 x 7,168 = 1.174B) = 33.17B. Kimi-K2.5 is the same text model.
    ("moonshotai--Kimi-K2-Instruct", None, 32 * B + 163_840 * 7168, 1 * B),
    ("moonshotai--Kimi-K2.5", None, 32 * B + 163_840 * 7168, 1 * B),
    # https://huggingface.co/zai-org/GLM-4.5: "355 billion total parameters and 32 billion active parameters";
    # GLM-4.5-Air "106 billion total ... 12 billion active" (Air's active: 13.42B with embeddings, 12.18B
    # without, not within 1 %, so only its total is tested). Z.ai's active figures leave out the embedding
    # and the LM head: adjusted active = 32B + 2 x 151,552 x 5,120 = 33.55B.
    ("zai-org--GLM-4.5", 355 * B, 32 * B + 2 * 151_552 * 5120, 1 * B),
    ("zai-org--GLM-4.5-Air", 106 * B, None, 1 * B),
    # https://z.ai/blog/glm-5: "744B parameters (40B active)"; active without embedding and LM head as for
    # GLM-4.5: adjusted active = 40B + 2 x 154,880 x 6,144 = 41.90B.
    ("zai-org--GLM-5", 744 * B, 40 * B + 2 * 154_880 * 6144, 1 * B),
    # https://huggingface.co/MiniMaxAI/MiniMax-M2.5: "230B total parameters with 10B active" (active too
    # coarse: 11.03B with embeddings, 9.80B without).
    ("MiniMaxAI--MiniMax-M2.5", 230 * B, None, 1 * B),
    # https://mistral.ai/news/mixtral-of-experts: "46.7B total parameters but only uses 12.9B parameters per
    # token"; https://mistral.ai/news/mixtral-8x22b: "39B active parameters out of 141B".
    ("mistralai--Mixtral-8x7B-v0.1", 46.7 * B, 12.9 * B, 0.1 * B),
    ("mistralai--Mixtral-8x22B-v0.1", 141 * B, 39 * B, 1 * B),
    # https://ai.meta.com/blog/meta-llama-3-1/: "405B".
    ("meta-llama--Meta-Llama-3.1-405B", 405 * B, None, 1 * B),
]


def agrees(computed: float, published: float, step: float) -> bool:
    return abs(computed - published) <= max(0.01 * published, step / 2)


def test_at_least_25_configs_agree_within_1_percent_on_every_figure_tested():
    """The issue's gate, without the rounding allowance: a figure published as "17B" stands for 16.5-17.5B, so
    the test above accepts half a rounding step; at least 25 configs agree within 1 % on every figure anyway."""
    strict = [folder for folder, total, active, _ in PUBLISHED
              if all(abs(got - want) <= 0.01 * want for got, want in
                     ((model(folder).param_count(), total), (model(folder).active_param_count(), active))
                     if want is not None)]
    assert len(strict) >= 25, strict


@pytest.mark.parametrize(("folder", "total", "active", "step"), PUBLISHED)
def test_parameter_counts_match_the_published_figures(folder, total, active, step):
    m = model(folder)
    if total is not None:
        assert agrees(m.param_count(), total, step), (m.param_count(), total)
    if active is not None:
        assert agrees(m.active_param_count(), active, step), (m.active_param_count(), active)


def test_published_figures_cover_every_loading_family():
    families = {model(folder).family for folder, *_ in PUBLISHED}
    new = {"gpt_oss", "qwen3_5", "qwen3_5_moe", "qwen3_next", "qwen3_vl", "qwen3_vl_moe", "nemotron_h", "llama4",
           "gemma2", "gemma3", "gemma3_text", "phi3", "deepseek_v32", "kimi_k2", "kimi_k25", "glm4_moe",
           "glm_moe_dsa", "minimax_m2"}
    assert new <= families
    assert len(PUBLISHED) >= 25


# ---- decode caches by hand ------------------------------------------------------------------------------


def test_full_gqa_kv():
    c = config("Qwen--Qwen3-32B")  # 64 layers x K and V of 8 heads x 128
    m = model("Qwen--Qwen3-32B")
    assert m.kv_elements_per_token() == c["num_hidden_layers"] * 2 * c["num_key_value_heads"] * c["head_dim"] == 131072
    assert m.state_bytes_per_sequence() == 0


def test_sliding_window_kv():
    c = config("google--gemma-2-9b")  # 42 layers, every other one within 4,096 tokens
    m = model("google--gemma-2-9b")
    assert (m.swa_layers, m.sliding_window) == (21, 4096)
    assert m.kv_elements_per_token() == 42 * 2 * c["num_key_value_heads"] * c["head_dim"] == 172032


def test_sinks_add_no_cache():
    c = config("openai--gpt-oss-120b")
    m = model("openai--gpt-oss-120b")
    assert m.attention_sinks and (m.swa_layers, m.sliding_window) == (18, 128)
    assert m.kv_elements_per_token() == 36 * 2 * c["num_key_value_heads"] * c["head_dim"] == 36864


def test_sparse_dsa_kv():
    c = config("deepseek-ai--DeepSeek-V3.2-Exp")  # per layer: latent 512 + rope key 64 + indexer key 128
    m = model("deepseek-ai--DeepSeek-V3.2-Exp")
    per_layer = c["kv_lora_rank"] + c["qk_rope_head_dim"] + c["index_head_dim"]
    assert m.kv_elements_per_token() == 61 * per_layer == 42944
    assert (m.sparse_top_k, m.indexer_heads) == (2048, 64)


def test_gated_deltanet_state():
    t = config("Qwen--Qwen3.5-27B")["text_config"]
    m = model("Qwen--Qwen3.5-27B")
    assert (m.linear_layers, m.attention_layers) == (48, 16)
    assert m.kv_elements_per_token() == 16 * 2 * t["num_key_value_heads"] * t["head_dim"] == 32768
    keys = t["linear_num_key_heads"] * t["linear_key_head_dim"]  # 2,048
    values = t["linear_num_value_heads"] * t["linear_value_head_dim"]  # 6,144
    state = 4 * t["linear_num_value_heads"] * t["linear_key_head_dim"] * t["linear_value_head_dim"]  # fp32
    conv = (t["linear_conv_kernel_dim"] - 1) * (2 * keys + values) * 2  # bf16 window of q, k and v
    assert m.state_bytes_per_sequence(2.0) == 48 * (state + conv) == 153_944_064


def test_mamba2_state():
    c = config("nvidia--Nemotron-H-56B-Base-8K")
    m = model("nvidia--Nemotron-H-56B-Base-8K")
    pattern = c["hybrid_override_pattern"]
    assert (m.mamba_layers, m.attention_layers, m.dense_layers) == (54, 10, 54) == (
        pattern.count("M"), pattern.count("*"), pattern.count("-"))
    assert m.kv_elements_per_token() == 10 * 2 * c["num_key_value_heads"] * c["attention_head_dim"] == 20480
    state = 4 * c["mamba_num_heads"] * c["mamba_head_dim"] * c["ssm_state_size"]
    conv = (c["conv_kernel"] - 1) * (c["mamba_num_heads"] * c["mamba_head_dim"] + 2 * c["n_groups"]
                                     * c["ssm_state_size"]) * 2
    assert m.state_bytes_per_sequence(2.0) == 54 * (state + conv) == 912_605_184


# ---- mappings -------------------------------------------------------------------------------------------


def test_minimax_m2_agrees_with_its_profile():
    profile = tomllib.loads((PROFILES / "MiniMax-M2.5.toml").read_text())
    fields = fields_from_hf_config(config("MiniMaxAI--MiniMax-M2.5"), "MiniMax-M2.5")
    for key, value in fields.items():
        if key not in ("name", "aliases", "source"):
            assert profile.get(key, value) == value, key
    assert model_from_dict(profile).param_count() == model("MiniMaxAI--MiniMax-M2.5").param_count()


@pytest.mark.parametrize(("folder", "kept"), [
    ("openai--gpt-oss-120b", True),  # quantization_config.modules_to_not_convert: model.layers.*.self_attn
    ("nvidia--MiniMax-M2.5-NVFP4", True),  # exclude_modules: every layer's self_attn*
    ("nvidia--Qwen3.5-397B-A17B-NVFP4", True),  # 45 linear_attn* + 15 self_attn*
    ("MiniMaxAI--MiniMax-M2.5", False),  # fp8 checkpoint quantises attention
    ("nvidia--Qwen3.6-27B-NVFP4", False),  # attention in FP8 (quantized_layers), not 16 bit
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4", False),  # 12 of its 29 mixers only
    ("nvidia--DeepSeek-V3.1-NVFP4", False),  # single MLA projections; o_proj quantised
])
def test_attention_16bit_from_the_quantised_checkpoint(folder, kept):
    assert model(folder).attention_16bit is kept


def test_multimodal_source_names_the_ignored_vision_tower():
    for folder in ("Qwen--Qwen3-VL-8B-Instruct", "Qwen--Qwen3.5-27B", "meta-llama--Llama-4-Scout-17B-16E-Instruct",
                   "google--gemma-3-27b-it", "moonshotai--Kimi-K2.5"):
        assert model(folder).source.endswith("(text model; the vision tower is ignored)")
    assert "vision" not in model("Qwen--Qwen3-8B").source


def test_llama4_mix():
    m = model("meta-llama--Llama-4-Maverick-17B-128E-Instruct")
    assert (m.moe_layers, m.dense_layers, m.swa_layers, m.sliding_window) == (24, 24, 36, 8192)
    assert (m.shared_width, m.intermediate_size, m.qk_norm) == (8192, 16384, False)


def test_nemotron_h_newer_layers_block_type_matches_the_pattern():
    m = model("nvidia--NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4")
    assert (m.mamba_layers, m.attention_layers, m.moe_layers, m.mlp_free_layers) == (23, 6, 23, 29)
    assert m.router_bias and not m.gated_mlp and m.shared_width == 3712


def test_gemma_flags():
    m = model("google--gemma-3-27b-it")
    assert m.sandwich_norms and m.qk_norm and m.tie_word_embeddings and not model("google--gemma-2-9b").qk_norm


def test_qwen3_next_mlp_only_layers_give_the_moe_count():
    cfg = config("Qwen--Qwen3-Next-80B-A3B-Thinking") | {"mlp_only_layers": [0, 5]}
    fields = fields_from_hf_config(cfg, "x")
    assert fields["moe_layer_count"] == 46


# ---- refusals -------------------------------------------------------------------------------------------


def expect_error(cfg, *words):
    with pytest.raises(RooflineError) as info:
        fields_from_hf_config(cfg, "bad")
    message = str(info.value)
    assert "\n" not in message and message.startswith("config.json: ")
    for word in words:
        assert word in message, message


def test_layer_types_length_contradicts_num_hidden_layers():
    cfg = config("openai--gpt-oss-120b")
    cfg["layer_types"] = cfg["layer_types"][:-1]
    expect_error(cfg, "layer_types", "35", "num_hidden_layers=36")


def test_full_attention_interval_contradicts_layer_types():
    cfg = config("Qwen--Qwen3.5-27B")
    cfg["text_config"]["full_attention_interval"] = 3
    expect_error(cfg, "layer_types", "full_attention_interval=3")


def test_nemotron_pattern_length_contradicts_num_hidden_layers():
    cfg = config("nvidia--Nemotron-H-56B-Base-8K") | {"num_hidden_layers": 117}
    expect_error(cfg, "hybrid_override_pattern", "118", "num_hidden_layers=117")


def test_nemotron_pattern_contradicts_layers_block_type():
    cfg = config("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    cfg["layers_block_type"] = ["mamba"] * len(cfg["hybrid_override_pattern"])
    expect_error(cfg, "hybrid_override_pattern", "layers_block_type")


def test_gemma3_pattern_contradicts_layer_types():
    cfg = config("google--gemma-3-1b-it") | {"layer_types": ["full_attention"] * 26}
    expect_error(cfg, "layer_types", "sliding_window_pattern=6")


def test_shared_indexers_are_refused():
    cfg = config("zai-org--GLM-5") | {"index_topk_freq": 4}
    expect_error(cfg, "index_topk_freq")


@pytest.mark.parametrize("model_type", sorted(REFUSED))
def test_refused_families_name_what_is_missing(model_type):
    expect_error({"model_type": model_type}, f"model_type {model_type!r} is refused", "not modelled")


def test_unsupported_model_type_lists_the_supported_ones():
    expect_error({"model_type": "falcon_h1"}, "not supported", ", ".join(SUPPORTED_MODEL_TYPES))
    assert {"gpt_oss", "nemotron_h", "llama4", "gemma3_text", "phi3", "glm_moe_dsa", "kimi_k25"} <= set(
        SUPPORTED_MODEL_TYPES)


def test_input_is_not_modified():
    cfg = config("Qwen--Qwen3.5-35B-A3B")
    before = copy.deepcopy(cfg)
    fields_from_hf_config(cfg, "x")
    assert cfg == before
