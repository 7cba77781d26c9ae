"""The library's front door: one function per command, taking names or loaded values.

``estimate`` (serving, training and the verdict), ``plan`` (training layouts), ``plan_serving`` (serving
layouts within latency targets), ``sweep``, ``compare``, ``plot``, ``validate``, ``chips`` and ``models``.
The command line calls only these; each returns a frozen result whose ``to_dict()`` is the command's JSON.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from roofline.analysis.reference import verdict_runs
from roofline.checkpoint import checkpoint_weight_dtype, on_chip
from roofline.chip import Chip, check_price
from roofline.errors import ContextNotice, RooflineError, closest
from roofline.loaders.chips import CHIPS, load_chip
from roofline.loaders.engines import ENGINES
from roofline.loaders.models import MODELS, load_model
from roofline.model import Model
from roofline.results.estimate import Estimate
from roofline.serving.inflight import estimate_serving
from roofline.serving.static import estimate_inference
from roofline.serving.target import DEFAULT_MAX_TPOT_S, DEFAULT_MAX_TTFT_S, Targets
from roofline.training.planner import plan_training, training_estimate
from roofline.verdict import verdict_for
from roofline.workload import TrainingWorkload, Workload, with_engine_kv

if TYPE_CHECKING:  # the commands other than estimate load what they need when called: a single estimate
    # imports neither the sweep, plan, compare, plot nor validate machinery
    from roofline.results.compare import Comparison
    from roofline.results.disagg import DisaggPlan
    from roofline.results.serving_plan import ServingPlan
    from roofline.results.training import Plan
    from roofline.results.validation import Validation

__all__ = ["DISAGG_KEYS", "MODES", "SERVING_KEYS", "check_price", "chips", "compare", "estimate", "models", "plan",
           "plan_disagg", "plan_serving", "plot", "sweep", "validate"]  # noqa: F822 (sweep: __getattr__)

MODES = ("inference", "training", "both")
#: Keys of ``estimate(..., serving=...)``, the keyword arguments of
#: :func:`roofline.serving.inflight.estimate_serving`.
SERVING_KEYS = ("engine", "concurrency", "request_rate", "max_num_tokens", "num_requests", "seed",
                "random_range_ratio", "max_ttft_s", "max_tpot_s")
#: Keys of ``estimate(..., disagg=...)``: the keyword arguments of
#: :func:`roofline.serving.disagg.estimate_disagg` other than the model and the request.
DISAGG_KEYS = ("prefill", "decode", "engine", "max_num_tokens", "concurrency", "request_rate", "num_requests",
               "seed", "random_range_ratio")


def _chip(chip: Chip | str | Path) -> Chip:
    return chip if isinstance(chip, Chip) else load_chip(chip)


def _model(model: Model | str | Path) -> Model:
    return model if isinstance(model, Model) else load_model(model)


def _check_arguments(workload, serving, training) -> None:
    """The project error for an argument of the wrong kind (rather than an AttributeError deep inside)."""
    if workload is not None and not isinstance(workload, Workload):
        raise RooflineError(f"workload={workload!r} must be a roofline.Workload or None")
    if training is not None and not isinstance(training, TrainingWorkload):
        raise RooflineError(f"training={training!r} must be a roofline.TrainingWorkload or None")
    if serving is not None:
        _check_keys("serving", serving, SERVING_KEYS)


def _check_keys(name: str, value, keys) -> None:
    """The project error for a dict argument that is not one, or has a key outside ``keys``."""
    if not isinstance(value, dict):
        raise RooflineError(f"{name}={value!r} must be a dict with keys {', '.join(keys)}")
    for key in value:
        if key not in keys:
            near = closest(str(key), keys)
            raise RooflineError(f"{name}: {key!r} is not a {name} key; "
                                + (f"did you mean {near[0]}?" if near else f"use {', '.join(keys)}"))


def _mode(mode: str | None, inference_given: bool, training_given: bool) -> str:
    if mode is None:
        if training_given:
            return "both" if inference_given else "training"
        return "inference"
    if not isinstance(mode, str) or mode not in MODES:
        raise RooflineError(f"mode={mode!r} is not one of {', '.join(MODES)}; pick one of those")
    if mode == "training" and inference_given:
        raise RooflineError("mode='training' takes no inference workload, serving, disagg or engine; drop them or "
                            "use mode='both'")
    if mode == "inference" and training_given:
        raise RooflineError("mode='inference' takes no training workload or days; drop them or use mode='both'")
    return mode



def estimate(chip: Chip | str | Path, model: Model | str | Path, workload: Workload | None = None, *,
             serving: dict | None = None, training: TrainingWorkload | None = None, days: float | None = None,
             mode: str | None = None, reference: Chip | str | Path | None = "H100", max_tpot_s: float | None = None,
             max_ttft_s: float | None = None, price_per_hour=None, disagg: dict | None = None,
             engine: str | None = None) -> Estimate:
    """Estimate serving and/or training ``model`` on ``chip``; names and paths are loaded as the CLI would.

    Parameters
    ----------
    workload
        The serving workload (batch, lengths, formats, tp/pp); ``None`` is ``Workload()`` with the
        checkpoint's weight format (:func:`roofline.checkpoint.checkpoint_weight_dtype`).
    serving
        Keys ``engine``, ``concurrency`` (int or "max"), ``request_rate``, ``max_num_tokens``,
        ``num_requests``, ``seed``, ``random_range_ratio``, ``max_ttft_s``, ``max_tpot_s``: adds the step-level
        simulation of an in-flight-batching engine under a benchmark client
        (:func:`roofline.serving.inflight.estimate_serving`) at the layout the static estimate chose. A blank
        KV-cache format is the engine's default for the checkpoint (``Engine.kv_auto``).
    training
        The training run (:class:`roofline.workload.TrainingWorkload`); layout fields left ``None`` are
        chosen by the planner (plain Python, never compiled). ``None`` is ``TrainingWorkload()`` with
        the chip's 16-bit dtype.
    days
        Also report ``chips_needed`` to train the token budget within this many days.
    mode
        ``"inference"``, ``"training"`` or ``"both"``. ``None`` runs what the arguments ask for:
        training when ``training`` or ``days`` is given, inference when ``workload`` or ``serving`` is
        given or training is not (so ``estimate(chip, model, Workload(...))`` is inference only).
    reference
        The chip of ``Estimate.verdict`` (speed-ups this chip ÷ reference, per chip and per dollar, and what
        the chip suits; see :mod:`roofline.verdict`). Both chips run the same request at their own best
        layouts, in plain Python (tenths of a second). ``None``: no verdict.
    max_tpot_s, max_ttft_s
        The latency targets of the verdict's serving speed-up (default: ``serving``'s targets, else
        50 ms and 2 s).
    price_per_hour
        Dollars per chip-hour of this chip, or a pair (this chip, reference); ``None`` (or a ``None`` in the
        pair) takes the profile's dated price. With both prices known the verdict votes per dollar.
    disagg
        Also simulate a disaggregated deployment of the serving request (its lengths and formats):
        keys ``DISAGG_KEYS``, ``prefill`` and ``decode`` being :class:`roofline.serving.disagg.Pool` values
        (:func:`roofline.serving.disagg.estimate_disagg`); reported as ``Estimate.disagg``.
    engine
        The serving engine (``roofline.loaders.engines.ENGINES``) whose fixed costs and default KV-cache
        format the lone-batch estimate, the simulation and the verdict's serving point carry; ``None``: the
        one ``serving`` or ``disagg`` names, else the generic engine. Two different names are an error.

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
    mode = _mode(mode, workload is not None or serving is not None or disagg is not None or engine is not None,
                 training is not None or days is not None)
    if reference is None:
        unused = [k for k, v in (("max_tpot_s", max_tpot_s), ("max_ttft_s", max_ttft_s),
                                 ("price_per_hour", price_per_hour)) if v is not None]
        if unused:
            it = "it" if len(unused) == 1 else "them"
            raise RooflineError(f"{', '.join(unused)}: only the verdict uses {it}, and reference=None asks for "
                                f"none; drop {it} or name a reference chip")
    if disagg is not None:
        _check_keys("disagg", disagg, DISAGG_KEYS)
        if mode == "training":
            raise RooflineError("disagg: a disaggregated deployment serves; drop it or use mode 'inference' or 'both'")
    engine_name = _engine_name(engine, serving, disagg)  # one engine for every part of the estimate
    serving = None if serving is None else {**serving, "engine": engine_name}
    disagg = None if disagg is None else {**disagg, "engine": engine_name}
    inf = srv = dis = None
    if mode in ("inference", "both"):
        served = ENGINES[engine_name]
        wl = workload or Workload(weight_dtype=checkpoint_weight_dtype(m))
        wl = on_chip(with_engine_kv(wl, m, served.kv_auto), m, c)
        inf = estimate_inference(c, m, wl, served)
        if inf.context_exceeds_model:
            warnings.warn(f"{wl.input_len:,} + {wl.output_len:,} tokens exceed the {inf.context_tokens:,}-token "
                          f"context of {m.name} (max_position_embeddings); priced anyway", ContextNotice,
                          stacklevel=2)
        if serving is not None:
            srv = estimate_serving(c, m, inf.workload, **{k: v for k, v in serving.items() if v is not None})
        if disagg is not None:
            from roofline.serving.disagg import estimate_disagg  # loaded when asked: not on every estimate's start

            w = inf.workload
            dis = estimate_disagg(m, input_len=w.input_len, output_len=w.output_len, weight_dtype=w.weight_dtype,
                                  kv_dtype=workload.kv_dtype if workload is not None else None,
                                  **{k: v for k, v in disagg.items() if v is not None})
    train = note = None
    if mode in ("training", "both"):
        wl = training if training is not None else TrainingWorkload(dtype=c.half_dtype)
        try:
            train = training_estimate(c, m, wl, days=days, use_numba=False)
        except RooflineError as exc:
            if mode != "both":
                raise
            if training is not None or days is not None:
                raise RooflineError(f"training: {exc} (or --mode inference to estimate serving alone)") from exc
            note = str(exc)
    est = Estimate(chip=c, model=m, inference=inf, serving=srv, training=train, training_note=note, disagg=dis)
    if reference is not None:
        ref = _chip(reference)
        srv_opts = serving or {}
        targets = Targets(_seconds("max_tpot_s", max_tpot_s, srv_opts.get("max_tpot_s"), DEFAULT_MAX_TPOT_S),
                          _seconds("max_ttft_s", max_ttft_s, srv_opts.get("max_ttft_s"), DEFAULT_MAX_TTFT_S))
        runs = verdict_runs(est, ref, targets=targets, engine=engine_name,
                            training_request=training)
        est = attrs.evolve(est, verdict=verdict_for(est, ref, runs, _price_pair(price_per_hour)))
    return est


