"""Transformer models: the frozen ``Model`` value and the checks that keep it possible.

A model comes from ``profiles/models/*.toml`` (by name or alias), from a Hugging Face ``config.json``
(or a folder holding one), or from a user's TOML file with the same fields: see
:mod:`roofline.loaders.models`. Its parameter and KV-cache counts are computed by the same kernels that
price it (:mod:`roofline.kernels.shapes`), so what a model reports is what an estimate charges.

Besides dense decoders, a ``Model`` describes two DeepSeek/Mixtral/Qwen-MoE era features exactly:

- Mixture of experts (``num_experts > 0``). Each MoE layer replaces the dense MLP with a router
  (``hidden_size x num_experts`` weights, plus ``num_experts`` score-correction biases when
  ``router_bias``), ``num_experts`` routed expert MLPs of width ``moe_intermediate_size`` of which a
  token uses ``experts_per_token``, and optional always-on shared experts. The shared experts are
  one MLP of width ``shared_expert_intermediate_size``, or ``shared_experts * moe_intermediate_size``
  when that is 0 (DeepSeek fuses its shared experts that way; the weight count is the same as separate
  experts). ``shared_expert_gate`` adds Qwen2-MoE's ``hidden_size -> 1`` gate on the shared expert. With
  ``moe_latent_size`` (Nemotron 3's latent MoE) the routed experts work in that narrower width: each token is
  projected into it before dispatch and back after (two ``hidden x latent`` projections per MoE layer). Layer
  ``i`` (0-based) is MoE when ``i >= first_dense_layers`` and ``i % moe_layer_freq == 0`` (DeepSeek's rule).
- Multi-head latent attention (``kv_lora_rank > 0``, DeepSeek-V2/V3). Queries go through a rank
  ``q_lora_rank`` bottleneck (0 = a plain ``hidden -> heads x (nope + rope)`` projection); keys and
  values are rebuilt per head from one cached latent of ``kv_lora_rank`` plus a shared rotary key of
  ``qk_rope_head_dim``. ``head_dim`` is then the query/key head width ``qk_nope_head_dim +
  qk_rope_head_dim`` and ``num_kv_heads`` equals ``num_heads`` (every head has its own K and V after
  decompression); ``v_head_dim`` is the value head width.

The layer mix (models of 2025-26: gpt-oss, Gemma, Qwen3.5, Nemotron-H, DeepSeek-V3.2). A model is
``num_layers`` blocks, each a token mixer and an MLP, either of which a block may lack:

- Token mixers. Softmax attention (the default) is full, or sliding-window on ``sliding_layers`` of the
  attention blocks (within ``sliding_window`` tokens, or with ``attention_chunked`` within aligned chunks of
  that many: Llama 4; ``sliding_window`` with ``sliding_layers`` 0 means every attention block slides, the
  older single-window form), or sparse on the full blocks when
  ``sparse_top_k > 0`` (DeepSeek Sparse Attention: a lightning indexer of ``indexer_heads`` x
  ``indexer_head_dim`` scores every cached key, caching one ``indexer_head_dim`` key per token, and each
  query attends to the ``sparse_top_k`` best). ``attention_sinks`` adds a learned sink logit per head
  (gpt-oss); ``attn_output_gate`` a sigmoid gate on the attention output computed by the query projection
  (Qwen3-Next, Qwen3.5: the query projection is twice as wide). A recurrent mixer replaces attention on
  ``linear_layers`` blocks (Gated DeltaNet: ``linear_key_heads`` x ``linear_key_head_dim`` keys and
  queries, ``linear_value_heads`` x ``linear_value_head_dim`` values, a state of value heads x key width x
  value width per sequence, a causal convolution of ``linear_conv_kernel``) or on ``mamba_layers`` blocks
  (Mamba-2: ``mamba_heads`` x ``mamba_head_dim`` channels, ``mamba_groups`` groups of B and C of
  ``mamba_state_size``, a state of heads x head width x state size per sequence, a convolution of
  ``mamba_conv_kernel``); a recurrent layer's state has a fixed size whatever the context. ``mixer_free_layers``
  blocks have an MLP and no mixer (Nemotron-H's ``-`` and ``E`` layers).
- MLPs. ``mlp_free_layers`` blocks have no MLP (Nemotron-H's ``M`` and ``*`` layers). Of the others,
  ``moe_layer_count`` are MoE when the config lists them (0: the rule above), the rest dense.

``sandwich_norms`` (Gemma 2/3) puts four norms in a block instead of two. ``attention_16bit``: the model's
4-bit checkpoints keep the token mixers' projections (attention, linear attention) in 16 bit (gpt-oss
MXFP4, the NVFP4 releases of MiniMax-M2.5 and Qwen3.5); ``mixer_dtype`` names another (fp8: Qwen3.6 NVFP4),
beside it the recurrent mixers' (Nemotron 3.5 Lightning). 4-bit weights then apply to the other layers; 8-bit
weights to all of them. Only counts matter for pricing (every block of a kind costs the same), so the order
of the layers is not kept. ``head_dtype``: the LM head's format where those checkpoints quantise it too.
Every count field defaults to 0 (off), so a dense model is unchanged.
"""

