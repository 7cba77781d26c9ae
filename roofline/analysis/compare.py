"""Chips side by side: serving, training, NVLink scaling, energy, cost and export-control figures.

:func:`compare` runs the same request on every chip, each at its own layout, and divides by the
reference chip. Every figure comes from the library's estimates; no chip is treated by name.

* **Serving within the latency targets** (what a fleet is sized by, and what the verdict votes with): each
  chip at its best layout and concurrency of the in-flight engine under a closed-loop client, the most
  output tokens/s per chip with mean TPOT and TTFT within the targets (:mod:`roofline.serving.target`,
  the verdict's own search: one 8-chip server, or the smallest fleet that holds the model on every chip
  compared, larger while memory caps its users).
* **Serving, one request** (``Workload(batch=1)`` at ``--tp`` or the smallest TP that fits, with pipeline
  stages only when no TP of the scale-up domain holds the model alone): TTFT and TPOT at batch 1, the
  largest batch that fits at that TP, and the batch at which the decode step turns compute-bound (most of
  its time in compute-bound ops; ``None`` if it never does up to :data:`TURN_SEARCH_LIMIT`, e.g. because
  the KV-cache reads grow with the batch too); with ``concurrency``, that layout serving so many users.
* **Training** (the planner's best layout on ``num_chips``): tokens/s per chip, MFU, time to train the
  token budget, the dominant part of the step, and the fewest chips that hold the model for training
  (the smallest count with a layout that fits, searched upwards from the state-memory bound
  ``(2 + 4 + 12) bytes x parameters / usable bytes per chip``).
* **NVLink scaling**: batch-1 decode tokens/s per chip at each TP of the scale-up domain (memory not
  checked: the what-if is the link's), efficiency = per-chip rate ÷ the TP-1 rate; and the same chip
  with half the scale-up bandwidth (an H800 or A800 is an H100 or A100 with a 400 GB/s link): decode at
  the largest TP (batch 1 and the largest batch that fits) and training at the same layout.
* **Efficiency and cost**: tokens per joule at TDP (serving at the point within the targets,
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
    compute_bound_batch, decode_point, link_halving, prefill_point, serving_layout, tp_scaling,
)
from roofline.analysis.reference import serving_point
from roofline.checkpoint import checkpoint_weight_dtype, on_chip
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.passes import Packed
from roofline.loaders.engines import ENGINES
from roofline.quantity import MAX_COUNT, show
from roofline.results.compare import ChipRow, Comparison, ServingSummary, TrainingSummary
from roofline.serving.inflight import closed_form_serving
from roofline.serving.static import estimate_inference
from roofline.serving.target import DEFAULT_MAX_TPOT_S, DEFAULT_MAX_TTFT_S, Targets, common_fleet
from roofline.verdict import (
    PhaseRatio, dominant_part, judge, prefill_tokens_per_s_per_chip, serving_ratio, training_limit,
)
from roofline.workload import TrainingWorkload, Workload, with_engine_kv

__all__ = ["DEFAULT_MAX_TPOT_S", "DEFAULT_MAX_TTFT_S", "DEFAULT_NUM_CHIPS", "compare"]

DEFAULT_NUM_CHIPS = 1024


def serving_summary(chip: Chip, model: Model, wl: Workload, targets: Targets, engine: str,
                    concurrency: int | None, min_chips: int = 1) -> ServingSummary:
    inf = estimate_inference(chip, model, serving_layout(chip, model, wl, tp=wl.tp))
    p = Packed(chip, model, inf.workload)
    pre, dec = prefill_point(p, 1), decode_point(p, 1)
    n = inf.num_chips
    base = attrs.evolve(wl, batch=1, tp=None, pp=1, ep=1)
    point, note = serving_point(chip, model, base, targets, engine, tp=wl.tp, min_chips=min_chips)
    at = None if concurrency is None else closed_form_serving(chip, model, inf.workload, engine=engine,
                                                              concurrency=concurrency)
    return ServingSummary(
        tp=inf.workload.tp, pp=inf.workload.pp, ttft_s=inf.ttft_s, tpot_s=inf.tpot_s,
        prefill_tokens_per_s_per_chip=prefill_tokens_per_s_per_chip(inf),
        decode_tokens_per_s_per_chip=inf.output_tokens_per_s / n,
        prefill_bound=inf.prefill.bound, decode_bound=inf.decode.bound,
        prefill_intensity=pre["intensity"], decode_intensity=dec["intensity"], max_batch=inf.max_batch,
        point=point, point_note=note, at_concurrency=at, compute_bound_batch=compute_bound_batch(p),
        critical_intensity=chip.critical_intensity(wl.compute_dtype))


def chip_row(chip: Chip, model: Model, wl: Workload, *, num_chips: int, tokens: float | None, targets: Targets,
             engine: str, concurrency: int | None, price: float | None, use_numba: bool | None,
             min_chips: int = 1) -> ChipRow:
    """Every figure of one chip (no ratios yet); the checkpoint's format as the chip runs it (``on_chip``)."""
    wl = on_chip(wl, model, chip)
    serving = train = None
    serving_note = training_note = ""
    try:
        serving = serving_summary(chip, model, wl, targets, engine, concurrency, min_chips)
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


