"""Map a Hugging Face ``config.json`` dict to the fields of a model profile.

The result has the keys of a ``profiles/models/<name>.toml`` file (without the optional
``params_published``), so it can be turned into a ``Model`` the same way a profile is. Dense families
give exactly the dense keys; MoE and MLA families add their own (see ``fields_from_hf_config``).

Supported ``model_type`` values and what each implies beyond the config's own numbers
(tied = the ``tie_word_embeddings`` default that ``transformers`` uses when the key is absent):

- llama: gated MLP, RMSNorm, rotary; ``attention_bias`` on q, k, v and o, ``mlp_bias`` on gate,
  up and down (both default false); tied false.
- mistral: gated MLP, RMSNorm, rotary, no biases; tied false.
- qwen2: gated MLP, RMSNorm, rotary, biases on q, k, v only; tied false.
- qwen3 (dense): llama-style; ``attention_bias`` on q, k, v and o (default false); RMSNorm of ``head_dim``
  on every query and key head; sliding window only with ``use_sliding_window``; tied as stated (false).
- mimo (Xiaomi MiMo): the qwen2 mapping (its model class extends Qwen2's: biases on q, k, v only; a
  config with ``attention_bias`` false is refused); its multi-token-prediction layers
  (``num_nextn_predict_layers``) are not part of the model and ignored, as DeepSeek's.
- gpt2: plain GELU MLP (``n_inner`` or 4 * ``n_embd``), LayerNorm, biases everywhere, learned
  positions (``n_positions`` rows); tied true.
- gpt_neox: plain GELU MLP with biases, LayerNorm, ``attention_bias`` on qkv and o (default true),
  rotary; tied false.
- opt: plain ReLU MLP (``ffn_dim``), LayerNorm, ``enable_bias`` everywhere (default true), learned
  positions (``max_position_embeddings + 2`` rows); tied true.

Mixture-of-experts families (gated SwiGLU experts without biases, RMSNorm, rotary, router without bias
unless stated; tied false):

- mixtral: llama-style attention without biases; ``num_local_experts`` experts of width
  ``intermediate_size``, top ``num_experts_per_tok``; ``sliding_window`` absent or null = full attention.
- qwen2_moe: qwen2 attention (biases on q, k, v); ``num_experts`` experts of ``moe_intermediate_size``;
  one shared expert of ``shared_expert_intermediate_size`` with a ``hidden -> 1`` sigmoid gate.
- qwen3_moe: ``attention_bias`` on q, k, v and o (default false); RMSNorm of ``head_dim`` on every
  query and key head; no shared expert.
  For both Qwen families only ``decoder_sparse_step = 1`` and an empty ``mlp_only_layers`` (every layer
  MoE, as in every published Qwen MoE config) are accepted; other layer patterns raise.
- deepseek_v3, deepseek_v2: multi-head latent attention (``q_lora_rank`` null = no query compression,
  ``kv_lora_rank``, ``qk_nope_head_dim``, ``qk_rope_head_dim``, ``v_head_dim``; ``attention_bias`` must be
  false); ``n_routed_experts`` experts of ``moe_intermediate_size``, top ``num_experts_per_tok``,
  ``n_shared_experts`` (null = 0) shared; the first ``first_k_dense_replace`` layers, and layers whose
  index is not a multiple of ``moe_layer_freq`` (default 1), have a dense MLP of ``intermediate_size``.
  The router carries a per-expert score-correction bias when ``topk_method`` is ``noaux_tc`` (absent
  means ``noaux_tc`` for deepseek_v3, greedy for deepseek_v2). ``head_dim`` is ``qk_nope_head_dim +
  qk_rope_head_dim`` and ``num_kv_heads`` = heads; the config's ``num_key_value_heads`` is ignored.
  Multi-token-prediction layers (``num_nextn_predict_layers``) are not part of the model and ignored.

  deepseek_v32 (DeepSeek-V3.2-Exp) and glm_moe_dsa (GLM-5) add DeepSeek Sparse Attention on every layer: a
  lightning indexer of ``index_n_heads`` x ``index_head_dim`` choosing the ``index_topk`` best keys (GLM-5.2's
  indexers shared between layers, ``indexer_types`` / ``index_topk_freq``, are refused). kimi_k2 (Kimi K2) is
  DeepSeek-V3's architecture; kimi_k25 (Kimi K2.5) too, read from its ``text_config``. ``topk_method`` absent
  means ``noaux_tc`` for all of them (greedy only for deepseek_v2).

The layer-mix families (:mod:`roofline.loaders.hf_families`; fields as in :mod:`roofline.model`):

- gpt_oss: sliding/full attention from ``layer_types`` (default: even layers slide) within ``sliding_window``;
  ``attention_bias`` (default true) on q, k, v and o; a learned sink per head; every layer MoE of
  ``num_local_experts`` experts of ``intermediate_size``, top ``num_experts_per_tok`` (or
  ``experts_per_token``), router with bias, biases on every expert (mlp_bias), no shared expert; tied false.
- qwen3_next, qwen3_5, qwen3_5_moe (the last two read from ``text_config``): ``layer_types``
  linear_attention / full_attention (default, or checked against, a full layer every
  ``full_attention_interval``, 4); Gated DeltaNet of ``linear_num_key_heads`` x ``linear_key_head_dim`` keys,
  ``linear_num_value_heads`` x ``linear_value_head_dim`` values, convolution ``linear_conv_kernel_dim``; full
  attention with q/k norms and the output gate (``attn_output_gate``, default true); MoE (not qwen3_5) of
  ``num_experts`` x ``moe_intermediate_size`` plus one gated shared expert of
  ``shared_expert_intermediate_size``, on the layers not in ``mlp_only_layers`` (moe_layer_count).
  Multi-token-prediction layers (``mtp_num_hidden_layers``) are ignored.
- qwen3_vl, qwen3_vl_moe: ``text_config`` mapped as qwen3 / qwen3_moe.
- nemotron_h: ``hybrid_override_pattern`` (or ``layers_block_type``), one character per layer and per
  sublayer: M Mamba-2 mixer (``mamba_num_heads`` x ``mamba_head_dim``, ``n_groups`` groups of state
  ``ssm_state_size``, convolution ``conv_kernel`` with bias), * attention, - a ReLU^2 (non-gated) MLP of
  ``intermediate_size``, E an MoE of ``n_routed_experts`` x ``moe_intermediate_size`` plus
  ``moe_shared_expert_intermediate_size`` shared, sigmoid router with a score-correction bias. M and * lack an
  MLP (mlp_free_layers), - and E a mixer (mixer_free_layers). Its length must equal ``num_hidden_layers``.
  ``moe_latent_size`` (Nemotron 3 Ultra): the experts work in that latent. Tied false.
- llama4 (``text_config``, llama4_text): MoE on layers ``interleave_moe_layer_step - 1``, every step (or
  ``moe_layers``) with ``num_local_experts`` experts of ``intermediate_size`` and one shared expert of the same
  width, router without bias; the other layers dense of ``intermediate_size_mlp``. Chunked attention
  (``attention_chunk_size``) on the RoPE layers (all but every 4th, transformers' ``no_rope_layers``):
  ``sliding_window`` = the chunk, ``attention_chunked`` (a token attends to the earlier tokens of its aligned
  chunk; the cache holds the current chunk). ``use_qk_norm`` is Llama 4's weightless L2 norm, so qk_norm
  stays false (it would add weights).
- gemma2, gemma3 (``text_config``), gemma3_text: sliding/global attention from ``layer_types`` (default:
  gemma2 alternates, gemma3 a global layer every ``sliding_window_pattern``, 6), four norms per block
  (sandwich_norms), gated GELU MLP, ``head_dim``; gemma3 has q/k norms; tied true. Gemma 3 keys a text
  config may omit take transformers' defaults (vocab 262,208, 131,072 positions, head_dim 256).
- phi3: llama-style without biases (fused qkv and gate/up hold the same weights); ``sliding_window`` null
  or absent = full attention; tied as stated (false).
- glm4_moe (GLM-4.5/4.6/4.7): GQA with ``attention_bias`` on q, k, v (not o), q/k norms with
  ``use_qk_norm``; DeepSeek-style MoE (``n_routed_experts``, ``n_shared_experts``, ``first_k_dense_replace``)
  with a score-correction bias; MTP layers ignored.
- minimax_m2: GQA, q/k norms (``use_qk_norm``; MiniMax's norm spans all heads, modelled per head, as in
  profiles/models/MiniMax-M2.5.toml), every layer ``num_local_experts`` experts of ``intermediate_size``,
  router bias with ``use_routing_bias``, a shared expert only with ``shared_intermediate_size`` > 0.

Refused with the reason (``hf_families.REFUSED``): deepseek_v4 and deepseek_ref (compressed sparse attention,
hyper-connections, low-rank output projection), minimax_m3 and minimax_m3_vl (block-sparse attention),
nemotron-nas (per-layer block_configs), gemma4 (separate global-attention head shapes, K = V sharing).

Multimodal configs (``text_config``): the text model only; ``source`` says the vision tower is ignored.
Quantised checkpoints: their declared weight and KV-cache formats are read by :mod:`roofline.loaders.hf_quant`
(the default ``--weight-dtype`` is the checkpoint's). ``attention_16bit`` is true when the config's
``quantization_config`` (``modules_to_not_convert`` / ``ignore``) or the ``hf_quant_config.json`` beside it
(``exclude_modules``) keeps the token mixers (``self_attn``, ``linear_attn``, ``attn``) of every mixer block
unquantised.

Heads: ``head_dim`` is honoured where the family has it (llama, mistral, qwen2, mixtral, qwen2_moe, qwen3_moe), else
hidden_size / heads; an absent or null ``num_key_value_heads`` means no GQA (= heads). (transformers'
own MistralConfig and Qwen2Config would default an absent key to 8 and 32; published configs always
give it.)

Sliding windows: mistral uses ``sliding_window`` (null means full attention; absent means the
``transformers`` default of 4096); qwen2 uses it only when ``use_sliding_window`` is true.

Every problem raises :class:`roofline.errors.RooflineError` with a one-line message that names the
field, the value and a fix.
"""