from __future__ import annotations

import numbers

import attrs

from roofline.dtypes import WEIGHT_DTYPES, WEIGHT_ONLY_FALLBACK
from roofline.errors import RooflineError
from roofline.layer_mix import MIX_FIELDS, mix_problem
from roofline.kernels import mixers, shapes
from roofline.pack import pack_model
from roofline.quantity import MAX_COUNT, show

INT_FIELDS = ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
               "vocab_size")

BOOL_FIELDS = ("gated_mlp", "qkv_bias", "o_bias", "mlp_bias", "tie_word_embeddings", "qk_norm", "router_bias",
                "shared_expert_gate", "attention_sinks", "attn_output_gate", "sandwich_norms", "attention_16bit",
                "attention_chunked")

# Counts that may be 0 (= feature off); see the module docstring.
MOE_FIELDS = ("num_experts", "experts_per_token", "shared_experts", "moe_intermediate_size",
              "shared_expert_intermediate_size", "first_dense_layers", "moe_layer_freq", "moe_latent_size")

MLA_FIELDS = ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")

OPTIONAL_COUNTS = ("learned_pos_embeddings", "max_position_embeddings", "sliding_window")


#: Most layers and heads a model may have (the largest published have ~130 of each): the searches walk them.
MAX_LAYERS = MAX_HEADS = 10_000


