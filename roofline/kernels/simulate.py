"""The step-level simulation of one serving replica: requests in, engine steps priced one by one, times out.

Model (the assumptions, stated once):

* **Requests** are given in the order they are sent, with their prompt and output lengths. Closed loop
  (``K_CONCURRENCY`` = C > 0): the first C are sent at time 0 and each later one the moment an earlier
  one finishes, as a benchmark client with C users does (``vllm bench serve --max-concurrency``, SGLang's
  ``bench_serving``, genai-perf). Open loop (C = 0): each at its arrival time.
* **Admission** is first come, first served (a sequence evicted earlier goes first): a request joins the
  running batch while the batch is below the sequence cap and its KV cache fits. With full reservation
  (``E_RESERVE_FULL``, TensorRT-LLM's GUARANTEED_NO_EVICT) it holds prompt + output tokens from the start;
  with paged KV (vLLM, SGLang) it holds the tokens it has cached, and when the cache runs out the latest
  admitted sequence is evicted and later recomputed from its prompt and the tokens it had generated
  (vLLM's recompute preemption). A sliding window caps what a sequence holds; a recurrent layer's state is a
  fixed amount per sequence (the cache is counted in ``shapes.cache_units``).
* **A step** carries one token for every sequence that has finished its prompt, plus prompt tokens under
  the token budget ``E_BUDGET`` (decodes count against it): chunked engines cut prompts into chunks that
  fill the budget, in admission order; whole-prompt engines take prompts only whole, and always the first
  waiting one (one larger than the budget the decodes leave runs with them rather than wait behind the
  decodes for ever; later ones wait for a step with room). ``E_PREFILL_FIRST`` engines (SGLang) run prompt
  chunks in steps of their own, ahead of the decodes, whenever one is waiting; the others mix them (vLLM,
  TensorRT-LLM).
* **Its time** is :func:`roofline.kernels.serving.step_time` of its tokens, the sequences that sample a
  token and their attention (each prompt chunk over its own prefix, the decodes over their mean context),
  plus the engine's fixed costs (in the hardware vector: per step ``H_STEP_OVERHEAD``, per kernel launched
  ``H_KERNEL_OVERHEAD``, per sequence carried ``H_SEQ_OVERHEAD``).
  While no prompt waits, the running sequences decode in lockstep until the next event (one finishes, a
  request arrives, the paged cache fills); those steps are priced at once at their mean context, as decode
  time is affine in the context (the same property the closed form and ``decode_step_time`` use).
  The step that completes a prompt gives its first token; every decode gives one more. A request leaves
  with its last token, freeing its KV cache.

The kernel returns the send, first-token and finish time of every request, a histogram of inter-token
latencies (log-spaced bins from 10**ITL_LOG_MIN to 10**ITL_LOG_MAX s; weights = tokens) and ``Q_*``
figures. One attention group is simulated; data-parallel attention groups run in lockstep with it.
"""

import math

import numpy as np

from roofline._jit import borrow, kernel
from roofline.kernels.forward import attention_cost
from roofline.kernels.layout import (
    E_BUDGET, E_CHUNKED, E_PREFILL_FIRST, E_RESERVE_FULL, H_SEQ_OVERHEAD, ITL_BINS, ITL_LOG_MAX, ITL_LOG_MIN,
    K_CAPACITY, K_CONCURRENCY, K_MAX_SEQS, K_MAX_WORK, K_REQUESTS, P_SEQS, P_SIZE, Q_BUSY, Q_END,
    Q_PREEMPTIONS, Q_PREFILL_TIME, Q_STATUS, Q_STEPS, Q_WORK, W_PP,
)
from roofline.kernels.serving import step_parts, step_time
from roofline.kernels.shapes import cache_units


@kernel
def itl_bin(seconds):
    """The histogram bin of an inter-token latency."""
    if seconds <= 0.0:
        return 0
    k = int((math.log10(seconds) - ITL_LOG_MIN) * ITL_BINS / (ITL_LOG_MAX - ITL_LOG_MIN))
    if k < 0:
        return 0
    if k >= ITL_BINS:
        return ITL_BINS - 1
    return k


