"""Sweep kernels: the cross product of serving configurations, priced by the single-estimate kernels.

A sweep is a table of *groups* (one chip profile, model, parallel layout and number formats each: the
packed vectors the single estimate builds) crossed with three numeric axes: batch, input length and
output length. Configuration ``k`` is group ``g``, batch ``b``, input ``i``, output ``o`` with
``k = ((g * nb + b) * ni + i) * no + o``; a *row* is one (group, batch) pair, ``r = g * nb + b``.
A kernel call prices the rows ``[row_lo, row_hi)``, so that callers can split the work over threads
(the compiled kernels release the GIL). The batch axis is the replica's: ``wbatch[g, b]`` is the
``W_BATCH`` that ``pack_workload`` gives it (sequences per attention group).

Every number comes from the scalar kernels a single estimate calls (``prefill_time``,
``decode_step_time``, ``memory_per_chip``; ``serving_closed_loop`` and the weight, KV and workspace
sizes under an engine's memory policy): nothing is priced here. What this module adds is the loop, the
feasibility test and two reductions that keep memory flat whatever the number of configurations:

* **best** per key (the caller's grouping, e.g. chip x model): the feasible configuration with the
  highest output tokens/s per chip; ties go to the lowest configuration index.
* **Pareto front** per key of output tokens/s per chip (x) against tokens/s per user (y = 1 / TPOT):
  the feasible configurations no other beats on both (>= on both and > on one); of identical points
  the lowest index stays. The front is kept sorted by x ascending (so y strictly descending) and each
  candidate costs a binary search.

A configuration is feasible when its figures are finite and positive, it fits (static: memory per chip
within the usable HBM; serving: the batch within the engine's KV capacity) and its TPOT and TTFT are
within the limits (``inf`` for none). Reduction records hold ``REC_SIZE`` = 3 + K values: x, y, the
configuration index, then the K figures the kernel stores per configuration.
"""

import numpy as np

from roofline._jit import borrow, kernel
from roofline.kernels.inference import decode_step_time, mean_decode_context, memory_per_chip, prefill_time
from roofline.kernels.layout import H_HBM_BYTES, H_MEM_FRACTION, W_BATCH, W_INPUT, W_OUTPUT
from roofline.kernels.serving import E_BUDGET, E_CHUNKED, engine_kv_capacity, serving_closed_loop

# ---- group table (one row per chip x model x layout x formats) ------------------------------------
G_MODEL = 0  # row of the model matrix
G_HW = 1  # row of the hardware matrix
G_KEY = 2  # reduction key (best and Pareto are kept per key)
G_CHIPS = 3  # chips of one replica (throughput per chip divides by it)
G_ATTN_DP = 4  # data-parallel attention groups of one replica (MoE with ep > tp), each with its share
G_SIZE = 5

# ---- figures stored per configuration ---------------------------------------------------------------
S_TPOT = 0  # static: seconds per output token
S_TTFT = 1  # static: seconds to first token (prefill of the whole batch)
S_MEM = 2  # static: bytes per chip
S_SIZE = 3
V_TPOT = 0  # serving: mean seconds between a sequence's tokens
V_TTFT = 1  # serving: seconds to first token, waiting included
V_RPS = 2  # serving: requests per second of one replica
V_CAP = 3  # serving: sequences whose KV cache the engine holds
V_PREFILL_BOUND = 4  # serving: 1 when prefill is the bottleneck
V_SIZE = 5

# ---- record of a reduction --------------------------------------------------------------------------
REC_X = 0  # output tokens/s per chip
REC_Y = 1  # output tokens/s per user
REC_INDEX = 2  # configuration index
REC_FIGURES = 3  # the stored figures follow

# ---- limits and engine policy -----------------------------------------------------------------------
L_MAX_TPOT = 0
L_MAX_TTFT = 1
L_BEST = 2  # 1: keep the best per key
L_PARETO = 3  # 1: keep the Pareto front per key
L_SIZE = 4


@kernel
def is_feasible(x, y, tpot, ttft, fits, limits):
    """Finite, positive, fitting and within the TPOT and TTFT limits."""
    if not (fits and x > 0.0 and x < np.inf and y > 0.0 and y < np.inf):
        return False
    return tpot <= limits[L_MAX_TPOT] and ttft <= limits[L_MAX_TTFT]


@kernel
def keep_best(best, key, x, y, index, figures):
    """Replace the best record of ``key`` when x beats it (configurations arrive in index order)."""
    if best[key, REC_INDEX] < 0.0 or x > best[key, REC_X]:
        best[key, REC_X] = x
        best[key, REC_Y] = y
        best[key, REC_INDEX] = index
        for j in range(figures.shape[0]):
            best[key, REC_FIGURES + j] = figures[j]