def count_moe_layers(num_layers: int, first_dense_layers: int, moe_layer_freq: int) -> int:
    """Layers ``i`` in ``range(num_layers)`` with ``i >= first_dense_layers`` and ``i % moe_layer_freq == 0``
    (the multiples of ``moe_layer_freq`` below ``num_layers`` minus those below ``first_dense_layers``)."""
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
    # ---- the layer mix (0 / False = absent; see the module docstring) ----
    sliding_layers: int = 0  # attention blocks with the sliding window (0 with a window: all of them)
    attention_chunked: bool = False  # those blocks attend within aligned chunks of sliding_window (Llama 4)
    attention_sinks: bool = False
    attn_output_gate: bool = False
    sandwich_norms: bool = False
    attention_16bit: bool = False
    mixer_dtype: str | None = None  # the token mixers' format in the 4-bit checkpoints (see above)
    head_dtype: str | None = None  # their LM head's format when they quantise it (W4A16 NVFP4: int4)
    sparse_top_k: int = 0
    indexer_heads: int = 0
    indexer_head_dim: int = 0
    linear_layers: int = 0
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 0
    mamba_layers: int = 0
    mamba_heads: int = 0
    mamba_head_dim: int = 0
    mamba_state_size: int = 0
    mamba_groups: int = 0
    mamba_conv_kernel: int = 0
    mlp_free_layers: int = 0
    mixer_free_layers: int = 0
    moe_layer_count: int = 0
    # ---- mixture of experts (0 = dense) ----
    num_experts: int = 0  # routed experts per MoE layer
    experts_per_token: int = 0  # routed experts each token goes to (top-k)
    shared_experts: int = 0  # always-on experts per MoE layer
    moe_intermediate_size: int = 0  # MLP width of one routed expert
    moe_latent_size: int = 0  # width the routed experts work in (latent MoE); 0 = hidden_size
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
    #: (weight dtype, KV-cache dtype) pairs: the KV format the published checkpoint of that weight format
    #: declares (hf_quant_config.json ``kv_cache_quant_algo``, or quantization_config ``kv_cache_scheme``)
    checkpoint_kv: tuple[tuple[str, str], ...] = ()
    #: The weight format the checkpoint stores (a config.json's quantization_config or hf_quant_config.json,
    #: :mod:`roofline.loaders.hf_quant`), when it is one this tool prices: the default ``--weight-dtype``.
    #: ``checkpoint_format`` says what the checkpoint declares, in words, even when it is not priced.
    checkpoint_dtype: str | None = None
    checkpoint_format: str = ""

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
        if self.moe_layer_count:
            return self.moe_layer_count
        return count_moe_layers(self.num_layers, self.first_dense_layers, self.moe_layer_freq)

    @property
    def mlp_layers(self) -> int:
        """Blocks with an MLP (dense or MoE)."""
        return self.num_layers - self.mlp_free_layers

    @property
    def dense_layers(self) -> int:
        """Number of layers with a dense MLP of ``intermediate_size``."""
        return self.mlp_layers - self.moe_layers

    @property
    def recurrent_layers(self) -> int:
        """Blocks whose token mixer is linear attention or Mamba-2."""
        return self.linear_layers + self.mamba_layers

    @property
    def attention_layers(self) -> int:
        """Blocks whose token mixer is softmax attention."""
        return self.num_layers - self.mixer_free_layers - self.recurrent_layers

    @property
    def swa_layers(self) -> int:
        """Attention blocks that attend within the sliding window."""
        if self.sliding_window == 0:
            return 0
        return self.sliding_layers or self.attention_layers

    @property
    def layer_mix(self) -> dict[str, int]:
        """Blocks of each kind, by token mixer and by MLP (kinds with no block left out)."""
        full = self.attention_layers - self.swa_layers
        mix = {"sparse attention" if self.sparse_top_k else "full attention": full,
               f"{'chunked' if self.attention_chunked else 'sliding-window'} attention ({self.sliding_window:,})":
               self.swa_layers,
               "linear attention (Gated DeltaNet)": self.linear_layers, "Mamba-2": self.mamba_layers,
               "no token mixer": self.mixer_free_layers, "dense MLP": self.dense_layers,
               "MoE MLP": self.moe_layers, "no MLP": self.mlp_free_layers}
        return {k: v for k, v in mix.items() if v}

    @property
    def is_hybrid(self) -> bool:
        """True when the blocks are not all alike in their token mixer (attention kinds mixed, recurrent
        layers, sparse attention, or blocks without a mixer or an MLP)."""
        mixed_window = 0 < self.swa_layers < self.attention_layers
        return bool(mixed_window or self.recurrent_layers or self.sparse_top_k or self.mixer_free_layers
                    or self.mlp_free_layers)

    @property
    def shared_width(self) -> int:
        """Width of the always-on shared MLP of an MoE layer (0 when there is none)."""
        if self.shared_experts == 0:
            return 0
        return self.shared_expert_intermediate_size or self.shared_experts * self.moe_intermediate_size

    # ---- counts (computed by the pricing kernels) --------------------------------------------------
    def param_count(self) -> int:
        """Exact parameter count: embeddings, blocks (every expert), final norm and (untied) LM head.

        Multi-token-prediction modules (DeepSeek-V3's ``num_nextn_predict_layers``) are not part of the
        model and are not counted.
        """
        return int(shapes.param_count(pack_model(self), 0.0))

    def active_param_count(self) -> int:
        """Parameters used per token: ``param_count`` with only ``experts_per_token`` routed experts.

        Shared experts, routers, attention, norms, the whole embedding table and the LM head are counted
        as ``param_count`` counts them, so a dense model's active count equals its total.
        """
        return int(shapes.param_count(pack_model(self), 1.0))

    def kv_elements_per_token(self) -> int:
        """Values cached per token over all layers.

        GQA/MQA: a K and a V of ``num_kv_heads x head_dim`` per layer. MLA: one latent of
        ``kv_lora_rank`` plus the shared rotary key of ``qk_rope_head_dim`` per layer, for all heads.
        """
        return int(shapes.kv_elements_per_token(pack_model(self)))

    def kv_bytes_per_token(self, kv_bytes_per_element: float) -> float:
        return self.kv_elements_per_token() * kv_bytes_per_element

    def state_bytes_per_sequence(self, act_bytes: float = 2.0) -> float:
        """Bytes one sequence keeps whatever its length: the recurrent layers' states (fp32, as the
        checkpoints declare: ``mamba_ssm_dtype`` / ``mamba_ssm_cache_dtype`` float32) and convolution
        windows (at ``act_bytes``), over all layers, no TP split."""
        return float(mixers.state_bytes_per_layer(pack_model(self), 1.0, act_bytes) * self.recurrent_layers)

    def runs_weight_only(self, weight_dtype: str) -> bool:
        """Whether ``weight_dtype`` is the checkpoint's own format run weight-only (its fallback in
        ``dtypes.WEIGHT_ONLY_FALLBACK``: fp4 as int4, fp8 as int8, on a chip without that compute)."""
        return self.checkpoint_dtype is not None and WEIGHT_ONLY_FALLBACK.get(self.checkpoint_dtype) == weight_dtype

    def declared_kv(self, weight_dtype: str) -> str | None:
        """The KV-cache format the published checkpoint of ``weight_dtype`` declares, or None; the checkpoint's
        format run weight-only (:meth:`runs_weight_only`) is that checkpoint."""
        table = dict(self.checkpoint_kv)
        if weight_dtype not in table and self.runs_weight_only(weight_dtype):
            return table.get(self.checkpoint_dtype)
        return table.get(weight_dtype)


