"""The serving operating point a fleet is sized by: the most output tokens/s per chip within latency targets.

:func:`best_within_targets` is the serving planner's question (:mod:`roofline.serving.planner`) answered in
plain Python fast enough for a single estimate: every replica layout of ``num_chips`` chips (TP dividing the
heads within the scale-up domain, PP up to :data:`roofline.serving.planner.MAX_PP` stages, EP for
mixture-of-experts models) runs an in-flight-batching engine under a closed-loop client (the closed-form
steady state of :func:`roofline.kernels.serving.replica_at_concurrency`). Per layout, the largest
concurrency whose mean TPOT and mean TTFT meet the targets, within the engine's KV capacity (no request
waits for memory), is found by bisection: TPOT and TTFT grow with the requests in flight, so the feasible
concurrencies are 1..C*; the tokens/s at C* (the most requests in flight that meet the targets) is the
layout's figure. The planner prices every concurrency on a grid instead; both agree (tests).

:func:`verdict_point` sizes the fleet for the verdict: one 8-chip server, or the smallest of 16, 32 and 64
chips on which some layout holds one request (so a model too large for one server is still compared), and
a larger one while the fleet's best runs at its KV capacity and the larger serves more tokens/s per chip.
Chips compared side by side start from one fleet, the smallest every one of them holds the model on
(:func:`common_fleet`): N chips of each, so that a chip that holds the model on fewer is not judged on a
fleet too small to spread its experts or its users.
"""

from __future__ import annotations

import attrs

from roofline.checkpoint import on_chip
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.model import Model
from roofline.results.serving_plan import ServingLayout
from roofline.serving.inflight import at_concurrency, pack_replica
from roofline.serving.planner import MAX_CONCURRENCY, MAX_PP, layout_from_figures
from roofline.workload import Workload, check_layout, valid_tp_sizes

#: Mean time per output token and mean time to first token a user accepts by default (seconds).
DEFAULT_MAX_TPOT_S = 0.050
DEFAULT_MAX_TTFT_S = 2.0

#: Fleets the verdict tries in turn: one 8-chip server first.
VERDICT_FLEETS = (8, 16, 32, 64)


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:g} ms" if seconds < 1 else f"{seconds:g} s"


@attrs.frozen
class Targets:
    """Latency targets of a serving fleet: mean TPOT and mean TTFT, seconds."""

    max_tpot_s: float = DEFAULT_MAX_TPOT_S
    max_ttft_s: float = DEFAULT_MAX_TTFT_S

    def met(self, fig) -> bool:
        return bool(fig[L.V_TPOT] <= self.max_tpot_s and fig[L.V_TTFT] <= self.max_ttft_s)

    def text(self) -> str:
        return f"TPOT <= {_time(self.max_tpot_s)} and TTFT <= {_time(self.max_ttft_s)}"

    def to_dict(self) -> dict:
        return {"max_tpot_s": self.max_tpot_s, "max_ttft_s": self.max_ttft_s}


def layouts(chip: Chip, model: Model, base: Workload, num_chips: int, tp: int | None = None) -> list[Workload]:
    """Every replica layout of ``base`` (its lengths and formats) that runs on ``chip`` within ``num_chips``
    (only tensor-parallel size ``tp`` when given)."""
    tps = [tp] if tp else [t for t in valid_tp_sizes(model, limit=chip.scale_up_domain)]
    tps = [t for t in tps if t <= num_chips]
    pps = range(1, min(model.num_layers, MAX_PP, num_chips) + 1)
    eps = [e for e in (1, 2, 4, 8, 16, 32, 64, 128, 256) if e <= min(model.num_experts, num_chips)] \
        if model.is_moe else [1]
    out = []
    for t in tps:
        for s in pps:
            for e in eps:
                wl = attrs.evolve(base, batch=1, tp=t, pp=s, ep=e)
                if wl.num_chips > num_chips:
                    continue
                try:
                    check_layout(chip, model, wl)
                except RooflineError:
                    continue
                out.append(wl)
    return out


def _layout_best(chip: Chip, model: Model, wl: Workload, engine, targets: Targets, num_chips: int,
                 max_num_tokens: int | None) -> tuple[ServingLayout | None, tuple | None]:
    """(the layout at its largest concurrency meeting the targets or None, its lowest-TPOT figures)."""
    try:
        p, policy, cap = pack_replica(chip, model, wl, engine, None, max_num_tokens)
    except RooflineError:
        return None, None
    top = min(cap, MAX_CONCURRENCY)
    first = at_concurrency(p, 1, policy)
    if not targets.met(first):
        return None, (float(first[L.V_TPOT]), float(first[L.V_TTFT]), wl)
    lo, hi, fig = 1, top, first
    last = at_concurrency(p, top, policy)
    if targets.met(last):
        lo, fig = top, last
    else:
        while hi - lo > 1:  # met at lo, not at hi
            mid = (lo + hi) // 2
            f = at_concurrency(p, mid, policy)
            if targets.met(f):
                lo, fig = mid, f
            else:
                hi = mid
    return layout_from_figures(wl.tp, wl.pp, wl.ep, lo, wl.num_chips, num_chips, fig, wl.output_len), None


