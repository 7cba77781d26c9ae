"""Chips side by side: serving, training, NVLink scaling, energy, cost and export-control figures.

:func:`compare` runs the same request on every chip, each at its own layout, and divides by the
reference chip. Every figure comes from the library's estimates; no chip is treated by name.

* **Serving** (``Workload(batch=1)`` at the smallest TP that fits, with pipeline stages only when no TP
  of the scale-up domain holds the model alone): TTFT and TPOT at batch 1, the
  largest batch that fits at that TP, the best output tokens/s per chip whose TPOT stays within the
  budget (over every TP of the scale-up domain that fits and every batch that fits), and the batch at
  which the decode step turns compute-bound (most of its time in compute-bound ops; ``None`` if it
  never does up to :data:`TURN_SEARCH_LIMIT`, e.g. because the KV-cache reads grow with the batch too).
* **Training** (the planner's best layout on ``num_chips``): tokens/s per chip, MFU, time to train the
  token budget, the dominant part of the step, and the fewest chips that hold the model for training
  (the smallest count with a layout that fits, searched upwards from the state-memory bound
  ``(2 + 4 + 12) bytes x parameters / usable bytes per chip``).
* **NVLink scaling**: batch-1 decode tokens/s per chip at each TP of the scale-up domain (memory not
  checked: the what-if is the link's), efficiency = per-chip rate ÷ the TP-1 rate; and the same chip
  with half the scale-up bandwidth (an H800 or A800 is an H100 or A100 with a 400 GB/s link): decode at
  the largest TP (batch 1 and the largest batch that fits) and training at the same layout.
* **Efficiency and cost**: tokens per joule at TDP (decode at the best point within the budget,
  training); with a price per chip-hour (given, or the profile's dated reference price) dollars per
  million output tokens at that point and per training run (price x chips x time to train).
* **Export control** (US BIS, Oct 2023 rule, ECCN 3A090): total processing performance TPP = the
  largest dense TOPS x bit length over the chip's formats; performance density PD = TPP ÷ die area
  (profiles with ``[die] area_mm2``); and the threshold band it lands in (arithmetic on the published
  thresholds, not a legal classification).
"""

from __future__ import annotations

import math
from typing import Sequence

import attrs
import numpy as np

from roofline.chip import RANGES, Chip, load_chip
from roofline.dtypes import BYTES
from roofline.errors import RooflineError
from roofline.inference import Packed, estimate_inference, fewest_stages
from roofline.kernels import layout as L
from roofline.model import Model, load_model
from roofline.quantity import show
from roofline.training import (
    GRAD_BYTES, OPTIMIZER_BYTES, PARAM_BYTES, TrainingContext, TrainingEstimate, TrainingWorkload,
    estimate_training,
)
from roofline.verdict import PhaseRatio, Verdict, dominant_part, judge, training_limit
from roofline.workload import Workload, valid_tp_sizes

DEFAULT_MAX_TPOT_S = 0.050
DEFAULT_NUM_CHIPS = 1024
#: Largest batch searched for the compute-bound turn of decode.
TURN_SEARCH_LIMIT = 1 << 16
#: ECCN 3A090 thresholds (BIS, 88 FR 73458, Oct 2023): TPP and performance density (TPP per mm²).
TPP_A, TPP_B, TPP_MIN = 4800.0, 2400.0, 1600.0
PD_A, PD_B_LOW, PD_B_MID = 5.92, 1.6, 3.2


@attrs.frozen
class BudgetPoint:
    """The best decode point within the TPOT budget: TP, batch, TPOT and output tokens/s per chip."""

    tp: int
    batch: int
    tpot_s: float
    tokens_per_s_per_chip: float


@attrs.frozen
class ServingSummary:
    tp: int
    pp: int
    ttft_s: float  # batch 1
    tpot_s: float  # batch 1
    prefill_tokens_per_s_per_chip: float
    decode_tokens_per_s_per_chip: float
    prefill_bound: str
    decode_bound: str
    prefill_intensity: float  # FLOP per HBM byte
    decode_intensity: float
    max_batch: int
    budget: BudgetPoint | None
    compute_bound_batch: int | None  # at ``tp``; may exceed max_batch
    critical_intensity: float  # peak FLOP/s of the compute dtype ÷ HBM bytes/s


