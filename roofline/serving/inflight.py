"""Serving under load: an in-flight-batching replica at a concurrency or a request rate.

The step and steady-state math is in :mod:`roofline.kernels.serving` (its docstring states the model);
this module checks the request, packs the engine's policy, and handles open-loop (Poisson) arrivals.
"""

from __future__ import annotations

import numpy as np

from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.serving import engine_kv_capacity, replica_at_concurrency, replica_steady_state
from roofline.loaders.engines import ENGINES
from roofline.model import Model
from roofline.pack import pack_engine
from roofline.passes import Packed
from roofline.quantity import MAX_COUNT, show
from roofline.results.inference import ServingEstimate
from roofline.workload import Workload


def _whole(value) -> bool:
    """A whole number from 1 to ``MAX_COUNT`` (booleans are not numbers here)."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and 1 <= value <= MAX_COUNT


def kv_capacity(p: Packed, engine: np.ndarray) -> int:
    """Sequences whose KV cache the replica holds under the packed ``engine`` policy: each data-parallel
    attention group holds its own."""
    return int(engine_kv_capacity(p.m, p.w(1), p.hw, engine, np.zeros(L.W_SIZE))) * p.wl.attn_dp


def steady_state(p: Packed, inflight: float, engine: np.ndarray) -> np.ndarray:
    """The closed-loop steady state (``C_*`` vector) of ``inflight`` requests on the replica."""
    out = np.zeros(L.C_SIZE)
    replica_steady_state(p.m, p.w(1), p.hw, float(inflight), p.wl.attn_dp, engine, np.zeros((L.N_OPS, L.OP_COLS)),
                         np.zeros((L.N_OPS, 2)), out)
    return out


def at_concurrency(p: Packed, concurrency: int, engine: np.ndarray) -> np.ndarray:
    """``concurrency`` requests in a closed loop on the replica: the ``V_*`` figures of
    :func:`roofline.kernels.serving.replica_at_concurrency`."""
    out = np.zeros(L.V_SIZE)
    replica_at_concurrency(p.m, p.w(1), p.hw, engine, concurrency, p.wl.attn_dp, np.zeros(L.W_SIZE),
                              np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros(L.C_SIZE), out)
    return out


def estimate_serving(chip: Chip, model: Model, wl: Workload, *, engine: str = "generic",
                     concurrency: int | str | None = None, request_rate: float | None = None,
                     max_num_tokens: int | None = None) -> ServingEstimate:
    """Serve ``model`` on ``chip`` with ``wl``'s layout and lengths (``wl.tp`` must be resolved).

    Exactly one of ``concurrency`` (an int, or "max" for the largest that fits) and ``request_rate``
    (requests/s, Poisson) is given.
    """
    if not isinstance(engine, str) or engine not in ENGINES:
        raise RooflineError(f"engine={engine!r} is not known; use one of {', '.join(ENGINES)}")
    if max_num_tokens is not None and not _whole(max_num_tokens):
        raise RooflineError(f"max_num_tokens={show(max_num_tokens)} must be a whole number of tokens from 1 to "
                            f"{MAX_COUNT:,}")
    if concurrency not in (None, "max") and not _whole(concurrency):
        raise RooflineError(f"concurrency={show(concurrency)} must be a whole number from 1 to {MAX_COUNT:,} or "
                            f"'max'")
    if request_rate is not None and (isinstance(request_rate, bool) or not isinstance(request_rate, (int, float))
                                     or not 0 < request_rate < 1e300):
        raise RooflineError(f"request_rate={show(request_rate)} must be a positive, finite number of requests "
                            f"per second")
    policy = pack_engine(ENGINES[engine], max_num_tokens)
    p = Packed(chip, model, wl)
    cap = kv_capacity(p, policy)
    if cap < 1:
        raise RooflineError(f"serving: no KV cache fits on {chip.name} for {model.name} at tp={wl.tp}, pp={wl.pp} "
                            f"with {wl.input_len}+{wl.output_len} tokens per request; use a larger --tp or --pp")
    n = wl.num_chips
    if request_rate is None:
        c = cap if concurrency in (None, "max") else int(concurrency)
        if c < 1:
            raise RooflineError(f"concurrency={concurrency!r} must be a positive integer or 'max'")
        fig = at_concurrency(p, c, policy)
        x = fig[L.V_RPS]
        return ServingEstimate(engine, c, min(c, cap), cap, float(fig[L.V_TTFT]), float(fig[L.V_TPOT]),
                               float(c / x), float(x), float(x * wl.output_len), n, bool(fig[L.V_PREFILL_BOUND]))
    if not request_rate > 0 or request_rate != request_rate:
        raise RooflineError(f"request_rate={request_rate!r} must be a positive number of requests per second")
    capacity = float(steady_state(p, cap, policy)[L.C_RPS])
    if request_rate >= capacity:
        raise RooflineError(f"request_rate={request_rate:g}/s exceeds this replica's capacity of {capacity:.3g} "
                            f"requests/s ({chip.name} x{n}, {engine}); lower the rate or add replicas")
    # Mean-value: the number in service N solves X(N) = rate (at least one request when busy)...
    lo, hi = 1.0, float(cap)
    if steady_state(p, 1.0, policy)[L.C_RPS] >= request_rate:
        lo = hi = 1.0
    for _ in range(40):
        if hi - lo < 1e-3:
            break
        mid = (lo + hi) / 2
        if steady_state(p, mid, policy)[L.C_RPS] < request_rate:
            lo = mid
        else:
            hi = mid
    ttft, tpot, _, bound, _ = steady_state(p, hi, policy)
    # ... plus M/M/1-style queueing in front of it: waiting grows as rho / (1 - rho) lone prefill times.
    rho = request_rate / capacity
    lone = steady_state(p, 1.0, policy)[L.C_TTFT]
    ttft = ttft + rho / (1.0 - rho) * lone
    latency = ttft + (wl.output_len - 1) * tpot
    return ServingEstimate(engine, int(round(hi)), int(round(hi)), cap, float(ttft), float(tpot), float(latency),
                           float(request_rate), float(request_rate * wl.output_len), n, bool(bound),
                           request_rate=float(request_rate), utilization=float(rho),
                           capacity_requests_per_s=capacity)
