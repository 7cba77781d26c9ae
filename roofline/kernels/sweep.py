"""Sweep kernels: the cross product of serving configurations, priced by the single-estimate kernels.

A sweep is a table of *groups* (one chip profile, model, parallel layout and number formats each: the
packed vectors the single estimate builds) crossed with three numeric axes: batch, input length and
output length. Configuration ``k`` is group ``g``, batch ``b``, input ``i``, output ``o`` with
``k = ((g * nb + b) * ni + i) * no + o``; a *row* is one (group, batch) pair, ``r = g * nb + b``.
A kernel call prices the rows ``[row_lo, row_hi)``, so that callers can split the work over threads
(the compiled kernels release the GIL). The batch axis is the replica's: ``wbatch[g, b]`` is the
``W_BATCH`` that ``pack_workload`` gives it (sequences per attention group).

The arrays travel in three tuples: ``grid = (ms, hws, ws, groups, wbatch)`` (the packed models,
hardware vectors, workloads, the group table and the packed batches, all 2-D float64),
``axes = (batches, inputs, outputs)`` and ``reduction = (best, front, count)``, plus a tuple of
scratch arrays per kernel.

Every number comes from the scalar kernels a single estimate calls (``prefill_time``,
``decode_step_time``, ``memory_per_chip``; ``replica_at_concurrency`` for an in-flight engine):
nothing is priced here. What this module adds is the loop, the
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
from roofline.kernels.forward import one_kind, softmax_at
from roofline.kernels.inference import (
    decode_attention_plan, decode_other_ops, decode_seconds, mean_decode_context,
    prefill_time, step_from_attention_row,
)
from roofline.kernels.layout import (
    DP_ACCEPT, DP_BATCH, DP_BYTES_PER_S, DP_CACHED, DP_COUNT, DP_FLOPS_PER_S, DP_FULL, DP_IDX_DIM, DP_IDX_HEADS,
    DP_KERNEL_S, DP_KVB, DP_NEW, DP_PER_KEY, DP_PP, DP_Q, DP_REC, DP_REC_FLOPS, DP_REC_HBM, DP_SEQS, DP_SEQ_S,
    DP_STEP_S, DP_SWA, DP_TOP_K, DP_WINDOW, G_ATTN_DP, G_CHIPS, G_HW, G_KEY, G_MODEL, H_HBM_BYTES, H_MEM_FRACTION,
    L_BEST, L_MAX_TPOT, L_MAX_TTFT, L_PARETO, M_WINDOW, REC_FIGURES, REC_INDEX, REC_X, REC_Y, S_MEM, S_TPOT, S_TTFT,
    V_CAP, V_RPS, V_SIZE, V_TPOT, V_TTFT, W_BATCH, W_INPUT, W_OUTPUT,
)
from roofline.kernels.serving import replica_at_concurrency
from roofline.kernels.shapes import cache_parts, kv_bytes_from_parts, weight_bytes_per_chip, workspace_bytes_per_chip


#: What each sweep kernel inlines: the calls of its innermost loops, each with everything it calls, so that a
#: configuration costs no call, and the prefill (once per input length), whose row-invariant parts the
#: compiler then hoists out of the input loop; the calls made once per batch (the decode step's other rows,
#: the attention plan) stay calls and compile once each. Measured 2026-11-30 (one thread, the 1e7 full sweep
#: of benchmarks/bench_sweep.py): the prefill inlined ran the full sweep 1.4x as fast (0.31 s against 0.44 s)
#: and took the kernel's cold compile from 21 s to 56 s; inlining the once-per-batch calls as well ran it 1.2x as
#: fast again but took 155 s to compile, and the whole static kernel eight minutes. The serving kernel, with
#: three engine steps per configuration, compiles as plain calls. Kept here, beside the kernels, because numba's
#: disk cache keys a compiled kernel by its code alone: this file's source is part of the cache folder's name
#: (``_jit.cache_dir``), so a change to these sets compiles afresh instead of loading the other variant.
INLINE = {"sweep_static": frozenset({"decode_row", "mean_decode_context", "kv_bytes_from_parts", "is_feasible",
                                      "keep_best", "front_insert", "prefill_time"}),
           "sweep_serving": False}


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
def decode_row(plan, others, input_len, outputs, tpots):
    """``tpots[io]`` := the TPOT at ``input_len`` and each of ``outputs`` (:func:`decode_seconds` at the mean
    decode context) from the row's ``plan`` (:func:`decode_attention_plan`) and its other rows' seconds.

    The innermost loop of a sweep, kept apart so that it compiles to straight-line code over contiguous
    arrays (the compiler then prices several output lengths at once): one kind of token mixer prices its
    softmax layer alone (``forward.attention_at``'s first case), a mix goes through ``decode_seconds``; the
    same bits either way. The first loop restates that case rather than calling ``decode_seconds`` because the
    compiler does not take the kind test out of the loop: through ``decode_seconds`` alone the 1e7 sweeps of
    benchmarks/bench_sweep.py ran 1.3x (decode-only) and 1.1x (full) slower (one thread, 2026-11-30)."""
    seqs, q, full, swa, rec = plan[DP_SEQS], plan[DP_Q], plan[DP_FULL], plan[DP_SWA], plan[DP_REC]
    window, top_k, idx_dim, idx_heads = plan[DP_WINDOW], plan[DP_TOP_K], plan[DP_IDX_DIM], plan[DP_IDX_HEADS]
    per_key, cached, kvb, new = plan[DP_PER_KEY], plan[DP_CACHED], plan[DP_KVB], plan[DP_NEW]
    rec_flops, rec_hbm = plan[DP_REC_FLOPS], plan[DP_REC_HBM]
    fps, bps, count, kernel_s = plan[DP_FLOPS_PER_S], plan[DP_BYTES_PER_S], plan[DP_COUNT], plan[DP_KERNEL_S]
    pp, b, step_s, seq_s, accept = plan[DP_PP], plan[DP_BATCH], plan[DP_STEP_S], plan[DP_SEQ_S], plan[DP_ACCEPT]
    if one_kind(full, swa, rec):
        win = window if swa > 0.0 else 0.0
        for io in range(outputs.shape[0]):
            flops, hbm = softmax_at(seqs, q, mean_decode_context(input_len, outputs[io]), win, top_k, idx_dim,
                                    idx_heads, per_key, cached, kvb, new)
            tpots[io] = step_from_attention_row(flops, hbm, others, fps, bps, count, kernel_s, pp, b, step_s, seq_s,
                                                accept)
    else:
        for io in range(outputs.shape[0]):
            tpots[io] = decode_seconds(mean_decode_context(input_len, outputs[io]), others, seqs, q, full, swa, rec,
                                       window, top_k, idx_dim, idx_heads, per_key, cached, kvb, new, rec_flops,
                                       rec_hbm, fps, bps, count, kernel_s, pp, b, step_s, seq_s, accept)


@kernel
def sweep_static(grid, axes, row_lo, row_hi, decode_only, limits, out, reduction, scratch):
    """Price the rows ``[row_lo, row_hi)`` as ``roofline estimate`` does: TTFT the prefill of the whole
    batch, TPOT the decode step at the mean context, memory per chip at the final context.

    Only what changes along an axis is priced inside it: the decode step's rows but attention once per row
    (batch), the prefill and the memory but the KV cache once per input length, and per configuration the
    attention row at its context (from the parts of it that are the same at every context of the row:
    ``decode_attention_plan``) and the KV cache at its final context. The figures are those of the
    single-estimate kernels to the last bit (tested). Each input length's TPOTs and memories are priced in
    loops of their own (:func:`decode_row`) before the reductions read them, so that those loops stay
    straight-line code the compiler can run several configurations at a time.

    Parameters
    ----------
    grid : (ms, hws, ws, groups, wbatch)
        Packed models (n, M_SIZE), hardware vectors (chip x compute dtype, expected efficiency;
        n, H_SIZE), workloads (n_groups, W_SIZE), the group table (n_groups, G_SIZE) and the packed
        ``W_BATCH`` of each batch in each group (n_groups, nb); float64.
    axes : (batches, inputs, outputs)
        (nb,), (ni,), (no,) float64.
    decode_only : bool
        Price only the decode step (no TTFT, memory or reductions): ``out`` is (1, n) then.
    limits : (L_SIZE,) float64
    out : (S_SIZE, n_configs) or (S_SIZE, 0) float64
        Figures per configuration (``S_*`` rows), written at the configuration index; empty: not kept. The
        TTFT, which has no output length in it, is written once per (row, input length), at ``r * ni + ii``
        of its row (the rest of that row is never written, so its memory is never touched).
    reduction : (best, front, count)
        best (n_keys, REC_SIZE) updated in place (index -1: none yet); front, count (n_keys, cap,
        REC_SIZE) float64 and (n_keys,) int64: the Pareto fronts so far.
    scratch : (ops, priced, w, figures, prefill_ops, prefill_priced, plan, rows)
        (N_OPS, OP_COLS), (N_OPS, 2), (W_SIZE,), (S_SIZE,), (N_OPS, OP_COLS), (N_OPS, 2), (DP_SIZE,),
        (2, no) float64: the decode step's op table stays filled over a row while the prefill's has its own;
        ``plan`` holds the decode attention's parts that are the same at every context of a row; ``rows`` the
        TPOTs and memories of one input length when ``out`` keeps none.

    Returns the front array (reallocated when a front outgrew it).
    """
    ms = borrow(grid[0])
    hws = borrow(grid[1])
    ws = borrow(grid[2])
    groups = borrow(grid[3])
    wbatch = borrow(grid[4])
    batches = borrow(axes[0])
    inputs = borrow(axes[1])
    outputs = borrow(axes[2])
    limits = borrow(limits)
    out = borrow(out)
    best = borrow(reduction[0])
    front = reduction[1]
    count = borrow(reduction[2])
    ops = borrow(scratch[0])
    priced = borrow(scratch[1])
    w = borrow(scratch[2])
    figures = borrow(scratch[3])
    prefill_ops = borrow(scratch[4])
    prefill_priced = borrow(scratch[5])
    plan = borrow(scratch[6])
    rows = borrow(scratch[7])
    nb = batches.shape[0]
    ni = inputs.shape[0]
    no = outputs.shape[0]
    keep = out.shape[1] > 0
    want_best = limits[L_BEST] > 0.5
    want_front = limits[L_PARETO] > 0.5
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
        w[W_INPUT] = inputs[0]
        w[W_OUTPUT] = outputs[0]
        # every op of a decode step but attention is the same at every context: priced once per row
        others = decode_other_ops(m, w, hw, mean_decode_context(inputs[0], outputs[0]), ops, priced)
        decode_attention_plan(m, w, hw, ops, plan)
        if not decode_only:  # the memory but the KV cache's growth is the same along the input and output axes
            weights = weight_bytes_per_chip(m, w)
            grow, windowed, fixed = cache_parts(m, w)
            batch = w[W_BATCH]
            window = m[M_WINDOW]
        for ii in range(ni):
            w[W_INPUT] = inputs[ii]
            w[W_OUTPUT] = outputs[0]
            base = (r * ni + ii) * no
            # the tight loops: TPOT (and the memory) of every output length into the output's row (or, with
            # nothing kept, a scratch row the reductions read); no branch in them but the attention's own
            tpots = out[S_TPOT, base:base + no] if keep else rows[0]
            decode_row(plan, others, inputs[ii], outputs, tpots)
            if decode_only:
                continue
            ttft = prefill_time(m, w, hw, prefill_ops, prefill_priced)  # no output length in it
            fixed_mem = weights + workspace_bytes_per_chip(m, w)  # inference.memory_without_cache
            mems = out[S_MEM, base:base + no] if keep else rows[1]
            for io in range(no):
                mems[io] = fixed_mem + kv_bytes_from_parts(batch, grow, windowed, fixed, inputs[ii] + outputs[io],
                                                           window)
            if keep:
                out[S_TTFT, r * ni + ii] = ttft  # one per input length: the row's first n / no entries
            if want_best or want_front:
                for io in range(no):
                    tpot = tpots[io]
                    mem = mems[io]
                    x = b / tpot / chips
                    y = 1.0 / tpot
                    if is_feasible(x, y, tpot, ttft, mem <= usable, limits):
                        figures[S_TPOT] = tpot
                        figures[S_TTFT] = ttft
                        figures[S_MEM] = mem
                        if want_best:
                            keep_best(best, key, x, y, base + io, figures)
                        if want_front:
                            front = front_insert(front, count, key, x, y, base + io, figures)
    return front


@kernel
def sweep_serving(grid, axes, row_lo, row_hi, engines, limits, out, reduction, scratch):
    """Price the rows ``[row_lo, row_hi)`` as ``roofline estimate --concurrency B`` does: B requests in
    flight on one in-flight-batching replica (:func:`roofline.kernels.serving.replica_at_concurrency`).

    Arguments as :func:`sweep_static` (``grid``'s ``wbatch`` unused), plus ``engines`` (one E_SIZE policy
    per hardware row: an engine configures itself per chip); the
    scratch tuple is ``(ops, priced, w, figures, kv_scratch, steady)`` with ``kv_scratch`` (W_SIZE,)
    and ``steady`` (C_SIZE,); ``out`` and ``figures`` hold the ``V_*`` figures and the throughput is
    requests/s x output length. Returns the front array.
    """
    ms = borrow(grid[0])
    hws = borrow(grid[1])
    ws = borrow(grid[2])
    groups = borrow(grid[3])
    batches = borrow(axes[0])
    inputs = borrow(axes[1])
    outputs = borrow(axes[2])
    engines = borrow(engines)
    limits = borrow(limits)
    out = borrow(out)
    best = borrow(reduction[0])
    front = reduction[1]
    count = borrow(reduction[2])
    ops = borrow(scratch[0])
    priced = borrow(scratch[1])
    w = borrow(scratch[2])
    figures = borrow(scratch[3])
    kv_scratch = borrow(scratch[4])
    steady = borrow(scratch[5])
    nb = batches.shape[0]
    ni = inputs.shape[0]
    no = outputs.shape[0]
    keep = out.shape[1] > 0
    want_best = limits[L_BEST] > 0.5
    want_front = limits[L_PARETO] > 0.5
    for r in range(row_lo, row_hi):
        g = r // nb
        c = batches[r % nb]
        m = ms[int(groups[g, G_MODEL])]
        hw = hws[int(groups[g, G_HW])]
        engine = engines[int(groups[g, G_HW])]
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
                replica_at_concurrency(m, w, hw, engine, c, dp, kv_scratch, ops, priced, steady, figures)
                if keep:
                    for j in range(V_SIZE):
                        out[j, index] = figures[j]
                if want_best or want_front:
                    tpot = figures[V_TPOT]
                    x = figures[V_RPS] * o / chips
                    y = 1.0 / tpot
                    if is_feasible(x, y, tpot, figures[V_TTFT], c <= figures[V_CAP], limits):
                        if want_best:
                            keep_best(best, key, x, y, index, figures)
                        if want_front:
                            front = front_insert(front, count, key, x, y, index, figures)
    return front
