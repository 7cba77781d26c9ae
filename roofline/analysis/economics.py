"""Training at scale, energy, cost and export-control figures of a chip."""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs

from roofline.chip import Chip, check_price
from roofline.dtypes import BYTES
from roofline.errors import RooflineError
from roofline.model import Model
from roofline.results.compare import CostFigures, ExportFigures, ServingSummary, TrainingSummary
from roofline.results.training import TrainingEstimate
from roofline.training.estimate import TrainingContext
from roofline.training.planner import plan_training
from roofline.workload import GRAD_BYTES, OPTIMIZER_BYTES, PARAM_BYTES, TrainingWorkload

#: ECCN 3A090 thresholds (BIS, 88 FR 73458, Oct 2023): TPP and performance density (TPP per mm²).
TPP_A, TPP_B, TPP_MIN = 4800.0, 2400.0, 1600.0
PD_A, PD_B_LOW, PD_B_MID = 5.92, 1.6, 3.2


def training_base(chip: Chip, num_chips: int, tokens: float | None = None) -> TrainingWorkload:
    """The default training run of ``num_chips`` chips in the chip's 16-bit format (every layout choice open)."""
    kw = {} if tokens is None else {"tokens": tokens}
    return TrainingWorkload(num_chips=num_chips, dtype=chip.half_dtype, **kw)


def plan_best(chip: Chip, model: Model, wl: TrainingWorkload, use_numba: bool | None = False) -> TrainingEstimate:
    """The planner's fastest layout that fits."""
    return plan_training(chip, model, wl, top=1, use_numba=use_numba).best


def fewest_training_chips(chip: Chip, model: Model, base: TrainingWorkload, use_numba: bool | None = False,
                          span: int = 4) -> int | None:
    """The smallest chip count at which some layout of ``base`` (its other fields) fits, searched from the
    state-memory bound up to ``span`` times it; None if none does."""
    usable = TrainingContext.build(chip, model, base.dtype).usable_bytes()
    state = (PARAM_BYTES + GRAD_BYTES + OPTIMIZER_BYTES) * model.param_count()
    start = max(1, math.ceil(state / usable))
    for n in range(start, span * start + 1):
        try:
            plan_best(chip, model, attrs.evolve(base, num_chips=n), use_numba)
        except RooflineError:
            continue
        return n
    return None


def training_scaling(chip: Chip, model: Model, counts: Sequence[int], tokens: float | None = None,
                     use_numba: bool | None = False) -> list[tuple[int, TrainingEstimate]]:
    """The planner's best layout at each chip count (counts where no layout fits are left out)."""
    out = []
    for n in counts:
        try:
            out.append((n, plan_best(chip, model, training_base(chip, n, tokens), use_numba)))
        except RooflineError:
            continue
    return out


def export_figures(chip: Chip) -> ExportFigures:
    """TPP (dense TOPS x bit length, the largest over the chip's formats), PD and the 3A090 band."""
    tpp, dtype = max((v / 1e12 * BYTES[d] * 8, d) for d, v in chip.peak_flops_per_s)
    pd = tpp / chip.die_area_mm2 if chip.die_area_mm2 else None
    if tpp >= TPP_A or (pd is not None and tpp >= TPP_MIN and pd >= PD_A):
        band = "3A090.a"
    elif tpp < TPP_MIN:
        band = "below 3A090"
    elif pd is None:
        band = "unknown (no die area)"
    elif (TPP_B <= tpp and PD_B_LOW <= pd) or PD_B_MID <= pd:
        band = "3A090.b"
    else:
        band = "below 3A090"
    return ExportFigures(tpp=tpp, tpp_dtype=dtype, die_area_mm2=chip.die_area_mm2, performance_density=pd, band=band)


def cost_figures(chip: Chip, serving: ServingSummary | None, training: TrainingSummary | None,
                 price: float | None) -> CostFigures:
    source = "given" if price is not None else ""
    if price is None and chip.price_usd_per_hour is not None:
        price, source = chip.price_usd_per_hour, f"profile, {chip.price_date}"
    rate = None
    if serving is not None:
        rate = (serving.point.layout.output_tokens_per_s_per_chip if serving.point
                else serving.decode_tokens_per_s_per_chip)
    train = training.estimate if training else None
    tdp = chip.tdp_w
    return CostFigures(
        tdp_w=tdp,
        decode_tokens_per_joule=rate / tdp if rate and tdp else None,
        training_tokens_per_joule=train.tokens_per_s_per_chip / tdp if train and tdp else None,
        price_usd_per_hour=price, price_source=source,
        usd_per_million_output_tokens=price / 3600.0 / rate * 1e6 if price and rate else None,
        usd_per_training_run=price * train.workload.num_chips * train.time_to_train_s / 3600.0
        if price and train else None)


def prices_per_chip(price_per_hour, n: int) -> list[float | None]:
    """One price per chip from one for all or one each (checked), or ``None`` for each."""
    if price_per_hour is None:
        return [None] * n
    if isinstance(price_per_hour, (int, float)):
        price_per_hour = [price_per_hour]
    prices = list(price_per_hour)
    if len(prices) == 1:
        prices *= n
    if len(prices) != n:
        raise RooflineError(f"price_per_hour: {len(prices)} prices for {n} chips; give one price for all "
                            f"or one per chip, in the order of the chips")
    return [check_price(p) for p in prices]