@attrs.frozen
class TrainingSummary:
    estimate: TrainingEstimate
    dominant: str  # the largest step part
    dominant_share: float
    fewest_chips: int | None


@attrs.frozen
class ScalingPoint:
    tp: int
    tpot_s: float
    tokens_per_s_per_chip: float
    efficiency: float  # per-chip rate ÷ the TP-1 rate
    fits: bool


@attrs.frozen
class LinkHalving:
    """What half the scale-up bandwidth costs: per-chip rates with the full link and with half of it."""

    tp: int
    decode_batch1: tuple[float, float]
    decode_batch: int
    decode_full_batch: tuple[float, float]
    training: tuple[float, float] | None

    def loss(self, pair: tuple[float, float] | None) -> float | None:
        return None if pair is None else 1.0 - pair[1] / pair[0]


@attrs.frozen
class CostFigures:
    tdp_w: float | None
    decode_tokens_per_joule: float | None
    training_tokens_per_joule: float | None
    price_usd_per_hour: float | None
    price_source: str
    usd_per_million_output_tokens: float | None
    usd_per_training_run: float | None


@attrs.frozen
class ExportFigures:
    tpp: float
    tpp_dtype: str
    die_area_mm2: float | None
    performance_density: float | None
    band: str


@attrs.frozen
class ChipRow:
    chip: Chip
    dtype: str
    serving: ServingSummary | None
    serving_note: str
    training: TrainingSummary | None
    training_note: str
    scaling: tuple[ScalingPoint, ...]
    link: LinkHalving | None
    cost: CostFigures
    export: ExportFigures
    ratios: tuple[tuple[str, float | None], ...] = ()  # this ÷ reference, per chip
    verdict: Verdict | None = None


@attrs.frozen
class Comparison:
    model: Model
    reference: str
    rows: tuple[ChipRow, ...]
    settings: tuple[tuple[str, object], ...]

    def to_dict(self) -> dict:
        return {"model": self.model.name, "reference_chip": self.reference, "settings": dict(self.settings),
                "chips": [row_dict(r) for r in self.rows]}


# ---- serving ---------------------------------------------------------------------------------------

def _totals(p: Packed) -> tuple[float, float, str]:
    """FLOPs, HBM bytes and the limit that bound most of the time, of the pass ``p`` priced last."""
    ops, priced = p.ops, p.priced
    live = ops[:, L.OP_COUNT] > 0
    flops = float(np.sum(ops[live, L.OP_FLOPS] * ops[live, L.OP_COUNT]))
    hbm = float(np.sum(ops[live, L.OP_HBM] * ops[live, L.OP_COUNT]))
    by_bound = [float(np.sum(priced[live & (priced[:, 1] == b), 0])) for b in range(len(L.BOUNDS))]
    return flops, hbm, L.BOUNDS[int(np.argmax(by_bound))]


def decode_point(p: Packed, batch: int) -> dict:
    """One decode step of ``batch`` sequences: time, FLOPs, HBM bytes, intensity and the binding limit."""
    t = float(p.tpot(batch))
    flops, hbm, bound = _totals(p)
    return {"batch": batch, "tpot_s": t, "flops": flops, "hbm_bytes": hbm, "bound": bound,
            "intensity": flops / hbm if hbm else math.inf, "tokens_per_s_per_chip": batch / t / p.wl.num_chips}


def prefill_point(p: Packed, batch: int) -> dict:
    t = float(p.ttft(batch))
    flops, hbm, bound = _totals(p)
    return {"batch": batch, "ttft_s": t, "flops": flops, "hbm_bytes": hbm, "bound": bound,
            "intensity": flops / hbm if hbm else math.inf}


def compute_bound_batch(p: Packed, limit: int = TURN_SEARCH_LIMIT) -> int | None:
    """Smallest batch whose decode step is mostly compute-bound (doubling, then bisection), or None."""
    if decode_point(p, 1)["bound"] == "compute":
        return 1
    hi = 2
    while hi <= limit and decode_point(p, hi)["bound"] != "compute":
        hi *= 2
    if hi > limit:
        return None
    lo = hi // 2  # not compute-bound
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if decode_point(p, mid)["bound"] == "compute" else (mid, hi)
    return hi


