"""Training estimates of complete layouts: one optimizer step priced, and its time to train.

The math lives in :mod:`roofline.kernels.training` (conventions stated there); the workload and its
checks in :mod:`roofline.workload`. Here: the chip, model and precision packed once
(:class:`TrainingContext`), a layout priced into a frozen
:class:`~roofline.results.training.TrainingEstimate`, and the chips needed to train within a deadline.
A layout with open choices goes to the planner (:mod:`roofline.training.planner`).

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
from roofline.efficiency import Efficiency
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.training import (
    LAYER_FIELDS, fill_training_layer, price_training_layer, step_from_layer, train_step, training_memory,
)
from roofline.loaders.efficiency import efficiency_for
from roofline.model import Model
from roofline.pack import pack_hardware, pack_layout, pack_model, pack_training_extras
from roofline.quantity import MAX_COUNT, show
from roofline.results.training import BREAKDOWN, TrainingEstimate
from roofline.stages import stage_split
from roofline.workload import MIXED_PRECISION, TrainingWorkload, check_training

_R_BREAKDOWN = (L.R_COMPUTE, L.R_TP, L.R_BUBBLE, L.R_PP, L.R_DP, L.R_CP, L.R_OPT)


@attrs.frozen
class TrainingContext:
    """Chip, model and precision packed once: ``m`` (M_*), ``hw`` (H_*) and ``x`` (X_*) vectors, and the same
    three as Python lists (``plain``) for the plain-Python kernels."""

    chip: Chip
    model: Model
    dtype: str
    efficiency: Efficiency
    m: np.ndarray = attrs.field(eq=False)
    hw: np.ndarray = attrs.field(eq=False)
    x: np.ndarray = attrs.field(eq=False)
    plain: tuple = attrs.field(eq=False, default=attrs.Factory(lambda s: (s.m.tolist(), s.hw.tolist(), s.x.tolist()),
                                                               takes_self=True))

    @classmethod
    def build(cls, chip: Chip, model: Model, dtype: str) -> TrainingContext:
        eff = efficiency_for(chip, dtype)
        x = pack_training_extras(chip, eff, efficiency_for(chip, chip.half_dtype), MIXED_PRECISION)
        return cls(chip, model, dtype, eff, pack_model(model), pack_hardware(chip, dtype, eff), x)

    def usable_bytes(self) -> float:
        return float(self.hw[L.H_HBM_BYTES] * self.x[L.X_MEM_FRACTION])


def _on_lists(lists_run, arrays_run) -> np.ndarray:
    """An R_* vector from a plain-Python kernel run on Python lists (indexing and arithmetic on Python
    floats are about twice as fast as on numpy scalars, and give the same IEEE doubles), or, when that
    divides by zero (which raises on Python floats where numpy and the compiled kernels give inf), from
    the same run on the arrays."""
    try:
        return np.array(lists_run(), dtype=np.float64)
    except ZeroDivisionError:
        return arrays_run()


def price_layout(ctx: TrainingContext, t: np.ndarray, layers: dict | None = None) -> np.ndarray:
    """Run the plain-Python kernel on one layout; the R_* vector.

    ``layers`` (a search's own dict) keeps the priced layer table per
    :data:`~roofline.kernels.training.LAYER_FIELDS`, so that a search prices a layer once per TP, CP,
    micro-batch and EP: :func:`train_step` is :func:`price_training_layer` then :func:`step_from_layer`,
    so the figures are the same."""

    def lists_run():
        res, row = [0.0] * L.R_SIZE, t.tolist()
        key = tuple(row[f] for f in LAYER_FIELDS)
        priced = None if layers is None else layers.get(key)
        scratch = (np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)) if priced is None else priced,
                   np.zeros((1, L.OP_COLS)), [0.0] * L.H_SIZE, [0.0] * L.W_SIZE)
        if priced is None:
            price_training_layer(*ctx.plain, row, scratch)
            if layers is not None:
                layers[key] = scratch[1]  # read only from here on (step_from_layer does not write it)
        step_from_layer(*ctx.plain, row, scratch, res)
        return res

    def arrays_run():
        res = np.zeros(L.R_SIZE)
        scratch = (np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros((1, L.OP_COLS)),
                   np.zeros(L.H_SIZE), np.zeros(L.W_SIZE))
        train_step(ctx.m, ctx.hw, ctx.x, t, scratch, res)
        return res

    return _on_lists(lists_run, arrays_run)


def layout_memory(ctx: TrainingContext, t: np.ndarray) -> np.ndarray:
    """The plain-Python memory kernel on one layout (on lists, as :func:`price_layout`): an R_* vector with
    only the memory fields and R_FITS."""

    def lists_run():
        res = [0.0] * L.R_SIZE
        training_memory(*ctx.plain, t.tolist(), [0.0] * L.W_SIZE, res)
        return res

    def arrays_run():
        res = np.zeros(L.R_SIZE)
        training_memory(ctx.m, ctx.hw, ctx.x, t, np.zeros(L.W_SIZE), res)
        return res

    return _on_lists(lists_run, arrays_run)


def estimate_from_result(ctx: TrainingContext, wl: TrainingWorkload, res: np.ndarray) -> TrainingEstimate:
    """Wrap an R_* vector (from either the plain or the compiled kernel) as a ``TrainingEstimate``."""
    wl = attrs.evolve(wl, global_batch=wl.batch(), sequence_parallel=wl.sp)
    return TrainingEstimate(
        workload=wl, efficiency=ctx.efficiency, peak_flops_per_s=ctx.chip.peak(ctx.dtype),
        step_time_s=float(res[L.R_STEP]),
        breakdown=tuple((k, float(res[i])) for k, i in zip(BREAKDOWN, _R_BREAKDOWN)),
        memory_per_chip_bytes=float(res[L.R_MEM]), activation_bytes_per_chip=float(res[L.R_ACT]),
        state_bytes_per_chip=float(res[L.R_STATE]), usable_bytes_per_chip=ctx.usable_bytes(),
        model_flops_per_chip=float(res[L.R_MODEL_FLOPS]), hardware_flops_per_chip=float(res[L.R_HW_FLOPS]),
        stages=stage_split(ctx.model.num_layers, wl.pp, wl.first_stage_layers, wl.last_stage_layers),
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


def estimate_training(chip: Chip, model: Model, workload: TrainingWorkload,
                      days: float | None = None) -> TrainingEstimate:
    """Price one training step of a complete layout of ``model`` on ``workload.num_chips`` chips.

    Raises the project error for an impossible layout or dtype, and for a layout with open choices
    (those go to :func:`roofline.training.planner.training_estimate`); a given layout that does not fit
    is returned with ``fits`` False.
    """
    check_training(chip, model, workload)
    wl = workload if model.is_moe or workload.ep is not None else attrs.evolve(workload, ep=1)
    if not wl.complete or wl.ep is None:
        open_fields = [f for f in ("tp", "pp", "dp", "micro_batch", "recompute", "zero", "virtual_pp", "ep")
                       if getattr(wl, f) is None]
        raise RooflineError(f"training layout: {', '.join(open_fields)} not given; give them, or let the planner "
                            f"choose (roofline.training.planner.training_estimate or plan_training)")
    ctx = TrainingContext.build(chip, model, wl.dtype)
    return with_days(estimate_from_result(ctx, wl, price_layout(ctx, pack_layout(wl, model.num_layers))), days)


def step_intensity(chip: Chip, model: Model, est: TrainingEstimate) -> float:
    """FLOP per HBM byte of a training step: the forward op table of one micro-batch (the backward has
    twice its FLOPs and bytes, the same ratio)."""
    ops = np.zeros((L.N_OPS, L.OP_COLS))
    fill_training_layer(pack_model(model), pack_layout(est.workload, model.num_layers), float(chip.scale_up_domain),
                        ops, np.zeros(L.W_SIZE))
    live = ops[:, L.OP_COUNT] > 0
    return float(np.sum(ops[live, L.OP_FLOPS] * ops[live, L.OP_COUNT])
                 / np.sum(ops[live, L.OP_HBM] * ops[live, L.OP_COUNT]))
