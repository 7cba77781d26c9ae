"""The step-level simulation of a disaggregated deployment: prefill workers hand each prompt's KV cache to
decode workers.

Model (the assumptions, stated once):

* **Requests** are given in the order they are sent, with their prompt and output lengths. Closed loop
  (``D_USERS`` = C > 0): the first C are sent at time 0 and each later one the moment an earlier one
  finishes, as a benchmark client with C users does. Open loop (C = 0): each at its arrival time.
* **Prefill pool**: ``D_PF_WORKERS`` workers of ``D_PF_GROUPS`` attention groups each. A free worker takes
  the oldest waiting prompts, at most ``D_PF_BATCH`` per group, and computes them in one pass per group
  (the groups in lockstep, each with the largest share); a chunked engine cuts a pass whose tokens exceed
  its budget ``E_BUDGET`` into passes of equal size. A pass is priced as a serving step
  (:func:`roofline.kernels.simulate.priced_step`) at the prefill pool's layout and hardware.
* **Admission and KV transfer**: a prefilled prompt waits, first come first served, for a slot on the
  decode pool: the worker holding the fewest sequences that has room, its least-loaded group. The decode
  worker must hold the blocks before the cache can be written, so the transfer starts then: it leaves the
  prefill worker's link when that is free (a worker's transfers queue), taking ``D_LINK_LATENCY`` plus
  the prompt's KV bytes per chip at the decode layout over ``D_LINK_BW``. The first token reaches the
  client when the cache has arrived (TTFT includes waiting for a decode slot).
* **Decode pool**: ``D_DC_WORKERS`` workers of ``D_DC_GROUPS`` groups, each group holding at most
  ``D_DC_SLOTS`` sequences. A request whose cache has arrived joins its worker at the next step boundary
  (at once when the worker is idle). A worker's step carries one token for each of its sequences; its
  groups step in lockstep at the largest group's batch, attention at the mean context. A request
  finishes with its last token, ``output - 1`` steps after it joined, and frees its slot. Steps that
  nothing can interrupt (no finish, nothing able to join before they end) are priced at once at their mean
  context, as decode time is affine in it (the aggregated simulator does the same).

The kernel writes the send, prefill-end, first-token and finish time of every request and ``DQ_*``
figures.
"""

import math

import numpy as np

from roofline._jit import borrow, kernel
from roofline.kernels.forward import attention_cost
from roofline.kernels.layout import (
    D_DC_GROUPS, D_DC_SLOTS, D_DC_WORKERS, D_LINK_BW, D_LINK_LATENCY, D_MAX_WORK, D_PF_BATCH, D_PF_GROUPS,
    D_PF_WORKERS, D_REQUESTS, D_USERS, DQ_DC_BUSY, DQ_DC_STEPS, DQ_END, DQ_PF_BUSY, DQ_PF_PASSES, DQ_STATUS,
    DQ_WORK, E_BUDGET, E_CHUNKED, P_SIZE,
)
from roofline.kernels.shapes import kv_bytes_per_chip
from roofline.kernels.simulate import priced_step

#: Work counted for one priced pass or step (the op table priced), against a round of bookkeeping's 1.
PRICED_WORK = 30.0


