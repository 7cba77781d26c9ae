"""Serving under load: an in-flight-batching replica at a concurrency or a request rate.

:func:`estimate_serving` runs the step-level simulation of :mod:`roofline.serving.simulate` (a benchmark
client against the engine, step by step). The closed-form steady state of :mod:`roofline.kernels.serving`
(mean-value, arrivals spread evenly) is the fast path of sweeps and the serving planner; at concurrency 1
both give a lone prefill followed by batch-1 decode steps (tested), beyond it the simulation also keeps the
cohorts a benchmark client creates.
"""

from __future__ import annotations

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.engines import Engine
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.serving import engine_kv_capacity, replica_at_concurrency
from roofline.loaders.engines import ENGINES
from roofline.model import Model
from roofline.pack import pack_engine
from roofline.passes import Packed
from roofline.quantity import MAX_COUNT, show
from roofline.results.inference import ServingEstimate
from roofline.serving.simulate import MAX_REQUESTS, Client, simulate_serving
from roofline.workload import Workload


def _whole(value) -> bool:
    """A whole number from 1 to ``MAX_COUNT`` (booleans are not numbers here)."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and 1 <= value <= MAX_COUNT


def kv_capacity(p: Packed, engine: np.ndarray) -> int:
    """Sequences whose KV cache the replica holds under the packed ``engine`` policy: each data-parallel
    attention group holds its own."""
    return int(engine_kv_capacity(p.m, p.w(1), p.hw, engine, np.zeros(L.W_SIZE))) * p.wl.attn_dp


def at_concurrency(p: Packed, concurrency: int, engine: np.ndarray) -> np.ndarray:
    """``concurrency`` requests in a closed loop on the replica: the ``V_*`` figures of
    :func:`roofline.kernels.serving.replica_at_concurrency`."""
    out = [0.0] * L.V_SIZE  # vectors as Python lists: the same doubles, faster in plain Python
    replica_at_concurrency(p.m.tolist(), p.w(1).tolist(), p.hw.tolist(), engine.tolist(), concurrency,
                           p.wl.attn_dp, [0.0] * L.W_SIZE, np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)),
                           [0.0] * L.C_SIZE, out)
    return np.array(out, dtype=np.float64)


def pack_replica(chip: Chip, model: Model, wl: Workload, engine, concurrency, max_num_tokens):
    """Check the request and pack the replica: ``(packed, engine policy, KV capacity in sequences)``.
    ``engine`` is a name or an :class:`Engine`; the project error for a bad engine, budget or concurrency,
    or when not one request's KV cache fits."""
    if not isinstance(engine, Engine) and (not isinstance(engine, str) or engine not in ENGINES):
        raise RooflineError(f"engine={engine!r} is not known; use one of {', '.join(ENGINES)}")
    if max_num_tokens is not None and not _whole(max_num_tokens):
        raise RooflineError(f"max_num_tokens={show(max_num_tokens)} must be a whole number of tokens from 1 to "
                            f"{MAX_COUNT:,}")
    if concurrency not in (None, "max") and not _whole(concurrency):
        raise RooflineError(f"concurrency={show(concurrency)} must be a whole number from 1 to {MAX_COUNT:,} or "
                            f"'max'")
    p = Packed(chip, model, wl, engine if isinstance(engine, Engine) else ENGINES[engine])
    policy = pack_engine(p.engine, max_num_tokens)
    cap = kv_capacity(p, policy)
    if cap < 1:
        raise RooflineError(f"serving: no KV cache fits on {chip.name} for {model.name} at tp={wl.tp}, pp={wl.pp} "
                            f"with {wl.input_len}+{wl.output_len} tokens per request; use a larger --tp or --pp")
    return p, policy, cap


def estimate_serving(chip: Chip, model: Model, wl: Workload, *, engine: str | Engine = "generic",
                     concurrency: int | str | None = None, request_rate: float | None = None,
                     max_num_tokens: int | None = None, num_requests: int | None = None, seed: int = 0,
                     random_range_ratio: float = 0.0, max_ttft_s: float | None = None,
                     max_tpot_s: float | None = None, use_numba: bool | None = None) -> ServingEstimate:
    """Serve ``model`` on ``chip`` with ``wl``'s layout and lengths (``wl.tp`` must be resolved), simulated
    step by step under a benchmark client (:mod:`roofline.serving.simulate`).

    Exactly one of ``concurrency`` (closed loop: an int, or "max" for as many users as the KV cache holds
    sequences) and ``request_rate`` (requests/s, Poisson) is given. ``max_ttft_s`` and ``max_tpot_s`` set
    the targets of the goodput.
    """
    for name, limit in (("max_ttft_s", max_ttft_s), ("max_tpot_s", max_tpot_s)):
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0):
            raise RooflineError(f"{name}={show(limit)} must be a positive number of seconds")
    p, policy, cap = pack_replica(chip, model, wl, engine, concurrency, max_num_tokens)
    if request_rate is None and concurrency in (None, "max"):
        if cap > MAX_REQUESTS:
            raise RooflineError(f"concurrency=max: the KV cache holds {cap:,} sequences, more than the "
                                f"{MAX_REQUESTS:,} requests one simulation takes; give a concurrency")
        concurrency = cap
    client = Client(concurrency=None if request_rate is not None else int(concurrency), request_rate=request_rate,
                    num_requests=num_requests, seed=seed, random_range_ratio=random_range_ratio)
    est = simulate_serving(p, client, max_num_tokens=max_num_tokens, max_ttft_s=max_ttft_s, max_tpot_s=max_tpot_s,
                           use_numba=use_numba)
    if request_rate is None:
        return est
    # an open loop: the most requests/s the replica sustains is its closed-form rate with its KV cache full
    capacity = float(at_concurrency(p, cap, policy)[L.V_RPS])
    return attrs.evolve(est, capacity_requests_per_s=capacity)


def closed_form_serving(chip: Chip, model: Model, wl: Workload, *, engine: str | Engine = "generic",
                        concurrency: int | str | None = None, max_num_tokens: int | None = None) -> ServingEstimate:
    """The closed-form steady state of ``concurrency`` requests in flight (``"max"``: the KV capacity):
    the fast path of sweeps and the serving planner (:func:`roofline.kernels.serving.replica_at_concurrency`)."""
    p, policy, cap = pack_replica(chip, model, wl, engine, concurrency, max_num_tokens)
    c = cap if concurrency in (None, "max") else int(concurrency)
    fig = at_concurrency(p, c, policy)
    x = fig[L.V_RPS]
    limit = "max_num_seqs" if 0 < policy[L.E_MAX_SEQS] * wl.attn_dp <= cap else "kv_cache"
    return ServingEstimate(p.engine.name, c, min(c, cap), cap, float(fig[L.V_TTFT]), float(fig[L.V_TPOT]),
                           float(c / x), float(x), float(x * wl.output_len), wl.num_chips,
                           bool(fig[L.V_PREFILL_BOUND]), capacity_limit=limit)
