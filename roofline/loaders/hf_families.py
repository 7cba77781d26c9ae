"""The Hugging Face families of 2025-26 with a layer mix (see :mod:`roofline.model`): gpt-oss, Qwen3-Next and
Qwen3.5, Nemotron-H, Llama 4, Gemma 2/3, Phi-3, GLM-4.5, MiniMax-M2, and the parts shared with the older
families in :mod:`roofline.loaders.hf_config` (multimodal text configs, DeepSeek Sparse Attention, the
checkpoint's unquantised token mixers). What each ``model_type`` implies is listed in the docstring of
:mod:`roofline.loaders.hf_config`; every mapper returns the keys of a model profile.
"""

from __future__ import annotations

import re

from roofline.loaders.hf_fields import (
    count, fail, flag, head_dim, kv_heads, optional_int, required_int, rotary_base, sliding_window,
)

#: model_types whose config.json nests the language model under ``text_config`` (a vision tower beside it).
MULTIMODAL = ("gemma3", "kimi_k25", "llama4", "qwen3_5", "qwen3_5_moe", "qwen3_vl", "qwen3_vl_moe")

#: model_types that are recognised but refused: what the ``Model`` fields cannot express.
REFUSED = {
    "deepseek_v4": "DeepSeek-V4's compressed sparse attention (compress_ratios), hyper-connections (hc_mult) and "
                   "low-rank output projection (o_lora_rank) are not modelled",
    "deepseek_ref": "DeepSeek-V4's compressed sparse attention (compress_ratios), hyper-connections (hc_mult) and "
                    "low-rank output projection (o_lora_rank) are not modelled",
    "minimax_m3": "MiniMax-M3's block-sparse attention (sparse_attention_config) is not modelled",
    "minimax_m3_vl": "MiniMax-M3's block-sparse attention (sparse_attention_config) is not modelled",
    "nemotron-nas": "per-layer block_configs with varying attention and MLP widths are not modelled",
    "gemma4": "Gemma 4's full-attention layers with their own global_head_dim / num_global_key_value_heads and "
              "K = V sharing (attention_k_eq_v) are not modelled",
}

# transformers' defaults for keys a published config may leave out.
_GPT_OSS_LAYER_PERIOD = 2  # GptOssConfig: layer i slides when (i + 1) % 2 (even layers)
_QWEN_NEXT_FULL_INTERVAL = 4  # Qwen3NextConfig.full_attention_interval
_GEMMA2_LAYER_PERIOD = 2  # Gemma2Config: layer i slides when (i + 1) % 2
_GEMMA3_PATTERN = 6  # Gemma3TextConfig.sliding_window_pattern
_GEMMA3_DEFAULTS = {"vocab_size": 262_208, "max_position_embeddings": 131_072, "head_dim": 256}
_LLAMA4_NO_ROPE_INTERVAL = 4  # Llama4TextConfig: every 4th layer has no RoPE (and full attention)
_NEMOTRON_KINDS = {"M": "mamba", "*": "attention", "-": "mlp", "E": "moe"}


def text_config(cfg: dict, model_type: str) -> dict:
    """The language model's config of a multimodal ``cfg`` (its ``text_config``), with the top-level
    ``tie_word_embeddings`` and ``quantization_config`` where the text config lacks them."""
    text = cfg.get("text_config")
    if not isinstance(text, dict):
        raise fail(f"model_type {model_type!r} needs a 'text_config' object (the language model); add it from the "
                   f"model's published config.json")
    merged = dict(text)
    for key in ("tie_word_embeddings", "quantization_config"):
        if merged.get(key) is None and cfg.get(key) is not None:
            merged[key] = cfg[key]
    return merged


def layer_types(cfg: dict, num_layers: int, allowed: tuple[str, ...], key: str = "layer_types") -> list[str] | None:
    """The config's per-layer list under ``key`` (None when absent), checked against ``num_hidden_layers``."""
    types = cfg.get(key)
    if types is None:
        return None
    if not isinstance(types, list) or any(t not in allowed for t in types):
        raise fail(f"{key} must be a list of {', '.join(repr(a) for a in allowed)}; fix the file")
    if len(types) != num_layers:
        raise fail(f"{key} lists {len(types)} layers but num_hidden_layers={num_layers}; the keys contradict "
                   f"each other, fix one")
    return types


