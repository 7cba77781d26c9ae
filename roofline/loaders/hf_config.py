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

from roofline.loaders.hf_fields import (
    MISSING, count, fail, flag, head_dim, kv_heads, optional_int, required_int, sliding_window,
)

SUPPORTED_MODEL_TYPES = ("deepseek_v2", "deepseek_v3", "gpt2", "gpt_neox", "llama", "mimo", "mistral", "mixtral",
                         "opt", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe")

# transformers' MistralConfig default for a config.json without a sliding_window key.
_MISTRAL_DEFAULT_SLIDING_WINDOW = 4096

# transformers' Qwen2Config default for sliding_window (used only with use_sliding_window=true).
_QWEN2_DEFAULT_SLIDING_WINDOW = 4096


def _rotary_base(cfg: dict, model_type: str) -> dict:
    """The fields shared by llama-style families: gated SwiGLU MLP, RMSNorm, rotary positions."""
    hidden = required_int(cfg, model_type, "hidden_size")
    heads = required_int(cfg, model_type, "num_attention_heads")
    return {
        "num_layers": required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": kv_heads(cfg, model_type, heads),
        "head_dim": head_dim(optional_int(cfg, model_type, "head_dim"), hidden, heads,
                              "num_attention_heads"),
        "intermediate_size": required_int(cfg, model_type, "intermediate_size"),
        "vocab_size": required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": True,
        "norm": "rms",
        "tie_word_embeddings": flag(cfg, "tie_word_embeddings", False),
        "learned_pos_embeddings": 0,
        "max_position_embeddings": required_int(cfg, model_type, "max_position_embeddings"),
    }


def _rotary_gated(cfg: dict, model_type: str) -> dict:
    """llama, mistral, qwen2, qwen3, mimo: gated SwiGLU MLP, RMSNorm, rotary positions."""
    fields = _rotary_base(cfg, model_type)
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
    fields = _rotary_base(cfg, model_type)
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
    fields = _rotary_base(cfg, model_type)
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
    """deepseek_v2, deepseek_v3: multi-head latent attention and DeepSeekMoE."""
    if flag(cfg, "attention_bias", False):
        raise fail("attention_bias=true is not modelled for multi-head latent attention; "
                    "use a config with attention_bias=false")
    hidden = required_int(cfg, model_type, "hidden_size")
    heads = required_int(cfg, model_type, "num_attention_heads")
    nope = count(cfg, model_type, "qk_nope_head_dim")
    rope = count(cfg, model_type, "qk_rope_head_dim")
    if nope + rope == 0:
        raise fail("qk_nope_head_dim + qk_rope_head_dim is 0; a query/key head needs a width, fix the file")
    default_method = "noaux_tc" if model_type == "deepseek_v3" else "greedy"
    return {
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


def _gpt2(cfg: dict, model_type: str) -> dict:
    hidden = required_int(cfg, model_type, "n_embd", "hidden_size")
    heads = required_int(cfg, model_type, "n_head", "num_attention_heads")
    positions = required_int(cfg, model_type, "n_positions", "max_position_embeddings")
    inner = optional_int(cfg, model_type, "n_inner")
    return {
        "num_layers": required_int(cfg, model_type, "n_layer", "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": head_dim(None, hidden, heads, "n_head", "n_embd"),
        "intermediate_size": 4 * hidden if inner is None else inner,
        "vocab_size": required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": False,
        "norm": "layer",
        "qkv_bias": True,
        "o_bias": True,
        "mlp_bias": True,
        "tie_word_embeddings": flag(cfg, "tie_word_embeddings", True),
        "learned_pos_embeddings": positions,
        "max_position_embeddings": positions,
        "sliding_window": 0,
    }


def _gpt_neox(cfg: dict, model_type: str) -> dict:
    hidden = required_int(cfg, model_type, "hidden_size")
    heads = required_int(cfg, model_type, "num_attention_heads")
    attention_bias = flag(cfg, "attention_bias", True)
    return {
        "num_layers": required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": head_dim(None, hidden, heads, "num_attention_heads"),
        "intermediate_size": required_int(cfg, model_type, "intermediate_size"),
        "vocab_size": required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": False,
        "norm": "layer",
        "qkv_bias": attention_bias,
        "o_bias": attention_bias,
        "mlp_bias": True,
        "tie_word_embeddings": flag(cfg, "tie_word_embeddings", False),
        "learned_pos_embeddings": 0,
        "max_position_embeddings": required_int(cfg, model_type, "max_position_embeddings"),
        "sliding_window": 0,
    }


def _opt(cfg: dict, model_type: str) -> dict:
    hidden = required_int(cfg, model_type, "hidden_size", "d_model")
    heads = required_int(cfg, model_type, "num_attention_heads")
    proj = optional_int(cfg, model_type, "word_embed_proj_dim")
    if proj is not None and proj != hidden:
        raise fail(
            f"word_embed_proj_dim={proj} differs from hidden_size={hidden}; the project_in/project_out "
            "layers are not modelled, use an OPT config whose word_embed_proj_dim equals hidden_size"
        )
    positions = required_int(cfg, model_type, "max_position_embeddings")
    bias = flag(cfg, "enable_bias", True)
    return {
        "num_layers": required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": head_dim(None, hidden, heads, "num_attention_heads"),
        "intermediate_size": required_int(cfg, model_type, "ffn_dim"),
        "vocab_size": required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": False,
        "norm": "layer",
        "qkv_bias": bias,
        "o_bias": bias,
        "mlp_bias": bias,
        "tie_word_embeddings": flag(cfg, "tie_word_embeddings", True),
        # OPTLearnedPositionalEmbedding keeps 2 extra rows (offset for the padding convention).
        "learned_pos_embeddings": positions + 2,
        "max_position_embeddings": positions,
        "sliding_window": 0,
    }


_MAPPERS = {
    "llama": _rotary_gated,
    "mistral": _rotary_gated,
    "qwen2": _rotary_gated,
    "qwen3": _rotary_gated,
    "mimo": _rotary_gated,
    "gpt2": _gpt2,
    "gpt_neox": _gpt_neox,
    "opt": _opt,
    "mixtral": _mixtral,
    "qwen2_moe": _qwen_moe,
    "qwen3_moe": _qwen_moe,
    "deepseek_v2": _deepseek,
    "deepseek_v3": _deepseek,
}

_FIELD_ORDER = (
    "num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
    "vocab_size", "gated_mlp", "norm", "qkv_bias", "o_bias", "mlp_bias", "tie_word_embeddings",
    "learned_pos_embeddings", "max_position_embeddings", "sliding_window",
)

# Added, in this order, by the families that have them.
_EXTRA_ORDER = (
    "qk_norm", "num_experts", "experts_per_token", "shared_experts", "moe_intermediate_size",
    "shared_expert_intermediate_size", "shared_expert_gate", "router_bias", "first_dense_layers",
    "moe_layer_freq", "q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim",
)


def fields_from_hf_config(cfg: dict, name: str) -> dict:
    """Map a Hugging Face ``config.json`` dict to the model-profile fields.

    Parameters
    ----------
    cfg : dict
        The parsed ``config.json``. Keys the mapping does not use are ignored.
    name : str
        Canonical name for the model; also used in ``source``.

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
        qk_rope_head_dim, v_head_dim``. Counts are ints (dimensions in elements, lengths in tokens);
        ``aliases`` is an empty tuple; ``family`` is the config's ``model_type``.

    Raises
    ------
    RooflineError
        For an unsupported ``model_type``, a missing required key, a count that is not a positive
        integer, a flag that is not a boolean, heads not divisible by KV heads, a hidden size not
        divisible by the heads without ``head_dim``, an OPT ``word_embed_proj_dim`` projection, a Qwen
        MoE layer pattern other than every-layer MoE, or MLA with ``attention_bias``.
    """
    if not isinstance(cfg, dict):
        raise fail(f"top level is {type(cfg).__name__}, expected a JSON object; pass the parsed config.json")
    model_type = cfg.get("model_type", MISSING)
    if model_type is MISSING:
        raise fail(
            "required key 'model_type' is missing; add it from the model's published config.json "
            f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    if not isinstance(model_type, str) or model_type not in _MAPPERS:
        raise fail(
            f"model_type {model_type!r} is not supported; supported: {', '.join(SUPPORTED_MODEL_TYPES)}"
        )
    fields = _MAPPERS[model_type](cfg, model_type)
    result = {
        "name": name,
        "aliases": (),
        "family": model_type,
        "source": f"Hugging Face config.json: {name}",
    }
    result.update((key, fields[key]) for key in _FIELD_ORDER)
    result.update((key, fields[key]) for key in _EXTRA_ORDER if key in fields)
    return result
