"""The verdict's runs: this chip and the reference chip each at their own best, on the same request.

* **Serving at the latency targets** (what a fleet is sized by): each chip at its own best serving layout
  and concurrency within the targets (:func:`roofline.serving.target.verdict_point`: one 8-chip server, or
  the smallest fleet of 16, 32 or 64 that holds the model on both chips, larger while memory caps its
  users), with the estimate's engine, lengths and formats.
* **Batch 1** (reported, does not vote): the reference at this estimate's layout (tp x pp), or its
  smallest TP that holds a sequence when that layout does not.
* **Training**: each chip at its planner's best layout for the same job (chips, tokens, sequence,
  global batch, dtype); this chip's estimate is reused when the planner chose its layout.

The reference runs the request as given: a chip without the request's compute format (fp8 weights against
an A100, fp4 against an H100) cannot run it, and the phase gets no ratio with the reason, rather than a
ratio against another format. Everything here is plain Python (never compiled).
"""

from __future__ import annotations

import attrs

from roofline.checkpoint import on_chip
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.model import Model
from roofline.passes import Packed
from roofline.results.estimate import Estimate
from roofline.results.inference import InferenceEstimate
from roofline.results.serving_plan import OperatingPoint, ServingLayout
from roofline.results.training import TrainingEstimate
from roofline.serving.static import estimate_inference
from roofline.serving.target import Targets, common_fleet, verdict_point
from roofline.training.planner import plan_training
from roofline.workload import TrainingWorkload, Workload

#: Layout fields of a training run the planner chooses when they are left open.
LAYOUT_FIELDS = ("tp", "pp", "dp", "micro_batch", "recompute", "zero", "virtual_pp", "ep", "sequence_parallel")


@attrs.frozen
class Runs:
    """What the verdict compares; ``None`` where a chip could not run a phase, with the reason."""

    targets: Targets
    ref_inference: InferenceEstimate | None = None
    point: OperatingPoint | None = None
    ref_point: OperatingPoint | None = None
    training: TrainingEstimate | None = None
    ref_training: TrainingEstimate | None = None
    point_note: str = ""  # why this chip has no point
    ref_point_note: str = ""
    training_note: str = ""
    ref_training_note: str = ""
    notes: tuple[str, ...] = ()  # how the reference's batch-1 run was made when it could not mirror the estimate


def point_bound(chip: Chip, model: Model, layout: ServingLayout, base: Workload) -> str:
    """The limit binding a serving point: where the replica's time per generated token goes, its decode
    step at the point's concurrency plus the prompts prefilled per step (concurrency ÷ output length of
    them, each at its lone prefill's op times), summed per limit."""
    p = Packed(chip, model, attrs.evolve(base, batch=1, tp=layout.tp, pp=layout.pp, ep=layout.ep))
    per_step = layout.concurrency / base.output_len
    by: dict[str, float] = {}
    for phase, weight in ((p.decode(layout.concurrency), 1.0), (p.prefill(1), per_step)):
        for op in phase.ops:
            by[op.bound] = by.get(op.bound, 0.0) + op.time_s * weight
    return max(by, key=by.get)


def serving_point(chip: Chip, model: Model, base: Workload, targets: Targets, engine,
                  tp: int | None = None, min_chips: int = 1) -> tuple[OperatingPoint | None, str]:
    """``chip`` at its best serving layout within ``targets`` on a fleet of at least ``min_chips`` (``tp``
    fixed when given; ``None`` and the reason when it cannot)."""
    base = on_chip(base, model, chip)
    if not chip.has(base.compute_dtype):
        return None, f"{chip.name} has no {base.compute_dtype} compute"
    try:
        layout = verdict_point(chip, model, base, targets=targets, engine=engine, tp=tp, min_chips=min_chips)
    except RooflineError as exc:
        return None, str(exc)
    return OperatingPoint(layout, point_bound(chip, model, layout, base)), ""


def reference_batch1(ref: Chip, est: Estimate) -> tuple[InferenceEstimate | None, str]:
    """The reference at this estimate's batch-1 layout, or its smallest TP that holds a sequence."""
    wl = on_chip(est.inference.workload, est.model, ref)
    if not ref.has(wl.compute_dtype):
        return None, f"{ref.name} has no {wl.compute_dtype} compute: no batch-1 ratios"
    tries = [(wl, ""), (attrs.evolve(wl, tp=None), f"{ref.name} serves batch 1 at its smallest TP that fits "
                                                     f"(tp={wl.tp}, pp={wl.pp} does not hold a sequence there)")]
    for w, note in tries:
        try:
            return estimate_inference(ref, est.model, w), note
        except RooflineError:
            continue
    return None, f"{ref.name} cannot hold one sequence of this request in its scale-up domain: no batch-1 ratios"


def open_layout(wl: TrainingWorkload) -> TrainingWorkload:
    """``wl`` with every layout choice left to the planner."""
    return attrs.evolve(wl, **{k: None for k in LAYOUT_FIELDS})


def best_training(chip: Chip, model: Model, wl: TrainingWorkload) -> tuple[TrainingEstimate | None, str]:
    """``chip``'s best layout for the job ``wl`` (plain-Python planner), or ``None`` and the reason."""
    if not chip.has(wl.dtype):
        return None, f"{chip.name} has no {wl.dtype} compute"
    try:
        return plan_training(chip, model, open_layout(wl), top=1, use_numba=False, fastest_only=True).best, ""
    except RooflineError as exc:
        return None, f"{chip.name} cannot train this job ({exc})"


def verdict_runs(est: Estimate, reference: Chip, *, targets: Targets, engine="generic",
                 training_request: TrainingWorkload | None = None) -> Runs:
    """Every run the verdict of ``est`` against ``reference`` needs (phases ``est`` lacks are skipped).

    ``training_request`` is the training job as asked (layout fields ``None`` where the planner chose);
    ``None`` means the planner chose every field, so ``est.training`` is this chip's best.
    """
    kw: dict = {"targets": targets}
    notes = []
    if est.inference is not None:
        base = attrs.evolve(est.inference.workload, batch=1, tp=None, pp=1, ep=1)
        kw["ref_inference"], note = reference_batch1(reference, est)
        notes.append(note)
        start = common_fleet((est.chip, reference), est.model, base, engine=engine)
        kw["point"], kw["point_note"] = serving_point(est.chip, est.model, base, targets, engine, min_chips=start)
        if reference == est.chip:
            kw["ref_point"], kw["ref_point_note"] = kw["point"], kw["point_note"]
        else:
            kw["ref_point"], kw["ref_point_note"] = serving_point(reference, est.model, base, targets, engine,
                                                                  min_chips=start)
    if est.training is not None:
        job = est.training.workload
        asked = training_request if training_request is not None else open_layout(job)
        if open_layout(asked) == asked:
            kw["training"] = est.training
        else:
            kw["training"], kw["training_note"] = best_training(est.chip, est.model, job)
        if reference == est.chip and kw["training"] is not None:
            kw["ref_training"] = kw["training"]
        else:
            kw["ref_training"], kw["ref_training_note"] = best_training(reference, est.model, job)
    return Runs(notes=tuple(n for n in notes if n), **kw)
