"""The verdict: is a chip for serving, training, both or neither, measured against a reference chip.

Every speed-up is a ratio of estimates, *this chip ÷ reference, per chip*, each chip at its own best:

* ``serving_speedup``: output tokens/s per chip at the serving operating point a fleet is sized by, the
  most tokens/s per chip while mean TPOT and mean TTFT meet the latency targets (``slo``, default 50 ms
  and 2 s), each chip at its own best layout and concurrency (the in-flight engine model under a
  closed-loop client, :mod:`roofline.serving.target`);
* ``training_speedup``: training tokens/s per chip, each chip at its planner's best layout for the job;
* ``decode_speedup`` and ``prefill_speedup``: one request alone (batch 1) at this estimate's layout, for
  the latency a lone user sees; reported, not voting.

**The rule for ``suits``** (:data:`SUITS_THRESHOLD` = 0.8): a chip suits *serving* when its serving
speed-up is at least 0.8, and *training* when its training speed-up is at least 0.8, both **per dollar**
when both chips have a price (profile or ``--price-per-hour``), else per chip (``basis``); ``both`` when
both hold, ``neither`` when neither does. A phase that was not estimated does not vote. When a phase was
estimated but has no ratio (the reference lacks the request's compute format or cannot hold the model,
or neither chip meets the targets), ``suits`` is ``None`` and the reason says why: a missing ratio is not
a low one. A chip that cannot meet the targets where the reference can has a serving speed-up of 0.
0.8 leaves room for the model's error (README "Accuracy") and for small differences a price would
outweigh.

This module is the rule alone; :mod:`roofline.analysis.reference` makes the runs it compares.
"""

from __future__ import annotations

from roofline.chip import Chip
from roofline.loaders.efficiency import efficiency_for
from roofline.results.estimate import Estimate
from roofline.results.inference import InferenceEstimate
from roofline.results.training import TrainingEstimate
from roofline.results.verdict import SUITS_THRESHOLD, PhaseRatio, Verdict
from roofline.serving.target import Targets

#: Default reference chip (a name or alias of ``profiles/chips``).
REFERENCE = "H100"

#: The limit behind each part of a training step (keys of ``TrainingEstimate.breakdown``): tensor-parallel
#: collectives stay within the scale-up domain; pipeline, data- and context-parallel traffic crosses it.
TRAINING_PART_LIMIT = {"compute": "compute", "tp_comm": "scale-up", "pp_comm": "network", "dp_comm": "network",
                       "cp_comm": "network", "pp_bubble": "compute", "optimizer": "memory"}

#: The "bound" of a chip with no serving point within the targets (its serving speed-up is 0).
NO_POINT = "none"

#: Confidence levels of a chip profile's figures, lowest first.
LEVELS = ("low", "medium-low", "medium", "medium-high", "high")


def resource_ratios(chip: Chip, reference: Chip, dtype: str) -> dict[str, float]:
    """This chip ÷ reference for each limit: dense FLOP/s of ``dtype`` (a chip lacking it: its 16-bit peak),
    HBM bytes/s, scale-up link bytes/s and scale-out network bytes/s."""
    ref_dtype = dtype if reference.has(dtype) else reference.half_dtype
    own = chip.peak(dtype) if chip.has(dtype) else chip.peak(chip.half_dtype)
    return {"compute": own / reference.peak(ref_dtype),
            "memory": chip.hbm_bytes_per_s / reference.hbm_bytes_per_s,
            "scale-up": chip.scale_up_bytes_per_s / reference.scale_up_bytes_per_s,
            "network": chip.scale_out_bytes_per_s / reference.scale_out_bytes_per_s}


def chip_confidence(chip: Chip, dtype: str) -> tuple[tuple[str, str], ...]:
    """How sure the chip's figures are: the profile's stated confidence, whether its efficiencies were
    measured (its family fitted on measured runs) or are the default of all families, and a level (the
    profile's leading level, lowered one step when the efficiencies are defaulted)."""
    profile = chip.confidence or "unstated"
    level = next((w for w in profile.replace("(", " ").replace(";", " ").split() if w in LEVELS), "low")
    fam = efficiency_for(chip, dtype if chip.has(dtype) else chip.half_dtype).family
    if fam == "default":
        efficiency = f"defaulted: no measured runs of the {chip.family} family; the mean of the measured families"
        level = LEVELS[max(0, LEVELS.index(level) - 1)]
    else:
        efficiency = f"measured: {fam} family fractions fitted on measured runs (profiles/efficiency.toml)"
    return (("level", level), ("profile", profile), ("efficiency", efficiency))


