"""The third input of every estimate: what to run and how, with its checks against a chip and model.

* ``Workload``: a serving estimate's batch, lengths, formats and parallel layout (:func:`check_layout`).
* ``TrainingWorkload``: a training run's parallel layout, batch, recompute, ZeRO stage, dtype and token
  budget (:func:`check_training`); a layout field left ``None`` is chosen by the planner
  (:mod:`roofline.training.planner`). With it, the mixed-precision state convention of every training
  estimate (``MIXED_PRECISION``).

Both are frozen; an impossible value or layout is a one-line :class:`RooflineError`.
"""

from __future__ import annotations

import math

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.dtypes import KV_DTYPES, WEIGHT_COMPUTE, WEIGHT_DTYPES, check
from roofline.errors import RooflineError
from roofline.kernels.inference import mean_decode_context
from roofline.kernels.layout import CP_COMM_TYPES, KERNEL_MODES, RECOMPUTE_MODES
from roofline.layer_mix import tp_problem
from roofline.model import Model
from roofline.quantity import EXAMPLES, parse_count, show
from roofline.stages import chunks_of, stage_split
from roofline.validators import choice, flag, nonnegative_int, positive_int

__all__ = ["KERNEL_MODES", "MIXED_PRECISION", "RECOMPUTE_MODES", "TRAIN_DTYPES", "TrainingWorkload", "Workload",
           "check_layout", "check_training", "decode_context", "valid_tp_sizes", "with_engine_kv"]


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
    dp_attention: int = attrs.field(default=1, validator=positive_int("dp_attention"))

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
        """Attention data-parallel groups per replica: ``dp_attention`` when set (each MoE layer gathers the
        groups' tokens and splits every expert over all their chips), else ep / tp when experts spread beyond
        the TP group (whole experts, an all-to-all per MoE layer)."""
        if self.dp_attention > 1:
            return self.dp_attention
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
        return max((self.tp or 1) * self.dp_attention, self.ep) * self.pp


#: Expert-parallel sizes (and counts of data-parallel attention groups) the planners search.
EP_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def valid_tp_sizes(model: Model, limit: int | None = None) -> list[int]:
    """TP sizes that split the model's token mixers (:func:`roofline.layer_mix.tp_problem`)."""
    out = []
    for tp in range(1, model.num_heads + 1):
        if limit is not None and tp > limit:
            break
        if tp_problem(model, tp) is None:
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
    why = tp_problem(model, tp) if tp is not None else None
    if why:
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
    if wl.dp_attention > 1:
        if not model.is_moe:
            raise RooflineError(f"dp_attention={wl.dp_attention}: {model.name} has no experts; use --attn-dp 1 "
                                f"(data-parallel attention groups share MoE layers; for a dense model run replicas)")
        if wl.ep > 1:
            raise RooflineError(f"dp_attention={wl.dp_attention} with ep={wl.ep}: data-parallel attention groups "
                                f"split every expert over all their chips, without expert parallelism (SGLang "
                                f"--enable-dp-attention); use --ep 1, or --attn-dp 1 --ep "
                                f"{wl.dp_attention * (wl.tp or 1)} for whole experts and an all-to-all instead")
    if wl.pp > model.num_layers:
        raise RooflineError(f"pp={wl.pp} exceeds the {model.num_layers} layers of {model.name}; "
                            f"use at most --pp {model.num_layers}")


def with_engine_kv(wl: Workload, model: Model, kv_auto: str) -> Workload:
    """``wl`` with a blank KV-cache format resolved as the engine's ``kv_cache_dtype = auto`` does
    (``Engine.kv_auto``): "checkpoint", the format the checkpoint of ``wl.weight_dtype`` declares
    (``Model.checkpoint_kv``) when it declares one; otherwise the 16-bit format of the activations."""
    if wl.kv_dtype is not None or kv_auto != "checkpoint":
        return wl
    declared = model.declared_kv(wl.weight_dtype)
    return wl if declared is None else attrs.evolve(wl, kv_dtype=declared)