def largest_batch_within(p: Packed, max_tpot_s: float) -> int | None:
    """The largest batch that fits at ``p``'s layout with TPOT <= ``max_tpot_s`` (bisection: TPOT grows
    with the batch), or None when one sequence does not fit or misses the budget."""
    if not p.fits(1) or p.tpot(1) > max_tpot_s:
        return None
    lo, hi = 1, max(1, p.max_batch())
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if p.tpot(mid) <= max_tpot_s else (lo, mid - 1)
    return lo


def best_within_budget(chip: Chip, model: Model, wl: Workload, max_tpot_s: float) -> BudgetPoint | None:
    """Most output tokens/s per chip with TPOT <= ``max_tpot_s``, over every TP of the scale-up domain (from
    ``wl.tp`` up) at which a sequence fits and every batch that fits; per TP the largest batch within
    the budget wins (batch ÷ TPOT grows with the batch)."""
    best = None
    for tp in valid_tp_sizes(model, limit=chip.scale_up_domain):
        if tp < (wl.tp or 1):
            continue
        p = Packed(chip, model, attrs.evolve(wl, tp=tp))
        lo = largest_batch_within(p, max_tpot_s)
        if lo is None:
            continue
        t = float(p.tpot(lo))
        point = BudgetPoint(tp=tp, batch=lo, tpot_s=t, tokens_per_s_per_chip=lo / t / p.wl.num_chips)
        if best is None or point.tokens_per_s_per_chip > best.tokens_per_s_per_chip:
            best = point
    return best


def serving_layout(chip: Chip, model: Model, wl: Workload, tp: int | None = None) -> Workload:
    """``wl`` at batch 1 with the fewest pipeline stages that hold one sequence (1 unless no TP of the
    scale-up domain can), then the smallest TP (or ``tp``). Fewest stages first: at small batches a
    stage waits for the others, so pipelining costs per-chip decode speed where TP does not."""
    tps = [tp] if tp else valid_tp_sizes(model, limit=chip.scale_up_domain)
    fewest = [(pp, i, t) for i, t in enumerate(tps)
              if (pp := fewest_stages(chip, model, attrs.evolve(wl, batch=1), t)) is not None]
    if fewest:
        pp, _, t = min(fewest)
        return attrs.evolve(wl, batch=1, tp=t, pp=pp)
    raise RooflineError(f"model {model.name} does not fit on {chip.name} at any pipeline depth"
                        + (f" with tp={tp}" if tp else f" within its {chip.scale_up_domain}-chip domain"))


def serving_summary(chip: Chip, model: Model, wl: Workload, max_tpot_s: float) -> ServingSummary:
    inf = estimate_inference(chip, model, serving_layout(chip, model, wl))
    p = Packed(chip, model, inf.workload)
    pre, dec = prefill_point(p, 1), decode_point(p, 1)
    n = inf.num_chips
    return ServingSummary(
        tp=inf.workload.tp, pp=inf.workload.pp, ttft_s=inf.ttft_s, tpot_s=inf.tpot_s,
        prefill_tokens_per_s_per_chip=wl.input_len / inf.ttft_s / n,
        decode_tokens_per_s_per_chip=inf.output_tokens_per_s / n,
        prefill_bound=inf.prefill.bound, decode_bound=inf.decode.bound,
        prefill_intensity=pre["intensity"], decode_intensity=dec["intensity"], max_batch=inf.max_batch,
        budget=best_within_budget(chip, model, inf.workload, max_tpot_s),
        compute_bound_batch=compute_bound_batch(p),
        critical_intensity=chip.critical_intensity(wl.compute_dtype))


def batch_curve(chip: Chip, model: Model, wl: Workload, points: int = 40, tp: int | None = None) -> dict:
    """Decode at batches from 1 to the largest that fits (geometric), at :func:`serving_layout` (``tp``
    fixed when given): ``{"tp", "pp", "max_batch", "compute_bound_batch", "points": [decode_point, ...]}``."""
    inf = estimate_inference(chip, model, serving_layout(chip, model, wl, tp))
    p = Packed(chip, model, inf.workload)
    mb = max(1, inf.max_batch)
    batches = sorted({int(round(b)) for b in np.geomspace(1, mb, num=points)} | {mb})
    return {"tp": inf.workload.tp, "pp": inf.workload.pp, "max_batch": inf.max_batch, "compute_bound_batch": compute_bound_batch(p),
            "points": [decode_point(p, b) for b in batches]}