@kernel
def mark(marks, i, cum):
    """Row ``i`` of ``marks`` := the running sums ``cum``."""
    for j in range(cum.shape[0]):
        marks[i, j] = cum[j]


@kernel
def grow_kv(m, w, i, prompt, generated, held, used):
    """Paged KV: sequence ``i`` holds its cache up to its latest token; returns the cache in use (in
    :func:`~roofline.kernels.shapes.cache_units`)."""
    grown = cache_units(m, w, prompt[i] + generated[i] - 1.0)
    used += grown - held[i]
    held[i] = grown
    return used


@kernel
def retire(i, t, finish, send, at_finish, at_send, cum, held, used, users, sent, n, completed):
    """Request ``i`` finishes at ``t`` and frees its cache; a closed-loop user sends its next request at
    once. Returns (tokens in use, requests sent, requests completed)."""
    finish[i] = t
    mark(at_finish, i, cum)
    used -= held[i]
    held[i] = 0.0
    if users > 0 and sent < n:
        send[sent] = t
        mark(at_send, sent, cum)
        sent += 1
    return used, sent, completed + 1


@kernel
def priced_step(m, w, hw, tokens, rows, seqs, attn_flops, attn_hbm, ops, priced, parts):
    """Seconds of one engine step (:func:`roofline.kernels.serving.step_time`, with the engine's costs per
    step and per kernel in ``hw``) plus its cost per sequence carried; ``parts`` (P_SIZE) receives what it
    is made of."""
    t = step_time(m, w, hw, tokens, rows, attn_flops, attn_hbm, ops, priced) + hw[H_SEQ_OVERHEAD] * seqs
    step_parts(ops, priced, w[W_PP], t, parts)
    parts[P_SEQS] = seqs
    return t


