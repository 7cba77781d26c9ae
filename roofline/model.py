"""Transformer models: the ``Model`` value, its parameter counts, and loaders.

A model comes from ``profiles/models/*.toml`` (by name or alias), from a Hugging Face ``config.json``
(or a folder holding one), or from a user's TOML file with the same fields.

Besides dense decoders, a ``Model`` describes two DeepSeek/Mixtral/Qwen-MoE era features exactly:

- Mixture of experts (``num_experts > 0``). Each MoE layer replaces the dense MLP with a router
  (``hidden_size x num_experts`` weights, plus ``num_experts`` score-correction biases when
  ``router_bias``), ``num_experts`` routed expert MLPs of width ``moe_intermediate_size`` of which a
  token uses ``experts_per_token``, and optional always-on shared experts. The shared experts are
  one MLP of width ``shared_expert_intermediate_size``, or ``shared_experts * moe_intermediate_size``
  when that is 0 (DeepSeek fuses its shared experts that way; the weight count is the same as separate
  experts). ``shared_expert_gate`` adds Qwen2-MoE's ``hidden_size -> 1`` gate on the shared expert.
  Layer ``i`` (0-based) is an MoE layer when ``i >= first_dense_layers`` and
  ``i % moe_layer_freq == 0`` (DeepSeek's rule); the others have a dense MLP of ``intermediate_size``.
- Multi-head latent attention (``kv_lora_rank > 0``, DeepSeek-V2/V3). Queries go through a rank
  ``q_lora_rank`` bottleneck (0 = a plain ``hidden -> heads x (nope + rope)`` projection); keys and
  values are rebuilt per head from one cached latent of ``kv_lora_rank`` plus a shared rotary key of
  ``qk_rope_head_dim``. ``head_dim`` is then the query/key head width ``qk_nope_head_dim +
  qk_rope_head_dim`` and ``num_kv_heads`` equals ``num_heads`` (every head has its own K and V after
  decompression); ``v_head_dim`` is the value head width.

Every count field defaults to 0 (off), so a dense model is unchanged.
"""

from __future__ import annotations

import json
import numbers
import types
from pathlib import Path

import attrs

from roofline.errors import RooflineError, closest
from roofline.quantity import MAX_COUNT, show
from roofline.registry import Registry, is_path, positive_number, read_toml, string_list, text

MODELS = Registry("models", "model profile", "roofline models")

_INT_FIELDS = ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
               "vocab_size")
_BOOL_FIELDS = ("gated_mlp", "qkv_bias", "o_bias", "mlp_bias", "tie_word_embeddings", "qk_norm", "router_bias",
                "shared_expert_gate")
# Counts that may be 0 (= feature off); see the module docstring.
MOE_FIELDS = ("num_experts", "experts_per_token", "shared_experts", "moe_intermediate_size",
              "shared_expert_intermediate_size", "first_dense_layers", "moe_layer_freq")
MLA_FIELDS = ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")
_OPTIONAL_COUNTS = ("learned_pos_embeddings", "max_position_embeddings", "sliding_window")
#: Most layers and attention heads a model may have. The largest published models have ~130 of each;
#: the searches over pipeline stages and TP sizes walk these counts, so a typo such as 10**9 layers is
#: refused here instead of taking hours.
MAX_LAYERS = 10_000
MAX_HEADS = 10_000