def periodic(num_layers: int, period: int, first: str, last: str) -> list[str]:
    """transformers' default layer pattern: ``last`` on every ``period``-th layer (1-based), ``first`` otherwise."""
    return [last if (i + 1) % period == 0 else first for i in range(num_layers)]


def sliding_fields(cfg: dict, model_type: str, num_layers: int, period: int, period_key: str | None = None) -> dict:
    """``sliding_window`` and ``sliding_layers`` from ``layer_types`` (sliding_attention / full_attention), or
    the family's default alternation (a full layer every ``period``, or ``cfg[period_key]``)."""
    every = (optional_int(cfg, model_type, period_key) if period_key else None) or period
    default = periodic(num_layers, every, "sliding_attention", "full_attention")
    types = layer_types(cfg, num_layers, ("sliding_attention", "full_attention"))
    if types is not None and period_key and cfg.get(period_key) is not None and types != default:
        raise fail(f"layer_types disagrees with {period_key}={cfg[period_key]}; the keys contradict each other, "
                   f"fix one")
    sliding = (types or default).count("sliding_attention")
    window = sliding_window(cfg, model_type, 0)
    if sliding == 0 or window == 0:
        return {"sliding_window": 0, "sliding_layers": 0}
    return {"sliding_window": window, "sliding_layers": sliding}


def sparse_fields(cfg: dict, model_type: str) -> dict:
    """DeepSeek Sparse Attention (DeepSeek-V3.2, GLM-5): the lightning indexer of every layer."""
    shared = [t for t in cfg.get("indexer_types") or [] if t != "full"]
    if shared or (optional_int(cfg, model_type, "index_topk_freq") or 1) > 1:
        raise fail("indexer_types / index_topk_freq: indexers shared between layers are not modelled (every "
                   "sparse layer has its own indexer); use a config with one indexer per layer")
    return {"sparse_top_k": required_int(cfg, model_type, "index_topk"),
            "indexer_heads": required_int(cfg, model_type, "index_n_heads"),
            "indexer_head_dim": required_int(cfg, model_type, "index_head_dim")}


# ---- the checkpoint's unquantised token mixers ------------------------------------------------------------

_MIXER_MODULE = re.compile(r"(?:^|[.*])(?:self_attn|linear_attn|attn)(?:\*|\.\*)?$|^\*?\.?attn\.\*$")
_LAYER_INDEX = re.compile(r"layers\.(\d+)\.")


def excluded_modules(cfg: dict, quant: dict | None) -> list[str]:
    """Module patterns a quantised checkpoint keeps unquantised: config.json ``quantization_config``
    (``modules_to_not_convert``, ``ignore``, ``exclude_modules``) and hf_quant_config.json (ModelOpt
    ``quantization.exclude_modules``)."""
    found = []
    sources = [cfg.get("quantization_config"), quant, (quant or {}).get("quantization")]
    for source in sources:
        if isinstance(source, dict):
            for key in ("modules_to_not_convert", "ignore", "exclude_modules"):
                value = source.get(key)
                if isinstance(value, list):
                    found += [str(v) for v in value]
    return found


def mixers_kept_16bit(patterns: list[str], mixer_layers: int) -> bool:
    """True when the excluded modules cover the token mixer (self_attn, linear_attn, attn) of every one of the
    ``mixer_layers`` blocks: by a layer wildcard (``model.layers.*.self_attn``, ``*.attn.*``) or layer by layer.
    Single projections (DeepSeek's ``q_a_proj``...) or a subset of the layers do not count."""
    layers = set()
    for pattern in patterns:
        p = pattern.removeprefix("re:").replace(".*", "*")
        p = p.replace("**", "*")
        if not _MIXER_MODULE.search(p) and "*attn*" not in p:
            continue
        index = _LAYER_INDEX.search(pattern)
        if index is None:
            return mixer_layers > 0
        layers.add(int(index.group(1)))
    return 0 < mixer_layers <= len(layers)


# ---- mappers ----------------------------------------------------------------------------------------------