# ---- training --------------------------------------------------------------------------------------

def training_base(chip: Chip, num_chips: int, tokens: float | None = None) -> TrainingWorkload:
    from roofline.api import training_dtype

    kw = {} if tokens is None else {"tokens": tokens}
    return TrainingWorkload(num_chips=num_chips, dtype=training_dtype(chip), **kw)


def plan_best(chip: Chip, model: Model, wl: TrainingWorkload, use_numba: bool | None = False) -> TrainingEstimate:
    from roofline.planner import plan_training

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


def training_intensity(chip: Chip, model: Model, est: TrainingEstimate) -> float:
    """FLOP per HBM byte of a training step (the forward op table of one micro-batch; the backward has
    twice its FLOPs and bytes, the same ratio)."""
    from roofline.kernels import training as KT
    from roofline.training import pack_layout
    from roofline.workload import pack_model

    ops = np.zeros((L.N_OPS, L.OP_COLS))
    KT.fill_training_layer(pack_model(model), pack_layout(est.workload), float(chip.scale_up_domain), ops,
                           np.zeros(L.W_SIZE))
    live = ops[:, L.OP_COUNT] > 0
    return float(np.sum(ops[live, L.OP_FLOPS] * ops[live, L.OP_COUNT])
                 / np.sum(ops[live, L.OP_HBM] * ops[live, L.OP_COUNT]))


# ---- scaling, cost, export ----------------------------------------------------------------------------

def tp_scaling(chip: Chip, model: Model, wl: Workload) -> tuple[ScalingPoint, ...]:
    out, base = [], None
    for tp in valid_tp_sizes(model, limit=chip.scale_up_domain):
        p = Packed(chip, model, attrs.evolve(wl, tp=tp, batch=1))
        t = float(p.tpot(1))
        rate = 1.0 / t / p.wl.num_chips
        base = base or rate
        out.append(ScalingPoint(tp=tp, tpot_s=t, tokens_per_s_per_chip=rate, efficiency=rate / base,
                                fits=p.fits(1)))
    return tuple(out)


def half_link(chip: Chip) -> Chip:
    """``chip`` with half its scale-up bandwidth."""
    return attrs.evolve(chip, name=f"{chip.name} (half link)", scale_up_bytes_per_s=chip.scale_up_bytes_per_s / 2)


def link_halving(chip: Chip, model: Model, wl: Workload, train: TrainingEstimate | None) -> LinkHalving:
    tp = valid_tp_sizes(model, limit=chip.scale_up_domain)[-1]
    half = half_link(chip)
    full_p = Packed(chip, model, attrs.evolve(wl, tp=tp, batch=1))
    half_p = Packed(half, model, attrs.evolve(wl, tp=tp, batch=1))
    mb = max(1, full_p.max_batch())

    def pair(b):
        return (b / float(full_p.tpot(b)) / tp, b / float(half_p.tpot(b)) / tp)

    training = None
    if train is not None:
        training = (train.tokens_per_s_per_chip,
                    estimate_training(half, model, train.workload).tokens_per_s_per_chip)
    return LinkHalving(tp=tp, decode_batch1=pair(1), decode_batch=mb, decode_full_batch=pair(mb), training=training)


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
        rate = serving.budget.tokens_per_s_per_chip if serving.budget else serving.decode_tokens_per_s_per_chip
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


# ---- the comparison ----------------------------------------------------------------------------------

