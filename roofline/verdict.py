"""The verdict: is a chip for serving, training, both or neither, measured against a reference chip.

Every figure is a ratio of estimates, *this chip ÷ reference, per chip*:

* ``decode_speedup``: output tokens/s per chip of the decode step;
* ``prefill_speedup``: prompt tokens/s per chip of the prefill pass;
* ``training_speedup``: training tokens/s per chip.

**The rule for ``suits``** (:data:`SUITS_THRESHOLD` = 0.8): a chip suits *serving* when its decode
speed-up is at least 0.8 (it delivers at least 80 % of the reference's output tokens per chip), and
*training* when its training speed-up is at least 0.8; ``both`` when both hold, ``neither`` when
neither does. Decode decides serving because output tokens are what a serving fleet is sized by; the
prefill speed-up (time to first token) is reported and named in ``reason`` but does not vote. The
reference itself is ``both`` (every ratio is 1). A phase that was not estimated does not vote (a
serving-only estimate can only come out ``serving`` or ``neither``). 0.8 leaves room for the model's
error (median 4-7 % against measurements, README "Accuracy") and for small differences that a price
difference would outweigh.

This module is the rule alone: it compares estimates it is given. The reference is priced by
:func:`roofline.analysis.reference.price_reference` with the estimate's own choices, so that the ratio is
the hardware's alone, in plain Python (a few milliseconds, never numba):

* serving: the same workload and layout (tp x pp); if that layout cannot hold one sequence on the
  reference, its smallest TP that does; if the reference lacks the compute dtype, its 16-bit format;
* training: the same layout (the one the planner chose for this chip, or the user's), one kernel call;
  if the reference cannot run it or it does not fit there, the reference's own best layout (planner,
  plain Python, a few tenths of a second). A layout tuned for a larger memory would handicap the
  reference, so it is not forced on it.

``roofline compare`` applies the same rule (:func:`judge`) to its own figures, where each chip runs at
its own layout (smallest TP that fits, its planner's best training layout).
"""

from __future__ import annotations

from roofline.chip import Chip
from roofline.results.estimate import Estimate
from roofline.results.inference import InferenceEstimate
from roofline.results.training import TrainingEstimate
from roofline.results.verdict import SUITS_THRESHOLD, PhaseRatio, Verdict

#: Default reference chip (a name or alias of ``profiles/chips``).
REFERENCE = "H100"

SUITS = ("serving", "training", "both", "neither")

#: The limit behind each part of a training step (keys of ``TrainingEstimate.breakdown``).
TRAINING_PART_LIMIT = {"compute": "compute", "tp_comm": "network", "pp_comm": "network", "dp_comm": "network",
                       "cp_comm": "network", "pp_bubble": "compute", "optimizer": "memory"}


def resource_ratios(chip: Chip, reference: Chip, dtype: str) -> dict[str, float]:
    """This chip ÷ reference for each limit: dense FLOP/s of ``dtype`` (the reference's 16-bit peak if it
    lacks ``dtype``), HBM bytes/s and scale-up link bytes/s."""
    ref_dtype = dtype if reference.has(dtype) else reference.half_dtype
    own = chip.peak(dtype) if chip.has(dtype) else chip.peak(chip.half_dtype)
    return {"compute": own / reference.peak(ref_dtype),
            "memory": chip.hbm_bytes_per_s / reference.hbm_bytes_per_s,
            "network": chip.scale_up_bytes_per_s / reference.scale_up_bytes_per_s}


def suits(decode_speedup: float | None, training_speedup: float | None,
          threshold: float = SUITS_THRESHOLD) -> str:
    """The rule: serving if decode ≥ threshold, training if training ≥ threshold (None does not vote)."""
    serving = decode_speedup is not None and decode_speedup >= threshold
    training = training_speedup is not None and training_speedup >= threshold
    return "both" if serving and training else "serving" if serving else "training" if training else "neither"


_RESOURCE = {"compute": "dense {dtype} FLOP/s", "memory": "HBM bandwidth", "network": "link bandwidth"}


def _phase_text(name: str, p: PhaseRatio | None, ratios: dict[str, float], dtype: str, ref: str) -> str:
    if p is None:
        return f"{name} not estimated"
    share = f", {p.share:.0%} of the step" if p.share is not None else ""
    if p.bound == p.reference_bound:
        where = f"is {p.bound}-bound on both{share}"
    else:
        where = f"is {p.bound}-bound here{share}, {p.reference_bound}-bound on {ref}"
    resource = _RESOURCE[p.bound].format(dtype=dtype)
    return f"{name} {where} ({resource} {ratios[p.bound]:.2f}x) and runs at {p.speedup:.2f}x per chip"


