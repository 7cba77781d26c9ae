"""Reading the keys of a Hugging Face ``config.json``: present, absent or null, counts and flags, each
problem a one-line :class:`RooflineError` naming the key, the value and the fix."""

from __future__ import annotations

import math
from typing import Any

from roofline.errors import RooflineError

MISSING = object()


def fail(message: str) -> RooflineError:
    return RooflineError("config.json: " + message)


def lookup(cfg: dict, model_type: str, *keys: str, required: bool = True) -> tuple[str, Any]:
    """Return ``(key, value)`` for the first of ``keys`` present in ``cfg``.

    The first key is the one named in messages. A missing key returns ``(keys[0], MISSING)``
    when not required.
    """
    for key in keys:
        if key in cfg:
            return key, cfg[key]
    if required:
        also = f" (or {', '.join(repr(k) for k in keys[1:])})" if len(keys) > 1 else ""
        raise fail(
            f"required key {keys[0]!r}{also} is missing for model_type {model_type!r}; "
            "add it from the model's published config.json"
        )
    return keys[0], MISSING


def positive_int(key: str, value: Any) -> int:
    """Validate a count: an int, or a float with an integral value, that is > 0 (bools rejected)."""
    ok = False
    if isinstance(value, bool):
        ok = False
    elif isinstance(value, int):
        ok = value > 0
    elif isinstance(value, float):
        ok = math.isfinite(value) and value.is_integer() and value > 0
    if not ok:
        raise fail(f"{key}={value!r} must be a positive integer; fix the file")
    return int(value)


def required_int(cfg: dict, model_type: str, *keys: str) -> int:
    key, value = lookup(cfg, model_type, *keys)
    return positive_int(key, value)


def optional_int(cfg: dict, model_type: str, *keys: str) -> int | None:
    """A positive int, or None when the key is absent or null."""
    key, value = lookup(cfg, model_type, *keys, required=False)
    if value is MISSING or value is None:
        return None
    return positive_int(key, value)


def count(cfg: dict, model_type: str, key: str, default: int | None = None) -> int:
    """A whole number >= 0. Absent or null gives ``default``; with no default the key is required."""
    key, value = lookup(cfg, model_type, key, required=default is None)
    if value is MISSING or value is None:
        if default is None:
            raise fail(f"{key}=null must be a whole number >= 0; fix the file")
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0:
        return 0
    try:
        return positive_int(key, value)
    except RooflineError:
        raise fail(f"{key}={value!r} must be a whole number >= 0; fix the file") from None


def flag(cfg: dict, key: str, default: bool) -> bool:
    """A boolean flag; absent or null gives ``default``."""
    value = cfg.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise fail(f"{key}={value!r} must be true or false; fix the file")
    return value


def head_dim(explicit: int | None, hidden: int, heads: int, heads_key: str,
              hidden_key: str = "hidden_size") -> int:
    """``explicit`` when given, else hidden / heads (which must divide)."""
    if explicit is not None:
        return explicit
    if hidden % heads:
        raise fail(
            f"{hidden_key}={hidden} is not divisible by {heads_key}={heads} and no head_dim is given; "
            "add head_dim or fix the file"
        )
    return hidden // heads


def kv_heads(cfg: dict, model_type: str, heads: int) -> int:
    kv = optional_int(cfg, model_type, "num_key_value_heads")
    if kv is None:
        return heads
    if heads % kv:
        raise fail(
            f"num_attention_heads={heads} is not divisible by num_key_value_heads={kv}; fix the file"
        )
    return kv


def sliding_window(cfg: dict, model_type: str, absent_default: int) -> int:
    """Window in tokens, 0 for full attention (a null value)."""
    if "sliding_window" not in cfg:
        return absent_default
    window = optional_int(cfg, model_type, "sliding_window")
    return 0 if window is None else window


def rotary_base(cfg: dict, model_type: str) -> dict:
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