def decode_context(wl: Workload) -> float:
    """Tokens cached before the mean decode step: input + (output - 1) / 2.

    Decode time is affine in the context length, so the mean time per output token over a sequence's
    output equals the time of the step at the mean context.
    """
    return mean_decode_context(float(wl.input_len), float(wl.output_len))


# ---- training ------------------------------------------------------------------------------------

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
    ``flash_attention=False`` materialises the score matrix (pre-2022 Megatron-LM); ``kernels="eager"`` runs
    the block's elementwise ops one PyTorch kernel each (no torch.compile or fused kernels).
    """

    num_chips: int = attrs.field(default=1024, validator=positive_int("num_chips"))
    tp: int | None = attrs.field(default=None, validator=positive_int("tp", True))
    pp: int | None = attrs.field(default=None, validator=positive_int("pp", True))
    dp: int | None = attrs.field(default=None, validator=positive_int("dp", True))
    cp: int = attrs.field(default=1, validator=positive_int("cp"))
    # how context parallelism exchanges attention's inputs (Megatron-LM's --cp-comm-type)
    cp_comm_type: str = attrs.field(default="p2p", converter=choice("cp_comm_type", CP_COMM_TYPES))
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
    kernels: str = attrs.field(default="fused", converter=choice("kernels", KERNEL_MODES))
    ep: int | None = attrs.field(default=None, validator=positive_int("ep", True))  # MoE: experts over ep DP ranks
    # uneven pipeline stages (Megatron's --decoder-first/last-pipeline-num-layers); None: the split rule
    first_stage_layers: int | None = attrs.field(default=None, validator=positive_int("first_stage_layers", True))
    last_stage_layers: int | None = attrs.field(default=None, validator=positive_int("last_stage_layers", True))

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


def cp_heads_split(model: Model, tp: int, cp: int, cp_comm_type: str) -> bool:
    """Whether context parallelism of ``cp`` over ``tp``-way shards can exchange this way: the all-to-all
    (a2a) hands each chip whole query and KV heads, so tp x cp must divide both head counts (Megatron-Bridge:
    "CP <= num_kv_heads" for a2a); the ring and the all-gather split the sequence alone."""
    if cp_comm_type != "a2a" or cp <= 1:
        return True
    return model.num_heads % (tp * cp) == 0 and model.num_kv_heads % (tp * cp) == 0


def training_ep_problem(model: Model, ep: int, tp: int | None, dp: int | None) -> str | None:
    """Why training ``model`` with expert parallelism ``ep`` over ``dp`` data-parallel ranks at ``tp`` cannot be
    (one line naming the fix), or None: the experts spread whole and evenly over ep of the dp ranks
    (Megatron-LM requires ep to divide the experts) and over at most one chip each of ep x tp. ``tp``/``dp``
    None: not chosen yet (the planner's search checks them)."""
    if ep <= 1:
        return None
    if not model.is_moe:
        return f"ep={ep}: {model.name} has no experts; use ep=1"
    if dp is not None and dp % ep:
        return f"ep={ep} does not divide dp={dp} (experts spread over data-parallel ranks); use an ep that divides {dp}"
    if ep * (tp or 1) > model.num_experts:
        return f"ep={ep} x tp={tp or 1} exceeds the {model.num_experts} experts of {model.name}; use a smaller ep"
    if model.num_experts % ep:
        return (f"ep={ep} does not divide the {model.num_experts} experts of {model.name} (each rank holds the same "
                f"number, as Megatron-LM requires); use an ep that divides {model.num_experts}")
    return None


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
        why = tp_problem(model, tp)
        if why:
            options = ", ".join(map(str, valid_tp_sizes(model, limit=chip.scale_up_domain)))
            raise RooflineError(f"tp={tp} {why} of {model.name}; try {options}")
    if pp is not None:
        stage_split(model.num_layers, pp, wl.first_stage_layers, wl.last_stage_layers)
    elif wl.first_stage_layers is not None or wl.last_stage_layers is not None:
        raise RooflineError("first_stage_layers / last_stage_layers need a given pp; add --pp")
    if None not in (tp, pp, dp) and tp * pp * dp * cp != wl.num_chips:
        raise RooflineError(f"tp x pp x dp x cp = {tp}x{pp}x{dp}x{cp} = {tp * pp * dp * cp} is not "
                            f"num_chips={wl.num_chips}; make the product {wl.num_chips} "
                            f"(e.g. --dp {max(1, wl.num_chips // (tp * pp * cp))})")
    problem = training_ep_problem(model, wl.ep or 1, tp, dp)
    if problem:
        raise RooflineError(problem)
    if cp > 1 and wl.seq_len % (2 * cp):
        raise RooflineError(f"cp={cp}: seq_len={wl.seq_len} must split into 2 x cp equal chunks (load-balanced "
                            f"ring attention); use a cp whose double divides {wl.seq_len}")
    if cp > 1 and model.recurrent_layers:
        raise RooflineError(f"cp={cp}: context parallelism of {model.name}'s recurrent layers (each rank would pass "
                            f"its state to the next) is not modelled; use --cp 1")
    if wl.kernels == "eager" and (model.recurrent_layers or model.mixer_free_layers or model.mlp_free_layers):
        raise RooflineError("kernels=eager: the eager blocks of recurrent mixers and of blocks without a mixer or an "
                            "MLP are not modelled; use --kernels fused")
    if cp > 1 and not wl.flash_attention:
        raise RooflineError(f"cp={cp} needs flash attention (ring attention); set flash_attention or cp=1")
    if cp > 1 and tp is not None and not cp_heads_split(model, tp, cp, wl.cp_comm_type):
        per_rank = model.num_kv_heads // tp
        other = f" or a cp dividing {per_rank}" if per_rank > 1 else ""
        raise RooflineError(f"cp_comm_type=a2a: cp={cp} x tp={tp} does not divide the {model.num_heads} attention "
                            f"heads and {model.num_kv_heads} KV heads of {model.name} (the all-to-all gives each chip "
                            f"whole heads); use --cp-comm-type p2p{other}")
    if dp is not None and wl.micro_batch is not None and wl.global_batch is not None \
            and wl.global_batch % (dp * wl.micro_batch):
        raise RooflineError(f"global_batch={wl.global_batch} is not divisible by dp x micro_batch = {dp}x"
                            f"{wl.micro_batch} = {dp * wl.micro_batch}; use a multiple of {dp * wl.micro_batch}")
    v = wl.virtual_pp
    if v is not None and v > 1:
        if pp is not None and pp == 1:
            raise RooflineError(f"virtual_pp={v} needs pipeline parallelism (pp > 1); use --virtual-pp 1")
        if pp is not None and chunks_of(model.num_layers, pp, wl.first_stage_layers, wl.last_stage_layers) % v:
            split = "/".join(map(str, stage_split(model.num_layers, pp, wl.first_stage_layers, wl.last_stage_layers)))
            raise RooflineError(f"virtual_pp={v}: the stages' layers (first/middle/last {split}, pp={pp}) do not split "
                                f"into {v} chunks; use a virtual_pp dividing "
                                f"{chunks_of(model.num_layers, pp, wl.first_stage_layers, wl.last_stage_layers)}, "
                                f"or --virtual-pp 1")
        if pp is not None and dp is not None and wl.micro_batch is not None:
            micro = wl.batch() // (dp * wl.micro_batch)
            if micro % pp:
                raise RooflineError(f"virtual_pp={v}: the interleaved schedule needs micro-batches per step "
                                    f"({micro}) to be a multiple of pp={pp}; change --global-batch or --virtual-pp 1")