def gpt_oss(cfg: dict, model_type: str) -> dict:
    """gpt-oss: alternating sliding/full attention with sinks and biases, MoE experts with biases."""
    fields = rotary_base(cfg, model_type)
    n = fields["num_layers"]
    bias = flag(cfg, "attention_bias", True)
    fields.update(sliding_fields(cfg, model_type, n, _GPT_OSS_LAYER_PERIOD))
    fields.update(
        qkv_bias=bias, o_bias=bias, mlp_bias=True, attention_sinks=True,
        num_experts=required_int(cfg, model_type, "num_local_experts"),
        experts_per_token=required_int(cfg, model_type, "num_experts_per_tok", "experts_per_token"),
        moe_intermediate_size=fields["intermediate_size"], router_bias=True,
    )
    return fields


def qwen_hybrid(cfg: dict, model_type: str) -> dict:
    """qwen3_next, qwen3_5, qwen3_5_moe: Gated DeltaNet and gated full attention, (shared-expert) MoE."""
    if model_type != "qwen3_next":
        cfg = text_config(cfg, model_type)
    moe = model_type != "qwen3_5"
    base = dict(cfg)
    if moe and base.get("intermediate_size") is None and not base.get("mlp_only_layers"):
        base["intermediate_size"] = base.get("moe_intermediate_size")  # no dense layer: the width is unused
    fields = rotary_base(base, model_type)
    n = fields["num_layers"]
    interval = optional_int(cfg, model_type, "full_attention_interval")
    default = periodic(n, interval or _QWEN_NEXT_FULL_INTERVAL, "linear_attention", "full_attention")
    types = layer_types(cfg, n, ("linear_attention", "full_attention"))
    if types is not None and interval is not None and types != default:
        raise fail(f"layer_types disagrees with full_attention_interval={interval}; the keys contradict each "
                   f"other, fix one")
    bias = flag(cfg, "attention_bias", False)
    fields.update(
        qkv_bias=bias, o_bias=bias, mlp_bias=False, qk_norm=True, sliding_window=0,
        attn_output_gate=flag(cfg, "attn_output_gate", True),
        linear_layers=(types or default).count("linear_attention"),
        linear_key_heads=required_int(cfg, model_type, "linear_num_key_heads"),
        linear_value_heads=required_int(cfg, model_type, "linear_num_value_heads"),
        linear_key_head_dim=required_int(cfg, model_type, "linear_key_head_dim"),
        linear_value_head_dim=required_int(cfg, model_type, "linear_value_head_dim"),
        linear_conv_kernel=required_int(cfg, model_type, "linear_conv_kernel_dim"),
    )
    if flag(cfg, "use_sliding_window", False):
        raise fail("use_sliding_window=true is not modelled with linear attention; use a config without it")
    if moe:
        step = count(cfg, model_type, "decoder_sparse_step", 1) or 1
        dense = cfg.get("mlp_only_layers") or []
        if not isinstance(dense, list):
            raise fail(f"mlp_only_layers={dense!r} must be a list of layer indices; fix the file")
        fields.update(
            num_experts=required_int(cfg, model_type, "num_experts"),
            experts_per_token=required_int(cfg, model_type, "num_experts_per_tok"),
            moe_intermediate_size=required_int(cfg, model_type, "moe_intermediate_size"),
            shared_experts=1, shared_expert_gate=True,
            shared_expert_intermediate_size=required_int(cfg, model_type, "shared_expert_intermediate_size"),
            moe_layer_count=sum(1 for i in range(n) if i not in dense and (i + 1) % step == 0),
        )
    return fields


def _nemotron_pattern(cfg: dict, model_type: str) -> str:
    """The block kinds as a hybrid_override_pattern string (from ``layers_block_type`` in newer configs)."""
    pattern = cfg.get("hybrid_override_pattern")
    blocks = cfg.get("layers_block_type")
    if blocks is not None:
        names = {v: k for k, v in _NEMOTRON_KINDS.items()}
        if not isinstance(blocks, list) or any(b not in names for b in blocks):
            raise fail(f"layers_block_type must list {', '.join(names)}; fix the file")
        from_blocks = "".join(names[b] for b in blocks)
        if pattern is not None and pattern != from_blocks:
            raise fail("hybrid_override_pattern disagrees with layers_block_type; the keys contradict each other, "
                       "fix one")
        pattern = from_blocks
    if not isinstance(pattern, str) or not pattern or set(pattern) - set(_NEMOTRON_KINDS):
        raise fail(f"hybrid_override_pattern={pattern!r} must be a string of M, *, - and E (one per layer); "
                   f"copy it from the model's published config.json")
    layers = optional_int(cfg, model_type, "num_hidden_layers")
    if layers is not None and layers != len(pattern):
        raise fail(f"hybrid_override_pattern has {len(pattern)} layers but num_hidden_layers={layers}; the keys "
                   f"contradict each other, fix one")
    return pattern