@kernel
def front_insert(front, count, key, x, y, index, figures):
    """Insert a point into the Pareto front of ``key`` (x ascending, y strictly descending).

    Returns the front array, reallocated with twice the room when the key's front is full.
    """
    n = int(count[key])
    lo = 0
    hi = n
    while lo < hi:  # first point with x >= the new x
        mid = (lo + hi) // 2
        if front[key, mid, REC_X] < x:
            lo = mid + 1
        else:
            hi = mid
    pos = lo
    if pos < n and front[key, pos, REC_Y] >= y:
        return front  # dominated by (or equal to) a point with at least this x
    start = pos
    while start > 0 and front[key, start - 1, REC_Y] <= y:
        start -= 1  # points with less x and no more y are dominated by the new one
    end = pos
    if pos < n and front[key, pos, REC_X] == x:
        end = pos + 1  # same x, less y
    removed = end - start
    if removed == 0 and n == front.shape[1]:
        grown = np.empty((front.shape[0], 2 * front.shape[1], front.shape[2]))
        grown[:, :n, :] = front[:, :n, :]
        front = grown
    if removed != 1:
        shift = 1 - removed
        if shift > 0:
            for k in range(n - 1, end - 1, -1):
                for j in range(front.shape[2]):
                    front[key, k + shift, j] = front[key, k, j]
        else:
            for k in range(end, n):
                for j in range(front.shape[2]):
                    front[key, k + shift, j] = front[key, k, j]
    front[key, start, REC_X] = x
    front[key, start, REC_Y] = y
    front[key, start, REC_INDEX] = index
    for j in range(figures.shape[0]):
        front[key, start, REC_FIGURES + j] = figures[j]
    count[key] = n + 1 - removed
    return front


@kernel
def sweep_static(ms, hws, ws, groups, batches, wbatch, inputs, outputs, row_lo, row_hi, decode_only, limits,
                 out, best, front, count, ops, priced, w, figures):
    """Price the rows ``[row_lo, row_hi)`` as ``roofline estimate`` does: TTFT the prefill of the whole
    batch, TPOT the decode step at the mean context, memory per chip at the final context.

    Parameters
    ----------
    ms, hws, ws : (n, M_SIZE), (n, H_SIZE), (n_groups, W_SIZE) float64
        Packed models, hardware vectors (chip x compute dtype, expected efficiency) and workloads.
    groups : (n_groups, G_SIZE) float64
    batches, inputs, outputs : (nb,), (ni,), (no,) float64
    wbatch : (n_groups, nb) float64, the packed ``W_BATCH`` of each batch in each group
    decode_only : bool
        Price only the decode step (no TTFT, memory or reductions): ``out`` is (1, n) then.
    limits : (L_SIZE,) float64
    out : (S_SIZE, n_configs) or (S_SIZE, 0) float64
        Figures per configuration (``S_*`` rows), written at the configuration index; empty: not kept.
    best : (n_keys, REC_SIZE) float64, updated in place (index -1: none yet)
    front, count : (n_keys, cap, REC_SIZE) float64 and (n_keys,) int64: the Pareto fronts so far.
    ops, priced, w, figures : (N_OPS, OP_COLS), (N_OPS, 2), (W_SIZE,), (S_SIZE,) float64 scratch.

    Returns the front array (reallocated when a front outgrew it).
    """
    ms = borrow(ms)
    hws = borrow(hws)
    ws = borrow(ws)
    groups = borrow(groups)
    batches = borrow(batches)
    wbatch = borrow(wbatch)
    inputs = borrow(inputs)
    outputs = borrow(outputs)
    limits = borrow(limits)
    out = borrow(out)
    best = borrow(best)
    count = borrow(count)
    nb = batches.shape[0]
    ni = inputs.shape[0]
    no = outputs.shape[0]
    keep = out.shape[1] > 0
    want_best = limits[L_BEST] > 0.5
    want_front = limits[L_PARETO] > 0.5
    ops = borrow(ops)
    priced = borrow(priced)
    w = borrow(w)
    figures = borrow(figures)
    for r in range(row_lo, row_hi):
        g = r // nb
        b = batches[r % nb]
        m = ms[int(groups[g, G_MODEL])]
        hw = hws[int(groups[g, G_HW])]
        key = int(groups[g, G_KEY])
        chips = groups[g, G_CHIPS]
        usable = hw[H_HBM_BYTES] * hw[H_MEM_FRACTION]
        for j in range(ws.shape[1]):
            w[j] = ws[g, j]
        w[W_BATCH] = wbatch[g, r % nb]
        for ii in range(ni):
            w[W_INPUT] = inputs[ii]
            w[W_OUTPUT] = outputs[0]
            ttft = np.nan
            if not decode_only:
                ttft = prefill_time(m, w, hw, ops, priced)  # the prompt's pass: no output length in it
            for io in range(no):
                w[W_OUTPUT] = outputs[io]
                index = (r * ni + ii) * no + io
                tpot = decode_step_time(m, w, hw, mean_decode_context(inputs[ii], outputs[io]), ops, priced)
                if decode_only:
                    if keep:
                        out[S_TPOT, index] = tpot
                    continue
                mem = memory_per_chip(m, w)
                if keep:
                    out[S_TPOT, index] = tpot
                    out[S_TTFT, index] = ttft
                    out[S_MEM, index] = mem
                if want_best or want_front:
                    x = b / tpot / chips
                    y = 1.0 / tpot
                    if is_feasible(x, y, tpot, ttft, mem <= usable, limits):
                        figures[S_TPOT] = tpot
                        figures[S_TTFT] = ttft
                        figures[S_MEM] = mem
                        if want_best:
                            keep_best(best, key, x, y, index, figures)
                        if want_front:
                            front = front_insert(front, count, key, x, y, index, figures)
    return front