def suits(serving: float | None, training: float | None, *, serving_voted: bool = True,
          training_voted: bool = True, threshold: float = SUITS_THRESHOLD) -> str | None:
    """The rule: serving if serving >= threshold, training if training >= threshold; a phase that votes
    without a ratio makes the answer unknown (None); a phase that does not vote is ignored."""
    if (serving_voted and serving is None) or (training_voted and training is None):
        return None
    s = serving_voted and serving >= threshold
    t = training_voted and training >= threshold
    return "both" if s and t else "serving" if s else "training" if t else "neither"


_RESOURCE = {"compute": "dense {dtype} FLOP/s", "memory": "HBM bandwidth", "scale-up": "{link} bandwidth",
             "network": "network bandwidth"}


def bound_text(bound: str, chip: Chip) -> str:
    """A limit as the text says it: the scale-up limit by the chip's link name ("NVLink-bound")."""
    return chip.scale_up_label if bound == "scale-up" else bound


def _phase_text(name: str, p: PhaseRatio, ratios: dict[str, float], dtype: str, chip: Chip, ref: Chip) -> str:
    if p.bound == NO_POINT:
        return (f"{name}: no layout of {chip.name} meets them ({ref.name}'s point is "
                f"{bound_text(p.reference_bound, ref)}-bound), so it runs at 0x per chip")
    share = f", {p.share:.0%} of the step" if p.share is not None else ""
    here, there = bound_text(p.bound, chip), bound_text(p.reference_bound, ref)
    where = f"is {here}-bound on both{share}" if here == there else \
        f"is {here}-bound here{share}, {there}-bound on {ref.name}"
    resource = _RESOURCE[p.bound].format(dtype=dtype, link=chip.scale_up_label)
    return f"{name} {where} ({resource} {ratios[p.bound]:.2f}x) and runs at {p.speedup:.2f}x per chip"


def _tokens_per_dollar(rates: dict, price: float, ref_price: float) -> tuple[tuple[str, float | None], ...]:
    """Tokens per dollar of each chip (tokens/s per chip x 3600 / dollars per chip-hour), for serving (output
    tokens at the operating point) and training."""
    out = []
    for phase, key in (("serving", "output_tokens_per_dollar"), ("training", "training_tokens_per_dollar")):
        this, ref = rates.get(phase, (None, None))
        out += [(key, None if this is None else this * 3600.0 / price),
                (f"reference_{key}", None if ref is None else ref * 3600.0 / ref_price)]
    return tuple(out)


def _price(chip: Chip, given: float | None) -> tuple[float | None, str, str]:
    """(dollars per chip-hour, its source, its market; "" for a price the user gave)."""
    if given is not None:
        return given, "given", ""
    if chip.price_usd_per_hour is not None:
        return chip.price_usd_per_hour, f"profile, {chip.price_date}", chip.price_market
    return None, "", ""


