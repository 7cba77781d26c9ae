"""Training estimates: the workload of one training run, its validation, and ``estimate_training``.

The math lives in :mod:`roofline.kernels.training` (conventions stated there). Here: the frozen
``TrainingWorkload`` (parallel layout, batch, recompute, ZeRO, dtype, token budget), the checks that
turn an impossible layout into a one-line :class:`RooflineError`, packing into the kernels' vectors,
and the frozen ``TrainingEstimate`` whose ``to_dict()`` is the CLI's ``training`` JSON.

MFU = model FLOPs per second per chip ÷ the dense peak of ``dtype``, where model FLOPs per step =
3 x (2·linear params per token + 4·head_dim·heads per causally attended key + 2·h·V for the LM head)
over the global batch — the 6·N·tokens rule with attention, no recompute. HFU counts the FLOPs the chips
execute: FlashAttention's backward recompute (+0.5x attention), the masked half of unfused attention
and the recompute mode's extra forward.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.efficiency import Efficiency, efficiency_for, hardware_vector
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels import training as KT
from roofline.model import Model
from roofline.quantity import MAX_COUNT, show
from roofline.workload import pack_model, positive_int, valid_tp_sizes

RECOMPUTE_MODES = ("none", "selective", "full")
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


_pos = positive_int


def _flag(name: str, optional: bool = False):
    def validate(_inst, _attr, value):
        if not (isinstance(value, bool) or (optional and value is None)):
            raise RooflineError(f"{name}={value!r} must be True or False" + (" (or None)" if optional else ""))
    return validate


def _choice(name: str, allowed):
    def convert(value):
        v = str(value).strip().lower()
        if v not in allowed:
            raise RooflineError(f"{name}={value!r} is not one of {', '.join(allowed)}; pick one of those")
        return v
    return convert


def _zero(value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, str)) or str(value) not in "0123" \
            or len(str(value)) != 1:
        raise RooflineError(f"zero={value!r} must be a ZeRO stage 0, 1, 2 or 3")
    return int(value)


def _tokens(value) -> float:
    """The token budget: a number or a string such as "15T", "2e12", "1.5B" (see roofline.quantity)."""
    from roofline.quantity import EXAMPLES, parse_count

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

    num_chips: int = attrs.field(default=1024, validator=_pos("num_chips"))
    tp: int | None = attrs.field(default=None, validator=_pos("tp", True))
    pp: int | None = attrs.field(default=None, validator=_pos("pp", True))
    dp: int | None = attrs.field(default=None, validator=_pos("dp", True))
    cp: int = attrs.field(default=1, validator=_pos("cp"))
    micro_batch: int | None = attrs.field(default=None, validator=_pos("micro_batch", True))
    global_batch: int | None = attrs.field(default=None, validator=_pos("global_batch", True))
    seq_len: int = attrs.field(default=4096, validator=_pos("seq_len"))
    recompute: str | None = attrs.field(
        default=None, converter=lambda v: None if v is None else _choice("recompute", RECOMPUTE_MODES)(v))
    zero: int | None = attrs.field(default=None, converter=_zero)
    dtype: str = attrs.field(default="bf16", converter=_choice("dtype", TRAIN_DTYPES))
    virtual_pp: int | None = attrs.field(default=None, validator=_pos("virtual_pp", True))
    tokens: float = attrs.field(default=15e12, converter=_tokens)
    sequence_parallel: bool | None = attrs.field(default=None, validator=_flag("sequence_parallel", True))
    flash_attention: bool = attrs.field(default=True, validator=_flag("flash_attention"))
    # dropout layers in training (Megatron-LM GPT 2021: yes; Llama, MPT: none)
    dropout: bool = attrs.field(default=False, validator=_flag("dropout"))
    ep: int | None = attrs.field(default=None, validator=_pos("ep", True))  # MoE: experts over ep DP ranks

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


@attrs.frozen
class TrainingContext:
    """Chip, model and precision packed once: ``m`` (M_*), ``hw`` (H_*) and ``x`` (X_*) vectors."""

    chip: Chip
    model: Model
    dtype: str
    efficiency: Efficiency
    m: np.ndarray = attrs.field(eq=False)
    hw: np.ndarray = attrs.field(eq=False)
    x: np.ndarray = attrs.field(eq=False)

    @classmethod
    def build(cls, chip: Chip, model: Model, dtype: str) -> "TrainingContext":
        eff = efficiency_for(chip, dtype)
        half = "bf16" if chip.has("bf16") else "fp16"
        eff16 = efficiency_for(chip, half)
        x = np.zeros(KT.X_SIZE)
        x[KT.X_ATTN_PEAK] = chip.peak(half)
        x[KT.X_ATTN_EFF] = eff.training_attention_fraction
        x[KT.X_SUSTAINED] = eff.training_sustained_fraction
        x[KT.X_STEP_OVERHEAD] = eff.training_step_overhead_s
        x[KT.X_GEMM16_EFF] = eff16.gemm_fraction
        x[KT.X_PARAM_BYTES] = PARAM_BYTES
        x[KT.X_GRAD_BYTES] = GRAD_BYTES
        x[KT.X_OPT_BYTES] = OPTIMIZER_BYTES
        x[KT.X_REDUCE_BYTES] = REDUCE_BYTES
        x[KT.X_OPT_TRAFFIC] = OPTIMIZER_TRAFFIC_BYTES
        return cls(chip, model, dtype, eff, pack_model(model), hardware_vector(chip, dtype, eff), x)

    def usable_bytes(self) -> float:
        return float(self.hw[L.H_HBM_BYTES] * self.hw[L.H_MEM_FRACTION])


def pack_layout(wl: TrainingWorkload) -> np.ndarray:
    """The T_* vector of a complete workload."""
    t = np.zeros(KT.T_SIZE)
    t[KT.T_TP], t[KT.T_PP], t[KT.T_DP], t[KT.T_CP] = wl.tp, wl.pp, wl.dp, wl.cp
    t[KT.T_MB], t[KT.T_GB], t[KT.T_SEQ] = wl.micro_batch, wl.batch(), wl.seq_len
    t[KT.T_RECOMPUTE] = RECOMPUTE_MODES.index(wl.recompute)
    t[KT.T_ZERO], t[KT.T_VPP] = wl.zero, wl.virtual_pp
    t[KT.T_SP] = float(wl.sp)
    t[KT.T_FLASH] = float(wl.flash_attention)
    t[KT.T_MM_BYTES] = 1.0 if wl.dtype == "fp8" else 2.0
    t[KT.T_EP] = wl.ep or 1
    t[KT.T_DROPOUT] = float(wl.dropout)
    return t


def price_layout(ctx: TrainingContext, t: np.ndarray) -> np.ndarray:
    """Run the plain-Python kernel on one layout; the R_* vector."""
    res = np.zeros(KT.R_SIZE)
    KT.train_step(ctx.m, ctx.hw, ctx.x, t, np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)),
                  np.zeros((1, L.OP_COLS)), np.zeros(L.H_SIZE), np.zeros(L.W_SIZE), res)
    return res


BREAKDOWN = ("compute", "tp_comm", "pp_bubble", "pp_comm", "dp_comm", "cp_comm", "optimizer")
_R_BREAKDOWN = (KT.R_COMPUTE, KT.R_TP, KT.R_BUBBLE, KT.R_PP, KT.R_DP, KT.R_CP, KT.R_OPT)


@attrs.frozen
class TrainingEstimate:
    """One layout priced: step time (s), its breakdown (s per step), memory (bytes per chip), FLOPs."""

    workload: TrainingWorkload  # complete, global_batch resolved
    efficiency: Efficiency
    peak_flops_per_s: float  # dense peak of the matmul dtype
    step_time_s: float
    breakdown: tuple[tuple[str, float], ...]
    memory_per_chip_bytes: float
    activation_bytes_per_chip: float
    state_bytes_per_chip: float
    usable_bytes_per_chip: float
    model_flops_per_chip: float  # per step
    hardware_flops_per_chip: float  # per step, recompute included
    chips_needed: int | None = None
    days: float | None = None

    @property
    def fits(self) -> bool:
        return self.memory_per_chip_bytes <= self.usable_bytes_per_chip

    @property
    def tokens_per_s(self) -> float:
        return self.workload.batch() * self.workload.seq_len / self.step_time_s

    @property
    def tokens_per_s_per_chip(self) -> float:
        return self.tokens_per_s / self.workload.num_chips

    @property
    def mfu(self) -> float:
        return self.model_flops_per_chip / self.step_time_s / self.peak_flops_per_s

    @property
    def hfu(self) -> float:
        return self.hardware_flops_per_chip / self.step_time_s / self.peak_flops_per_s

    @property
    def time_to_train_s(self) -> float:
        return self.workload.tokens / self.tokens_per_s

    def to_dict(self) -> dict:
        wl = self.workload
        out = {
            "num_chips": wl.num_chips, "tp": wl.tp, "pp": wl.pp, "dp": wl.dp, "cp": wl.cp,
            "ep": wl.ep or 1, "micro_batch": wl.micro_batch, "global_batch": wl.batch(), "seq_len": wl.seq_len,
            "recompute": wl.recompute, "zero": wl.zero, "dtype": wl.dtype, "fits": self.fits,
            "memory_per_chip_bytes": self.memory_per_chip_bytes, "step_time_s": self.step_time_s,
            "tokens_per_s": self.tokens_per_s, "tokens_per_s_per_chip": self.tokens_per_s_per_chip,
            "mfu": self.mfu, "hfu": self.hfu,
            "model_tflops_per_chip": self.model_flops_per_chip / self.step_time_s / 1e12,
            "train_tokens": wl.tokens, "time_to_train_s": self.time_to_train_s,
            "breakdown": dict(self.breakdown),
        }
        if self.chips_needed is not None:
            out["chips_needed"] = self.chips_needed
        return out


def estimate_from_result(ctx: TrainingContext, wl: TrainingWorkload, res: np.ndarray) -> TrainingEstimate:
    """Wrap an R_* vector (from either the plain or the compiled kernel) as a ``TrainingEstimate``."""
    wl = attrs.evolve(wl, global_batch=wl.batch(), sequence_parallel=wl.sp)
    return TrainingEstimate(
        workload=wl, efficiency=ctx.efficiency, peak_flops_per_s=ctx.chip.peak(ctx.dtype),
        step_time_s=float(res[KT.R_STEP]),
        breakdown=tuple((k, float(res[i])) for k, i in zip(BREAKDOWN, _R_BREAKDOWN)),
        memory_per_chip_bytes=float(res[KT.R_MEM]), activation_bytes_per_chip=float(res[KT.R_ACT]),
        state_bytes_per_chip=float(res[KT.R_STATE]), usable_bytes_per_chip=ctx.usable_bytes(),
        model_flops_per_chip=float(res[KT.R_MODEL_FLOPS]), hardware_flops_per_chip=float(res[KT.R_HW_FLOPS]),
    )


def with_days(est: TrainingEstimate, days: float | None) -> TrainingEstimate:
    """Add ``chips_needed``: chips to train the token budget within ``days``, in whole replicas
    (tp x pp x cp), assuming the estimate's tokens/s per chip holds as DP grows (weak scaling: the
    global batch grows with dp, so the pipeline bubble and micro-batch count stay as estimated)."""
    if days is None:
        return est
    if isinstance(days, bool) or not isinstance(days, (int, float)) or not 0 < days < 1e300:
        raise RooflineError(f"days={show(days)} must be a positive number of days")
    wl = est.workload
    replica = wl.tp * wl.pp * wl.cp
    chips = wl.tokens / (days * 86400.0 * est.tokens_per_s_per_chip)
    if not chips <= MAX_COUNT:
        raise RooflineError(f"days={days!r}: training {wl.tokens:g} tokens that fast needs {chips:.3g} chips, "
                            f"more than any machine ({MAX_COUNT:,}); give more days or fewer --tokens")
    return attrs.evolve(est, chips_needed=int(replica * math.ceil(chips / replica)), days=float(days))


def estimate_training(chip: Chip, model: Model, workload: TrainingWorkload | None = None,
                      days: float | None = None) -> TrainingEstimate:
    """Estimate one training step of ``model`` on ``workload.num_chips`` chips.

    Layout fields left ``None`` are chosen by :func:`roofline.planner.plan_training` (the fastest
    layout that fits). Raises the project error for an impossible layout or dtype; a given layout
    that does not fit is returned with ``fits`` False.
    """
    wl = workload or TrainingWorkload()
    check_training(chip, model, wl)
    if not model.is_moe and wl.ep is None:
        wl = attrs.evolve(wl, ep=1)
    if not wl.complete or wl.ep is None:
        from roofline.planner import plan_training

        return with_days(plan_training(chip, model, wl).best, days)
    ctx = TrainingContext.build(chip, model, wl.dtype)
    return with_days(estimate_from_result(ctx, wl, price_layout(ctx, pack_layout(wl))), days)