@kernel
def simulate(m, w, hw, engine, client, requests, times, marks, state, ops, priced, itl, out):
    """Run one replica's engine over the requests (see the module docstring).

    Parameters
    ----------
    m, w, hw : float64 vectors
        Packed model, workload (its lengths unused: each request has its own) and hardware.
    engine : (E_SIZE,) float64
    client : (K_SIZE,) float64
    requests : (arrival, prompt, output)
        (N,) float64 each: arrival times (open loop), prompt tokens and output tokens.
    times : (send, first, finish)
        (N,) float64 each, written: when each request was sent, gave its first token and finished.
    marks : (at_send, at_first, at_finish)
        (N, P_SIZE) float64 each, written: the running sums of the steps' parts (``step_parts``: scaled
        and fixed seconds, steps, sequences, kernels) at those three moments, so that a request's TTFT and
        TPOT can be re-priced for other engine costs without simulating again (the calibration does).
    state : (prefilled, generated, prompt, held, last, chunk, running, front)
        Scratch: (N,) float64 x 6 and (N,) int64 x 2.
    ops, priced : (N_OPS, OP_COLS), (N_OPS, 2) float64 scratch.
    itl : (ITL_BINS,) float64, the inter-token latency histogram (tokens per bin), added to.
    out : (Q_SIZE,) float64, written.
    """
    arrival = borrow(requests[0])
    prompt_len = borrow(requests[1])
    output_len = borrow(requests[2])
    send = borrow(times[0])
    first = borrow(times[1])
    finish = borrow(times[2])
    at_send = borrow(marks[0])
    at_first = borrow(marks[1])
    at_finish = borrow(marks[2])
    prefilled = borrow(state[0])
    generated = borrow(state[1])
    prompt = borrow(state[2])
    held = borrow(state[3])
    last = borrow(state[4])
    chunk = borrow(state[5])
    running = borrow(state[6])
    front = borrow(state[7])
    n = int(client[K_REQUESTS])
    users = int(client[K_CONCURRENCY])
    capacity = client[K_CAPACITY]
    max_seqs = int(client[K_MAX_SEQS])
    budget = engine[E_BUDGET]
    chunked = engine[E_CHUNKED] > 0.5
    reserve = engine[E_RESERVE_FULL] > 0.5
    prefill_first = engine[E_PREFILL_FIRST] > 0.5
    for i in range(n):
        prefilled[i] = 0.0
        generated[i] = 0.0
        prompt[i] = prompt_len[i]
        held[i] = 0.0
        last[i] = 0.0
        send[i] = math.nan
        first[i] = math.nan
        finish[i] = math.nan
    for j in range(out.shape[0]):
        out[j] = 0.0
    cum = np.zeros(P_SIZE)
    parts = np.zeros(P_SIZE)
    t = 0.0
    sent = 0
    if users > 0:
        sent = users if users < n else n
        for i in range(sent):
            send[i] = 0.0
            mark(at_send, i, cum)
    next_fifo = 0
    n_front = 0
    n_running = 0
    used = 0.0
    completed = 0
    steps = 0
    preemptions = 0
    busy = 0.0
    prefill_time = 0.0
    max_work = client[K_MAX_WORK]
    work = 0.0
    while completed < n:
        work += 1.0 + n_running
        if max_work > 0.0 and work > max_work:
            out[Q_STATUS] = 2.0
            return
        if users == 0:
            while sent < n and arrival[sent] <= t:
                send[sent] = arrival[sent]
                mark(at_send, sent, cum)
                sent += 1
        # admission: first come, first served; an evicted sequence goes first
        while n_running < max_seqs:
            if n_front > 0:
                i = front[n_front - 1]
            elif next_fifo < sent:
                i = next_fifo
            else:
                break
            if reserve:
                need = cache_units(m, w, prompt[i] + output_len[i] - generated[i])
            else:
                need = cache_units(m, w, prompt[i])
            if used + need > capacity:
                if n_running == 0:
                    out[Q_STATUS] = 1.0
                    return
                break
            used += need
            held[i] = need
            running[n_running] = i
            n_running += 1
            if n_front > 0:
                n_front -= 1
            else:
                next_fifo += 1
        if n_running == 0:
            if users == 0 and sent < n:
                t = arrival[sent]
                continue
            out[Q_STATUS] = 1.0
            return
        # a stretch of pure decode steps: while no prompt is waiting to run, every running sequence decodes
        # in lockstep until the next event (the first of them finishes, the next arrival, the paged cache
        # filling up); price those steps at once, at their mean context (decode time is affine in it)
        all_decoding = True
        shortest = 1e300
        for r in range(n_running):
            i = running[r]
            if prefilled[i] < prompt[i]:
                all_decoding = False
                break
            left_out = output_len[i] - generated[i]
            if left_out < shortest:
                shortest = left_out
        if all_decoding and shortest > 1.0:
            ctx = 0.0
            for r in range(n_running):
                ctx += prompt[running[r]] + generated[running[r]] - 1.0
            n_dec = float(n_running)
            k = shortest
            if not reserve:
                room = (capacity - used) // n_dec
                if room < k:
                    k = room if room > 1.0 else 1.0
            if users == 0 and sent < n:
                f1, b1 = attention_cost(m, w, n_dec, 1.0, ctx / n_dec)
                dt1 = priced_step(m, w, hw, n_dec, n_dec, n_dec, f1, b1, ops, priced, parts)
                until = (arrival[sent] - t) // dt1
                if until < k:
                    k = until if until > 1.0 else 1.0
            if k > 1.0:
                f, b = attention_cost(m, w, n_dec, 1.0, ctx / n_dec + (k - 1.0) / 2.0)
                dt = priced_step(m, w, hw, n_dec, n_dec, n_dec, f, b, ops, priced, parts)
                for j in range(P_SIZE):
                    cum[j] += k * parts[j]
                start = t
                t += k * dt
                busy += k * dt
                steps += int(k)
                kept = 0
                for r in range(n_running):
                    i = running[r]
                    generated[i] += k
                    itl[itl_bin(start + dt - last[i])] += 1.0
                    itl[itl_bin(dt)] += k - 1.0
                    last[i] = t
                    if not reserve:
                        used = grow_kv(m, w, i, prompt, generated, held, used)
                    if generated[i] >= output_len[i]:
                        used, sent, completed = retire(i, t, finish, send, at_finish, at_send, cum, held, used,
                                                       users, sent, n, completed)
                    else:
                        running[kept] = i
                        kept += 1
                n_running = kept
                continue
        # compose the step: which sequences decode, and how many prompt tokens each chunk takes
        waiting_prompt = False
        for r in range(n_running):
            if prefilled[running[r]] < prompt[running[r]]:
                waiting_prompt = True
                break
        decode_now = not (prefill_first and waiting_prompt)
        n_dec = 0.0
        ctx = 0.0
        for r in range(n_running):
            i = running[r]
            chunk[r] = 0.0
            if decode_now and prefilled[i] >= prompt[i]:
                n_dec += 1.0
                ctx += prompt[i] + generated[i] - 1.0
        tokens = n_dec
        rows = n_dec
        seqs = n_dec
        attn_f = 0.0
        attn_b = 0.0
        if n_dec > 0.0:
            attn_f, attn_b = attention_cost(m, w, n_dec, 1.0, ctx / n_dec)
        left = budget - n_dec
        if waiting_prompt:
            for r in range(n_running):
                i = running[r]
                rem = prompt[i] - prefilled[i]
                if rem <= 0.0:
                    continue
                if chunked:
                    q = rem if rem < left else left
                    if q < 1.0:
                        break
                elif rem <= left or tokens == n_dec:
                    q = rem
                else:
                    break
                chunk[r] = q
                f, b = attention_cost(m, w, 1.0, q, prefilled[i])
                attn_f += f
                attn_b += b
                tokens += q
                seqs += 1.0
                left -= q
                if q >= rem:
                    rows += 1.0
        dt = priced_step(m, w, hw, tokens, rows, seqs, attn_f, attn_b, ops, priced, parts)
        for j in range(P_SIZE):
            cum[j] += parts[j]
        t += dt
        busy += dt
        if tokens > n_dec:
            prefill_time += dt
        steps += 1
        # apply the step: chunks advance, decodes emit, finished requests leave
        kept = 0
        for r in range(n_running):
            i = running[r]
            done = False
            if prefilled[i] < prompt[i]:
                if chunk[r] > 0.0:
                    prefilled[i] += chunk[r]
                    if prefilled[i] >= prompt[i]:
                        if generated[i] == 0.0:
                            first[i] = t
                            mark(at_first, i, cum)
                            generated[i] = 1.0
                        else:  # a recomputed sequence resumes: its next token comes with the recompute
                            generated[i] += 1.0
                            itl[itl_bin(t - last[i])] += 1.0
                        last[i] = t
                        done = generated[i] >= output_len[i]
            elif decode_now:
                generated[i] += 1.0
                itl[itl_bin(t - last[i])] += 1.0
                last[i] = t
                if not reserve:
                    used = grow_kv(m, w, i, prompt, generated, held, used)
                done = generated[i] >= output_len[i]
            if done:
                used, sent, completed = retire(i, t, finish, send, at_finish, at_send, cum, held, used, users, sent,
                                               n, completed)
            else:
                running[kept] = i
                kept += 1
        n_running = kept
        # paged KV: when the cache overflows, evict the latest admitted sequences and recompute them later
        while used > capacity and n_running > 1:
            n_running -= 1
            i = running[n_running]
            used -= held[i]
            held[i] = 0.0
            prompt[i] = prompt_len[i] + generated[i]
            prefilled[i] = 0.0
            front[n_front] = i
            n_front += 1
            preemptions += 1
    out[Q_STEPS] = steps
    out[Q_END] = t
    out[Q_PREEMPTIONS] = preemptions
    out[Q_BUSY] = busy
    out[Q_PREFILL_TIME] = prefill_time
    out[Q_WORK] = work