def judge(chip: Chip, reference: Chip, dtype: str, *, decode: PhaseRatio | None, prefill: PhaseRatio | None,
          training: PhaseRatio | None, notes: tuple[str, ...] = (), threshold: float = SUITS_THRESHOLD) -> Verdict:
    """Apply the rule to phase ratios and write the reason: the binding limits, the ratio of each limit's
    resource, the speed-ups, and which side of the threshold each lands on."""
    ratios = resource_ratios(chip, reference, dtype)
    verdict = suits(decode and decode.speedup, training and training.speedup, threshold)
    ref = reference.name
    parts = [_phase_text("decode", decode, ratios, dtype, ref), _phase_text("prefill", prefill, ratios, dtype, ref),
             _phase_text("training", training, ratios, dtype, ref)]
    votes = []
    for name, p in (("decode", decode), ("training", training)):
        if p is not None:
            votes.append(f"{name} {p.speedup:.2f}x {'>=' if p.speedup >= threshold else '<'} {threshold:.2f}x")
    same = " (the reference itself)" if chip == reference else ""
    reason = (f"{chip.name} vs {ref}{same}: {'; '.join(parts)}. Suits {verdict}"
              + (f" ({', '.join(votes)})." if votes else "."))
    return Verdict(reference_chip=ref, decode_speedup=decode and decode.speedup,
                   prefill_speedup=prefill and prefill.speedup, training_speedup=training and training.speedup,
                   suits=verdict, reason=reason, threshold=threshold, decode=decode, prefill=prefill,
                   training=training, resource_ratios=tuple(ratios.items()), notes=tuple(notes))


def dominant_part(est: TrainingEstimate) -> tuple[str, float]:
    """The largest part of the training step and its share of the step."""
    parts = dict(est.breakdown)
    name = max(parts, key=parts.get)
    return name, (parts[name] / est.step_time_s if est.step_time_s > 0 else 0.0)


def training_limit(est: TrainingEstimate) -> str:
    """The limit behind the dominant part of the step: compute, memory or network."""
    return TRAINING_PART_LIMIT.get(dominant_part(est)[0], "compute")


def prefill_tokens_per_s_per_chip(inf: InferenceEstimate) -> float:
    """Prompt tokens/s per chip of the prefill pass (the engine's time per request outside its steps left
    out: it is the same on every chip)."""
    wl = inf.workload
    return wl.batch * wl.input_len / inf.prefill.time_s / inf.num_chips


def decode_tokens_per_s_per_chip(inf: InferenceEstimate) -> float:
    return inf.output_tokens_per_s / inf.num_chips


def serving_ratios(inf: InferenceEstimate, ref: InferenceEstimate) -> tuple[PhaseRatio, PhaseRatio]:
    """(decode, prefill) of two serving estimates of the same request."""
    decode = PhaseRatio(decode_tokens_per_s_per_chip(inf) / decode_tokens_per_s_per_chip(ref),
                        inf.decode.bound, ref.decode.bound)
    prefill = PhaseRatio(prefill_tokens_per_s_per_chip(inf) / prefill_tokens_per_s_per_chip(ref),
                         inf.prefill.bound, ref.prefill.bound)
    return decode, prefill


def training_ratio(est: TrainingEstimate, ref: TrainingEstimate) -> PhaseRatio:
    return PhaseRatio(est.tokens_per_s_per_chip / ref.tokens_per_s_per_chip, training_limit(est),
                      training_limit(ref), dominant_part(est)[1])


def verdict_for(est: Estimate, reference: Chip, ref_inference: InferenceEstimate | None,
                ref_training: TrainingEstimate | None, notes: tuple[str, ...] = ()) -> Verdict:
    """The verdict of ``est`` against ``reference``, given the reference's own estimates of the same request
    (``None`` where the reference could not run it: that phase does not vote)."""
    decode = prefill = training = None
    if est.inference is not None and ref_inference is not None:
        decode, prefill = serving_ratios(est.inference, ref_inference)
    if est.training is not None and ref_training is not None:
        training = training_ratio(est.training, ref_training)
    return judge(est.chip, reference, est.compute_dtype, decode=decode, prefill=prefill, training=training,
                 notes=tuple(n for n in notes if n))
