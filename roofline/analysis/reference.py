"""The verdict's reference run: the reference chip priced with the estimate's own choices.

* serving: the same workload and layout (tp x pp); if that layout cannot hold one sequence on the
  reference, its smallest TP that does; if the reference lacks the compute dtype, its 16-bit format;
* training: the same layout (the one the planner chose for this chip, or the user's), one kernel call;
  if the reference cannot run it or it does not fit there, the reference's own best layout (planner,
  plain Python, a few tenths of a second). A layout tuned for a larger memory would handicap the
  reference, so it is not forced on it.
"""

from __future__ import annotations

import attrs

from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.results.estimate import Estimate
from roofline.results.inference import InferenceEstimate
from roofline.results.training import TrainingEstimate
from roofline.serving.static import estimate_inference
from roofline.training.estimate import estimate_training
from roofline.training.planner import plan_training


def reference_serving(ref: Chip, est: Estimate) -> tuple[InferenceEstimate | None, str]:
    wl = est.inference.workload
    tries = [(wl, ""), (attrs.evolve(wl, tp=None), f"{ref.name} serves at its smallest TP that fits "
                                                     f"(tp={wl.tp}, pp={wl.pp} does not hold a sequence there)")]
    if not ref.has(wl.compute_dtype):
        half = ref.half_dtype
        tries.append((attrs.evolve(wl, tp=None, weight_dtype=half, kv_dtype=None),
                      f"{ref.name} has no {wl.compute_dtype} compute: it serves {half} weights"))
    for w, note in tries:
        try:
            return estimate_inference(ref, est.model, w), note
        except RooflineError:
            continue
    return None, f"{ref.name} cannot serve this workload; no serving ratios"


def reference_training(ref: Chip, est: Estimate) -> tuple[TrainingEstimate | None, str]:
    wl = est.training.workload
    note = ""
    if not ref.has(wl.dtype):
        note = f"{ref.name} has no {wl.dtype} compute: it trains in {ref.half_dtype}; "
        wl = attrs.evolve(wl, dtype=ref.half_dtype)
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


def price_reference(est: Estimate, reference: Chip) -> tuple[InferenceEstimate | None, TrainingEstimate | None,
                                                              tuple[str, ...]]:
    """The reference's serving and training estimates of ``est``'s request (``None`` for a phase ``est``
    lacks or the reference cannot run) and the notes on how it ran."""
    ref_inf = ref_train = None
    notes = []
    if est.inference is not None:
        ref_inf, note = reference_serving(reference, est)
        notes.append(note)
    if est.training is not None:
        ref_train, note = reference_training(reference, est)
        notes.append(note)
    return ref_inf, ref_train, tuple(notes)
