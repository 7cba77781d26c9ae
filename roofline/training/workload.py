"""The workload of a training run (parallel layout, batch, recompute, ZeRO, dtype, token budget), its
checks against a chip and model, and the mixed-precision state convention.

``TrainingWorkload`` is frozen; a layout field left ``None`` is chosen by the planner
(:mod:`roofline.training.planner`). :func:`check_training` turns an impossible layout into a one-line
:class:`RooflineError`.
"""

from __future__ import annotations

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.kernels.layout import RECOMPUTE_MODES
from roofline.model import Model
from roofline.quantity import EXAMPLES, parse_count
from roofline.validators import choice, flag, positive_int
from roofline.workload import valid_tp_sizes

__all__ = ["RECOMPUTE_MODES", "TRAIN_DTYPES", "TrainingWorkload", "check_training"]

TRAIN_DTYPES = ("bf16", "fp16", "fp8")

#: Mixed-precision Adam state, bytes per parameter: 16-bit weights, fp32 gradients (Megatron-LM's
#: ``main_grad`` accumulation; Composer/FSDP ``reduce_dtype`` fp32), fp32 master weights + 2 fp32 moments.
PARAM_BYTES = 2.0

GRAD_BYTES = 4.0

OPTIMIZER_BYTES = 12.0

#: Gradients are reduced in fp32 (as they are accumulated).
REDUCE_BYTES = 4.0

#: HBM bytes per parameter of one Adam step: read grad, master, m, v (16); write master, m, v (12) and
#: the 16-bit weight copy (2).
OPTIMIZER_TRAFFIC_BYTES = 30.0

#: Tokens per optimizer step when no global batch is given: 4M as in Llama 2 (Touvron et al. 2023,
#: Table 1), or 1,024 tokens per chip on larger clusters (Llama 3 405B: 16M tokens on 16K H100,
#: Dubey et al. 2024, Sec. 3.4.1), whichever is more.
DEFAULT_BATCH_TOKENS = 4 * 1024 * 1024

DEFAULT_BATCH_TOKENS_PER_CHIP = 1024

#: Largest token budget taken (1e24, ~1e11 times Llama 3's 15T): it keeps time to train and cost finite for
#: any chip and model.
MAX_TOKENS = 1e24


@attrs.frozen
class StateBytes:
    """Bytes per parameter of the training state and of the optimizer step (see the constants above)."""

    param_bytes: float = PARAM_BYTES
    grad_bytes: float = GRAD_BYTES
    optimizer_bytes: float = OPTIMIZER_BYTES
    reduce_bytes: float = REDUCE_BYTES
    optimizer_traffic_bytes: float = OPTIMIZER_TRAFFIC_BYTES


#: The convention every training estimate uses: mixed-precision Adam.
MIXED_PRECISION = StateBytes()


def _zero(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, str)) or str(value) not in "0123" \
            or len(str(value)) != 1:
        raise RooflineError(f"zero={value!r} must be a ZeRO stage 0, 1, 2 or 3")
    return int(value)


def _tokens(value) -> float:
    """The token budget: a number or a string such as "15T", "2e12", "1.5B" (see roofline.quantity)."""
    v = parse_count(value, "tokens")
    if v <= 0:
        raise RooflineError(f"tokens={value!r} must be a positive number of training tokens such as {EXAMPLES}")
    if v > MAX_TOKENS:
        raise RooflineError(f"tokens={value!r} exceeds {MAX_TOKENS:g}, far beyond any training run; give a "
                            f"budget such as {EXAMPLES}")
    return v