def judge(chip: Chip, reference: Chip, dtype: str, *, serving: PhaseRatio | None = None,
          training: PhaseRatio | None = None, decode: PhaseRatio | None = None, prefill: PhaseRatio | None = None,
          training_dtype: str | None = None, slo: dict | None = None, missing: dict[str, str] | None = None,
          prices: tuple[float | None, float | None] = (None, None), points: dict | None = None,
          rates: dict[str, tuple[float, float]] | None = None, notes: tuple[str, ...] = (),
          threshold: float = SUITS_THRESHOLD) -> Verdict:
    """Apply the rule to phase ratios and write the reason.

    ``missing`` maps a phase that was estimated but has no ratio ("serving", "training") to why; a phase
    neither given nor missing was not estimated and does not vote. ``prices`` are dollars per chip-hour
    given for (this chip, the reference); ``None`` takes the profile's price. ``slo`` holds the targets
    of the serving speed-up. ``rates`` maps "serving" (output tokens/s per chip at the operating points)
    and "training" (training tokens/s per chip) to (this chip, reference): with prices, tokens per dollar.
    """
    missing = dict(missing or {})
    ratios = resource_ratios(chip, reference, dtype)
    tdtype = training_dtype or dtype
    train_ratios = dict(ratios, compute=resource_ratios(chip, reference, tdtype)["compute"])
    (price, price_src, market), (ref_price, ref_src, ref_market) = _price(chip, prices[0]), _price(reference, prices[1])
    per_dollar = None
    s_vote = serving and serving.speedup
    t_vote = training and training.speedup
    comparable = False
    if price and ref_price:
        price_ratio = price / ref_price
        s_dollar = None if s_vote is None else s_vote / price_ratio
        t_dollar = None if t_vote is None else t_vote / price_ratio
        # two profile prices from different markets (a Chinese platform's list price against a global cloud's)
        # do not measure the same thing: they are shown, and the vote stays per chip
        comparable = not (market and ref_market and market != ref_market)
        if comparable:
            s_vote, t_vote = s_dollar, t_dollar
        else:
            notes = (*notes, f"prices from different markets ({chip.name}: {market}, {reference.name}: "
                             f"{ref_market}) are not compared: the vote is per chip; give --price-per-hour for "
                             f"both chips to vote per dollar")
        per_dollar = (("serving_speedup", s_dollar), ("training_speedup", t_dollar), ("price_ratio", price_ratio),
                      ("price_usd_per_hour", price), ("reference_price_usd_per_hour", ref_price),
                      ("price_source", price_src), ("reference_price_source", ref_src), ("market", market or None),
                      ("reference_market", ref_market or None), ("votes", comparable),
                      *_tokens_per_dollar(rates or {}, price, ref_price))
    basis = "per dollar" if comparable else "per chip"
    verdict = suits(s_vote, t_vote, serving_voted=serving is not None or "serving" in missing,
                    training_voted=training is not None or "training" in missing, threshold=threshold)
    reason = _reason(chip, reference, dtype, tdtype, ratios, train_ratios, serving, training, decode, prefill,
                     slo, missing, per_dollar, verdict, threshold, basis)
    return Verdict(
        reference_chip=reference.name, chip=chip.name, decode_speedup=decode and decode.speedup,
        prefill_speedup=prefill and prefill.speedup, training_speedup=training and training.speedup,
        serving_speedup=serving and serving.speedup, suits=verdict, reason=reason, threshold=threshold,
        decode=decode, prefill=prefill, training=training, serving=serving, resource_ratios=tuple(ratios.items()),
        training_compute_ratio=train_ratios["compute"] if (training or "training" in missing) else None,
        slo=tuple((slo or {}).items()), per_dollar=per_dollar, basis=basis,
        confidence=((chip.name, chip_confidence(chip, dtype)),) + (
            () if reference == chip else ((reference.name, chip_confidence(reference, dtype)),)),
        serving_points=tuple((points or {}).items()), notes=tuple(n for n in (*notes, *missing.values()) if n))


def _reason(chip, reference, dtype, tdtype, ratios, train_ratios, serving, training, decode, prefill, slo, missing,
            per_dollar, verdict, threshold, basis) -> str:
    ref = reference.name
    same = " (the reference itself)" if chip == reference else ""
    d = dict(per_dollar or ())
    s_vote, t_vote = ((d.get("serving_speedup"), d.get("training_speedup")) if basis == "per dollar" else
                      (serving and serving.speedup, training and training.speedup))
    money = ""
    if per_dollar:
        money = (f", at ${d['price_usd_per_hour']:.2f} vs ${d['reference_price_usd_per_hour']:.2f} per chip-hour"
                 + ("" if d["votes"] else f" ({d['market']} vs {d['reference_market']} market prices, not compared)"))
    parts = []
    if serving is not None:
        targets = Targets(**slo).text() if slo else "the latency targets"
        parts.append(_phase_text(f"serving within {targets}", serving, ratios, dtype, chip, reference)
                     + (f" ({d['serving_speedup']:.2f}x per dollar)" if per_dollar else ""))
    elif "serving" in missing:
        parts.append(f"serving: no ratio ({missing['serving']})")
    if training is not None:
        parts.append(_phase_text("training", training, train_ratios, tdtype, chip, reference)
                     + (f" ({d['training_speedup']:.2f}x per dollar)" if per_dollar else ""))
    elif "training" in missing:
        parts.append(f"training: no ratio ({missing['training']})")
    if decode is not None:
        parts.append(f"one request alone: decode {decode.speedup:.2f}x, prefill {prefill.speedup:.2f}x per chip")
    text = f"{chip.name} vs {ref}{same}{money}: {'; '.join(parts)}."
    if serving is not None and training is not None and training.speedup > 0:
        text += (f" Serving keeps {serving.speedup / training.speedup:.2f} times as much of {ref}'s speed as "
                 f"training does.")
    if verdict is None:
        return text + " Suits: unknown, a phase has no ratio (see above)."
    votes = [f"{name} {v:.2f}x {'>=' if v >= threshold else '<'} {threshold:.2f}x"
             for name, v in (("serving", s_vote), ("training", t_vote)) if v is not None]
    return text + f" Suits {verdict} ({', '.join(votes)} {basis})." if votes else text + f" Suits {verdict}."