def nemotron_h(cfg: dict, model_type: str) -> dict:
    """Nemotron-H: one sublayer per "layer" (Mamba-2, attention, ReLU^2 MLP or MoE)."""
    pattern = _nemotron_pattern(cfg, model_type)
    if flag(cfg, "mamba_proj_bias", False) or not flag(cfg, "use_conv_bias", True):
        raise fail("mamba_proj_bias=true or use_conv_bias=false: Mamba-2 is modelled without projection biases "
                   "and with a convolution bias; use a config with the published values")
    hidden = required_int(cfg, model_type, "hidden_size")
    heads = required_int(cfg, model_type, "num_attention_heads")
    bias = flag(cfg, "attention_bias", False)
    fields = {
        "num_layers": len(pattern), "hidden_size": hidden, "num_heads": heads,
        "num_kv_heads": kv_heads(cfg, model_type, heads),
        "head_dim": head_dim(optional_int(cfg, model_type, "head_dim", "attention_head_dim"), hidden, heads,
                             "num_attention_heads"),
        "intermediate_size": required_int(cfg, model_type, "intermediate_size"),
        "vocab_size": required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": False, "norm": "rms", "qkv_bias": bias, "o_bias": bias, "mlp_bias": flag(cfg, "mlp_bias", False),
        "tie_word_embeddings": flag(cfg, "tie_word_embeddings", False), "learned_pos_embeddings": 0,
        "max_position_embeddings": required_int(cfg, model_type, "max_position_embeddings"),
        "sliding_window": sliding_window(cfg, model_type, 0),
        "mamba_layers": pattern.count("M"),
        "mamba_heads": required_int(cfg, model_type, "mamba_num_heads"),
        "mamba_head_dim": required_int(cfg, model_type, "mamba_head_dim"),
        "mamba_state_size": required_int(cfg, model_type, "ssm_state_size"),
        "mamba_groups": required_int(cfg, model_type, "n_groups"),
        "mamba_conv_kernel": required_int(cfg, model_type, "conv_kernel"),
        "mlp_free_layers": pattern.count("M") + pattern.count("*"),
        "mixer_free_layers": pattern.count("-") + pattern.count("E"),
    }
    if "E" in pattern:
        fields.update(
            num_experts=required_int(cfg, model_type, "n_routed_experts"),
            experts_per_token=required_int(cfg, model_type, "num_experts_per_tok"),
            moe_intermediate_size=required_int(cfg, model_type, "moe_intermediate_size"),
            shared_experts=count(cfg, model_type, "n_shared_experts", 1),
            shared_expert_intermediate_size=count(cfg, model_type, "moe_shared_expert_intermediate_size", 0),
            router_bias=True, moe_layer_count=pattern.count("E"),
            moe_latent_size=optional_int(cfg, model_type, "moe_latent_size") or 0,  # Nemotron 3 Ultra
        )
    return fields


def llama4(cfg: dict, model_type: str) -> dict:
    """Llama 4: interleaved MoE with a shared expert, chunked attention on the RoPE layers."""
    cfg = text_config(cfg, model_type)
    base = dict(cfg, intermediate_size=cfg.get("intermediate_size_mlp"))
    fields = rotary_base(base, "llama4_text")
    n = fields["num_layers"]
    step = optional_int(cfg, model_type, "interleave_moe_layer_step") or 1
    moe_layers = cfg.get("moe_layers")
    if moe_layers is None:
        moe_layers = list(range(step - 1, n, step))
    no_rope = cfg.get("no_rope_layers") or [int((i + 1) % _LLAMA4_NO_ROPE_INTERVAL != 0) for i in range(n)]
    if len(no_rope) != n or not isinstance(moe_layers, list) or any(not 0 <= i < n for i in moe_layers):
        raise fail(f"no_rope_layers / moe_layers do not fit num_hidden_layers={n}; the keys contradict each other, "
                   f"fix one")
    chunk = optional_int(cfg, model_type, "attention_chunk_size") or 0
    rope_layers = sum(1 for r in no_rope if r)
    bias = flag(cfg, "attention_bias", False)
    fields.update(
        qkv_bias=bias, o_bias=bias, mlp_bias=False,
        sliding_window=chunk if rope_layers else 0, sliding_layers=rope_layers if chunk else 0,
        attention_chunked=bool(chunk and rope_layers),
        num_experts=required_int(cfg, model_type, "num_local_experts"),
        experts_per_token=required_int(cfg, model_type, "num_experts_per_tok"),
        shared_experts=1, moe_intermediate_size=required_int(cfg, model_type, "intermediate_size"),
        moe_layer_count=len(set(moe_layers)),
    )
    return fields


