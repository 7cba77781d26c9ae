"""Disaggregated serving: prefill on one pool of workers, decode on another, the KV cache sent between them.

:func:`estimate_disagg` simulates the deployment step by step under a benchmark client
(:mod:`roofline.kernels.disagg`, the model stated there). Each pool is its own chip and layout, priced with
the same roofline, efficiency and engine costs as an aggregated replica; nothing here is fitted.

* **Prefill batch**: the prompts one attention group computes in one pass: ``Pool.batch``, else as many
  prompts of ``input_len`` as both the engine's token budget and the group's KV cache hold (at least one),
  as the engine's scheduler packs them.
* **Decode slots**: the sequences one decode group holds: as many as its KV cache holds under the engine's
  memory policy (:func:`roofline.kernels.serving.engine_kv_capacity`, as an aggregated replica), at most
  ``Pool.batch`` (the engine's maximum batch) when given; ``decode.limit`` says which of the two set it.
* **The link**: both pools on one chip type within one scale-up domain (their chips together at most its
  size) exchange KV caches over the scale-up link, otherwise over the scale-out network (the slower
  chip's), at the achievable fraction and latency of the efficiency profile.

:func:`pool_capacities` gives each pool's capacity in closed form: prefill, full passes back to back;
decode, full groups stepping at the mean context. The deployment's throughput is at most the smaller.
"""

from __future__ import annotations

import attrs
import numpy as np

from roofline.checkpoint import checkpoint_weight_dtype, on_chip
from roofline.chip import Chip
from roofline.engines import Engine
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.disagg import decode_step_at, prefill_pass_time, simulate_disagg
from roofline.kernels.serving import engine_kv_capacity, engine_kv_tokens
from roofline.kernels.shapes import kv_bytes_per_chip
from roofline.loaders.engines import ENGINES
from roofline.model import Model
from roofline.passes import Packed
from roofline.quantity import MAX_COUNT, show
from roofline.results.disagg import DisaggEstimate, PoolLayout
from roofline.serving.inflight import pack_replica
from roofline.serving.simulate import Client, client_requests, run_budgeted
from roofline.serving.static import choose_tp
from roofline.workload import Workload, check_layout, with_engine_kv


@attrs.frozen
class Pool:
    """One pool's chip and layout: ``workers`` workers of ``max(tp x dp_attention, ep) x pp`` chips each.
    ``tp`` None is the smallest TP at which the model fits; ``batch`` None is the default of the module
    docstring; ``dp_attention`` as ``Workload.dp_attention``."""

    chip: Chip
    tp: int | None = None
    pp: int = 1
    ep: int = 1
    workers: int = 1
    batch: int | None = None
    dp_attention: int = 1


#: Workers one pool may have (the simulation keeps a row of slots per decode worker).
MAX_POOL_WORKERS = 1024


def _whole(role: str, name: str, value, optional: bool = False, most: int = MAX_COUNT) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= most:
        raise RooflineError(f"{role}_{name}={show(value)} must be a whole number from 1 to {most:,}; "
                            f"set --{role}-{name.replace('_', '-')}")


@attrs.frozen
class Deployment:
    """Both pools packed: what the simulation and the closed forms take."""

    prefill: Packed
    decode: Packed
    policy: np.ndarray = attrs.field(eq=False)
    prefill_workers: int
    decode_workers: int
    prefill_batch: int
    decode_slots: int
    decode_limit: str  # what sets decode_slots: "batch" (the pool's batch) or "kv_cache" (its KV capacity)
    link_bytes_per_s: float
    link_latency_s: float
    link: str


def link_between(p: Packed, d: Packed, total_chips: int) -> tuple[float, float, str]:
    """(achievable bytes/s per chip, seconds per transfer, name) of the link between the pools."""
    if p.chip == d.chip and total_chips <= p.chip.scale_up_domain:
        hw = p.hw
        return (hw[L.H_UP_BW] * hw[L.H_EFF_UP], hw[L.H_LAT_BASE] + hw[L.H_LAT_UP],
                p.chip.scale_up_label)
    slow = p if p.hw[L.H_OUT_BW] * p.hw[L.H_EFF_OUT] <= d.hw[L.H_OUT_BW] * d.hw[L.H_EFF_OUT] else d
    hw = slow.hw
    return (hw[L.H_OUT_BW] * hw[L.H_EFF_OUT], hw[L.H_LAT_BASE] + hw[L.H_LAT_OUT],
            slow.chip.scale_out_name or "scale-out network")