def _search(chip, model, base, num_chips, targets, engine, max_num_tokens, tp=None):
    """(layouts meeting the targets at their best concurrency, the lowest-TPOT figures of those that miss)."""
    found, missed = [], []
    for wl in layouts(chip, model, base, num_chips, tp):
        best, miss = _layout_best(chip, model, wl, engine, targets, num_chips, max_num_tokens)
        if best is not None:
            found.append(best)
        elif miss is not None:
            missed.append(miss)
    return found, missed


def _pick(chip, model, base, num_chips, targets, found, missed) -> ServingLayout:
    where = f"{model.name} on {num_chips:,} x {chip.name}"
    if found:
        return min(found, key=lambda s: (-s.output_tokens_per_s_per_chip, s.chips_per_replica, s.tp, s.pp, s.ep))
    if not missed:
        raise RooflineError(f"{where}: no layout holds the weights and one {base.input_len}+{base.output_len}-token "
                            f"request; use more chips, a smaller weight format or shorter requests")
    tpot, ttft, wl = min(missed, key=lambda m: (m[0], m[1]))
    raise RooflineError(f"{where}: no layout meets {targets.text()}; the lowest TPOT is {tpot * 1e3:.2f} ms with "
                        f"TTFT {ttft * 1e3:.1f} ms (tp={wl.tp}, pp={wl.pp}, one request in flight); relax the "
                        f"targets (--max-tpot-ms, --max-ttft-ms) or serve shorter requests")


def best_within_targets(chip: Chip, model: Model, base: Workload, *, num_chips: int, targets: Targets = Targets(),
                        engine="generic", max_num_tokens: int | None = None, tp: int | None = None) -> ServingLayout:
    """The layout and concurrency with the most output tokens/s per chip of ``num_chips`` chips meeting
    ``targets`` (ties: fewer chips per replica, then smaller tp, pp, ep).

    Raises the project error when no layout holds a request, or none meets the targets (with the lowest
    TPOT any layout reaches at one request in flight).
    """
    found, missed = _search(chip, model, base, num_chips, targets, engine, max_num_tokens, tp)
    return _pick(chip, model, base, num_chips, targets, found, missed)


def smallest_fleet(chip: Chip, model: Model, base: Workload, *, engine="generic", max_num_tokens: int | None = None,
                   tp: int | None = None) -> int | None:
    """The smallest of :data:`VERDICT_FLEETS` on which some layout of ``chip`` holds the weights and one
    request's KV cache (``None``: none does)."""
    for n in VERDICT_FLEETS:
        for wl in layouts(chip, model, base, n, tp):
            try:
                pack_replica(chip, model, wl, engine, None, max_num_tokens)
            except RooflineError:
                continue
            return n
    return None


def common_fleet(chips, model: Model, base: Workload, *, engine="generic", max_num_tokens: int | None = None,
                 tp: int | None = None) -> int:
    """The fleet chips compared side by side start from: the largest of their :func:`smallest_fleet`, each
    running ``base`` as it runs the checkpoint (:func:`roofline.checkpoint.on_chip`); a chip that holds the
    model on none (or lacks its compute format) does not count, and 1 when none does."""
    sizes = [smallest_fleet(c, model, on_chip(base, model, c), engine=engine, max_num_tokens=max_num_tokens, tp=tp)
             for c in chips]
    return max([n for n in sizes if n is not None], default=1)


def verdict_point(chip: Chip, model: Model, base: Workload, *, targets: Targets = Targets(), engine="generic",
                  max_num_tokens: int | None = None, tp: int | None = None, min_chips: int = 1) -> ServingLayout:
    """:func:`best_within_targets` on the smallest fleet of :data:`VERDICT_FLEETS` on which some layout holds
    a request (a model too large for one server is compared on more); the project error when none does,
    or when the layouts of that fleet miss the targets (more servers add replicas or pipeline stages,
    neither of which lowers a request's latency).

    When memory, not the targets, caps that fleet's best (its replicas run at their KV capacity: DeepSeek-R1
    in fp8 on 8 H20 holds 8 requests), the next fleet is searched too, and taken while it serves more
    output tokens/s per chip: its layouts spread the weights over more chips and leave room for more users,
    as a fleet sized for the model would be. Fleets under ``min_chips`` are skipped (:func:`common_fleet`)."""
    for i, n in enumerate(VERDICT_FLEETS):
        if n < min_chips:
            continue
        found, missed = _search(chip, model, base, n, targets, engine, max_num_tokens, tp)
        if not (found or missed):
            continue
        best = _pick(chip, model, base, n, targets, found, missed)
        for more in VERDICT_FLEETS[i + 1:]:
            if best.concurrency < best.kv_capacity:  # the targets, not memory, cap the users
                break
            larger, _ = _search(chip, model, base, more, targets, engine, max_num_tokens, tp)
            bigger = _pick(chip, model, base, more, targets, larger, []) if larger else None
            if bigger is None or bigger.output_tokens_per_s_per_chip <= best.output_tokens_per_s_per_chip:
                break
            best = bigger
        return best
    raise RooflineError(f"{model.name} on {chip.name}: no layout of up to {VERDICT_FLEETS[-1]} chips holds the "
                        f"{base.weight_dtype} weights and one {base.input_len}+{base.output_len}-token request; "
                        f"use a smaller --weight-dtype or shorter requests")