@attrs.frozen
class TrainingWorkload:
    """One training run: parallel layout (tp x pp x dp x cp = num_chips), batch in sequences, sequence
    length in tokens, recompute mode, ZeRO stage, matmul dtype, interleaving and token budget.

    ``None`` for a layout field (tp, pp, dp, micro_batch, recompute, zero, virtual_pp) lets
    ``estimate_training`` ask the planner; ``global_batch=None`` takes ~4M tokens
    (see :meth:`default_batch`). ``sequence_parallel=None`` turns it on whenever tp > 1.
    ``flash_attention=False`` materialises the score matrix (pre-2022 Megatron-LM).
    """

    num_chips: int = attrs.field(default=1024, validator=positive_int("num_chips"))
    tp: int | None = attrs.field(default=None, validator=positive_int("tp", True))
    pp: int | None = attrs.field(default=None, validator=positive_int("pp", True))
    dp: int | None = attrs.field(default=None, validator=positive_int("dp", True))
    cp: int = attrs.field(default=1, validator=positive_int("cp"))
    micro_batch: int | None = attrs.field(default=None, validator=positive_int("micro_batch", True))
    global_batch: int | None = attrs.field(default=None, validator=positive_int("global_batch", True))
    seq_len: int = attrs.field(default=4096, validator=positive_int("seq_len"))
    recompute: str | None = attrs.field(
        default=None, converter=lambda v: None if v is None else choice("recompute", RECOMPUTE_MODES)(v))
    zero: int | None = attrs.field(default=None, converter=_zero)
    dtype: str = attrs.field(default="bf16", converter=choice("dtype", TRAIN_DTYPES))
    virtual_pp: int | None = attrs.field(default=None, validator=positive_int("virtual_pp", True))
    tokens: float = attrs.field(default=15e12, converter=_tokens)
    sequence_parallel: bool | None = attrs.field(default=None, validator=flag("sequence_parallel", True))
    flash_attention: bool = attrs.field(default=True, validator=flag("flash_attention"))
    # dropout layers in training (Megatron-LM GPT 2021: yes; Llama, MPT: none)
    dropout: bool = attrs.field(default=False, validator=flag("dropout"))
    ep: int | None = attrs.field(default=None, validator=positive_int("ep", True))  # MoE: experts over ep DP ranks

    @property
    def complete(self) -> bool:
        """True when every layout choice is given (no planner needed)."""
        return None not in (self.tp, self.pp, self.dp, self.micro_batch, self.recompute, self.zero, self.virtual_pp)

    @property
    def sp(self) -> bool:
        return (self.tp or 1) > 1 if self.sequence_parallel is None else bool(self.sequence_parallel)

    def default_batch(self) -> int:
        """Sequences per step when none is given: max(DEFAULT_BATCH_TOKENS, 1,024 x num_chips) tokens."""
        want = max(DEFAULT_BATCH_TOKENS, DEFAULT_BATCH_TOKENS_PER_CHIP * self.num_chips)
        return -(-want // self.seq_len)

    def batch(self) -> int:
        """Global batch in sequences: as given, or the default rounded up to a multiple of dp x micro_batch."""
        if self.global_batch is not None:
            return self.global_batch
        unit = (self.dp or 1) * (self.micro_batch or 1)
        return unit * -(-self.default_batch() // unit)


def check_training(chip: Chip, model: Model, wl: TrainingWorkload) -> None:
    """Raise the project error for a dtype, layout or batch this chip and model cannot train with."""
    if not chip.has(wl.dtype):
        ok = [d for d in TRAIN_DTYPES if chip.has(d)]
        raise RooflineError(f"dtype={wl.dtype}: {chip.name} has no {wl.dtype} compute (it has "
                            f"{', '.join(chip.dtypes)}); use --dtype {' or '.join(ok)}")
    tp, pp, dp, cp = wl.tp, wl.pp, wl.dp, wl.cp
    if tp is not None:
        if tp > chip.scale_up_domain:
            raise RooflineError(f"tp={tp} exceeds the scale-up domain of {chip.name} ({chip.scale_up_domain} "
                                f"chips); use --tp {chip.scale_up_domain} or less")
        if tp not in valid_tp_sizes(model):
            options = ", ".join(map(str, valid_tp_sizes(model, limit=chip.scale_up_domain)))
            raise RooflineError(f"tp={tp} does not divide the {model.num_heads} attention heads (and tile the "
                                f"{model.num_kv_heads} KV heads) of {model.name}; try {options}")
    if pp is not None and model.num_layers % pp:
        options = ", ".join(str(d) for d in range(1, model.num_layers + 1) if model.num_layers % d == 0)
        raise RooflineError(f"pp={pp} does not divide the {model.num_layers} layers of {model.name}; try {options}")
    if None not in (tp, pp, dp) and tp * pp * dp * cp != wl.num_chips:
        raise RooflineError(f"tp x pp x dp x cp = {tp}x{pp}x{dp}x{cp} = {tp * pp * dp * cp} is not "
                            f"num_chips={wl.num_chips}; make the product {wl.num_chips} "
                            f"(e.g. --dp {max(1, wl.num_chips // (tp * pp * cp))})")
    if wl.ep is not None and wl.ep > 1:
        if not model.is_moe:
            raise RooflineError(f"ep={wl.ep}: {model.name} has no experts; use ep=1")
        if dp is not None and dp % wl.ep:
            raise RooflineError(f"ep={wl.ep} does not divide dp={dp} (experts spread over data-parallel ranks); "
                                f"use an ep that divides {dp}")
        if wl.ep * (tp or 1) > model.num_experts:
            raise RooflineError(f"ep={wl.ep} x tp={tp or 1} exceeds the {model.num_experts} experts of {model.name}; "
                                f"use a smaller ep")
    if cp > 1 and wl.seq_len % (2 * cp):
        raise RooflineError(f"cp={cp}: seq_len={wl.seq_len} must split into 2 x cp equal chunks (load-balanced "
                            f"ring attention); use a cp whose double divides {wl.seq_len}")
    if cp > 1 and not wl.flash_attention:
        raise RooflineError(f"cp={cp} needs flash attention (ring attention); set flash_attention or cp=1")
    if dp is not None and wl.micro_batch is not None and wl.global_batch is not None \
            and wl.global_batch % (dp * wl.micro_batch):
        raise RooflineError(f"global_batch={wl.global_batch} is not divisible by dp x micro_batch = {dp}x"
                            f"{wl.micro_batch} = {dp * wl.micro_batch}; use a multiple of {dp * wl.micro_batch}")
    v = wl.virtual_pp
    if v is not None and v > 1:
        if pp is not None and pp == 1:
            raise RooflineError(f"virtual_pp={v} needs pipeline parallelism (pp > 1); use --virtual-pp 1")
        if pp is not None and model.num_layers % (pp * v):
            raise RooflineError(f"virtual_pp={v}: the {model.num_layers // pp} layers per stage (pp={pp}) do not "
                                f"split into {v} chunks; use a divisor of {model.num_layers // pp}")
        if pp is not None and dp is not None and wl.micro_batch is not None:
            micro = wl.batch() // (dp * wl.micro_batch)
            if micro % pp:
                raise RooflineError(f"virtual_pp={v}: the interleaved schedule needs micro-batches per step "
                                    f"({micro}) to be a multiple of pp={pp}; change --global-batch or --virtual-pp 1")
