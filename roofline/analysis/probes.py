"""Probes of one chip's serving: a layout's decode and prefill at any batch (time, FLOPs, bytes, intensity and
the binding limit), where decode turns compute-bound, decode
against the batch and the TP size, and what half the scale-up bandwidth costs."""

from __future__ import annotations

import math

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.model import Model
from roofline.passes import Packed
from roofline.results.compare import LinkHalving, ScalingPoint
from roofline.results.training import TrainingEstimate
from roofline.serving.static import estimate_inference, fewest_stages
from roofline.training.estimate import estimate_training
from roofline.workload import Workload, valid_tp_sizes

#: Largest batch searched for the compute-bound turn of decode.
TURN_SEARCH_LIMIT = 1 << 16



def decode_point(p: Packed, batch: int) -> dict:
    """One decode step of ``batch`` sequences: time, FLOPs, HBM bytes, intensity and the binding limit."""
    phase = p.decode(batch)
    t, flops, hbm = phase.time_s, phase.flops, phase.hbm_bytes
    return {"batch": batch, "tpot_s": t, "flops": flops, "hbm_bytes": hbm, "bound": phase.bound,
            "intensity": flops / hbm if hbm else math.inf, "tokens_per_s_per_chip": batch / t / p.wl.num_chips}


def prefill_point(p: Packed, batch: int) -> dict:
    """The prefill of ``batch`` prompts: time, FLOPs, HBM bytes, intensity and the binding limit."""
    phase = p.prefill(batch)
    t, flops, hbm = phase.time_s, phase.flops, phase.hbm_bytes
    return {"batch": batch, "ttft_s": t, "flops": flops, "hbm_bytes": hbm, "bound": phase.bound,
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


def batch_curve(chip: Chip, model: Model, wl: Workload, points: int = 40, tp: int | None = None) -> dict:
    """Decode at batches from 1 to the largest that fits (geometric), at :func:`serving_layout` (``tp``
    fixed when given): ``{"tp", "pp", "max_batch", "compute_bound_batch", "points": [decode_point, ...]}``."""
    inf = estimate_inference(chip, model, serving_layout(chip, model, wl, tp))
    p = Packed(chip, model, inf.workload)
    mb = max(1, inf.max_batch)
    batches = sorted({int(round(b)) for b in np.geomspace(1, mb, num=points)} | {mb})
    return {"tp": inf.workload.tp, "pp": inf.workload.pp, "max_batch": inf.max_batch,
            "compute_bound_batch": compute_bound_batch(p), "points": [decode_point(p, b) for b in batches]}


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
