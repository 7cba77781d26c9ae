"""Serving under load: an in-flight-batching replica at a concurrency or a request rate.

The step and steady-state math is in :mod:`roofline.kernels.serving`; this module picks the engine's
policy, sizes the KV cache the engine can use, and handles open-loop (Poisson) arrivals.
"""

from __future__ import annotations

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.inference import Packed
from roofline.kernels import layout as L
from roofline.kernels import serving as KS
from roofline.kernels.serving import serving_closed_loop
from roofline.model import Model
from roofline.quantity import MAX_COUNT, show
from roofline.workload import Workload


def _whole(value) -> bool:
    """A whole number from 1 to ``MAX_COUNT`` (booleans are not numbers here)."""
    return not isinstance(value, bool) and isinstance(value, (int, np.integer)) and 1 <= value <= MAX_COUNT


@attrs.frozen
class Engine:
    """A serving engine's default scheduling and memory policy.

    ``chunked``: prompts split under the token budget (else whole prompts per step).
    ``memory_rule``: "total" (the fraction bounds weights + KV + workspace, vLLM/SGLang) or "free" (the
    fraction of what is left after weights and workspace goes to KV, TensorRT-LLM).
    ``reserve_full``: a request reserves KV for I + O tokens when admitted (TensorRT-LLM's
    GUARANTEED_NO_EVICT); otherwise paged KV grows on demand and in-flight sequences hold I + O/2 on
    average (vLLM, SGLang).
    """

    name: str
    chunked: bool
    max_num_tokens: int
    memory_fraction: float
    memory_rule: str
    reserve_full: bool
    max_seqs: int  # 0 = no cap beyond memory
    source: str

    def vector(self, max_num_tokens: int | None = None) -> np.ndarray:
        """The policy as the kernels read it (``E_*``), with this token budget (default: the engine's)."""
        e = np.zeros(KS.E_SIZE)
        e[KS.E_BUDGET] = max_num_tokens or self.max_num_tokens
        e[KS.E_CHUNKED] = float(self.chunked)
        e[KS.E_MEMORY_FRACTION] = self.memory_fraction
        e[KS.E_FREE_RULE] = float(self.memory_rule == "free")
        e[KS.E_RESERVE_FULL] = float(self.reserve_full)
        e[KS.E_MAX_SEQS] = self.max_seqs
        return e


ENGINES = {
    "generic": Engine("generic", True, 8192, 0.90, "total", False, 0,
                      "roofline default: chunked prefill under an 8192-token budget, paged KV, 90% of HBM"),
    "vllm": Engine("vllm", True, 8192, 0.90, "total", False, 256,
                   "vLLM engine args: enable_chunked_prefill (on in V1), max_num_batched_tokens 8192, "
                   "gpu_memory_utilization 0.9 of total HBM, max_num_seqs 256, paged KV"),
    "sglang": Engine("sglang", True, 8192, 0.88, "total", False, 0,
                     "SGLang server args: chunked_prefill_size 8192, mem_fraction_static ~0.88 of total HBM, "
                     "radix/paged KV, running requests bounded by memory"),
    "trtllm": Engine("trtllm", False, 8192, 0.90, "free", True, 2048,
                     "TensorRT-LLM: max_num_tokens 8192, chunked context off by default, KvCacheConfig "
                     "free_gpu_memory_fraction 0.9 of memory left after weights, GUARANTEED_NO_EVICT "
                     "scheduler (default), max_batch_size 2048"),
}


@attrs.frozen
class ServingEstimate:
    engine: str
    concurrency: int  # requested (closed loop) or mean in system (open loop)
    inflight: int  # sequences the engine actually runs at once
    kv_capacity_sequences: int
    ttft_s: float
    tpot_s: float
    request_latency_s: float
    requests_per_s: float
    output_tokens_per_s: float
    num_chips: int
    prefill_bound: bool
    request_rate: float | None = None
    utilization: float | None = None
    capacity_requests_per_s: float | None = None

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["output_tokens_per_s_per_chip"] = self.output_tokens_per_s / self.num_chips
        return d


