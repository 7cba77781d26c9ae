"""The library's front door: ``estimate(chip, model, workload)`` and ``plan(chip, model, training)``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from roofline.chip import Chip, load_chip
from roofline.errors import RooflineError
from roofline.inference import estimate_inference
from roofline.model import Model, load_model
from roofline.results import Estimate
from roofline.workload import Workload

if TYPE_CHECKING:
    from roofline.planner import Plan
    from roofline.training import TrainingEstimate, TrainingWorkload

MODES = ("inference", "training", "both")


def _chip(chip: Chip | str | Path) -> Chip:
    return chip if isinstance(chip, Chip) else load_chip(chip)


def _model(model: Model | str | Path) -> Model:
    return model if isinstance(model, Model) else load_model(model)


def training_dtype(chip: Chip) -> str:
    """The default training matmul dtype on ``chip``: bf16, or fp16 on a chip without bf16."""
    return "bf16" if chip.has("bf16") or not chip.has("fp16") else "fp16"


#: Keys of ``estimate(..., serving=...)``, the keyword arguments of ``roofline.serving.estimate_serving``.
SERVING_KEYS = ("engine", "concurrency", "request_rate", "max_num_tokens")


def _check_arguments(workload, serving, training) -> None:
    """The project error for an argument of the wrong kind (rather than an AttributeError deep inside)."""
    from roofline.errors import closest
    from roofline.training import TrainingWorkload

    if workload is not None and not isinstance(workload, Workload):
        raise RooflineError(f"workload={workload!r} must be a roofline.Workload or None")
    if training is not None and not isinstance(training, TrainingWorkload):
        raise RooflineError(f"training={training!r} must be a roofline.training.TrainingWorkload or None")
    if serving is not None:
        if not isinstance(serving, dict):
            raise RooflineError(f"serving={serving!r} must be a dict with keys {', '.join(SERVING_KEYS)}")
        for key in serving:
            if key not in SERVING_KEYS:
                near = closest(str(key), SERVING_KEYS)
                raise RooflineError(f"serving: {key!r} is not a serving key; "
                                    + (f"did you mean {near[0]}?" if near else f"use {', '.join(SERVING_KEYS)}"))


def _mode(mode: str | None, inference_given: bool, training_given: bool) -> str:
    if mode is None:
        if training_given:
            return "both" if inference_given else "training"
        return "inference"
    if not isinstance(mode, str) or mode not in MODES:
        raise RooflineError(f"mode={mode!r} is not one of {', '.join(MODES)}; pick one of those")
    if mode == "training" and inference_given:
        raise RooflineError("mode='training' takes no inference workload or serving; drop them or use mode='both'")
    if mode == "inference" and training_given:
        raise RooflineError("mode='inference' takes no training workload or days; drop them or use mode='both'")
    return mode


def _train(chip: Chip, model: Model, workload: TrainingWorkload, days: float | None) -> TrainingEstimate:
    """One training estimate without compiling anything: an incomplete layout is planned in plain
    Python (a few tenths of a second), so a single estimate never imports numba."""
    from roofline.training import estimate_training

    if workload.complete:
        return estimate_training(chip, model, workload, days=days)
    from roofline.planner import plan_training

    return plan_training(chip, model, workload, top=1, use_numba=False, days=days).best


def estimate(chip: Chip | str | Path, model: Model | str | Path, workload: Workload | None = None, *,
             serving: dict | None = None, training: TrainingWorkload | None = None, days: float | None = None,
             mode: str | None = None, reference: Chip | str | Path | None = "H100") -> Estimate:
    """Estimate serving and/or training ``model`` on ``chip``; names and paths are loaded as the CLI would.

    Parameters
    ----------
    workload
        The serving workload (batch, lengths, formats, tp/pp); ``None`` is ``Workload()``.
    serving
        Keys ``engine``, ``concurrency`` (int or "max"), ``request_rate``, ``max_num_tokens``: adds the
        in-flight-batching server model of :func:`roofline.serving.estimate_serving` at the layout the
        static estimate chose.
    training
        The training run (:class:`roofline.training.TrainingWorkload`); layout fields left ``None`` are
        chosen by the planner (plain Python, never compiled). ``None`` is ``TrainingWorkload()`` with
        the chip's 16-bit dtype.
    days
        Also report ``chips_needed`` to train the token budget within this many days.
    mode
        ``"inference"``, ``"training"`` or ``"both"``. ``None`` runs what the arguments ask for:
        training when ``training`` or ``days`` is given, inference when ``workload`` or ``serving`` is
        given or training is not (so ``estimate(chip, model, Workload(...))`` is inference only).
    reference
        The chip of ``Estimate.verdict`` (speed-ups this chip ÷ reference, per chip, and what the chip
        suits; see :mod:`roofline.verdict`). The reference runs the same request in plain Python (a few
        milliseconds when this estimate's layout fits it). ``None``: no verdict.

    In mode ``"both"`` with ``training=None`` (nothing asked of training), a training estimate that
    cannot be made (e.g. the model fits no layout on the default 1,024 chips) leaves
    ``Estimate.training`` as ``None`` and its reason in ``Estimate.training_note``; every other
    failure raises :class:`RooflineError`.

    >>> from roofline import estimate, Workload
    >>> e = estimate("H20", "70B", Workload(batch=8))
    >>> round(e.inference.tpot_s, 3) > 0, e.training is None
    (True, True)
    """
    c, m = _chip(chip), _model(model)
    _check_arguments(workload, serving, training)
    mode = _mode(mode, workload is not None or serving is not None, training is not None or days is not None)
    inf = srv = None
    if mode in ("inference", "both"):
        inf = estimate_inference(c, m, workload or Workload())
        if serving is not None:
            from roofline.serving import estimate_serving

            srv = estimate_serving(c, m, inf.workload, **{k: v for k, v in serving.items() if v is not None})
    train = note = None
    if mode in ("training", "both"):
        from roofline.training import TrainingWorkload

        wl = training if training is not None else TrainingWorkload(dtype=training_dtype(c))
        try:
            train = _train(c, m, wl, days)
        except RooflineError as exc:
            if mode != "both":
                raise
            if training is not None or days is not None:
                raise RooflineError(f"training: {exc} (or --mode inference to estimate serving alone)") from exc
            note = str(exc)
    est = Estimate(chip=c, model=m, inference=inf, serving=srv, training=train, training_note=note)
    if reference is not None:
        from roofline.verdict import verdict_for

        est = attrs.evolve(est, verdict=verdict_for(est, _chip(reference)))
    return est


def plan(chip: Chip | str | Path, model: Model | str | Path, training: TrainingWorkload | None = None, *,
         top: int = 10, use_numba: bool | None = None, days: float | None = None) -> Plan:
    """Search the training layouts of ``training.num_chips`` chips (given fields stay fixed) with
    :func:`roofline.planner.plan_training`: compiled with numba when it is importable (``use_numba``
    None), else plain Python. ``training=None`` is ``TrainingWorkload()`` with the chip's 16-bit dtype."""
    from roofline.planner import plan_training
    from roofline.training import TrainingWorkload

    c, m = _chip(chip), _model(model)
    wl = training if training is not None else TrainingWorkload(dtype=training_dtype(c))
    return plan_training(c, m, wl, top=top, use_numba=use_numba, days=days)
