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

import math
from typing import Any

from roofline.errors import RooflineError

SUPPORTED_MODEL_TYPES = ("deepseek_v2", "deepseek_v3", "gpt2", "gpt_neox", "llama", "mistral", "mixtral",
                         "opt", "qwen2", "qwen2_moe", "qwen3_moe")

_MISSING = object()

# transformers' MistralConfig default for a config.json without a sliding_window key.
_MISTRAL_DEFAULT_SLIDING_WINDOW = 4096
# transformers' Qwen2Config default for sliding_window (used only with use_sliding_window=true).
_QWEN2_DEFAULT_SLIDING_WINDOW = 4096


def _fail(message: str) -> RooflineError:
    return RooflineError("config.json: " + message)


def _lookup(cfg: dict, model_type: str, *keys: str, required: bool = True) -> tuple[str, Any]:
    """Return ``(key, value)`` for the first of ``keys`` present in ``cfg``.

    The first key is the one named in messages. A missing key returns ``(keys[0], _MISSING)``
    when not required.
    """
    for key in keys:
        if key in cfg:
            return key, cfg[key]
    if required:
        also = f" (or {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
        raise _fail(
            f"required key {keys[0]!r}{also} is missing for model_type {model_type!r}; "
            "add it from the model's published config.json"
        )
    return keys[0], _MISSING


def _positive_int(key: str, value: Any) -> int:
    """Validate a count: an int, or a float with an integral value, that is > 0 (bools rejected)."""
    ok = False
    if isinstance(value, bool):
        ok = False
    elif isinstance(value, int):
        ok = value > 0
    elif isinstance(value, float):
        ok = math.isfinite(value) and value.is_integer() and value > 0
    if not ok:
        raise _fail(f"{key}={value!r} must be a positive integer; fix the file")
    return int(value)


def _required_int(cfg: dict, model_type: str, *keys: str) -> int:
    key, value = _lookup(cfg, model_type, *keys)
    return _positive_int(key, value)


def _optional_int(cfg: dict, model_type: str, *keys: str) -> int | None:
    """A positive int, or None when the key is absent or null."""
    key, value = _lookup(cfg, model_type, *keys, required=False)
    if value is _MISSING or value is None:
        return None
    return _positive_int(key, value)


def _count(cfg: dict, model_type: str, key: str, default: int | None = None) -> int:
    """A whole number >= 0. Absent or null gives ``default``; with no default the key is required."""
    key, value = _lookup(cfg, model_type, key, required=default is None)
    if value is _MISSING or value is None:
        if default is None:
            raise _fail(f"{key}=null must be a whole number >= 0; fix the file")
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return 0
    try:
        return _positive_int(key, value)
    except RooflineError:
        raise _fail(f"{key}={value!r} must be a whole number >= 0; fix the file") from None


def _flag(cfg: dict, key: str, default: bool) -> bool:
    """A boolean flag; absent or null gives ``default``."""
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _fail(f"{key}={value!r} must be true or false; fix the file")
    return value


def _head_dim(explicit: int | None, hidden: int, heads: int, heads_key: str,
              hidden_key: str = "hidden_size") -> int:
    """``explicit`` when given, else hidden / heads (which must divide)."""
    if explicit is not None:
        return explicit
    if hidden % heads:
        raise _fail(
            f"{hidden_key}={hidden} is not divisible by {heads_key}={heads} and no head_dim is given; "
            "add head_dim or fix the file"
        )
    return hidden // heads


def _kv_heads(cfg: dict, model_type: str, heads: int) -> int:
    kv = _optional_int(cfg, model_type, "num_key_value_heads")
    if kv is None:
        return heads
    if heads % kv:
        raise _fail(
            f"num_attention_heads={heads} is not divisible by num_key_value_heads={kv}; fix the file"
        )
    return kv


def _sliding_window(cfg: dict, model_type: str, absent_default: int) -> int:
    """Window in tokens, 0 for full attention (a null value)."""
    if "sliding_window" not in cfg:
        return absent_default
    window = _optional_int(cfg, model_type, "sliding_window")
    return 0 if window is None else window


def _rotary_base(cfg: dict, model_type: str) -> dict:
    """The fields shared by llama-style families: gated SwiGLU MLP, RMSNorm, rotary positions."""
    hidden = _required_int(cfg, model_type, "hidden_size")
    heads = _required_int(cfg, model_type, "num_attention_heads")
    return {
        "num_layers": _required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": _kv_heads(cfg, model_type, heads),
        "head_dim": _head_dim(_optional_int(cfg, model_type, "head_dim"), hidden, heads,
                              "num_attention_heads"),
        "intermediate_size": _required_int(cfg, model_type, "intermediate_size"),
        "vocab_size": _required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": True,
        "norm": "rms",
        "tie_word_embeddings": _flag(cfg, "tie_word_embeddings", False),
        "learned_pos_embeddings": 0,
        "max_position_embeddings": _required_int(cfg, model_type, "max_position_embeddings"),
    }