def chip_row(chip: Chip, model: Model, wl: Workload, *, num_chips: int, tokens: float | None, max_tpot_s: float,
             price: float | None, use_numba: bool | None) -> ChipRow:
    """Every figure of one chip (no ratios yet)."""
    from roofline.api import training_dtype

    serving = train = None
    serving_note = training_note = ""
    try:
        serving = serving_summary(chip, model, wl, max_tpot_s)
    except RooflineError as exc:
        serving_note = str(exc)
    base = training_base(chip, num_chips, tokens)
    try:
        best = plan_best(chip, model, base, use_numba)
        part, share = dominant_part(best)
        train = TrainingSummary(estimate=best, dominant=part, dominant_share=share,
                                fewest_chips=fewest_training_chips(chip, model, base, use_numba))
    except RooflineError as exc:
        training_note = str(exc)
    scaling, link = (), None
    if chip.has(wl.compute_dtype):
        scaling = tp_scaling(chip, model, wl)
        link = link_halving(chip, model, wl, train.estimate if train else None)
    dtype = wl.compute_dtype if chip.has(wl.compute_dtype) else training_dtype(chip)
    return ChipRow(chip=chip, dtype=dtype, serving=serving, serving_note=serving_note, training=train,
                   training_note=training_note, scaling=scaling, link=link,
                   cost=cost_figures(chip, serving, train, price), export=export_figures(chip))


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def with_ratios(row: ChipRow, ref: ChipRow) -> ChipRow:
    """``row`` with its ratios to ``ref`` (per chip) and its verdict by :func:`roofline.verdict.judge`."""
    s, rs = row.serving, ref.serving
    t, rt = row.training, ref.training
    ratios = {
        "decode": _ratio(s and s.decode_tokens_per_s_per_chip, rs and rs.decode_tokens_per_s_per_chip),
        "prefill": _ratio(s and s.prefill_tokens_per_s_per_chip, rs and rs.prefill_tokens_per_s_per_chip),
        "throughput_within_budget": _ratio(s and s.budget and s.budget.tokens_per_s_per_chip,
                                           rs and rs.budget and rs.budget.tokens_per_s_per_chip),
        "training": _ratio(t and t.estimate.tokens_per_s_per_chip, rt and rt.estimate.tokens_per_s_per_chip),
        "decode_tokens_per_joule": _ratio(row.cost.decode_tokens_per_joule, ref.cost.decode_tokens_per_joule),
        "training_tokens_per_joule": _ratio(row.cost.training_tokens_per_joule, ref.cost.training_tokens_per_joule),
    }
    decode = prefill = training = None
    if ratios["decode"] is not None:
        decode = PhaseRatio(ratios["decode"], s.decode_bound, rs.decode_bound)
        prefill = PhaseRatio(ratios["prefill"], s.prefill_bound, rs.prefill_bound)
    if ratios["training"] is not None:
        training = PhaseRatio(ratios["training"], training_limit(t.estimate), training_limit(rt.estimate),
                              t.dominant_share)
    verdict = judge(row.chip, ref.chip, row.dtype, decode=decode, prefill=prefill, training=training)
    return attrs.evolve(row, ratios=tuple(ratios.items()), verdict=verdict)


def _prices(price_per_hour, n: int) -> list[float | None]:
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
    low, high, _ = RANGES["price.usd_per_hour"]
    for p in prices:
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not low <= p <= high:
            raise RooflineError(f"price_per_hour={show(p)} must be a number of dollars per chip-hour from {low:g} "
                                f"to {high:g}, e.g. 2.5")
    return [float(p) for p in prices]