from __future__ import annotations

from roofline.loaders import hf_families as fam
from roofline.loaders import hf_layernorm
from roofline.loaders.hf_quant import checkpoint_fields
from roofline.loaders.hf_fields import (
    MISSING, count, fail, flag, optional_int, required_int, rotary_base, sliding_window,
)

# transformers' MistralConfig default for a config.json without a sliding_window key.
_MISTRAL_DEFAULT_SLIDING_WINDOW = 4096

# transformers' Qwen2Config default for sliding_window (used only with use_sliding_window=true).
_QWEN2_DEFAULT_SLIDING_WINDOW = 4096


def _rotary_gated(cfg: dict, model_type: str) -> dict:
    """llama, mistral, qwen2, qwen3, mimo: gated SwiGLU MLP, RMSNorm, rotary positions."""
    fields = rotary_base(cfg, model_type)
    if model_type == "llama":
        attention_bias = flag(cfg, "attention_bias", False)
        fields.update(qkv_bias=attention_bias, o_bias=attention_bias,
                      mlp_bias=flag(cfg, "mlp_bias", False), sliding_window=0)
    elif model_type == "mistral":
        fields.update(qkv_bias=False, o_bias=False, mlp_bias=False,
                      sliding_window=sliding_window(cfg, model_type, _MISTRAL_DEFAULT_SLIDING_WINDOW))
    elif model_type == "qwen3":
        bias = flag(cfg, "attention_bias", False)
        fields.update(qkv_bias=bias, o_bias=bias, mlp_bias=False, qk_norm=True,
                      sliding_window=_qwen_window(cfg, model_type))
    else:  # qwen2, mimo
        if model_type == "mimo" and not flag(cfg, "attention_bias", True):
            raise fail("attention_bias=false: MiMo's attention is Qwen2's, with biases on q, k and v; fix the file")
        fields.update(qkv_bias=True, o_bias=False, mlp_bias=False, sliding_window=_qwen_window(cfg, model_type))
    return fields