def _workload(role: str, pool: Pool, model: Model, base: Workload) -> Workload:
    _whole(role, "tp", pool.tp, optional=True)
    _whole(role, "pp", pool.pp)
    _whole(role, "ep", pool.ep)
    _whole(role, "workers", pool.workers, most=MAX_POOL_WORKERS)
    _whole(role, "batch", pool.batch, optional=True)
    _whole(role, "attn_dp", pool.dp_attention)
    wl = on_chip(attrs.evolve(base, tp=pool.tp, pp=pool.pp, ep=pool.ep, dp_attention=pool.dp_attention), model,
                 pool.chip)
    try:
        check_layout(pool.chip, model, wl)
        if wl.tp is None:
            wl = attrs.evolve(wl, tp=choose_tp(pool.chip, model, wl))
    except RooflineError as exc:
        raise RooflineError(f"{role} pool: {exc}") from None
    return wl


def decode_side(model: Model, pool: Pool, base: Workload, engine, max_num_tokens: int | None):
    """The decode pool packed: (packed, engine policy, slots per attention group, what set them)."""
    wd = _workload("decode", pool, model, base)
    try:
        d, policy, _ = pack_replica(pool.chip, model, wd, engine, None, max_num_tokens)
    except RooflineError as exc:
        raise RooflineError(f"decode pool: {exc}") from None
    served = engine if isinstance(engine, Engine) else ENGINES[engine]
    wd = with_engine_kv(wd, model, served.kv_auto)
    d = Packed(pool.chip, model, wd, served)
    fit = int(engine_kv_capacity(d.m, d.w(1), d.hw, policy, np.zeros(L.W_SIZE)))
    if fit < 1:
        raise RooflineError(f"decode pool: no KV cache of a {base.input_len}+{base.output_len}-token request fits on "
                            f"one attention group of {pool.chip.name} at tp={wd.tp}, pp={wd.pp}; use a larger "
                            f"--decode-tp or --decode-pp")
    slots = min(pool.batch, fit) if pool.batch else fit
    return d, policy, slots, "batch" if pool.batch and pool.batch <= fit else "kv_cache"


