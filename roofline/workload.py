"""The workload of a serving estimate, its validation against a chip and model, and packing."""

from __future__ import annotations

import math

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.dtypes import BYTES, KV_DTYPES, WEIGHT_COMPUTE, WEIGHT_DTYPES, check
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.inference import mean_decode_context
from roofline.model import Model
from roofline.quantity import MAX_COUNT, show


def positive_int(name: str, optional: bool = False):
    """An attrs validator: a positive whole number up to 2**53 (``None`` allowed when ``optional``)."""
    def validate(_inst, _attr, value):
        if value is None and optional:
            return
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise RooflineError(f"{name}={show(value)} must be a positive whole number")
        if value > MAX_COUNT:
            raise RooflineError(f"{name}={show(value)} exceeds {MAX_COUNT:,} (2**53), far beyond any real "
                                f"run; fix the value")
    return validate


def _nonnegative_int(name: str):
    def validate(_inst, _attr, value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value <= MAX_COUNT:
            raise RooflineError(f"{name}={show(value)} must be a whole number from 0 to {MAX_COUNT:,}")
    return validate


@attrs.frozen
class Workload:
    """What to serve and how: batch of sequences, lengths, formats and the parallel layout.

    ``tp=None`` asks the estimator for the smallest tensor-parallel size that fits. ``kv_dtype=None``
    keeps the KV cache in the 16-bit format of the activations.
    """

    batch: int = attrs.field(default=1, validator=positive_int("batch"))
    input_len: int = attrs.field(default=2048, validator=positive_int("input_len"))
    output_len: int = attrs.field(default=256, validator=positive_int("output_len"))
    tp: int | None = attrs.field(default=None, validator=positive_int("tp", optional=True))
    pp: int = attrs.field(default=1, validator=positive_int("pp"))
    weight_dtype: str = attrs.field(default="bf16", converter=lambda v: check("weight_dtype", v, WEIGHT_DTYPES))
    kv_dtype: str | None = attrs.field(default=None,
                                       converter=lambda v: None if v is None else check("kv_dtype", v, KV_DTYPES))
    ep: int = attrs.field(default=1, validator=positive_int("ep"))
    draft_tokens: int = attrs.field(default=0, validator=_nonnegative_int("draft_tokens"))
    accepted_tokens: float | None = attrs.field(default=None)

    def __attrs_post_init__(self):
        a = self.accepted_tokens
        if a is None:
            return
        if isinstance(a, bool) or not isinstance(a, (int, float)) or not 1 <= a < math.inf:
            raise RooflineError(f"accepted_tokens={show(a)} must be a number of at least 1 (mean tokens emitted "
                                f"per decode step)")
        if a > self.draft_tokens + 1:
            raise RooflineError(f"accepted_tokens={show(a)} exceeds 1 + draft_tokens = {self.draft_tokens + 1}; a step "
                                f"cannot emit more tokens than it verifies")

    @property
    def accept(self) -> float:
        """Mean tokens emitted per sequence per decode step (1 without speculative decoding)."""
        return 1.0 if self.accepted_tokens is None else float(self.accepted_tokens)

    @property
    def attn_dp(self) -> int:
        """Attention data-parallel groups per replica: ep / tp when experts spread beyond the TP group."""
        tp = self.tp or 1
        return self.ep // tp if self.ep > tp else 1

    @property
    def compute_dtype(self) -> str:
        return WEIGHT_COMPUTE[self.weight_dtype]

    @property
    def act_dtype(self) -> str:
        return "fp16" if self.weight_dtype == "fp16" else "bf16"

    @property
    def kv(self) -> str:
        return self.kv_dtype or self.act_dtype

    @property
    def num_chips(self) -> int:
        return max(self.tp or 1, self.ep) * self.pp


def valid_tp_sizes(model: Model, limit: int | None = None) -> list[int]:
    """TP sizes that divide the attention heads and tile the K/V heads (split or replicated)."""
    out = []
    for tp in range(1, model.num_heads + 1):
        if limit is not None and tp > limit:
            break
        if model.num_heads % tp == 0 and (model.num_kv_heads % tp == 0 or tp % model.num_kv_heads == 0):
            out.append(tp)
    return out


def check_layout(chip: Chip, model: Model, wl: Workload) -> None:
    """Raise the project error for a layout or format this chip and model cannot run."""
    compute = wl.compute_dtype
    if not chip.has(compute):
        weight_only = [d for d in WEIGHT_DTYPES if chip.has(WEIGHT_COMPUTE[d])]
        raise RooflineError(
            f"weight_dtype={wl.weight_dtype}: needs {compute} compute, which {chip.name} lacks "
            f"(it has {', '.join(chip.dtypes)}); use --weight-dtype {' or '.join(weight_only)}"
        )
    tp = wl.tp
    if tp is not None and tp not in valid_tp_sizes(model):
        if model.num_heads % tp:
            why = f"does not divide the {model.num_heads} attention heads"
        else:
            why = f"neither divides nor is a multiple of the {model.num_kv_heads} KV heads"
        options = ", ".join(str(t) for t in valid_tp_sizes(model, limit=max(chip.scale_up_domain, 8)))
        raise RooflineError(f"tp={tp} {why} of {model.name}; try {options}")
    if wl.ep > 1:
        tp = wl.tp or 1
        if not model.is_moe:
            raise RooflineError(f"ep={wl.ep}: {model.name} has no experts; use --ep 1 (expert parallelism is for "
                                f"mixture-of-experts models)")
        if wl.ep > model.num_experts:
            raise RooflineError(f"ep={wl.ep} exceeds the {model.num_experts} experts of {model.name}; use at most "
                                f"--ep {model.num_experts}")
        if (wl.ep <= tp and tp % wl.ep) or (wl.ep > tp and wl.ep % tp):
            raise RooflineError(f"ep={wl.ep} and tp={tp}: one must divide the other (ep <= tp spreads experts over "
                                f"the TP group; ep > tp adds data-parallel attention groups); e.g. --ep {tp}")
    if wl.pp > model.num_layers:
        raise RooflineError(f"pp={wl.pp} exceeds the {model.num_layers} layers of {model.name}; "
                            f"use at most --pp {model.num_layers}")


def pack_model(model: Model) -> np.ndarray:
    m = np.zeros(L.M_SIZE)
    m[L.M_LAYERS] = model.num_layers
    m[L.M_HIDDEN] = model.hidden_size
    m[L.M_HEADS] = model.num_heads
    m[L.M_KV_HEADS] = model.num_kv_heads
    m[L.M_HEAD_DIM] = model.head_dim
    m[L.M_FFN] = model.intermediate_size
    m[L.M_VOCAB] = model.vocab_size
    m[L.M_GATED] = float(model.gated_mlp)
    m[L.M_QKV_BIAS] = float(model.qkv_bias)
    m[L.M_O_BIAS] = float(model.o_bias)
    m[L.M_MLP_BIAS] = float(model.mlp_bias)
    m[L.M_NORM_PARAMS] = model.norm_params
    m[L.M_TIED] = float(model.tie_word_embeddings)
    m[L.M_POS_ROWS] = model.learned_pos_embeddings
    m[L.M_WINDOW] = model.sliding_window
    if model.is_moe:
        m[L.M_EXPERTS] = model.num_experts
        m[L.M_TOPK] = model.experts_per_token
        m[L.M_MOE_FFN] = model.moe_intermediate_size
        m[L.M_SHARED_FFN] = model.shared_width
        m[L.M_MOE_FRAC] = model.moe_layers / model.num_layers
        m[L.M_ROUTER_BIAS] = float(model.router_bias)
    if model.is_mla:
        m[L.M_KV_LORA] = model.kv_lora_rank
        m[L.M_Q_LORA] = model.q_lora_rank
        m[L.M_ROPE_DIM] = model.qk_rope_head_dim
        m[L.M_NOPE_DIM] = model.qk_nope_head_dim
        m[L.M_V_DIM] = model.v_head_dim
    return m


def pack_workload(wl: Workload, max_tokens_per_pass: int, batch: int | None = None) -> np.ndarray:
    w = np.zeros(L.W_SIZE)
    replica_batch = wl.batch if batch is None else batch
    w[L.W_BATCH] = -(-replica_batch // wl.attn_dp)  # sequences per attention group
    w[L.W_INPUT] = wl.input_len
    w[L.W_OUTPUT] = wl.output_len
    w[L.W_TP] = wl.tp or 1
    w[L.W_PP] = wl.pp
    w[L.W_WEIGHT_BYTES] = BYTES[wl.weight_dtype]
    w[L.W_KV_BYTES] = BYTES[wl.kv]
    w[L.W_ACT_BYTES] = BYTES[wl.act_dtype]
    w[L.W_MAX_TOKENS] = max_tokens_per_pass
    w[L.W_EP] = wl.ep
    w[L.W_DRAFT] = wl.draft_tokens
    w[L.W_ACCEPT] = wl.accept
    return w


def decode_context(wl: Workload) -> float:
    """Tokens cached before the mean decode step: input + (output - 1) / 2.

    Decode time is affine in the context length, so the mean time per output token over a sequence's
    output equals the time of the step at the mean context.
    """
    return mean_decode_context(float(wl.input_len), float(wl.output_len))


def is_finite_positive(x: float) -> bool:
    return math.isfinite(x) and x > 0