def _rotary_gated(cfg: dict, model_type: str) -> dict:
    """llama, mistral, qwen2: gated SwiGLU MLP, RMSNorm, rotary positions."""
    fields = _rotary_base(cfg, model_type)
    if model_type == "llama":
        attention_bias = _flag(cfg, "attention_bias", False)
        fields.update(qkv_bias=attention_bias, o_bias=attention_bias,
                      mlp_bias=_flag(cfg, "mlp_bias", False), sliding_window=0)
    elif model_type == "mistral":
        fields.update(qkv_bias=False, o_bias=False, mlp_bias=False,
                      sliding_window=_sliding_window(cfg, model_type, _MISTRAL_DEFAULT_SLIDING_WINDOW))
    else:  # qwen2
        fields.update(qkv_bias=True, o_bias=False, mlp_bias=False, sliding_window=_qwen_window(cfg, model_type))
    return fields


def _qwen_window(cfg: dict, model_type: str) -> int:
    """Qwen families use ``sliding_window`` only when ``use_sliding_window`` is true."""
    if _flag(cfg, "use_sliding_window", False):
        return _sliding_window(cfg, model_type, _QWEN2_DEFAULT_SLIDING_WINDOW)
    return 0


def _mixtral(cfg: dict, model_type: str) -> dict:
    fields = _rotary_base(cfg, model_type)
    fields.update(
        qkv_bias=False, o_bias=False, mlp_bias=False, sliding_window=_sliding_window(cfg, model_type, 0),
        num_experts=_required_int(cfg, model_type, "num_local_experts"),
        experts_per_token=_required_int(cfg, model_type, "num_experts_per_tok"),
        moe_intermediate_size=fields["intermediate_size"],
    )
    return fields


def _qwen_moe(cfg: dict, model_type: str) -> dict:
    """qwen2_moe and qwen3_moe: every layer MoE (other layer patterns are refused)."""
    step = _count(cfg, model_type, "decoder_sparse_step", 1)
    only_dense = cfg.get("mlp_only_layers") or []
    if step != 1 or only_dense:
        raise _fail(
            f"decoder_sparse_step={step} / mlp_only_layers={only_dense!r}: only every-layer MoE "
            "(decoder_sparse_step=1, mlp_only_layers=[]) is modelled; use a config with every layer MoE"
        )
    fields = _rotary_base(cfg, model_type)
    fields.update(
        mlp_bias=False, sliding_window=_qwen_window(cfg, model_type),
        num_experts=_required_int(cfg, model_type, "num_experts"),
        experts_per_token=_required_int(cfg, model_type, "num_experts_per_tok"),
        moe_intermediate_size=_required_int(cfg, model_type, "moe_intermediate_size"),
    )
    if model_type == "qwen2_moe":
        fields.update(qkv_bias=True, o_bias=False, qk_norm=False, shared_experts=1, shared_expert_gate=True,
                      shared_expert_intermediate_size=_required_int(cfg, model_type,
                                                                    "shared_expert_intermediate_size"))
    else:  # qwen3_moe
        bias = _flag(cfg, "attention_bias", False)
        fields.update(qkv_bias=bias, o_bias=bias, qk_norm=True)
    return fields


def _deepseek(cfg: dict, model_type: str) -> dict:
    """deepseek_v2, deepseek_v3: multi-head latent attention and DeepSeekMoE."""
    if _flag(cfg, "attention_bias", False):
        raise _fail("attention_bias=true is not modelled for multi-head latent attention; "
                    "use a config with attention_bias=false")
    hidden = _required_int(cfg, model_type, "hidden_size")
    heads = _required_int(cfg, model_type, "num_attention_heads")
    nope = _count(cfg, model_type, "qk_nope_head_dim")
    rope = _count(cfg, model_type, "qk_rope_head_dim")
    if nope + rope == 0:
        raise _fail("qk_nope_head_dim + qk_rope_head_dim is 0; a query/key head needs a width, fix the file")
    default_method = "noaux_tc" if model_type == "deepseek_v3" else "greedy"
    return {
        "num_layers": _required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": nope + rope,
        "intermediate_size": _required_int(cfg, model_type, "intermediate_size"),
        "vocab_size": _required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": True,
        "norm": "rms",
        "qkv_bias": False,
        "o_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": _flag(cfg, "tie_word_embeddings", False),
        "learned_pos_embeddings": 0,
        "max_position_embeddings": _required_int(cfg, model_type, "max_position_embeddings"),
        "sliding_window": 0,
        "num_experts": _required_int(cfg, model_type, "n_routed_experts"),
        "experts_per_token": _required_int(cfg, model_type, "num_experts_per_tok"),
        "shared_experts": _count(cfg, model_type, "n_shared_experts", 0),
        "moe_intermediate_size": _required_int(cfg, model_type, "moe_intermediate_size"),
        "router_bias": (cfg.get("topk_method") or default_method) == "noaux_tc",
        "first_dense_layers": _count(cfg, model_type, "first_k_dense_replace"),
        "moe_layer_freq": _optional_int(cfg, model_type, "moe_layer_freq") or 1,
        "q_lora_rank": _count(cfg, model_type, "q_lora_rank", 0),
        "kv_lora_rank": _required_int(cfg, model_type, "kv_lora_rank"),
        "qk_nope_head_dim": nope,
        "qk_rope_head_dim": rope,
        "v_head_dim": _required_int(cfg, model_type, "v_head_dim"),
    }


