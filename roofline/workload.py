"""The workload of a serving estimate (batch, lengths, formats, parallel layout) and its checks against a
chip and model."""

from __future__ import annotations

import math

import attrs

from roofline.chip import Chip
from roofline.dtypes import KV_DTYPES, WEIGHT_COMPUTE, WEIGHT_DTYPES, check
from roofline.errors import RooflineError
from roofline.kernels.inference import mean_decode_context
from roofline.model import Model
from roofline.quantity import show
from roofline.validators import nonnegative_int, positive_int


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
    draft_tokens: int = attrs.field(default=0, validator=nonnegative_int("draft_tokens"))
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


def decode_context(wl: Workload) -> float:
    """Tokens cached before the mean decode step: input + (output - 1) / 2.

    Decode time is affine in the context length, so the mean time per output token over a sequence's
    output equals the time of the step at the mean context.
    """
    return mean_decode_context(float(wl.input_len), float(wl.output_len))
