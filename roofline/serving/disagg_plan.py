"""The disaggregated-serving planner: prefill and decode pool layouts and their ratio x:y with the most
output tokens/s per chip within latency targets, beside the best aggregated fleet of each chip.

Closed form (plain Python, no compiling), from the same priced passes the simulator uses
(:mod:`roofline.serving.disagg`):

* **Decode**: a decode worker with ``b`` sequences per attention group steps in ``TPOT(b)`` (the step at
  the mean context; no prompt runs on it) and serves ``G b / ((O - 1) TPOT(b))`` requests/s. Per layout,
  the largest ``b`` within the pool's slots whose TPOT meets the target is found by bisection (TPOT grows
  with the batch), and half and a quarter of it are tried too (a lighter decode pool needs less prefill).
* **Prefill**: a worker computes ``k`` prompts (``batch`` per group) per pass of ``t_p`` seconds. Its
  queue is taken as ``c = x k`` servers of service time ``t_p`` with Poisson arrivals at ``lambda``:
  the mean wait of M/D/c, half the M/M/c wait (the Allen-Cunneen approximation with deterministic
  service), with the M/M/c wait by Sakasegawa's approximation
  ``W = t_p rho^(sqrt(2 (c + 1)) - 1) / (c (1 - rho))``, ``rho = lambda t_p / c``.
  TTFT = the engine's time per request + wait + ``t_p`` + the KV transfer, plus the start of a closed-loop
  benchmark, whose C users all send at once: the first C prompts queue at the prefill pool's capacity,
  waiting ``C / (2 capacity)`` on average, one request in ``REQUESTS_PER_USER`` of each user's
  (:func:`roofline.serving.simulate.default_requests`).
* For every pair of pool layouts, decode batch and ``y`` decode workers (1..MAX_WORKERS), the fewest
  prefill workers ``x`` whose TTFT meets its target; the fleet is ``x`` prefill + ``y`` decode workers
  within ``num_chips``, and its figure the output tokens/s per chip ``lambda O / chips``, with
  ``lambda = y G b / ((O - 1) TPOT(b))``. The concurrency to run it at is Little's law,
  ``lambda (TTFT + (O - 1) TPOT)``.

Pools keep one worker within one scale-up domain and one pipeline stage unless ``pp`` is given.

The closed form ranks; the best :data:`VERIFIED` deployments are then simulated under the closed-loop
benchmark client (:func:`roofline.serving.disagg.estimate_disagg`, whose users all start at once and stay
partly in step, which the queueing formula does not see), each at the largest concurrency up to its
closed-form one whose simulated mean TTFT and TPOT meet the targets; the plan reports those simulated
figures, best first. Those few dozen simulations run compiled when numba is installed (``use_numba`` None):
loading it takes about a second, where each simulation in plain Python would run up to the plain budget of
:func:`roofline.serving.simulate.run_budgeted` first (the README's example plan took 9-11 s that way).
"""

from __future__ import annotations

import importlib.util
import math
import time

import attrs

from roofline.checkpoint import checkpoint_weight_dtype
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.model import Model
from roofline.results.disagg import DisaggPlan, DisaggPoint, PoolLayout
from roofline.serving.disagg import (
    Pool, base_workload, decode_side, decode_step_s, estimate_disagg, kv_transfer_s, link_between, prefill_pass_s,
    prefill_side,
)
from roofline.serving.planner import attention_groups
from roofline.serving.simulate import REQUESTS_PER_USER
from roofline.serving.target import Targets, common_fleet, verdict_point
from roofline.workload import EP_SIZES, valid_tp_sizes

#: Deployments of the closed-form ranking checked by simulation (the plan lists these).
VERIFIED = 3
#: Workers searched per pool at most.
MAX_WORKERS = 16


def wait_s(arrivals: float, servers: int, service_s: float) -> float:
    """Mean wait in an M/D/c queue (module docstring); inf at or beyond saturation."""
    rho = arrivals * service_s / servers
    if rho >= 1.0:
        return math.inf
    if rho <= 0.0:
        return 0.0
    mmc = service_s * rho ** (math.sqrt(2.0 * (servers + 1)) - 1.0) / (servers * (1.0 - rho))
    return 0.5 * mmc


def _pools(chip: Chip, model: Model, tp: int | None, pp: int | None, ep: int | None) -> list[Pool]:
    tps = [tp] if tp else valid_tp_sizes(model, limit=chip.scale_up_domain)
    eps = [ep] if ep else ([e for e in EP_SIZES if e <= model.num_experts] if model.is_moe else [1])
    out = []
    for t in tps:
        for e in eps:
            if max(t, e) > chip.scale_up_domain and not (tp and ep):
                continue
            if (e <= t and t % e) or (e > t and e % t):
                continue
            out.append(Pool(chip, tp=t, pp=pp or 1, ep=e))
    # data-parallel attention over split experts, one chip per group
    out += [Pool(chip, tp=1, pp=pp or 1, dp_attention=d) for d in attention_groups(chip, model, bool(tp or ep))
            if d > 1]
    return out