def architecture_problem(m) -> str | None:
    """The first impossible MoE/MLA combination in ``m`` (a Model or anything with its attributes), or None.

    The message names the field, the value and the fix; callers prefix where it came from. Shape counts are
    whole numbers from 1 to ``MAX_COUNT`` (layers and heads at most ``MAX_LAYERS``, ``MAX_HEADS``), flags
    booleans and ``norm`` 'rms' or 'layer': a ``Model`` built directly is checked like one from a file.
    """
    for f in INT_FIELDS:
        value = getattr(m, f)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= value <= MAX_COUNT:
            return f"{f}={show(value)} must be a whole number from 1 to {MAX_COUNT:,}"
    for f, most in (("num_layers", MAX_LAYERS), ("num_heads", MAX_HEADS)):
        if getattr(m, f) > most:
            return f"{f}={getattr(m, f):,} exceeds {most:,}, far beyond any real model; fix the value"
    if m.num_heads % m.num_kv_heads:
        return f"num_kv_heads={m.num_kv_heads} does not divide num_heads={m.num_heads}; fix the value"
    for f in (*MOE_FIELDS, *MLA_FIELDS, *OPTIONAL_COUNTS, *MIX_FIELDS):
        value = getattr(m, f)
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= MAX_COUNT:
            return f"{f}={show(value)} must be a whole number from 0 to {MAX_COUNT:,}"
    for f in BOOL_FIELDS:
        if not isinstance(getattr(m, f), bool):
            return f"{f}={getattr(m, f)!r} must be true or false"
    if m.norm not in ("rms", "layer"):
        return f"norm={m.norm!r} must be 'rms' or 'layer'"
    if m.checkpoint_dtype is not None and m.checkpoint_dtype not in WEIGHT_DTYPES:
        return f"checkpoint_dtype={m.checkpoint_dtype!r} must be one of {', '.join(WEIGHT_DTYPES)}, or left out"
    if m.moe_layer_freq < 1:
        return f"moe_layer_freq={m.moe_layer_freq} must be at least 1 (1 = every layer after first_dense_layers)"
    problem = mix_problem(m)
    if problem:
        return problem
    if m.num_experts == 0:
        for f in ("experts_per_token", "shared_experts", "moe_intermediate_size", "moe_latent_size",
                  "shared_expert_intermediate_size", "first_dense_layers", "moe_layer_count"):
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
        if m.moe_latent_size >= m.hidden_size:
            return f"moe_latent_size={m.moe_latent_size} must be below hidden_size={m.hidden_size}; fix the value"
        if m.shared_experts == 0 and (m.shared_expert_intermediate_size or m.shared_expert_gate):
            return ("shared_experts=0 but a shared-expert width or gate is given; set shared_experts "
                    "(1 for Qwen2-MoE) or drop them")
        mlp_layers = m.num_layers - m.mlp_free_layers
        if m.moe_layer_count > mlp_layers:
            return (f"moe_layer_count={m.moe_layer_count} exceeds the {mlp_layers} blocks with an MLP; fix "
                    f"moe_layer_count or mlp_free_layers")
        if m.moe_layer_count == 0 and m.mlp_free_layers:
            return (f"mlp_free_layers={m.mlp_free_layers} with experts needs moe_layer_count (which of the "
                    f"{mlp_layers} MLP blocks are MoE); give it")
        if m.moe_layer_count == 0 and count_moe_layers(m.num_layers, m.first_dense_layers, m.moe_layer_freq) == 0:
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
        if m.attention_sinks or m.attn_output_gate:
            return "attention_sinks and attn_output_gate are not modelled with MLA; set them to false"
    return None