def kv_capacity(p: Packed, eng: Engine, max_num_tokens: int) -> int:
    """Sequences whose KV cache the engine can hold on one replica, under its memory policy and caps
    (the kernel ``engine_kv_capacity``, shared with the sweeps), times its data-parallel attention groups."""
    cap = KS.engine_kv_capacity(p.m, p.w(1), p.hw, eng.vector(max_num_tokens), np.zeros(L.W_SIZE))
    return int(cap) * p.wl.attn_dp  # each data-parallel attention group holds its own sequences


def _closed(p: Packed, inflight: float, budget: int, eng: Engine) -> np.ndarray:
    """The closed-loop steady state of ``inflight`` requests on the replica. With data-parallel attention
    (``attn_dp`` groups, MoE models with ep > tp) each group runs inflight / attn_dp of them in lockstep
    with the others (the MoE layers join them), so the replica's request rate is attn_dp times a group's."""
    g = p.wl.attn_dp
    out = np.zeros(5)
    serving_closed_loop(p.m, p.w(1), p.hw, float(inflight) / g, float(budget), 1.0 if eng.chunked else 0.0,
                        p.ops, p.priced, out)
    out[2] *= g
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
    eng = ENGINES[engine]
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
    budget = max_num_tokens or eng.max_num_tokens
    p = Packed(chip, model, wl)
    cap = kv_capacity(p, eng, budget)
    if cap < 1:
        raise RooflineError(f"serving: no KV cache fits on {chip.name} for {model.name} at tp={wl.tp}, pp={wl.pp} "
                            f"with {wl.input_len}+{wl.output_len} tokens per request; use a larger --tp or --pp")
    n = wl.num_chips
    if request_rate is None:
        c = cap if concurrency in (None, "max") else int(concurrency)
        if c < 1:
            raise RooflineError(f"concurrency={concurrency!r} must be a positive integer or 'max'")
        inflight = min(c, cap)
        ttft, tpot, x, bound, _ = _closed(p, inflight, budget, eng)
        latency = c / x  # Little's law over every request in the loop, waiting ones included
        ttft = latency - (wl.output_len - 1) * tpot
        return ServingEstimate(engine, c, inflight, cap, float(ttft), float(tpot), float(latency), float(x),
                               float(x * wl.output_len), n, bool(bound))
    if not request_rate > 0 or request_rate != request_rate:
        raise RooflineError(f"request_rate={request_rate!r} must be a positive number of requests per second")
    capacity = float(_closed(p, cap, budget, eng)[2])
    if request_rate >= capacity:
        raise RooflineError(f"request_rate={request_rate:g}/s exceeds this replica's capacity of {capacity:.3g} "
                            f"requests/s ({chip.name} x{n}, {engine}); lower the rate or add replicas")
    # Mean-value: the number in service N solves X(N) = rate (at least one request when busy)...
    lo, hi = 1.0, float(cap)
    if _closed(p, 1.0, budget, eng)[2] >= request_rate:
        lo = hi = 1.0
    for _ in range(40):
        if hi - lo < 1e-3:
            break
        mid = (lo + hi) / 2
        if _closed(p, mid, budget, eng)[2] < request_rate:
            lo = mid
        else:
            hi = mid
    ttft, tpot, _, bound, _ = _closed(p, hi, budget, eng)
    # ... plus M/M/1-style queueing in front of it: waiting grows as rho / (1 - rho) lone prefill times.
    rho = request_rate / capacity
    lone = _closed(p, 1.0, budget, eng)[0]
    ttft = ttft + rho / (1.0 - rho) * lone
    latency = ttft + (wl.output_len - 1) * tpot
    return ServingEstimate(engine, int(round(hi)), int(round(hi)), cap, float(ttft), float(tpot), float(latency),
                           float(request_rate), float(request_rate * wl.output_len), n, bool(bound),
                           request_rate=float(request_rate), utilization=float(rho),
                           capacity_requests_per_s=capacity)