def _decode_options(model, pools, base, engine, max_num_tokens, targets):
    """(packed, engine policy, slots, [(b, tpot)]) of every decode layout meeting the TPOT target."""
    out = []
    for pool in pools:
        try:
            d, policy, slots, _ = decode_side(model, pool, base, engine, max_num_tokens)
        except RooflineError:
            continue
        if decode_step_s(d, 1) > targets.max_tpot_s:
            continue
        lo, hi = 1, slots
        if decode_step_s(d, hi) <= targets.max_tpot_s:
            lo = hi
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if decode_step_s(d, mid) <= targets.max_tpot_s:
                lo = mid
            else:
                hi = mid
        batches = sorted({lo, max(1, lo // 2), max(1, lo // 4)}, reverse=True)
        out.append((d, policy, slots, [(b, decode_step_s(d, b)) for b in batches]))
    return out


def simulated(model: Model, point: DisaggPoint, prefill_chip: Chip, decode_chip: Chip, targets: Targets, run: dict,
              use_numba: bool | None) -> DisaggPoint | None:
    """``point`` simulated under the closed-loop benchmark client: at its concurrency when the simulated mean
    TTFT and TPOT meet ``targets``, else at the largest lower concurrency that does (bisection); None when
    not even one user does."""
    pools = dict(prefill=Pool(prefill_chip, tp=point.prefill.tp, pp=point.prefill.pp, ep=point.prefill.ep,
                              workers=point.prefill.workers, batch=point.prefill.batch,
                              dp_attention=point.prefill.dp_attention),
                 decode=Pool(decode_chip, tp=point.decode.tp, pp=point.decode.pp, ep=point.decode.ep,
                             workers=point.decode.workers, batch=point.decode.batch,
                             dp_attention=point.decode.dp_attention))

    def sim(users):
        e = estimate_disagg(model, concurrency=users, use_numba=use_numba, **pools, **run)
        return e if e.ttft_s <= targets.max_ttft_s and e.tpot_s <= targets.max_tpot_s else None

    lo, hi = 0, point.concurrency + 1
    best = sim(point.concurrency)
    if best is None:
        hi = point.concurrency
        while hi - lo > 1:
            mid = (lo + hi) // 2
            e = sim(mid)
            if e is not None:
                lo, best = mid, e
            else:
                hi = mid
    if best is None:
        return None
    rate = best.requests_per_s
    scale = rate / point.requests_per_s
    return attrs.evolve(point, concurrency=best.concurrency, ttft_s=best.ttft_s, tpot_s=best.tpot_s,
                        requests_per_s=rate, simulated=True,
                        output_tokens_per_dollar=None if point.output_tokens_per_dollar is None
                        else point.output_tokens_per_dollar * scale)


def plan_disagg(model: Model, prefill_chip: Chip, decode_chip: Chip, *, num_chips: int = 1024,
                targets: Targets | None = None, input_len: int = 2048, output_len: int = 256,
                weight_dtype: str | None = None, kv_dtype: str | None = None, engine: str = "generic",
                max_num_tokens: int | None = None, prefill_tp: int | None = None, prefill_pp: int | None = None,
                prefill_ep: int | None = None, decode_tp: int | None = None, decode_pp: int | None = None,
                decode_ep: int | None = None, top: int = 3,
                prices: tuple[float | None, float | None] = (None, None), use_numba: bool | None = None) -> DisaggPlan:
    """Search the disaggregated deployments of at most ``num_chips`` chips (module docstring); the project
    error when none meets the targets. ``prices``: dollars per chip-hour of (prefill, decode) chips, None for
    the profiles' prices; ``weight_dtype`` None is the checkpoint's."""
    if isinstance(num_chips, bool) or not isinstance(num_chips, int) or num_chips < 2:
        raise RooflineError(f"num_chips={num_chips!r} must be a whole number of at least 2 (one chip per pool)")
    start = time.perf_counter()
    targets = targets or Targets()
    weight_dtype = weight_dtype or checkpoint_weight_dtype(model)
    base = base_workload(input_len, output_len, weight_dtype, kv_dtype)
    decodes = _decode_options(model, _pools(decode_chip, model, decode_tp, decode_pp, decode_ep), base, engine,
                              max_num_tokens, targets)
    if not decodes:
        raise RooflineError(f"{model.name} on {decode_chip.name}: no decode layout meets TPOT <= "
                            f"{targets.max_tpot_s * 1e3:g} ms with one sequence; relax --max-tpot-ms or use another "
                            f"--decode-chip")
    policy = decodes[0][1]
    kv = decodes[0][0].wl.kv_dtype
    prefills = []
    for pool in _pools(prefill_chip, model, prefill_tp, prefill_pp, prefill_ep):
        try:
            p, batch = prefill_side(model, pool, attrs.evolve(base, kv_dtype=kv), engine, policy)
        except RooflineError:
            continue
        k = batch * p.wl.attn_dp
        prefills.append((p, batch, k, prefill_pass_s(p, policy, k)))
    price_p = prices[0] if prices[0] is not None else prefill_chip.price_usd_per_hour
    price_d = prices[1] if prices[1] is not None else decode_chip.price_usd_per_hour
    overhead = decodes[0][0].engine.request_overhead_s
    steps = output_len - 1
    points = []
    for d, _, slots, options in decodes:
        cd = d.wl.num_chips
        for p, batch, k, t_p in prefills:
            cp = p.wl.num_chips
            bw, latency, link = link_between(p, d, cp + cd)
            xfer = kv_transfer_s(d, input_len, bw, latency)
            best = None
            for b, tpot in options:
                per_worker = d.wl.attn_dp * b / (steps * tpot)
                for y in range(1, MAX_WORKERS + 1):
                    lam = y * per_worker
                    for x in range(1, MAX_WORKERS + 1):
                        chips = x * cp + y * cd
                        if chips > num_chips:
                            break
                        ttft = overhead + wait_s(lam, x * k, t_p) + t_p + xfer
                        users = lam * (ttft + steps * tpot)
                        ttft += users / (2.0 * REQUESTS_PER_USER * x * k / t_p)
                        if ttft <= targets.max_ttft_s:
                            rate = lam * output_len / chips
                            if best is None or rate > best[0]:
                                best = (rate, x, y, b, tpot, ttft, lam, link)
                            break
            if best is not None:
                rate, x, y, b, tpot, ttft, lam, link = best
                dollars = (x * cp * price_p + y * cd * price_d) if price_p and price_d else None
                points.append(DisaggPoint(
                    prefill=PoolLayout("prefill", prefill_chip.name, p.wl.tp, p.wl.pp, p.wl.ep, p.wl.attn_dp, x, cp,
                                       batch, x * k / t_p, link, weight_dtype=p.wl.weight_dtype),
                    decode=PoolLayout("decode", decode_chip.name, d.wl.tp, d.wl.pp, d.wl.ep, d.wl.attn_dp, y, cd, b,
                                      lam, limit="batch" if b < slots else "kv_cache", weight_dtype=d.wl.weight_dtype),
                    concurrency=max(1, round(lam * (ttft + steps * tpot))), ttft_s=ttft, tpot_s=tpot,
                    requests_per_s=lam, output_len=output_len,
                    output_tokens_per_dollar=lam * output_len * 3600.0 / dollars if dollars else None))
    if not points:
        raise RooflineError(f"{model.name}: no deployment of prefill on {prefill_chip.name} and decode on "
                            f"{decode_chip.name} within {num_chips:,} chips meets {targets.text()}; relax the "
                            f"targets or give more --num-chips")
    points.sort(key=lambda q: (-q.output_tokens_per_s_per_chip, q.num_chips))
    run = dict(input_len=input_len, output_len=output_len, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
               engine=engine, max_num_tokens=max_num_tokens)
    if use_numba is None and importlib.util.find_spec("numba") is not None:
        use_numba = True  # a few dozen simulations (bisections): compiled, numba loads once (module docstring)
    checked = [c for c in (simulated(model, q, prefill_chip, decode_chip, targets, run, use_numba)
                           for q in points[:min(top, VERIFIED)]) if c is not None]
    if not checked:
        raise RooflineError(f"{model.name}: the best deployments of prefill on {prefill_chip.name} and decode on "
                            f"{decode_chip.name} meet {targets.text()} in closed form but not when simulated at any "
                            f"concurrency; relax the targets")
    checked.sort(key=lambda q: (-q.output_tokens_per_s_per_chip, q.num_chips))
    points = checked
    aggregated = {}
    pair = tuple(dict.fromkeys((prefill_chip, decode_chip)))
    served = attrs.evolve(base, kv_dtype=kv)
    start = common_fleet(pair, model, served, engine=engine, max_num_tokens=max_num_tokens)
    for chip in pair:  # each single-chip fleet on as many chips as the larger of the two needs (N of each)
        try:
            point = verdict_point(chip, model, served, targets=targets, engine=engine,
                                  max_num_tokens=max_num_tokens, min_chips=start)
            aggregated[chip.name] = point
        except RooflineError as exc:
            aggregated[chip.name] = str(exc)
    return DisaggPlan(best=points[0], top=tuple(points[:top]), model=model.name, engine=engine,
                      input_len=input_len, output_len=output_len, weight_dtype=weight_dtype,
                      kv_dtype=decodes[0][0].wl.kv,
                      targets=targets, aggregated=tuple(aggregated.items()),
                      prices=((prefill_chip.name, price_p), (decode_chip.name, price_d)),
                      markets=((prefill_chip.name, prefill_chip.price_market if prices[0] is None else 'given'),
                               (decode_chip.name, decode_chip.price_market if prices[1] is None else 'given')),
                      searched=len(prefills) * len(decodes), search_s=time.perf_counter() - start)