def _qwen_window(cfg: dict, model_type: str) -> int:
    """Qwen families use ``sliding_window`` only when ``use_sliding_window`` is true."""
    if flag(cfg, "use_sliding_window", False):
        return sliding_window(cfg, model_type, _QWEN2_DEFAULT_SLIDING_WINDOW)
    return 0


def _mixtral(cfg: dict, model_type: str) -> dict:
    fields = rotary_base(cfg, model_type)
    fields.update(
        qkv_bias=False, o_bias=False, mlp_bias=False, sliding_window=sliding_window(cfg, model_type, 0),
        num_experts=required_int(cfg, model_type, "num_local_experts"),
        experts_per_token=required_int(cfg, model_type, "num_experts_per_tok"),
        moe_intermediate_size=fields["intermediate_size"],
    )
    return fields


def _qwen_moe(cfg: dict, model_type: str) -> dict:
    """qwen2_moe and qwen3_moe: every layer MoE (other layer patterns are refused)."""
    step = count(cfg, model_type, "decoder_sparse_step", 1)
    only_dense = cfg.get("mlp_only_layers") or []
    if step != 1 or only_dense:
        raise fail(
            f"decoder_sparse_step={step} / mlp_only_layers={only_dense!r}: only every-layer MoE "
            "(decoder_sparse_step=1, mlp_only_layers=[]) is modelled; use a config with every layer MoE"
        )
    fields = rotary_base(cfg, model_type)
    fields.update(
        mlp_bias=False, sliding_window=_qwen_window(cfg, model_type),
        num_experts=required_int(cfg, model_type, "num_experts"),
        experts_per_token=required_int(cfg, model_type, "num_experts_per_tok"),
        moe_intermediate_size=required_int(cfg, model_type, "moe_intermediate_size"),
    )
    if model_type == "qwen2_moe":
        fields.update(qkv_bias=True, o_bias=False, qk_norm=False, shared_experts=1, shared_expert_gate=True,
                      shared_expert_intermediate_size=required_int(cfg, model_type,
                                                                    "shared_expert_intermediate_size"))
    else:  # qwen3_moe
        bias = flag(cfg, "attention_bias", False)
        fields.update(qkv_bias=bias, o_bias=bias, qk_norm=True)
    return fields