def _engine_name(engine: str | None, serving: dict | None, disagg: dict | None) -> str:
    """The engine of an estimate: ``engine``, else the one ``serving`` or ``disagg`` names, else the generic
    one; two different names are refused."""
    named = {k: d["engine"] for k, d in (("engine", {"engine": engine}), ("serving", serving), ("disagg", disagg))
             if d and d.get("engine") is not None}
    if len(set(named.values())) > 1:
        raise RooflineError("the engine is named twice, differently ("
                            + ", ".join(f"{k}: {v!r}" for k, v in named.items()) + "); give the engine once")
    name = next(iter(named.values()), "generic")
    if name not in ENGINES:
        raise RooflineError(f"engine={name!r} is not known; use one of {', '.join(ENGINES)}")
    return name


def _seconds(name: str, value, fallback, default: float) -> float:
    """A latency target in seconds: ``value``, else ``fallback``, else ``default`` (checked)."""
    chosen = value if value is not None else fallback if fallback is not None else default
    if isinstance(chosen, bool) or not isinstance(chosen, (int, float)) or not 0 < chosen < 1e9:
        raise RooflineError(f"{name}={chosen!r} must be a positive number of seconds, e.g. {default:g}")
    return float(chosen)


def _price_pair(price) -> tuple[float | None, float | None]:
    """(this chip, reference) dollars per chip-hour from one price, a pair, or ``None``."""
    if price is None:
        return None, None
    pair = list(price) if isinstance(price, (list, tuple)) else [price]
    if len(pair) == 1:
        pair.append(None)
    if len(pair) != 2:
        raise RooflineError(f"price_per_hour: {len(pair)} prices; give this chip's price, or two (this chip, the "
                            f"reference), e.g. 1.2,3.0")
    return tuple(None if p is None else check_price(p) for p in pair)