@kernel
def prefill_pass_time(m, w, hw, engine, prompts, total_tokens, groups, ops, priced, parts):
    """Seconds for one prefill worker of ``groups`` attention groups to compute ``prompts`` prompts of
    ``total_tokens`` tokens in all: each group takes ceil(prompts / groups) of them (of the mean length),
    in one pass, or in equal passes of at most the budget with a chunked engine."""
    per_group = -(-prompts // groups)
    length = total_tokens / prompts
    tokens = per_group * length
    passes = 1.0
    if engine[E_CHUNKED] > 0.5 and tokens > engine[E_BUDGET]:
        passes = -(-tokens // engine[E_BUDGET])
    f, b = attention_cost(m, w, per_group, length, 0.0)
    dt = priced_step(m, w, hw, tokens / passes, per_group / passes, per_group, f / passes, b / passes, ops,
                     priced, parts)
    return passes * dt


@kernel
def decode_step_at(m, w, hw, batch, ctx, ops, priced, parts):
    """Seconds of one decode step of ``batch`` sequences per attention group at a mean context of ``ctx``."""
    f, b = attention_cost(m, w, batch, 1.0, ctx)
    return priced_step(m, w, hw, batch, batch, batch, f, b, ops, priced, parts)


@kernel
def decode_step_of(m, w, hw, worker, n_run, sum_prompt, sum_join, step, counts, groups, extra, ops, priced, parts):
    """Seconds of the next decode step of ``worker``: its largest group's batch at the mean context (plus
    ``extra`` tokens: the middle of a stretch of steps)."""
    batch = 0.0
    for g in range(groups):
        c = counts[worker, g]
        if c > batch:
            batch = c
    ctx = (sum_prompt[worker] - sum_join[worker] + n_run[worker] * step[worker]) / n_run[worker] + extra
    return decode_step_at(m, w, hw, batch, ctx, ops, priced, parts)


@kernel
def simulate_disagg(m, wp, hwp, wd, hwd, engine, spec, requests, times, state, slots, ops, priced, out):
    """Run a disaggregated deployment over the requests (see the module docstring).

    Parameters
    ----------
    m : the packed model. wp, hwp / wd, hwd : workload and hardware vectors of the prefill / decode pool.
    engine : (E_SIZE,) float64, the engine policy of both pools.
    spec : (D_SIZE,) float64.
    requests : (arrival, prompt, output), (N,) float64 each.
    times : (send, prefilled, first, finish), (N,) float64 each, written.
    state : (join_step, worker, group, pending, queue, source), (N,) float64 x 1 and (N,) int64 x 5: scratch.
    slots : (running, joining, counts): (workers, cap) int64 x 2 and (workers, groups) float64: scratch.
    ops, priced : (N_OPS, OP_COLS), (N_OPS, 2) float64 scratch.
    out : (DQ_SIZE,) float64, written.
    """
    arrival = borrow(requests[0])
    prompt = borrow(requests[1])
    output = borrow(requests[2])
    send = borrow(times[0])
    prefilled = borrow(times[1])
    first = borrow(times[2])
    finish = borrow(times[3])
    join_step = borrow(state[0])
    worker_of = borrow(state[1])
    group_of = borrow(state[2])
    pending = borrow(state[3])
    queue = borrow(state[4])
    source = borrow(state[5])
    running = borrow(slots[0])
    joining = borrow(slots[1])
    counts = borrow(slots[2])
    n = int(spec[D_REQUESTS])
    users = int(spec[D_USERS])
    n_pf = int(spec[D_PF_WORKERS])
    pf_groups = spec[D_PF_GROUPS]
    pf_take = int(spec[D_PF_BATCH] * pf_groups)
    n_dc = int(spec[D_DC_WORKERS])
    dc_groups = int(spec[D_DC_GROUPS])
    dc_slots = spec[D_DC_SLOTS]
    cap = int(dc_slots) * dc_groups
    bw = spec[D_LINK_BW]
    latency = spec[D_LINK_LATENCY]
    max_work = spec[D_MAX_WORK]
    for j in range(out.shape[0]):
        out[j] = 0.0
    if cap < 1 or pf_take < 1:
        out[DQ_STATUS] = 1.0
        return
    parts = np.zeros(P_SIZE)
    pf_end = np.full(n_pf, -1.0)
    pf_lo = np.zeros(n_pf, dtype=np.int64)
    pf_hi = np.zeros(n_pf, dtype=np.int64)
    link_free = np.zeros(n_pf)
    step_end = np.full(n_dc, -1.0)
    step = np.zeros(n_dc)
    n_run = np.zeros(n_dc)
    n_join = np.zeros(n_dc, dtype=np.int64)
    n_sending = np.zeros(n_dc, dtype=np.int64)
    min_end = np.full(n_dc, 1e300)
    stride = np.ones(n_dc)
    sum_prompt = np.zeros(n_dc)
    sum_join = np.zeros(n_dc)
    for k in range(n_dc):
        for g in range(dc_groups):
            counts[k, g] = 0.0
    for i in range(n):
        send[i] = math.nan
        prefilled[i] = math.nan
        first[i] = math.nan
        finish[i] = math.nan
    sent = 0
    if users > 0:
        sent = users if users < n else n
        for i in range(sent):
            send[i] = 0.0
    shortest = prompt[0]
    for i in range(n):
        if prompt[i] < shortest:
            shortest = prompt[i]
    quickest = prefill_pass_time(m, wp, hwp, engine, 1.0, shortest, pf_groups, ops, priced, parts) + latency
    t = 0.0
    pf_next = 0
    n_pending = 0
    q_head = 0
    q_tail = 0
    completed = 0
    pf_busy = 0.0
    dc_busy = 0.0
    dc_steps = 0.0
    passes = 0.0
    work = 0.0
    while completed < n:
        work += 1.0 + n_pf + n_dc + n_pending
        if max_work > 0.0 and work > max_work:
            out[DQ_STATUS] = 2.0
            out[DQ_WORK] = work
            return
        if users == 0:
            while sent < n and arrival[sent] <= t:
                send[sent] = arrival[sent]
                sent += 1
        # idle prefill workers take the oldest waiting prompts
        for p in range(n_pf):
            if pf_end[p] < 0.0 and pf_next < sent:
                k = sent - pf_next
                if k > pf_take:
                    k = pf_take
                total = 0.0
                for i in range(pf_next, pf_next + k):
                    total += prompt[i]
                dt = prefill_pass_time(m, wp, hwp, engine, float(k), total, pf_groups, ops, priced, parts)
                pf_lo[p] = pf_next
                pf_hi[p] = pf_next + k
                pf_next += k
                pf_end[p] = t + dt
                pf_busy += dt
                passes += 1.0
                work += PRICED_WORK
        # the next event
        nxt = 1e300
        for p in range(n_pf):
            if pf_end[p] >= 0.0 and pf_end[p] < nxt:
                nxt = pf_end[p]
        for j in range(n_pending):
            if first[pending[j]] < nxt:
                nxt = first[pending[j]]
        for k in range(n_dc):
            if step_end[k] >= 0.0 and step_end[k] < nxt:
                nxt = step_end[k]
        if users == 0 and sent < n and arrival[sent] < nxt:
            nxt = arrival[sent]
        if nxt >= 1e300:
            out[DQ_STATUS] = 1.0
            return
        t = nxt
        # prefill passes that end now: their prompts wait for a decode slot, first come first served
        for p in range(n_pf):
            if pf_end[p] >= 0.0 and pf_end[p] <= t:
                for i in range(pf_lo[p], pf_hi[p]):
                    prefilled[i] = t
                    source[i] = p
                    queue[q_tail] = i
                    q_tail += 1
                pf_end[p] = -1.0
        # decode steps that end now: every sequence gains a token; the finished ones leave
        for k in range(n_dc):
            if step_end[k] >= 0.0 and step_end[k] <= t:
                step[k] += stride[k]
                dc_steps += stride[k]
                step_end[k] = -1.0
                if step[k] >= min_end[k]:
                    kept = 0
                    low = 1e300
                    for r in range(int(n_run[k])):
                        i = running[k, r]
                        end = join_step[i] + output[i] - 1.0
                        if end <= step[k]:
                            finish[i] = t
                            completed += 1
                            counts[k, group_of[i]] -= 1.0
                            sum_prompt[k] -= prompt[i]
                            sum_join[k] -= join_step[i]
                            if users > 0 and sent < n:
                                send[sent] = t
                                sent += 1
                        else:
                            running[k, kept] = i
                            kept += 1
                            if end < low:
                                low = end
                    n_run[k] = kept
                    min_end[k] = low
        # admission: the waiting prompts, first come first served, to the least-loaded decode worker with
        # room; the slot is held from now, and the KV cache leaves the prefill worker's link when it is free
        while q_head < q_tail:
            best = -1
            load = 1e300
            for k in range(n_dc):
                held = n_run[k] + n_join[k] + n_sending[k]
                if held < cap and held < load:
                    load = held
                    best = k
            if best < 0:
                break
            i = queue[q_head]
            q_head += 1
            g_best = 0
            g_load = 1e300
            for g in range(dc_groups):
                if counts[best, g] < g_load:
                    g_load = counts[best, g]
                    g_best = g
            counts[best, g_best] += 1.0
            group_of[i] = g_best
            worker_of[i] = best
            n_sending[best] += 1
            p = source[i]
            start = t if t > link_free[p] else link_free[p]
            link_free[p] = start + latency + kv_bytes_per_chip(m, wd, prompt[i]) / bw
            first[i] = link_free[p]
            pending[n_pending] = i
            n_pending += 1
        # KV caches that arrive now: the request joins its decode worker (a one-token request is done)
        j = 0
        while j < n_pending:
            i = pending[j]
            if first[i] <= t:
                n_pending -= 1
                pending[j] = pending[n_pending]
                k = worker_of[i]
                n_sending[k] -= 1
                if output[i] <= 1.0:
                    finish[i] = t
                    completed += 1
                    counts[k, group_of[i]] -= 1.0
                    if users > 0 and sent < n:
                        send[sent] = t
                        sent += 1
                else:
                    joining[k, n_join[k]] = i
                    n_join[k] += 1
            else:
                j += 1
        # workers between steps start their next one, with the sequences that joined
        for k in range(n_dc):
            if step_end[k] < 0.0 and n_run[k] + n_join[k] > 0:
                for r in range(n_join[k]):
                    i = joining[k, r]
                    join_step[i] = step[k]
                    running[k, int(n_run[k])] = i
                    n_run[k] += 1.0
                    sum_prompt[k] += prompt[i]
                    sum_join[k] += step[k]
                    end = step[k] + output[i] - 1.0
                    if end < min_end[k]:
                        min_end[k] = end
                n_join[k] = 0
                dt = decode_step_of(m, wd, hwd, k, n_run, sum_prompt, sum_join, step, counts, dc_groups, 0.0, ops,
                                    priced, parts)
                # steps that nothing can interrupt run as one stretch, priced at their mean context (decode
                # time is affine in it): until this worker's next finish, and before anything could join it
                # (a pass in progress ending, a cache in transit to it arriving, or a request sent at another
                # worker's next step end or the next arrival, prefilled at the quickest)
                horizon = 1e300
                for p in range(n_pf):
                    if pf_end[p] >= 0.0 and pf_end[p] < horizon:
                        horizon = pf_end[p]
                for j in range(n_pending):
                    if worker_of[pending[j]] == k and first[pending[j]] < horizon:
                        horizon = first[pending[j]]
                soonest = 1e300
                for k2 in range(n_dc):
                    if k2 != k:
                        if step_end[k2] >= 0.0 and step_end[k2] < soonest:
                            soonest = step_end[k2]
                        elif step_end[k2] < 0.0 and n_run[k2] + n_join[k2] > 0 and t < soonest:
                            soonest = t
                if users == 0 and sent < n and arrival[sent] < soonest:
                    soonest = arrival[sent]
                if soonest < 1e300 and soonest + quickest < horizon:
                    horizon = soonest + quickest
                ks = min_end[k] - step[k]
                if horizon < 1e300:
                    room = (horizon - t) // dt
                    if room < ks:
                        ks = room
                if ks < 1.0:
                    ks = 1.0
                if ks > 1.0:
                    dt = decode_step_of(m, wd, hwd, k, n_run, sum_prompt, sum_join, step, counts, dc_groups,
                                        (ks - 1.0) / 2.0, ops, priced, parts)
                stride[k] = ks
                step_end[k] = t + ks * dt
                dc_busy += ks * dt
                work += PRICED_WORK
    out[DQ_END] = t
    out[DQ_PF_BUSY] = pf_busy
    out[DQ_DC_BUSY] = dc_busy
    out[DQ_DC_STEPS] = dc_steps
    out[DQ_PF_PASSES] = passes
    out[DQ_WORK] = work