def compare(chips: Sequence[Chip | str], model: Model | str, *, reference: Chip | str = "H100",
            num_chips: int = DEFAULT_NUM_CHIPS, max_tpot_s: float = DEFAULT_MAX_TPOT_S,
            price_per_hour: float | Sequence[float] | None = None, workload: Workload | None = None,
            tokens: float | None = None, use_numba: bool | None = False) -> Comparison:
    """Compare ``chips`` serving and training ``model`` (see the module docstring).

    Parameters
    ----------
    reference
        Ratios and verdicts are this chip ÷ reference, per chip; the reference is added to the rows
        (first) when it is not among ``chips``.
    price_per_hour
        Dollars per chip-hour: one for all chips or one per chip (in order; the added reference takes
        its profile's price). ``None``: each profile's dated reference price when it has one.
    workload
        The serving request (lengths, formats); its batch and tp are ignored (batch 1, smallest TP).
    use_numba
        Passed to the planner: ``False`` (default) plain Python, ``None`` compiled when available.
    """
    if isinstance(chips, (str, Chip)) or not isinstance(chips, Sequence):
        raise RooflineError(f"chips={chips!r} must be a list of chip names or Chip values, e.g. ['H20', 'H100']")
    if not chips:
        raise RooflineError("chips: no chips to compare; give at least one, e.g. H20,H100")
    loaded = [c if isinstance(c, Chip) else load_chip(c) for c in chips]
    names = [c.name for c in loaded]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RooflineError(f"chips: {', '.join(dupes)} listed twice; list each chip once")
    if isinstance(max_tpot_s, bool) or not isinstance(max_tpot_s, (int, float)) or not 0 < max_tpot_s < 1e300:
        raise RooflineError(f"max_tpot_s={show(max_tpot_s)} must be a positive number of seconds, such as 0.05")
    prices = _prices(price_per_hour, len(loaded))
    if tokens is not None:
        tokens = TrainingWorkload(tokens=tokens).tokens  # validated, "15T" accepted
    ref = reference if isinstance(reference, Chip) else load_chip(reference)
    m = model if isinstance(model, Model) else load_model(model)
    wl = attrs.evolve(workload or Workload(), batch=1, tp=None)
    kw = {"num_chips": num_chips, "tokens": tokens, "max_tpot_s": max_tpot_s, "use_numba": use_numba}
    rows = [chip_row(c, m, wl, price=p, **kw) for c, p in zip(loaded, prices)]
    if ref.name not in names:
        rows.insert(0, chip_row(ref, m, wl, price=None, **kw))
    ref_row = next(r for r in rows if r.chip.name == ref.name)
    rows = [with_ratios(r, ref_row) for r in rows]
    settings = {"num_chips": num_chips, "max_tpot_s": max_tpot_s, "input_len": wl.input_len,
                "output_len": wl.output_len, "weight_dtype": wl.weight_dtype,
                "train_tokens": training_base(ref, num_chips, tokens).tokens}
    return Comparison(model=m, reference=ref.name, rows=tuple(rows), settings=tuple(settings.items()))


# ---- JSON ------------------------------------------------------------------------------------------

def _pair(p: tuple[float, float] | None) -> dict | None:
    return None if p is None else {"full_link": p[0], "half_link": p[1], "loss": 1.0 - p[1] / p[0]}


def row_dict(r: ChipRow) -> dict:
    """One chip of the ``roofline compare --format json`` output."""
    c = r.chip
    out = {"chip": c.name, "full_name": c.full_name, "compute_dtype": r.dtype,
           "peak_flops_per_s": c.peak(r.dtype), "hbm_bytes_per_s": c.hbm_bytes_per_s,
           "scale_up_bytes_per_s": c.scale_up_bytes_per_s, "scale_up_domain": c.scale_up_domain,
           "critical_intensity_flops_per_byte": c.critical_intensity(r.dtype)}
    s = r.serving
    out["serving"] = None if s is None else {
        **{k: v for k, v in attrs.asdict(s).items() if k != "budget"},
        "best_within_budget": None if s.budget is None else attrs.asdict(s.budget)}
    if r.serving_note:
        out["serving_note"] = r.serving_note
    t = r.training
    if t is None:
        out["training"] = None
        out["training_note"] = r.training_note
    else:
        e, w = t.estimate, t.estimate.workload
        out["training"] = {
            "num_chips": w.num_chips, "tokens_per_s_per_chip": e.tokens_per_s_per_chip, "mfu": e.mfu,
            "time_to_train_s": e.time_to_train_s, "train_tokens": w.tokens, "step_time_s": e.step_time_s,
            "layout": {"tp": w.tp, "pp": w.pp, "dp": w.dp, "cp": w.cp, "micro_batch": w.micro_batch,
                       "recompute": w.recompute, "zero": w.zero, "virtual_pp": w.virtual_pp, "dtype": w.dtype},
            "dominant_part": t.dominant, "dominant_share": t.dominant_share, "fewest_chips": t.fewest_chips}
    out["nvlink_scaling"] = [attrs.asdict(p) for p in r.scaling]
    out["half_link"] = None if r.link is None else {
        "tp": r.link.tp, "decode_batch1_tokens_per_s_per_chip": _pair(r.link.decode_batch1),
        "decode_batch": r.link.decode_batch, "decode_tokens_per_s_per_chip": _pair(r.link.decode_full_batch),
        "training_tokens_per_s_per_chip": _pair(r.link.training)}
    out["efficiency_and_cost"] = attrs.asdict(r.cost)
    out["export_control"] = attrs.asdict(r.export)
    out["ratios"] = dict(r.ratios)
    out["verdict"] = None if r.verdict is None else r.verdict.to_dict()
    return out
