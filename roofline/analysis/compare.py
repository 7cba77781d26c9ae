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

from collections.abc import Sequence

import attrs

from roofline.analysis.economics import (
    cost_figures, export_figures, fewest_training_chips, plan_best, prices_per_chip, training_base,
)
from roofline.analysis.probes import (
    best_within_budget, compute_bound_batch, decode_point, link_halving, prefill_point, serving_layout, tp_scaling,
)
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.passes import Packed
from roofline.quantity import show
from roofline.results.compare import ChipRow, Comparison, ServingSummary, TrainingSummary
from roofline.serving.static import estimate_inference
from roofline.verdict import PhaseRatio, dominant_part, judge, training_limit
from roofline.workload import TrainingWorkload, Workload


DEFAULT_MAX_TPOT_S = 0.050

DEFAULT_NUM_CHIPS = 1024


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


def chip_row(chip: Chip, model: Model, wl: Workload, *, num_chips: int, tokens: float | None, max_tpot_s: float,
             price: float | None, use_numba: bool | None) -> ChipRow:
    """Every figure of one chip (no ratios yet)."""
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
    dtype = wl.compute_dtype if chip.has(wl.compute_dtype) else chip.half_dtype
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
    prices = prices_per_chip(price_per_hour, len(loaded))
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