def _deepseek(cfg: dict, model_type: str) -> dict:
    """deepseek_v2, deepseek_v3 (and kimi_k2, kimi_k25): multi-head latent attention and DeepSeekMoE;
    deepseek_v32 and glm_moe_dsa add DeepSeek Sparse Attention."""
    if model_type == "kimi_k25":
        cfg = fam.text_config(cfg, model_type)
    if flag(cfg, "attention_bias", False):
        raise fail("attention_bias=true is not modelled for multi-head latent attention; "
                    "use a config with attention_bias=false")
    hidden = required_int(cfg, model_type, "hidden_size")
    heads = required_int(cfg, model_type, "num_attention_heads")
    nope = count(cfg, model_type, "qk_nope_head_dim")
    rope = count(cfg, model_type, "qk_rope_head_dim")
    if nope + rope == 0:
        raise fail("qk_nope_head_dim + qk_rope_head_dim is 0; a query/key head needs a width, fix the file")
    default_method = "greedy" if model_type == "deepseek_v2" else "noaux_tc"
    sparse = fam.sparse_fields(cfg, model_type) if model_type in ("deepseek_v32", "glm_moe_dsa") else {}
    return sparse | {
        "num_layers": required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": nope + rope,
        "intermediate_size": required_int(cfg, model_type, "intermediate_size"),
        "vocab_size": required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": True,
        "norm": "rms",
        "qkv_bias": False,
        "o_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": flag(cfg, "tie_word_embeddings", False),
        "learned_pos_embeddings": 0,
        "max_position_embeddings": required_int(cfg, model_type, "max_position_embeddings"),
        "sliding_window": 0,
        "num_experts": required_int(cfg, model_type, "n_routed_experts"),
        "experts_per_token": required_int(cfg, model_type, "num_experts_per_tok"),
        "shared_experts": count(cfg, model_type, "n_shared_experts", 0),
        "moe_intermediate_size": required_int(cfg, model_type, "moe_intermediate_size"),
        "router_bias": (cfg.get("topk_method") or default_method) == "noaux_tc",
        "first_dense_layers": count(cfg, model_type, "first_k_dense_replace"),
        "moe_layer_freq": optional_int(cfg, model_type, "moe_layer_freq") or 1,
        "q_lora_rank": count(cfg, model_type, "q_lora_rank", 0),
        "kv_lora_rank": required_int(cfg, model_type, "kv_lora_rank"),
        "qk_nope_head_dim": nope,
        "qk_rope_head_dim": rope,
        "v_head_dim": required_int(cfg, model_type, "v_head_dim"),
    }