def prefill_side(model: Model, pool: Pool, base: Workload, engine, policy: np.ndarray) -> tuple[Packed, int]:
    """The prefill pool packed (``base`` with the decode pool's KV format): (packed, prompts per group per
    pass)."""
    served = engine if isinstance(engine, Engine) else ENGINES[engine]
    wp = _workload("prefill", pool, model, base)
    p = Packed(pool.chip, model, wp, served)
    room = int(engine_kv_tokens(p.m, p.w(1), p.hw, policy, np.zeros(L.W_SIZE)))
    batch = pool.batch or max(1, min(int(policy[L.E_BUDGET]), room) // base.input_len)
    if room < batch * base.input_len:
        raise RooflineError(f"prefill pool: the KV cache of {batch} prompt(s) of {base.input_len} tokens does not fit "
                            f"on one attention group of {pool.chip.name} at tp={wp.tp}, pp={wp.pp} ({room:,} tokens "
                            f"of room); use a larger --prefill-tp or --prefill-pp"
                            + (", or a smaller --prefill-batch" if pool.batch else ""))
    return p, batch


def base_workload(input_len: int, output_len: int, weight_dtype: str, kv_dtype: str | None) -> Workload:
    """The request both pools serve; the project error when it has no token to decode."""
    if output_len < 2:
        raise RooflineError(f"output_len={output_len}: a disaggregated deployment decodes at least one token after "
                            f"the first; use --output-len 2 or more (or serve aggregated)")
    return Workload(batch=1, input_len=input_len, output_len=output_len, weight_dtype=weight_dtype, kv_dtype=kv_dtype)


def deployment(model: Model, prefill: Pool, decode: Pool, *, input_len: int = 2048, output_len: int = 256,
               weight_dtype: str = "bf16", kv_dtype: str | None = None, engine: str = "generic",
               max_num_tokens: int | None = None) -> Deployment:
    """Check and pack both pools (the project error naming the pool and the option to change)."""
    if not isinstance(prefill, Pool) or not isinstance(decode, Pool):
        raise RooflineError("prefill and decode must each be a roofline.serving.disagg.Pool")
    base = base_workload(input_len, output_len, weight_dtype, kv_dtype)
    d, policy, slots, limit = decode_side(model, decode, base, engine, max_num_tokens)
    p, batch = prefill_side(model, prefill, attrs.evolve(base, kv_dtype=d.wl.kv_dtype), engine, policy)
    chips = prefill.workers * p.wl.num_chips + decode.workers * d.wl.num_chips
    bw, latency, name = link_between(p, d, chips)
    return Deployment(prefill=p, decode=d, policy=policy, prefill_workers=prefill.workers,
                      decode_workers=decode.workers, prefill_batch=batch, decode_slots=slots, decode_limit=limit,
                      link_bytes_per_s=bw, link_latency_s=latency, link=name)


def _scratch():
    return np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros(L.P_SIZE)


def prefill_pass_s(p: Packed, policy: np.ndarray, prompts: int) -> float:
    """Seconds for one prefill worker ``p`` to compute ``prompts`` prompts of its ``input_len`` tokens."""
    return float(prefill_pass_time(p.m, p.w(1), p.hw, policy, float(prompts), float(prompts * p.wl.input_len),
                                   float(p.wl.attn_dp), *_scratch()))


def decode_step_s(d: Packed, per_group: int) -> float:
    """Seconds of one decode step of worker ``d`` with ``per_group`` sequences in each attention group, at
    the mean context over a request's decode (input + output / 2)."""
    return float(decode_step_at(d.m, d.w(1), d.hw, float(per_group), d.wl.input_len + d.wl.output_len / 2.0,
                                *_scratch()))


def kv_transfer_s(d: Packed, tokens: int, link_bytes_per_s: float, link_latency_s: float) -> float:
    """Seconds to send one prompt's KV cache of ``tokens`` tokens to decode worker ``d`` over a link of
    ``link_bytes_per_s`` per chip (no queueing)."""
    return link_latency_s + float(kv_bytes_per_chip(d.m, d.w(1), tokens)) / link_bytes_per_s


def pool_capacities(dep: Deployment) -> tuple[float, float]:
    """(prefill, decode) requests/s each pool serves flat out: full prefill passes back to back; full decode
    groups stepping at the mean context, ``output - 1`` steps per request."""
    p, d = dep.prefill, dep.decode
    full = dep.prefill_batch * p.wl.attn_dp
    prefill = dep.prefill_workers * full / prefill_pass_s(p, dep.policy, full)
    steps = d.wl.output_len - 1
    decode = dep.decode_workers * dep.decode_slots * d.wl.attn_dp / (steps * decode_step_s(d, dep.decode_slots))
    return prefill, decode


def _simulate(dep: Deployment, client: Client, spec: np.ndarray, fn):
    p, d = dep.prefill, dep.decode
    arrival, prompt, output, users = client_requests(client, p.wl.input_len, p.wl.output_len)
    n = len(prompt)
    spec[L.D_USERS] = users
    spec[L.D_REQUESTS] = n
    times = (np.empty(n), np.empty(n), np.empty(n), np.empty(n))
    state = (np.zeros(n), *(np.zeros(n, dtype=np.int64) for _ in range(5)))
    cap = dep.decode_slots * d.wl.attn_dp
    slots = (np.zeros((dep.decode_workers, cap), dtype=np.int64), np.zeros((dep.decode_workers, cap), dtype=np.int64),
             np.zeros((dep.decode_workers, d.wl.attn_dp)))
    out = np.zeros(L.DQ_SIZE)
    ops, priced, _ = _scratch()
    fn(p.m, p.w(1), p.hw, d.w(1), d.hw, dep.policy, spec, (arrival, prompt, output), times, state, slots, ops, priced,
       out)
    return times, output, out


def run_deployment(dep: Deployment, client: Client, use_numba: bool | None = None):
    """Simulate ``dep`` under ``client``: ((send, prefilled, first, finish), output lengths, DQ figures,
    compiled). ``use_numba`` as in :func:`roofline.serving.simulate.run`."""
    spec = np.zeros(L.D_SIZE)
    spec[L.D_PF_WORKERS] = dep.prefill_workers
    spec[L.D_PF_GROUPS] = dep.prefill.wl.attn_dp
    spec[L.D_PF_BATCH] = dep.prefill_batch
    spec[L.D_DC_WORKERS] = dep.decode_workers
    spec[L.D_DC_GROUPS] = dep.decode.wl.attn_dp
    spec[L.D_DC_SLOTS] = dep.decode_slots
    spec[L.D_LINK_BW] = dep.link_bytes_per_s
    spec[L.D_LINK_LATENCY] = dep.link_latency_s

    def call(fn, max_work):
        spec[L.D_MAX_WORK] = max_work
        result = _simulate(dep, client, spec, fn)
        return result, result[2][L.DQ_STATUS] == 2.0

    result, compiled = run_budgeted(simulate_disagg, call, use_numba)
    times, output, out = result
    if out[L.DQ_STATUS] > 0.5:
        raise RooflineError("disaggregated serving: the deployment cannot run one request; check the pools")
    return times, output, out, compiled


def _layout(role: str, packed: Packed, workers: int, batch: int, capacity: float, link: str = "",
            limit: str = "batch") -> PoolLayout:
    wl = packed.wl
    return PoolLayout(role=role, chip=packed.chip.name, tp=wl.tp, pp=wl.pp, ep=wl.ep, attn_dp=wl.attn_dp,
                      workers=workers, chips_per_worker=wl.num_chips, batch=batch, capacity_requests_per_s=capacity,
                      link=link, limit=limit, weight_dtype=wl.weight_dtype)


def estimate_disagg(model: Model, prefill: Pool, decode: Pool, *, input_len: int = 2048, output_len: int = 256,
                    weight_dtype: str | None = None, kv_dtype: str | None = None, engine: str = "generic",
                    max_num_tokens: int | None = None, concurrency: int | None = None,
                    request_rate: float | None = None, num_requests: int | None = None, seed: int = 0,
                    random_range_ratio: float = 0.0, use_numba: bool | None = None) -> DisaggEstimate:
    """Serve ``model`` with ``prefill`` and ``decode`` pools under a benchmark client (closed loop of
    ``concurrency`` users, default: as many as the decode pool holds; or Poisson ``request_rate``);
    ``weight_dtype`` None is the checkpoint's."""
    weight_dtype = weight_dtype or checkpoint_weight_dtype(model)
    dep = deployment(model, prefill, decode, input_len=input_len, output_len=output_len, weight_dtype=weight_dtype,
                     kv_dtype=kv_dtype, engine=engine, max_num_tokens=max_num_tokens)
    cap_p, cap_d = pool_capacities(dep)
    if concurrency is None and request_rate is None:
        concurrency = dep.decode_workers * dep.decode_slots * dep.decode.wl.attn_dp
    client = Client(concurrency=concurrency, request_rate=request_rate, num_requests=num_requests, seed=seed,
                    random_range_ratio=random_range_ratio)
    (send, prefilled, first, finish), output, out, compiled = run_deployment(dep, client, use_numba)
    overhead = dep.decode.engine.request_overhead_s
    ttft = first - send + overhead
    tpot = (finish - first) / np.maximum(output - 1.0, 1.0)
    duration = float(finish.max() - send.min())
    pct = {q: (float(np.percentile(ttft, q)), float(np.percentile(tpot, q))) for q in (50, 90, 99)}
    p, d = dep.prefill, dep.decode
    return DisaggEstimate(
        engine=dep.decode.engine.name,
        prefill=_layout("prefill", p, dep.prefill_workers, dep.prefill_batch, cap_p, dep.link),
        decode=_layout("decode", d, dep.decode_workers, dep.decode_slots, cap_d, limit=dep.decode_limit),
        input_len=input_len, output_len=output_len, weight_dtype=d.wl.weight_dtype, kv_dtype=d.wl.kv,
        concurrency=client.concurrency, request_rate=None if request_rate is None else float(request_rate),
        ttft_s=float(ttft.mean()), tpot_s=float(tpot.mean()),
        kv_transfer_s=float((first - prefilled).mean()),
        prefill_s=float((prefilled - send).mean()),
        request_latency_s=float((finish - send).mean() + overhead), requests_per_s=len(send) / duration,
        output_tokens_per_s=float(output.sum()) / duration,
        ttft_p50_s=pct[50][0], ttft_p90_s=pct[90][0], ttft_p99_s=pct[99][0], tpot_p50_s=pct[50][1],
        tpot_p90_s=pct[90][1], tpot_p99_s=pct[99][1],
        prefill_utilization=float(out[L.DQ_PF_BUSY]) / (dep.prefill_workers * duration),
        decode_utilization=float(out[L.DQ_DC_BUSY]) / (dep.decode_workers * duration),
        bound="prefill" if cap_p < cap_d else "decode", num_requests=len(send), seed=client.seed, compiled=compiled)