@kernel
def sweep_serving(ms, hws, ws, groups, batches, inputs, outputs, row_lo, row_hi, engine, limits,
                  out, best, front, count, ops, priced, w, figures, scratch, res):
    """Price the rows ``[row_lo, row_hi)`` as ``roofline estimate --concurrency B`` does: B requests in
    flight on one in-flight-batching replica (``serving_closed_loop`` at min(B, KV capacity); requests
    beyond the capacity wait, and their wait is in TTFT by Little's law). With ``a`` data-parallel
    attention groups (``serving._closed``) the capacity is ``a`` times a group's, each group runs 1/a of
    the requests in flight and the replica serves ``a`` times a group's request rate.

    Arguments as :func:`sweep_static`, plus ``engine`` (E_SIZE,) and the scratch ``scratch`` (W_SIZE,)
    and ``res`` (5,); ``out`` and ``figures`` hold the ``V_*`` figures and the throughput is requests/s x
    output length. Returns the front array.
    """
    ms = borrow(ms)
    hws = borrow(hws)
    ws = borrow(ws)
    groups = borrow(groups)
    batches = borrow(batches)
    inputs = borrow(inputs)
    outputs = borrow(outputs)
    engine = borrow(engine)
    limits = borrow(limits)
    out = borrow(out)
    best = borrow(best)
    count = borrow(count)
    nb = batches.shape[0]
    ni = inputs.shape[0]
    no = outputs.shape[0]
    keep = out.shape[1] > 0
    want_best = limits[L_BEST] > 0.5
    want_front = limits[L_PARETO] > 0.5
    ops = borrow(ops)
    priced = borrow(priced)
    w = borrow(w)
    scratch = borrow(scratch)
    res = borrow(res)
    figures = borrow(figures)
    chunked = engine[E_CHUNKED]
    for r in range(row_lo, row_hi):
        g = r // nb
        c = batches[r % nb]
        m = ms[int(groups[g, G_MODEL])]
        hw = hws[int(groups[g, G_HW])]
        key = int(groups[g, G_KEY])
        chips = groups[g, G_CHIPS]
        dp = groups[g, G_ATTN_DP]
        for j in range(ws.shape[1]):
            w[j] = ws[g, j]
        w[W_BATCH] = 1.0
        for ii in range(ni):
            w[W_INPUT] = inputs[ii]
            for io in range(no):
                o = outputs[io]
                w[W_OUTPUT] = o
                index = (r * ni + ii) * no + io
                cap = engine_kv_capacity(m, w, hw, engine, scratch) * dp
                tpot = np.nan
                ttft = np.nan
                x_req = np.nan
                bound = np.nan
                if cap >= 1.0:
                    inflight = c if c < cap else cap
                    serving_closed_loop(m, w, hw, inflight / dp, engine[E_BUDGET], chunked, ops, priced, res)
                    tpot = res[1]
                    x_req = res[2] * dp
                    bound = res[3]
                    ttft = c / x_req - (o - 1.0) * tpot  # Little's law over every request, waiting included
                figures[V_TPOT] = tpot
                figures[V_TTFT] = ttft
                figures[V_RPS] = x_req
                figures[V_CAP] = cap
                figures[V_PREFILL_BOUND] = bound
                if keep:
                    for j in range(V_SIZE):
                        out[j, index] = figures[j]
                if want_best or want_front:
                    x = x_req * o / chips
                    y = 1.0 / tpot
                    if is_feasible(x, y, tpot, ttft, c <= cap, limits):
                        if want_best:
                            keep_best(best, key, x, y, index, figures)
                        if want_front:
                            front = front_insert(front, count, key, x, y, index, figures)
    return front
