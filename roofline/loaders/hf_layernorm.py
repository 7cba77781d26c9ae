"""The LayerNorm families of the Hugging Face ``config.json`` reader: gpt2, gpt_neox and opt (what each
implies is listed in :mod:`roofline.loaders.hf_config`). Each mapper returns the keys of a model profile."""

from __future__ import annotations

from roofline.loaders.hf_fields import fail, flag, head_dim, optional_int, required_int


def gpt2(cfg: dict, model_type: str) -> dict:
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


def gpt_neox(cfg: dict, model_type: str) -> dict:
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


def opt(cfg: dict, model_type: str) -> dict:
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