def gemma(cfg: dict, model_type: str) -> dict:
    """gemma2, gemma3, gemma3_text: sliding/global alternation, sandwich norms, GeGLU MLP, tied embeddings."""
    if model_type == "gemma3":
        cfg = text_config(cfg, model_type)
    if model_type != "gemma2":
        cfg = _GEMMA3_DEFAULTS | {k: v for k, v in cfg.items() if v is not None}
    fields = rotary_base(cfg, model_type)
    n = fields["num_layers"]
    if model_type == "gemma2":
        fields.update(sliding_fields(cfg, model_type, n, _GEMMA2_LAYER_PERIOD))
    else:
        fields.update(sliding_fields(cfg, model_type, n, _GEMMA3_PATTERN, "sliding_window_pattern"))
    bias = flag(cfg, "attention_bias", False)
    fields.update(qkv_bias=bias, o_bias=bias, mlp_bias=False, sandwich_norms=True, qk_norm=model_type != "gemma2",
                  tie_word_embeddings=flag(cfg, "tie_word_embeddings", True))
    return fields


def phi3(cfg: dict, model_type: str) -> dict:
    """Phi-3 / Phi-4-mini: llama-style, fused but equal projections, ``sliding_window`` null = full."""
    fields = rotary_base(cfg, model_type)
    bias = flag(cfg, "attention_bias", False)
    fields.update(qkv_bias=bias, o_bias=bias, mlp_bias=False, sliding_window=sliding_window(cfg, model_type, 0))
    return fields


def glm4_moe(cfg: dict, model_type: str) -> dict:
    """GLM-4.5/4.6/4.7: GQA with q/k/v biases and optional q/k norms, DeepSeek-style MoE."""
    fields = rotary_base(cfg, model_type)
    fields.update(
        qkv_bias=flag(cfg, "attention_bias", False), o_bias=False, mlp_bias=False,
        qk_norm=flag(cfg, "use_qk_norm", False), sliding_window=0,
        num_experts=required_int(cfg, model_type, "n_routed_experts"),
        experts_per_token=required_int(cfg, model_type, "num_experts_per_tok"),
        shared_experts=count(cfg, model_type, "n_shared_experts", 0),
        moe_intermediate_size=required_int(cfg, model_type, "moe_intermediate_size"),
        router_bias=True, first_dense_layers=count(cfg, model_type, "first_k_dense_replace", 0),
    )
    return fields


def minimax_m2(cfg: dict, model_type: str) -> dict:
    """MiniMax-M2: full GQA attention with q/k norms, every layer 256 experts, sigmoid router with biases."""
    if cfg.get("attn_type_list") and 0 in cfg["attn_type_list"]:
        raise fail("attn_type_list holds lightning (linear) attention layers, which are not modelled for MiniMax")
    fields = rotary_base(cfg, model_type)
    shared = count(cfg, model_type, "shared_intermediate_size", 0)
    fields.update(
        qkv_bias=False, o_bias=False, mlp_bias=False, qk_norm=flag(cfg, "use_qk_norm", False), sliding_window=0,
        num_experts=required_int(cfg, model_type, "num_local_experts"),
        experts_per_token=required_int(cfg, model_type, "num_experts_per_tok"),
        moe_intermediate_size=fields["intermediate_size"], router_bias=flag(cfg, "use_routing_bias", False),
    )
    if shared:
        fields.update(shared_experts=1, shared_expert_intermediate_size=shared)
    return fields
