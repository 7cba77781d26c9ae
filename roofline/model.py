"""Transformer models: the ``Model`` value, its parameter count, and loaders.

A model comes from ``profiles/models/*.toml`` (by name or alias), from a Hugging Face ``config.json``
(or a folder holding one), or from a user's TOML file with the same fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs

from roofline.errors import RooflineError
from roofline.registry import Registry, positive_number, read_toml, string_list, text

MODELS = Registry("models", "model profile", "roofline models")

_INT_FIELDS = ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
               "vocab_size")
_BOOL_FIELDS = ("gated_mlp", "qkv_bias", "o_bias", "mlp_bias", "tie_word_embeddings")


@attrs.frozen
class Model:
    """A decoder-only transformer's shape. Counts are plain integers; see ``param_count``."""

    name: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    gated_mlp: bool = True
    norm: str = "rms"  # "rms" (weight) or "layer" (weight + bias)
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    tie_word_embeddings: bool = False
    learned_pos_embeddings: int = 0
    max_position_embeddings: int = 0
    sliding_window: int = 0  # 0 = full attention
    family: str = "llama"
    source: str = ""
    aliases: tuple[str, ...] = ()
    params_published: float | None = None

    # ---- shape -------------------------------------------------------------------------------------
    @property
    def q_dim(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def norm_params(self) -> int:
        return self.hidden_size * (2 if self.norm == "layer" else 1)

    def layer_params(self) -> int:
        """Parameters of one transformer block (attention, MLP, two norms)."""
        h, f = self.hidden_size, self.intermediate_size
        attn = h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h
        if self.qkv_bias:
            attn += self.q_dim + 2 * self.kv_dim
        if self.o_bias:
            attn += h
        n_in = 2 if self.gated_mlp else 1
        mlp = (n_in + 1) * h * f
        if self.mlp_bias:
            mlp += n_in * f + h
        return attn + mlp + 2 * self.norm_params

    def embedding_params(self) -> int:
        return (self.vocab_size + self.learned_pos_embeddings) * self.hidden_size

    def lm_head_params(self) -> int:
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    def param_count(self) -> int:
        """Exact parameter count: embeddings, blocks, final norm and (untied) LM head."""
        return (self.embedding_params() + self.num_layers * self.layer_params() + self.norm_params
                + self.lm_head_params())

    def kv_elements_per_token(self) -> int:
        """K and V values cached per token over all layers (GQA/MQA aware)."""
        return 2 * self.num_kv_heads * self.head_dim * self.num_layers

    def kv_bytes_per_token(self, kv_bytes_per_element: float) -> float:
        return self.kv_elements_per_token() * kv_bytes_per_element


def model_from_dict(d: dict, where: str = "model") -> Model:
    """Validate a dict of model fields (TOML profile or mapped HF config) and build a ``Model``."""
    if not isinstance(d, dict):
        raise RooflineError(f"{where}: expected a table of model fields; see profiles/models/Llama-3.1-8B.toml")
    kw = {}
    for f in _INT_FIELDS:
        if f == "head_dim" and f not in d:
            continue
        if f not in d:
            raise RooflineError(f"{where}: {f} is missing; add it (a positive integer)")
        kw[f] = positive_number(f"{where}: {f}", d[f], integer=True)
    if "head_dim" not in kw:
        if kw["hidden_size"] % kw["num_heads"]:
            raise RooflineError(f"{where}: hidden_size={kw['hidden_size']} is not divisible by "
                                f"num_heads={kw['num_heads']}; give head_dim explicitly")
        kw["head_dim"] = kw["hidden_size"] // kw["num_heads"]
    if kw["num_heads"] % kw["num_kv_heads"]:
        raise RooflineError(f"{where}: num_kv_heads={kw['num_kv_heads']} does not divide "
                            f"num_heads={kw['num_heads']}; fix the file")
    for f in _BOOL_FIELDS:
        if f in d:
            if not isinstance(d[f], bool):
                raise RooflineError(f"{where}: {f}={d[f]!r} must be true or false")
            kw[f] = d[f]
    for f in ("learned_pos_embeddings", "max_position_embeddings", "sliding_window"):
        if f in d and d[f] not in (0, None):
            kw[f] = positive_number(f"{where}: {f}", d[f], integer=True)
    norm = d.get("norm", "rms")
    if norm not in ("rms", "layer"):
        raise RooflineError(f"{where}: norm={norm!r} must be 'rms' or 'layer'")
    kw["norm"] = norm
    if d.get("params_published") is not None:
        kw["params_published"] = positive_number(f"{where}: params_published", d["params_published"])
    kw["name"] = text(d, "name", where, default="custom")
    kw["family"] = text(d, "family", where, default="llama")
    kw["source"] = str(d.get("source", ""))
    kw["aliases"] = string_list(d, "aliases", where) if "aliases" in d else ()
    return Model(**kw)


def load_model(name_or_path: str | Path) -> Model:
    """Load by profile name/alias, a ``.toml`` file, a HF ``config.json`` or a folder holding one."""
    s = str(name_or_path)
    path = MODELS.find(s)
    if path is not None:
        return model_from_dict(read_toml(path, "model profile"), where=f"model {path.stem}")
    p = Path(s)
    if p.is_dir():
        p = p / "config.json"
        if not p.exists():
            raise RooflineError(f"model: folder {s!r} has no config.json; point --model at a Hugging Face model folder")
    if p.suffix.lower() == ".toml":
        return model_from_dict(read_toml(p, "model file"), where=f"model file {p.name}")
    if p.suffix.lower() == ".json" or p.exists():
        return _from_hf(p)
    raise MODELS.unknown(s, "model")


def _from_hf(path: Path) -> Model:
    from roofline.hf_config import fields_from_hf_config

    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RooflineError(f"model: file {str(path)!r} does not exist; give a profile name or a config.json path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RooflineError(f"model: cannot read {str(path)!r} ({exc}); check the file") from None
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RooflineError(f"model: {str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}); fix the file") from None
    if not isinstance(cfg, dict):
        raise RooflineError(f"model: {str(path)!r} must hold a JSON object (a Hugging Face config)")
    name = cfg.get("_name_or_path") or path.parent.name or "custom"
    return model_from_dict(fields_from_hf_config(cfg, str(name)), where=f"config.json {str(path)!r}")