def dominant_part(est: TrainingEstimate) -> tuple[str, float]:
    """The largest part of the training step and its share of the step."""
    parts = dict(est.breakdown)
    name = max(parts, key=parts.get)
    return name, (parts[name] / est.step_time_s if est.step_time_s > 0 else 0.0)


def training_limit(est: TrainingEstimate) -> str:
    """The limit behind the dominant part of the step: compute, memory, scale-up or network."""
    return TRAINING_PART_LIMIT.get(dominant_part(est)[0], "compute")


def prefill_tokens_per_s_per_chip(inf: InferenceEstimate) -> float:
    """Prompt tokens/s per chip of the prefill pass (the engine's time per request outside its steps left
    out: it is the same on every chip)."""
    wl = inf.workload
    return wl.batch * wl.input_len / inf.prefill.time_s / inf.num_chips


def decode_tokens_per_s_per_chip(inf: InferenceEstimate) -> float:
    return inf.output_tokens_per_s / inf.num_chips


def batch1_ratios(inf: InferenceEstimate, ref: InferenceEstimate) -> tuple[PhaseRatio, PhaseRatio]:
    """(decode, prefill) of two batch-1 estimates of the same request."""
    decode = PhaseRatio(decode_tokens_per_s_per_chip(inf) / decode_tokens_per_s_per_chip(ref),
                        inf.decode.bound, ref.decode.bound)
    prefill = PhaseRatio(prefill_tokens_per_s_per_chip(inf) / prefill_tokens_per_s_per_chip(ref),
                         inf.prefill.bound, ref.prefill.bound)
    return decode, prefill


def training_ratio(est: TrainingEstimate, ref: TrainingEstimate) -> PhaseRatio:
    return PhaseRatio(est.tokens_per_s_per_chip / ref.tokens_per_s_per_chip, training_limit(est),
                      training_limit(ref), dominant_part(est)[1])


def serving_ratio(point, ref_point, point_note: str, ref_note: str, chip: Chip,
                  reference: Chip) -> tuple[PhaseRatio | None, str]:
    """The serving speed-up of two operating points (:class:`roofline.results.serving_plan.OperatingPoint`): 0 when
    only the reference meets the targets; ``None`` and why when the reference has no point."""
    if point is not None and ref_point is not None:
        return PhaseRatio(point.layout.output_tokens_per_s_per_chip / ref_point.layout.output_tokens_per_s_per_chip,
                          point.bound, ref_point.bound), ""
    if ref_point is not None:
        return PhaseRatio(0.0, NO_POINT, ref_point.bound), ""
    if point is not None:
        return None, f"{reference.name} cannot serve it: {ref_note}"
    return None, f"neither chip can serve it: {chip.name}: {point_note}; {reference.name}: {ref_note}"


def verdict_for(est: Estimate, reference: Chip, runs, prices: tuple[float | None, float | None] = (None, None)
                ) -> Verdict:
    """The verdict of ``est`` against ``reference`` from the runs of
    :func:`roofline.analysis.reference.verdict_runs`."""
    missing = {}
    decode = prefill = serving = training = None
    points = {}
    if est.inference is not None:
        if runs.ref_inference is not None:
            decode, prefill = batch1_ratios(est.inference, runs.ref_inference)
        serving, why = serving_ratio(runs.point, runs.ref_point, runs.point_note, runs.ref_point_note, est.chip,
                                     reference)
        if serving is None:
            missing["serving"] = why
        points = {"this": runs.point and runs.point.to_dict(), "reference": runs.ref_point and runs.ref_point.to_dict()}
    tdtype = None
    if est.training is not None:
        tdtype = est.training.workload.dtype
        if runs.training is not None and runs.ref_training is not None:
            training = training_ratio(runs.training, runs.ref_training)
        else:
            missing["training"] = runs.ref_training_note or runs.training_note
    notes = list(runs.notes)
    if est.inference is not None and runs.point is None and runs.ref_point is not None:
        notes.append(f"{est.chip.name} cannot meet the targets: {runs.point_note}")
    rates = {}
    if runs.point is not None or runs.ref_point is not None:
        rates["serving"] = tuple(None if p is None else p.layout.output_tokens_per_s_per_chip
                                 for p in (runs.point, runs.ref_point))
    if runs.training is not None or runs.ref_training is not None:
        rates["training"] = tuple(None if t is None else t.tokens_per_s_per_chip
                                  for t in (runs.training, runs.ref_training))
    return judge(est.chip, reference, est.compute_dtype, serving=serving, training=training, decode=decode,
                 prefill=prefill, training_dtype=tdtype, slo=runs.targets.to_dict() if est.inference else None,
                 missing=missing, prices=prices, points=points, rates=rates, notes=tuple(notes))