def _qwen3_vl(cfg: dict, model_type: str) -> dict:
    """qwen3_vl, qwen3_vl_moe: the text model mapped as qwen3 / qwen3_moe."""
    text = fam.text_config(cfg, model_type)
    return _rotary_gated(text, "qwen3") if model_type == "qwen3_vl" else _qwen_moe(text, "qwen3_moe")


_MAPPERS = {
    "llama": _rotary_gated,
    "mistral": _rotary_gated,
    "qwen2": _rotary_gated,
    "qwen3": _rotary_gated,
    "mimo": _rotary_gated,
    "gpt2": hf_layernorm.gpt2,
    "gpt_neox": hf_layernorm.gpt_neox,
    "opt": hf_layernorm.opt,
    "mixtral": _mixtral,
    "qwen2_moe": _qwen_moe,
    "qwen3_moe": _qwen_moe,
    "deepseek_v2": _deepseek,
    "deepseek_v3": _deepseek,
    "deepseek_v32": _deepseek,
    "kimi_k2": _deepseek,
    "kimi_k25": _deepseek,
    "glm_moe_dsa": _deepseek,
    "qwen3_vl": _qwen3_vl,
    "qwen3_vl_moe": _qwen3_vl,
    "gpt_oss": fam.gpt_oss,
    "qwen3_next": fam.qwen_hybrid,
    "qwen3_5": fam.qwen_hybrid,
    "qwen3_5_moe": fam.qwen_hybrid,
    "nemotron_h": fam.nemotron_h,
    "llama4": fam.llama4,
    "gemma2": fam.gemma,
    "gemma3": fam.gemma,
    "gemma3_text": fam.gemma,
    "phi3": fam.phi3,
    "glm4_moe": fam.glm4_moe,
    "minimax_m2": fam.minimax_m2,
}

SUPPORTED_MODEL_TYPES = tuple(sorted(_MAPPERS))

_FIELD_ORDER = (
    "num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
    "vocab_size", "gated_mlp", "norm", "qkv_bias", "o_bias", "mlp_bias", "tie_word_embeddings",
    "learned_pos_embeddings", "max_position_embeddings", "sliding_window",
)

# Added, in this order, by the families that have them.
_EXTRA_ORDER = (
    "qk_norm", "num_experts", "experts_per_token", "shared_experts", "moe_intermediate_size",
    "shared_expert_intermediate_size", "shared_expert_gate", "router_bias", "first_dense_layers", "moe_layer_freq",
    "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim", "sliding_layers",
    "attention_chunked", "attention_sinks", "attn_output_gate", "sandwich_norms", "attention_16bit", "sparse_top_k",
    "indexer_heads", "indexer_head_dim", "linear_layers", "linear_key_heads", "linear_value_heads",
    "linear_key_head_dim", "linear_value_head_dim", "linear_conv_kernel", "mamba_layers", "mamba_heads",
    "mamba_head_dim", "mamba_state_size", "mamba_groups", "mamba_conv_kernel", "mlp_free_layers",
    "mixer_free_layers", "moe_layer_count", "moe_latent_size",
)