def _given(row: ChipRow) -> float | None:
    """The price a user gave for the row's chip (a profile's price is the verdict's own default)."""
    return row.cost.price_usd_per_hour if row.cost.price_source == "given" else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def with_ratios(row: ChipRow, ref: ChipRow, targets: Targets) -> ChipRow:
    """``row`` with its ratios to ``ref`` (per chip) and its verdict by :func:`roofline.verdict.judge`."""
    s, rs = row.serving, ref.serving
    t, rt = row.training, ref.training
    serving, why = None, ""
    if s is not None:
        serving, why = serving_ratio(s.point, rs and rs.point, s.point_note,
                                     rs.point_note if rs else ref.serving_note, row.chip, ref.chip)
    ratios = {
        "decode": _ratio(s and s.decode_tokens_per_s_per_chip, rs and rs.decode_tokens_per_s_per_chip),
        "prefill": _ratio(s and s.prefill_tokens_per_s_per_chip, rs and rs.prefill_tokens_per_s_per_chip),
        "serving": serving and serving.speedup,
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
    missing = {}
    if s is not None and serving is None:
        missing["serving"] = why
    if t is not None and training is None:
        missing["training"] = ref.training_note or f"{ref.chip.name} cannot train this job"
    points = {} if s is None else {"this": s.point and s.point.to_dict(),
                                   "reference": rs and rs.point and rs.point.to_dict()}
    rates = {"serving": tuple(x.point.layout.output_tokens_per_s_per_chip if x and x.point else None for x in (s, rs)),
             "training": tuple(x.estimate.tokens_per_s_per_chip if x else None for x in (t, rt))}
    verdict = judge(row.chip, ref.chip, row.dtype, serving=serving, decode=decode, prefill=prefill, training=training,
                    training_dtype=t.estimate.workload.dtype if t else None, slo=targets.to_dict() if s else None,
                    missing=missing, prices=(_given(row), _given(ref)),
                    points=points, rates=rates)
    return attrs.evolve(row, ratios=tuple(ratios.items()), verdict=verdict)


def compare(chips: Sequence[Chip | str], model: Model | str, *, reference: Chip | str = "H100",
            num_chips: int = DEFAULT_NUM_CHIPS, max_tpot_s: float = DEFAULT_MAX_TPOT_S,
            max_ttft_s: float = DEFAULT_MAX_TTFT_S, price_per_hour: float | Sequence[float] | None = None,
            workload: Workload | None = None, engine: str = "generic", concurrency: int | None = None,
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
    max_tpot_s, max_ttft_s
        The latency targets of the serving operating point (means, seconds).
    workload
        The serving request (lengths, formats; its ``tp`` fixes the tensor-parallel size of every serving
        layout, ``None`` searches them); its batch is ignored.
    engine, concurrency
        The in-flight engine of the operating point; with ``concurrency``, also the batch-1 layout serving
        that many users (closed form).
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
    for name, value, example in (("max_tpot_s", max_tpot_s, "0.05"), ("max_ttft_s", max_ttft_s, "2")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e300:
            raise RooflineError(f"{name}={show(value)} must be a positive number of seconds, such as {example}")
    if engine not in ENGINES:
        raise RooflineError(f"engine={engine!r} is not known; use one of {', '.join(ENGINES)}")
    if concurrency is not None and (isinstance(concurrency, bool) or not isinstance(concurrency, int)
                                    or not 1 <= concurrency <= MAX_COUNT):
        raise RooflineError(f"concurrency={show(concurrency)} must be a whole number from 1 to {MAX_COUNT:,}")
    prices = prices_per_chip(price_per_hour, len(loaded))
    if tokens is not None:
        tokens = TrainingWorkload(tokens=tokens).tokens  # validated, "15T" accepted
    ref = reference if isinstance(reference, Chip) else load_chip(reference)
    m = model if isinstance(model, Model) else load_model(model)
    wl = attrs.evolve(workload or Workload(weight_dtype=checkpoint_weight_dtype(m)), batch=1)
    wl = with_engine_kv(wl, m, ENGINES[engine].kv_auto)  # a blank KV format: the engine's, as estimate reads it
    targets = Targets(float(max_tpot_s), float(max_ttft_s))
    everyone = loaded if ref.name in names else [ref, *loaded]
    start = common_fleet(everyone, m, attrs.evolve(wl, tp=None, pp=1, ep=1), engine=engine, tp=wl.tp)
    kw = {"num_chips": num_chips, "tokens": tokens, "targets": targets, "engine": engine,
          "concurrency": concurrency, "use_numba": use_numba, "min_chips": start}
    rows = [chip_row(c, m, wl, price=p, **kw) for c, p in zip(loaded, prices)]
    if ref.name not in names:
        rows.insert(0, chip_row(ref, m, wl, price=None, **kw))
    ref_row = next(r for r in rows if r.chip.name == ref.name)
    rows = [with_ratios(r, ref_row, targets) for r in rows]
    settings = {"num_chips": num_chips, "max_tpot_s": max_tpot_s, "max_ttft_s": max_ttft_s, "engine": engine,
                "concurrency": concurrency, "tp": wl.tp, "input_len": wl.input_len, "output_len": wl.output_len,
                "weight_dtype": wl.weight_dtype, "kv_dtype": wl.kv,
                "train_tokens": training_base(ref, num_chips, tokens).tokens}
    return Comparison(model=m, reference=ref.name, rows=tuple(rows), settings=tuple(settings.items()))