def plan(chip: Chip | str | Path, model: Model | str | Path, training: TrainingWorkload | None = None, *,
         top: int = 10, use_numba: bool | None = None, days: float | None = None) -> Plan:
    """Search the training layouts of ``training.num_chips`` chips (given fields stay fixed) with
    :func:`roofline.training.planner.plan_training`: plain Python for searches of up to
    ``PLAIN_MAX_LAYOUTS`` layouts and compiled with numba beyond (``use_numba`` None), compiled (True) or
    plain (False) when asked. ``training=None`` is ``TrainingWorkload()`` with the chip's
    16-bit dtype."""
    c, m = _chip(chip), _model(model)
    wl = training if training is not None else TrainingWorkload(dtype=c.half_dtype)
    return plan_training(c, m, wl, top=top, use_numba=use_numba, days=days)


def plan_serving(chip: Chip | str | Path, model: Model | str | Path, **options) -> ServingPlan:
    """The serving layouts with the most output tokens/s per chip within latency targets:
    :func:`roofline.serving.planner.plan_serving` with ``options`` (``num_chips``, ``max_tpot_s``, ...)."""
    from roofline.serving.planner import plan_serving as _plan_serving

    return _plan_serving(_chip(chip), _model(model), **options)


def plan_disagg(model: Model | str | Path, prefill_chip: Chip | str | Path, decode_chip: Chip | str | Path,
                **options) -> DisaggPlan:
    """Disaggregated deployments with the most output tokens/s per chip within latency targets, beside the
    best aggregated fleet of each chip: :func:`roofline.serving.disagg_plan.plan_disagg` with ``options``."""
    from roofline.serving.disagg_plan import plan_disagg as _plan_disagg  # loaded when asked

    return _plan_disagg(_model(model), _chip(prefill_chip), _chip(decode_chip), **options)


def compare(chips, model: Model | str | Path, **options) -> Comparison:
    """Chips side by side (:func:`roofline.analysis.compare.compare`)."""
    from roofline.analysis.compare import compare as _compare

    return _compare(chips, model, **options)


def plot(kind: str, chips, model: Model | str | Path, output: str | Path, **options) -> Path:
    """Draw ``kind`` (roofline, batch or scaling) to ``output`` (:func:`roofline.render.plots.plot`)."""
    from roofline.render.plots import plot as _plot

    return _plot(kind, chips, model, output, **options)


def validate(paths: list[str | Path] | None = None, **options) -> Validation:
    """Every usable measured row through the estimator (:func:`roofline.validate.run.validate`)."""
    from roofline.validate.run import validate as _validate

    return _validate(paths, **options)


def __getattr__(name: str):
    """``sweep`` (:func:`roofline.sweep.run.sweep`), imported when first asked for."""
    if name == "sweep":
        from roofline.sweep.run import sweep

        return sweep
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def chips() -> list[Chip]:
    """Every chip profile, by name."""
    return [load_chip(n) for n in CHIPS.names()]


def models() -> list[Model]:
    """Every model profile, by name."""
    return [load_model(n) for n in MODELS.names()]