def fields_from_hf_config(cfg: dict, name: str, quant: dict | None = None) -> dict:
    """Map a Hugging Face ``config.json`` dict to the model-profile fields.

    Parameters
    ----------
    cfg : dict
        The parsed ``config.json``. Keys the mapping does not use are ignored.
    name : str
        Canonical name for the model; also used in ``source``.
    quant : dict, optional
        The parsed ``hf_quant_config.json`` beside the config (ModelOpt), if any: with the config's own
        ``quantization_config`` it tells whether the checkpoint keeps the token mixers unquantised
        (``attention_16bit``).

    Returns
    -------
    dict
        Exactly the keys ``name, aliases, family, source, num_layers, hidden_size, num_heads,
        num_kv_heads, head_dim, intermediate_size, vocab_size, gated_mlp, norm, qkv_bias, o_bias,
        mlp_bias, tie_word_embeddings, learned_pos_embeddings, max_position_embeddings,
        sliding_window``, then for MoE/MLA families the keys of their own (in this order, each only
        where the family has it): ``qk_norm, num_experts, experts_per_token, shared_experts,
        moe_intermediate_size, shared_expert_intermediate_size, shared_expert_gate, router_bias,
        first_dense_layers, moe_layer_freq, q_lora_rank, kv_lora_rank, qk_nope_head_dim,
        qk_rope_head_dim, v_head_dim``, then the layer-mix keys a family sets (``_EXTRA_ORDER``;
        ``attention_16bit`` only when true), then for a quantised checkpoint ``checkpoint_format`` and, when
        the format is one this tool prices, ``checkpoint_dtype``, ``mixer_dtype`` and ``head_dtype`` (ModelOpt
        MIXED_PRECISION) and ``checkpoint_kv`` (:func:`roofline.loaders.hf_quant.checkpoint_fields`). Counts are ints
        (dimensions in elements, lengths in tokens); ``aliases`` is an empty tuple; ``family`` is the config's
        ``model_type``.

    Raises
    ------
    RooflineError
        For an unsupported ``model_type``, a missing required key, a count that is not a positive
        integer, a flag that is not a boolean, heads not divisible by KV heads, a hidden size not
        divisible by the heads without ``head_dim``, an OPT ``word_embed_proj_dim`` projection, a Qwen
        MoE layer pattern other than every-layer MoE, MLA with ``attention_bias``, keys that contradict
        each other (a per-layer list whose length is not ``num_hidden_layers``), or a recognised family
        whose architecture the fields cannot express (``hf_families.REFUSED``).
    """
    if not isinstance(cfg, dict):
        raise fail(f"top level is {type(cfg).__name__}, expected a JSON object; pass the parsed config.json")
    model_type = cfg.get("model_type", MISSING)
    if model_type is MISSING:
        raise fail(
            "required key 'model_type' is missing; add it from the model's published config.json "
            f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    if isinstance(model_type, str) and model_type in fam.REFUSED:
        raise fail(f"model_type {model_type!r} is refused: {fam.REFUSED[model_type]}")
    if not isinstance(model_type, str) or model_type not in _MAPPERS:
        raise fail(
            f"model_type {model_type!r} is not supported; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    fields = _MAPPERS[model_type](cfg, model_type)
    text = fam.text_config(cfg, model_type) if model_type in fam.MULTIMODAL and "text_config" in cfg else cfg
    mixers = fields["num_layers"] - fields.get("mixer_free_layers", 0)
    if fam.mixers_kept_16bit(fam.excluded_modules(text, quant), mixers):
        fields["attention_16bit"] = True
    source = f"Hugging Face config.json: {name}"
    if model_type in fam.MULTIMODAL:
        source += " (text model; the vision tower is ignored)"
    result = {"name": name, "aliases": (), "family": model_type, "source": source}
    result.update((key, fields[key]) for key in _FIELD_ORDER)
    result.update((key, fields[key]) for key in _EXTRA_ORDER if key in fields)
    mlps = fields["num_layers"] - fields.get("mlp_free_layers", 0)
    recurrent = fields.get("linear_layers", 0) + fields.get("mamba_layers", 0)
    result.update(checkpoint_fields(text, quant, mixers, mlps, recurrent))
    return result