def _gpt2(cfg: dict, model_type: str) -> dict:
    hidden = _required_int(cfg, model_type, "n_embd", "hidden_size")
    heads = _required_int(cfg, model_type, "n_head", "num_attention_heads")
    positions = _required_int(cfg, model_type, "n_positions", "max_position_embeddings")
    inner = _optional_int(cfg, model_type, "n_inner")
    return {
        "num_layers": _required_int(cfg, model_type, "n_layer", "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": _head_dim(None, hidden, heads, "n_head", "n_embd"),
        "intermediate_size": 4 * hidden if inner is None else inner,
        "vocab_size": _required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": False,
        "norm": "layer",
        "qkv_bias": True,
        "o_bias": True,
        "mlp_bias": True,
        "tie_word_embeddings": _flag(cfg, "tie_word_embeddings", True),
        "learned_pos_embeddings": positions,
        "max_position_embeddings": positions,
        "sliding_window": 0,
    }


def _gpt_neox(cfg: dict, model_type: str) -> dict:
    hidden = _required_int(cfg, model_type, "hidden_size")
    heads = _required_int(cfg, model_type, "num_attention_heads")
    attention_bias = _flag(cfg, "attention_bias", True)
    return {
        "num_layers": _required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": _head_dim(None, hidden, heads, "num_attention_heads"),
        "intermediate_size": _required_int(cfg, model_type, "intermediate_size"),
        "vocab_size": _required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": False,
        "norm": "layer",
        "qkv_bias": attention_bias,
        "o_bias": attention_bias,
        "mlp_bias": True,
        "tie_word_embeddings": _flag(cfg, "tie_word_embeddings", False),
        "learned_pos_embeddings": 0,
        "max_position_embeddings": _required_int(cfg, model_type, "max_position_embeddings"),
        "sliding_window": 0,
    }


def _opt(cfg: dict, model_type: str) -> dict:
    hidden = _required_int(cfg, model_type, "hidden_size", "d_model")
    heads = _required_int(cfg, model_type, "num_attention_heads")
    proj = _optional_int(cfg, model_type, "word_embed_proj_dim")
    if proj is not None and proj != hidden:
        raise _fail(
            f"word_embed_proj_dim={proj} differs from hidden_size={hidden}; the project_in/project_out "
            "layers are not modelled, use an OPT config whose word_embed_proj_dim equals hidden_size"
        )
    positions = _required_int(cfg, model_type, "max_position_embeddings")
    bias = _flag(cfg, "enable_bias", True)
    return {
        "num_layers": _required_int(cfg, model_type, "num_hidden_layers"),
        "hidden_size": hidden,
        "num_heads": heads,
        "num_kv_heads": heads,
        "head_dim": _head_dim(None, hidden, heads, "num_attention_heads"),
        "intermediate_size": _required_int(cfg, model_type, "ffn_dim"),
        "vocab_size": _required_int(cfg, model_type, "vocab_size"),
        "gated_mlp": False,
        "norm": "layer",
        "qkv_bias": bias,
        "o_bias": bias,
        "mlp_bias": bias,
        "tie_word_embeddings": _flag(cfg, "tie_word_embeddings", True),
        # OPTLearnedPositionalEmbedding keeps 2 extra rows (offset for the padding convention).
        "learned_pos_embeddings": positions + 2,
        "max_position_embeddings": positions,
        "sliding_window": 0,
    }


_MAPPERS = {
    "llama": _rotary_gated,
    "mistral": _rotary_gated,
    "qwen2": _rotary_gated,
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
        raise _fail(f"top level is {type(cfg).__name__}, expected a JSON object; pass the parsed config.json")
    model_type = cfg.get("model_type", _MISSING)
    if model_type is _MISSING:
        raise _fail(
            "required key 'model_type' is missing; add it from the model's published config.json "
            f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})"
        )
    if not isinstance(model_type, str) or model_type not in _MAPPERS:
        raise _fail(
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