def count_moe_layers(num_layers: int, first_dense_layers: int, moe_layer_freq: int) -> int:
    """Layers ``i`` in ``range(num_layers)`` with ``i >= first_dense_layers`` and ``i % moe_layer_freq == 0``
    (counted in closed form: the multiples of ``moe_layer_freq`` below ``num_layers`` minus those below
    ``first_dense_layers``)."""
    if first_dense_layers >= num_layers:
        return 0
    return -(-num_layers // moe_layer_freq) - -(-first_dense_layers // moe_layer_freq)


@attrs.frozen
class Model:
    """A decoder-only transformer's shape. Counts are plain integers; see ``param_count``.

    MoE and MLA fields are described in the module docstring; 0 / False means the feature is absent.
    Impossible combinations raise :class:`RooflineError` at construction.
    """

    name: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int  # dense MLP width (MoE models: the first_dense_layers' MLP)
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
    qk_norm: bool = False  # RMSNorm of head_dim on each query and key head (Qwen3): 2 * head_dim per layer
    # ---- mixture of experts (0 = dense) ----
    num_experts: int = 0  # routed experts per MoE layer
    experts_per_token: int = 0  # routed experts each token goes to (top-k)
    shared_experts: int = 0  # always-on experts per MoE layer
    moe_intermediate_size: int = 0  # MLP width of one routed expert
    shared_expert_intermediate_size: int = 0  # width of the shared MLP; 0 = shared_experts * moe_intermediate_size
    shared_expert_gate: bool = False  # Qwen2-MoE: hidden -> 1 gate on the shared expert
    router_bias: bool = False  # DeepSeek-V3 "noaux_tc": one score-correction bias per routed expert
    first_dense_layers: int = 0  # leading layers with a dense MLP (DeepSeek first_k_dense_replace)
    moe_layer_freq: int = 1  # after those, every moe_layer_freq-th layer (by index) is MoE
    # ---- multi-head latent attention (kv_lora_rank 0 = not MLA) ----
    q_lora_rank: int = 0  # 0 = queries projected directly from the hidden state
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    family: str = "llama"
    source: str = ""
    aliases: tuple[str, ...] = ()
    params_published: float | None = None
    params_active_published: float | None = None

    def __attrs_post_init__(self) -> None:
        problem = architecture_problem(self)
        if problem:
            raise RooflineError(f"model {self.name}: {problem}")

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

    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def moe_layers(self) -> int:
        """Number of layers whose MLP is a mixture of experts (0 for a dense model)."""
        if not self.is_moe:
            return 0
        return count_moe_layers(self.num_layers, self.first_dense_layers, self.moe_layer_freq)

    @property
    def dense_layers(self) -> int:
        """Number of layers with a dense MLP of ``intermediate_size``."""
        return self.num_layers - self.moe_layers

    @property
    def shared_width(self) -> int:
        """Width of the always-on shared MLP of an MoE layer (0 when there is none)."""
        if self.shared_experts == 0:
            return 0
        return self.shared_expert_intermediate_size or self.shared_experts * self.moe_intermediate_size

    # ---- parameters ----------------------------------------------------------------------------------
    def mlp_params(self, width: int) -> int:
        """One MLP of ``width`` (gated: gate, up and down projections) with its biases if any."""
        n_in = 2 if self.gated_mlp else 1
        params = (n_in + 1) * self.hidden_size * width
        if self.mlp_bias:
            params += n_in * width + self.hidden_size
        return params

    def attention_params(self) -> int:
        """Attention weights of one layer: projections, their biases, and q/k or latent norms."""
        h, heads = self.hidden_size, self.num_heads
        if self.is_mla:
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            if self.q_lora_rank:
                q = h * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * heads * qk
            else:
                q = h * heads * qk
            kv = (h * (self.kv_lora_rank + self.qk_rope_head_dim) + self.kv_lora_rank
                  + self.kv_lora_rank * heads * (self.qk_nope_head_dim + self.v_head_dim))
            return q + kv + heads * self.v_head_dim * h
        attn = h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h
        if self.qkv_bias:
            attn += self.q_dim + 2 * self.kv_dim
        if self.o_bias:
            attn += h
        if self.qk_norm:
            attn += 2 * self.head_dim
        return attn

    def router_params(self) -> int:
        """Router of one MoE layer: ``hidden x num_experts`` (+ ``num_experts`` biases)."""
        return self.hidden_size * self.num_experts + (self.num_experts if self.router_bias else 0)

    def expert_params(self) -> int:
        """One routed expert."""
        return self.mlp_params(self.moe_intermediate_size)

    def shared_expert_params(self) -> int:
        """All shared experts of one MoE layer, with the shared-expert gate if any."""
        if self.shared_experts == 0:
            return 0
        return self.mlp_params(self.shared_width) + (self.hidden_size if self.shared_expert_gate else 0)

    def layer_params(self) -> int:
        """Parameters of one dense transformer block (attention, MLP of ``intermediate_size``, two norms)."""
        return self.attention_params() + self.mlp_params(self.intermediate_size) + 2 * self.norm_params

    def moe_layer_params(self, active: bool = False) -> int:
        """One MoE block; ``active`` keeps only the ``experts_per_token`` routed experts a token uses."""
        routed = self.experts_per_token if active else self.num_experts
        return (self.attention_params() + self.router_params() + routed * self.expert_params()
                + self.shared_expert_params() + 2 * self.norm_params)

    def embedding_params(self) -> int:
        return (self.vocab_size + self.learned_pos_embeddings) * self.hidden_size

    def lm_head_params(self) -> int:
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    def _count(self, active: bool) -> int:
        blocks = self.dense_layers * self.layer_params()
        if self.is_moe:
            blocks += self.moe_layers * self.moe_layer_params(active)
        return self.embedding_params() + blocks + self.norm_params + self.lm_head_params()

    def param_count(self) -> int:
        """Exact parameter count: embeddings, blocks (every expert), final norm and (untied) LM head.

        Multi-token-prediction modules (DeepSeek-V3's ``num_nextn_predict_layers``) are not part of the
        model and are not counted.
        """
        return self._count(active=False)

    def active_param_count(self) -> int:
        """Parameters used per token: ``param_count`` with only ``experts_per_token`` routed experts.

        Shared experts, routers, attention, norms, the whole embedding table and the LM head are counted
        as ``param_count`` counts them, so a dense model's active count equals its total.
        """
        return self._count(active=True)

    # ---- KV cache ------------------------------------------------------------------------------------
    def kv_elements_per_token(self) -> int:
        """Values cached per token over all layers.

        GQA/MQA: a K and a V of ``num_kv_heads x head_dim`` per layer. MLA: one latent of
        ``kv_lora_rank`` plus the shared rotary key of ``qk_rope_head_dim`` per layer, for all heads.
        """
        if self.is_mla:
            return (self.kv_lora_rank + self.qk_rope_head_dim) * self.num_layers
        return 2 * self.num_kv_heads * self.head_dim * self.num_layers

    def kv_bytes_per_token(self, kv_bytes_per_element: float) -> float:
        return self.kv_elements_per_token() * kv_bytes_per_element


def architecture_problem(m) -> str | None:
    """The first impossible MoE/MLA combination in ``m`` (a Model or anything with its attributes), or None.

    The message names the field, the value and the fix; callers prefix where it came from. Shape counts
    must be whole numbers from 1 to ``MAX_COUNT`` (layers and heads at most ``MAX_LAYERS`` and
    ``MAX_HEADS``), flags booleans and ``norm`` 'rms' or 'layer', so that a ``Model`` built directly is
    checked like one loaded from a file.
    """
    for f in _INT_FIELDS:
        value = getattr(m, f)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= MAX_COUNT:
            return f"{f}={show(value)} must be a whole number from 1 to {MAX_COUNT:,}"
    for f, most in (("num_layers", MAX_LAYERS), ("num_heads", MAX_HEADS)):
        if getattr(m, f) > most:
            return f"{f}={getattr(m, f):,} exceeds {most:,}, far beyond any real model; fix the value"
    if m.num_heads % m.num_kv_heads:
        return f"num_kv_heads={m.num_kv_heads} does not divide num_heads={m.num_heads}; fix the value"
    for f in (*MOE_FIELDS, *MLA_FIELDS, *_OPTIONAL_COUNTS):
        value = getattr(m, f)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= MAX_COUNT:
            return f"{f}={show(value)} must be a whole number from 0 to {MAX_COUNT:,}"
    for f in _BOOL_FIELDS:
        if not isinstance(getattr(m, f), bool):
            return f"{f}={getattr(m, f)!r} must be true or false"
    if m.norm not in ("rms", "layer"):
        return f"norm={m.norm!r} must be 'rms' or 'layer'"
    if m.moe_layer_freq < 1:
        return f"moe_layer_freq={m.moe_layer_freq} must be at least 1 (1 = every layer after first_dense_layers)"
    if m.num_experts == 0:
        for f in ("experts_per_token", "shared_experts", "moe_intermediate_size",
                  "shared_expert_intermediate_size", "first_dense_layers"):
            if getattr(m, f):
                return f"{f}={getattr(m, f)} needs routed experts, but num_experts=0; set num_experts or drop {f}"
        for f in ("router_bias", "shared_expert_gate"):
            if getattr(m, f):
                return f"{f}=true needs routed experts, but num_experts=0; set num_experts or drop {f}"
    else:
        if not 1 <= m.experts_per_token <= m.num_experts:
            return (f"experts_per_token={m.experts_per_token} must be between 1 and "
                    f"num_experts={m.num_experts}; give the router's top-k")
        if m.moe_intermediate_size == 0:
            return "moe_intermediate_size=0 with num_experts > 0; give the width of one routed expert"
        if m.shared_experts == 0 and (m.shared_expert_intermediate_size or m.shared_expert_gate):
            return ("shared_experts=0 but a shared-expert width or gate is given; set shared_experts "
                    "(1 for Qwen2-MoE) or drop them")
        if m.mlp_bias:
            return "mlp_bias=true with experts is not modelled; set mlp_bias = false"
        if count_moe_layers(m.num_layers, m.first_dense_layers, m.moe_layer_freq) == 0:
            return (f"first_dense_layers={m.first_dense_layers} and moe_layer_freq={m.moe_layer_freq} leave no "
                    f"MoE layer among {m.num_layers}; lower them or set num_experts = 0")
    if m.kv_lora_rank == 0:
        for f in ("q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim"):
            if getattr(m, f):
                return f"{f}={getattr(m, f)} is an MLA field but kv_lora_rank=0; set kv_lora_rank or drop {f}"
    else:
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        if qk == 0 or m.v_head_dim == 0:
            return (f"MLA (kv_lora_rank={m.kv_lora_rank}) needs qk_nope_head_dim + qk_rope_head_dim > 0 and "
                    f"v_head_dim > 0 (got {qk} and {m.v_head_dim}); copy them from config.json")
        if m.head_dim != qk:
            return (f"head_dim={m.head_dim} must equal qk_nope_head_dim + qk_rope_head_dim = {qk} for MLA; "
                    f"set head_dim = {qk} or leave it out")
        if m.num_kv_heads != m.num_heads:
            return (f"num_kv_heads={m.num_kv_heads} must equal num_heads={m.num_heads} for MLA (each head "
                    f"rebuilds its own K and V); set num_kv_heads = {m.num_heads}")
        if m.qkv_bias or m.o_bias or m.qk_norm:
            return "qkv_bias, o_bias and qk_norm are not modelled with MLA; set them to false"
    return None


def _count_field(field: str, value) -> int:
    """A whole number from 0 to ``MAX_COUNT`` (0 = feature off); huge integers are refused, not overflowed."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_COUNT \
            or value != int(value):
        raise RooflineError(f"{field}={show(value)} must be a whole number from 0 to {MAX_COUNT:,} (0 turns "
                            f"the feature off); fix the value")
    return int(value)


_DEFAULTS = {a.name: a.default for a in attrs.fields(Model) if a.default is not attrs.NOTHING}
#: Keys a model file may hold: the ``Model`` fields and free-text ``notes``; anything else is a typo.
_KNOWN_KEYS = sorted({a.name for a in attrs.fields(Model)} | {"notes"})


def model_from_dict(d: dict, where: str = "model") -> Model:
    """Validate a dict of model fields (TOML profile or mapped HF config) and build a ``Model``."""
    if not isinstance(d, dict):
        raise RooflineError(f"{where}: expected a table of model fields; see profiles/models/Llama-3.1-8B.toml")
    for key in d:
        if key not in _KNOWN_KEYS:
            near = closest(str(key), _KNOWN_KEYS)
            raise RooflineError(f"{where}: {key} is not a model field; " + (f"did you mean {', '.join(near)}?" if near
                                else "see profiles/models/Llama-3.1-8B.toml for the fields"))
    kw = {}
    for f in (*MOE_FIELDS, *MLA_FIELDS):
        if f in d and d[f] is not None:
            kw[f] = _count_field(f"{where}: {f}", d[f])
    is_mla = kw.get("kv_lora_rank", 0) > 0
    for f in _INT_FIELDS:
        if f == "head_dim" and f not in d:
            continue
        if f not in d:
            raise RooflineError(f"{where}: {f} is missing; add it (a positive integer)")
        kw[f] = positive_number(f"{where}: {f}", d[f], integer=True)
    if "head_dim" not in kw:
        if is_mla:
            kw["head_dim"] = kw.get("qk_nope_head_dim", 0) + kw.get("qk_rope_head_dim", 0)
        elif kw["hidden_size"] % kw["num_heads"]:
            raise RooflineError(f"{where}: hidden_size={kw['hidden_size']} is not divisible by "
                                f"num_heads={kw['num_heads']}; give head_dim explicitly")
        else:
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
    for f in ("params_published", "params_active_published"):
        if d.get(f) is not None:
            kw[f] = positive_number(f"{where}: {f}", d[f])
    kw["name"] = text(d, "name", where, default="custom")
    kw["family"] = text(d, "family", where, default="llama")
    kw["source"] = str(d.get("source", ""))
    kw["aliases"] = string_list(d, "aliases", where) if "aliases" in d else ()
    problem = architecture_problem(types.SimpleNamespace(**(_DEFAULTS | kw)))
    if problem:
        raise RooflineError(f"{where}: {problem}")
    return Model(**kw)


def load_model(name_or_path: str | Path) -> Model:
    """Load by profile name/alias, a ``.toml`` file, a HF ``config.json`` or a folder holding one."""
    s = str(name_or_path)
    if not s.strip():
        raise RooflineError("model='' is empty; give a profile name such as 70B (`roofline models` lists them), "
                            "a config.json or its folder, or a .toml file")
    path = MODELS.find(s)
    if path is not None:
        return model_from_dict(read_toml(path, "model profile"), where=f"model {path.stem}")
    p = Path(s)
    if is_path(p, "dir"):
        p = p / "config.json"
        if not is_path(p):
            raise RooflineError(f"model: folder {s!r} has no config.json; point --model at a Hugging Face model folder")
    if p.suffix.lower() == ".toml":
        return model_from_dict(read_toml(p, "model file"), where=f"model file {p.name}")
    if p.suffix.lower() == ".json" or is_path(p):
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
