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

:func:`verdict_for` prices the reference with the estimate's own choices so that the ratio is the
hardware's alone, in plain Python (a few milliseconds, never numba):

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

from typing import TYPE_CHECKING

import attrs

from roofline.chip import Chip
from roofline.errors import RooflineError

if TYPE_CHECKING:
    from roofline.results import Estimate, InferenceEstimate
    from roofline.training import TrainingEstimate

#: Default reference chip (a name or alias of ``profiles/chips``).
REFERENCE = "H100"
#: Minimum speed-up over the reference (per chip) for a phase to suit the chip.
SUITS_THRESHOLD = 0.8
SUITS = ("serving", "training", "both", "neither")

#: The limit behind each part of a training step (keys of ``TrainingEstimate.breakdown``).
TRAINING_PART_LIMIT = {"compute": "compute", "tp_comm": "network", "pp_comm": "network", "dp_comm": "network",
                       "cp_comm": "network", "pp_bubble": "compute", "optimizer": "memory"}


@attrs.frozen
class PhaseRatio:
    """One phase on both chips: this chip ÷ reference per chip, and the limit that binds on each.

    ``share`` is the part of the time the binding limit takes (training: the dominant step part).
    """

    speedup: float
    bound: str  # "compute", "memory" or "network" on this chip
    reference_bound: str
    share: float | None = None

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen
class Verdict:
    """What the chip suits relative to ``reference_chip``, and why (see the module docstring)."""

    reference_chip: str
    decode_speedup: float | None
    prefill_speedup: float | None
    training_speedup: float | None
    suits: str
    reason: str
    threshold: float = SUITS_THRESHOLD
    decode: PhaseRatio | None = None
    prefill: PhaseRatio | None = None
    training: PhaseRatio | None = None
    resource_ratios: tuple[tuple[str, float], ...] = ()  # ("compute" | "memory" | "network", this ÷ reference)
    notes: tuple[str, ...] = ()  # how the reference was run when it could not mirror the estimate

    def to_dict(self) -> dict:
        return {
            "reference_chip": self.reference_chip,
            "decode_speedup": self.decode_speedup,
            "prefill_speedup": self.prefill_speedup,
            "training_speedup": self.training_speedup,
            "suits": self.suits,
            "reason": self.reason,
            "threshold": self.threshold,
            "bounds": {k: (None if p is None else {"this": p.bound, "reference": p.reference_bound})
                       for k, p in (("decode", self.decode), ("prefill", self.prefill), ("training", self.training))},
            "resource_ratios": dict(self.resource_ratios),
            "notes": list(self.notes),
        }


def resource_ratios(chip: Chip, reference: Chip, dtype: str) -> dict[str, float]:
    """This chip ÷ reference for each limit: dense FLOP/s of ``dtype`` (the reference's 16-bit peak if it
    lacks ``dtype``), HBM bytes/s and scale-up link bytes/s."""
    ref_dtype = dtype if reference.has(dtype) else _half(reference)
    own = chip.peak(dtype) if chip.has(dtype) else chip.peak(_half(chip))
    return {"compute": own / reference.peak(ref_dtype),
            "memory": chip.hbm_bytes_per_s / reference.hbm_bytes_per_s,
            "network": chip.scale_up_bytes_per_s / reference.scale_up_bytes_per_s}


def _half(chip: Chip) -> str:
    return "bf16" if chip.has("bf16") else "fp16"


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
    wl = inf.workload
    return wl.batch * wl.input_len / inf.ttft_s / inf.num_chips


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


def _reference_serving(ref: Chip, est: Estimate) -> tuple[InferenceEstimate | None, str]:
    from roofline.inference import estimate_inference

    wl = est.inference.workload
    tries = [(wl, ""), (attrs.evolve(wl, tp=None), f"{ref.name} serves at its smallest TP that fits "
                                                     f"(tp={wl.tp}, pp={wl.pp} does not hold a sequence there)")]
    if not ref.has(wl.compute_dtype):
        half = _half(ref)
        tries.append((attrs.evolve(wl, tp=None, weight_dtype=half, kv_dtype=None),
                      f"{ref.name} has no {wl.compute_dtype} compute: it serves {half} weights"))
    for w, note in tries:
        try:
            return estimate_inference(ref, est.model, w), note
        except RooflineError:
            continue
    return None, f"{ref.name} cannot serve this workload; no serving ratios"


def _reference_training(ref: Chip, est: Estimate) -> tuple[TrainingEstimate | None, str]:
    from roofline.api import training_dtype
    from roofline.planner import plan_training
    from roofline.training import estimate_training

    wl = est.training.workload
    note = ""
    if not ref.has(wl.dtype):
        note = f"{ref.name} has no {wl.dtype} compute: it trains in {training_dtype(ref)}; "
        wl = attrs.evolve(wl, dtype=training_dtype(ref))
    try:
        same = estimate_training(ref, est.model, wl)
        if same.fits:
            return same, note.rstrip("; ")
    except RooflineError:
        pass
    open_layout = attrs.evolve(wl, tp=None, pp=None, dp=None, micro_batch=None, recompute=None, zero=None,
                               virtual_pp=None)
    try:
        best = plan_training(ref, est.model, open_layout, top=1, use_numba=False).best
    except RooflineError as exc:
        return None, f"{note}{ref.name} cannot train this job ({exc})"
    return best, f"{note}{ref.name} trains at its own best layout (this layout does not fit or run there)"


def verdict_for(est: Estimate, reference: Chip) -> Verdict:
    """The verdict of ``est`` against ``reference`` (see the module docstring for how the reference runs)."""
    notes = []
    decode = prefill = training = None
    if est.inference is not None:
        ref_inf, note = _reference_serving(reference, est)
        notes.append(note)
        if ref_inf is not None:
            decode, prefill = serving_ratios(est.inference, ref_inf)
    if est.training is not None:
        ref_train, note = _reference_training(reference, est)
        notes.append(note)
        if ref_train is not None:
            training = training_ratio(est.training, ref_train)
    return judge(est.chip, reference, est.compute_dtype, decode=decode, prefill=prefill, training=training,
                 notes=tuple(n for n in notes if n))
