"""Serving kernels: the engine step of an in-flight-batching server, and its steady state.

Model of one replica (all assumptions here, restated in the README):

* C requests are in flight (closed loop: a finished request is replaced at once). Each has I prompt
  tokens and O output tokens; the prefill produces the first output token, then O - 1 decode steps.
* Each engine step runs one decode token for every decoding sequence plus prefill tokens of new
  requests, up to a token budget per step (decodes count against it). GEMMs run over all tokens of the
  step and read the weights once; attention runs per sequence over its own context.
* Chunked engines split a prompt into n_c = ceil(I / (budget - decodes)) chunks over consecutive steps;
  whole-prompt engines prefill each prompt in one step (n_c = 1).
* Steady state (mean-value): a request lives L = n_c + O - 1 steps, so a = C / L new requests start per
  step. A fraction f = min(1, a n_c) of steps carry prefill ("mixed" steps: max(1, a n_c) requests
  prefilling, the other C - max(1, a n_c) decoding); the rest are pure decode steps with C decoding.
  Decoding sequences sit at the mean decode context I + (O - 1) / 2; chunks at their mean prefix.
* A decoding sequence meets the mixed steps that are not its own prefill: g = max(0, f L - n_c) / (O - 1)
  of its steps. TPOT = g t_mixed + (1 - g) t_decode; TTFT = n_c t_mixed; latency R = TTFT + (O-1) TPOT;
  requests/s X = C / R (Little's law).
* When new prompts need more tokens per step than the budget leaves, prefill is the bottleneck: every
  step is full (decodes D = budget (O-1) / (I+O-1), prefill budget - D), X = prefill tokens per second / I,
  and requests queue for prefill (their wait is in TTFT).
At C = 1 the model reduces exactly to a lone prefill followed by batch-1 decode steps.
"""

import numpy as np

from roofline._jit import glue, kernel
from roofline.kernels.forward import attention_cost, fill_pass
from roofline.kernels.layout import (
    BOUND_COMPUTE, BOUND_NETWORK, C_PREFILL_BOUND, C_RPS, C_STEP, C_TPOT, C_TTFT, E_BUDGET, E_CHUNKED, E_FREE_RULE,
    E_MAX_SEQS, E_MEMORY_FRACTION, E_RESERVE_FULL, H_HBM_BYTES, H_REQUEST_OVERHEAD, H_SEQ_OVERHEAD, H_STEP_OVERHEAD,
    H_UP_DOMAIN, M_HIDDEN, M_LAYERS, M_VOCAB, N_OPS, OP_ATTN, OP_COUNT, OP_EXPERT_ACT, OP_EXPERT_DOWN, OP_EXPERT_UP,
    OP_FLOPS, OP_GATHER_LOGITS, OP_HBM, OP_LM_HEAD, OP_STEPS, P_ATTENTION, P_COMPUTE, P_EXPERT_COMPUTE, P_EXPERT_MEMORY,
    P_FIXED, P_KV, P_LAUNCHES, P_MEMORY, P_STEPS, V_CAP, V_PREFILL_BOUND, V_RPS, V_TPOT, V_TTFT, W_ACT_BYTES, W_BATCH,
    W_INPUT, W_MAX_TOKENS, W_OUTPUT, W_PP, W_TP,
)
from roofline.kernels.roofline import price_ops, set_allgather, set_gemm
from roofline.kernels.shapes import (
    head_weight_bytes, kv_bytes_per_chip, weight_bytes_per_chip, workspace_bytes_per_chip,
)


@kernel
def step_time(m, w, hw, tokens, rows, attn_flops, attn_hbm, ops, priced):
    """Seconds of one engine step carrying ``tokens`` new tokens over all its sequences, ``rows`` of which
    sample a token (the LM head runs on them), their attention costing ``attn_flops`` FLOPs and
    ``attn_hbm`` HBM bytes per chip and per layer (summed over the step's sequences). GEMMs run over all
    the step's tokens and read the weights once. With ``pp`` stages the step circulates as ``pp``
    micro-batches, each a 1/pp share of it through one stage's layers (as in ``decode_step_time``)."""
    if tokens <= 0.0:
        return 0.0
    pp = w[W_PP]
    share = 1.0 / pp
    layers = -(-m[M_LAYERS] // pp)
    batch = w[W_BATCH]
    w[W_BATCH] = 1.0
    fill_pass(m, w, hw[H_UP_DOMAIN], tokens * share, 0.0, layers, 1.0 if pp <= 1.0 else 0.0, 1.0,
              0.0 if pp <= 1.0 else 1.0, ops)
    w[W_BATCH] = batch
    tp = w[W_TP]
    ab = w[W_ACT_BYTES]
    ops[OP_ATTN, OP_FLOPS] = attn_flops * share
    ops[OP_ATTN, OP_HBM] = attn_hbm * share
    sampled = rows * share
    set_gemm(ops, OP_LM_HEAD, sampled, m[M_HIDDEN], m[M_VOCAB] / tp, head_weight_bytes(m, w), ab, 1.0)
    set_allgather(ops, OP_GATHER_LOGITS, sampled * m[M_VOCAB] / tp * 4.0, tp, 1.0 if tp > hw[H_UP_DOMAIN] else 0.0,
                  1.0)
    return pp * (price_ops(ops, N_OPS, hw, priced) + hw[H_STEP_OVERHEAD])


@kernel
def step_parts(ops, priced, pp, base, parts):
    """Split the step just priced into ``parts`` (P_SIZE): the seconds of its ops by what bounds them and how
    they are priced (``P_COMPUTE``, ``P_MEMORY``, ``P_ATTENTION``, ``P_EXPERT_COMPUTE``, ``P_EXPERT_MEMORY``),
    the rest of its ``base`` seconds, one step, and the kernels it launches (op occurrences with work)."""
    for j in range(P_FIXED):
        parts[j] = 0.0
    for i in range(N_OPS):
        if ops[i, OP_COUNT] <= 0.0 or priced[i, 1] == BOUND_NETWORK:
            continue
        compute = priced[i, 1] == BOUND_COMPUTE
        if i == OP_EXPERT_UP or i == OP_EXPERT_ACT or i == OP_EXPERT_DOWN:
            k = P_EXPERT_COMPUTE if compute else P_EXPERT_MEMORY
        elif i == OP_ATTN:
            k = P_ATTENTION if compute else P_KV
        elif not compute:
            k = P_MEMORY
        else:
            k = P_COMPUTE
        parts[k] += pp * priced[i, 0]
    total = 0.0
    for j in range(P_FIXED):
        total += parts[j]
    parts[P_FIXED] = base - total
    parts[P_STEPS] = 1.0
    parts[P_LAUNCHES] = launched(ops, pp)


@kernel
def engine_step_time(m, w, hw, decodes, dec_c0, pre_seqs, pre_q, pre_c0, ops, priced):
    """Seconds of one engine step: ``decodes`` sequences decoding with ``dec_c0`` tokens cached, plus
    ``pre_seqs`` prompt chunks of ``pre_q`` tokens after ``pre_c0`` cached ones (:func:`step_time`), with the
    engine's cost per sequence carried."""
    f_dec, b_dec = attention_cost(m, w, decodes, 1.0, dec_c0)
    f_pre, b_pre = attention_cost(m, w, pre_seqs, pre_q, pre_c0)
    t = step_time(m, w, hw, decodes + pre_seqs * pre_q, decodes + pre_seqs, f_dec + f_pre, b_dec + b_pre, ops, priced)
    return t + hw[H_SEQ_OVERHEAD] * (decodes + pre_seqs)


@kernel
def launched(ops, pp):
    """Kernels the step just filled launches: op occurrences with work to do, on every stage."""
    n = 0.0
    for i in range(N_OPS):
        if ops[i, OP_COUNT] > 0.0 and (ops[i, OP_FLOPS] != 0.0 or ops[i, OP_HBM] != 0.0 or ops[i, OP_STEPS] != 0.0):
            n += ops[i, OP_COUNT]
    return pp * n


@kernel
def serving_closed_loop(m, w, hw, inflight, engine, ops, priced, out):
    """Steady state of ``inflight`` requests on one replica (see the module docstring).

    Writes out[C_TTFT] = TTFT of an admitted request (s), out[C_TPOT] = TPOT (s), out[C_RPS] = requests/s,
    out[C_PREFILL_BOUND] = 1 if prefill is the bottleneck else 0, out[C_STEP] = mean step time (s).
    """
    i_len = w[W_INPUT]
    o_len = w[W_OUTPUT]
    budget = engine[E_BUDGET]
    chunked = engine[E_CHUNKED]
    c = inflight
    dec_c0 = i_len + (o_len - 1.0) / 2.0
    n_c = 1.0
    avail = budget
    a = 0.0
    f = 0.0
    n_pre = 1.0
    d_mixed = 0.0
    for _ in range(8):
        length = n_c + o_len - 1.0
        a = c / length
        f = a * n_c
        if f > 1.0:
            f = 1.0
        n_pre = a * n_c
        if n_pre < 1.0:
            n_pre = 1.0
        d_mixed = c - n_pre
        if d_mixed < 0.0:
            d_mixed = 0.0
        avail = budget - d_mixed
        if avail < 1.0:
            avail = 1.0
        new_nc = 1.0
        if chunked > 0.5:
            new_nc = -(-i_len // avail)
        if new_nc == n_c:
            break
        n_c = new_nc
    chunk = i_len / n_c
    pre_tokens = a * i_len / f  # prefill tokens per mixed step
    # what the budget leaves the prompts; a whole-prompt engine always takes one whole prompt (as the simulation)
    limit = avail if chunked > 0.5 or avail > i_len else i_len
    if pre_tokens > limit * (1.0 + 1e-12) and o_len > 1.0:
        # prefill-bound: every step is full
        full = budget if budget > i_len or chunked > 0.5 else i_len
        dec = full * (o_len - 1.0) / (i_len + o_len - 1.0)
        if dec > c - 1.0:
            dec = c - 1.0
        if dec < 0.0:
            dec = 0.0
        pre = full - dec
        t = engine_step_time(m, w, hw, dec, dec_c0, pre / chunk, chunk, (i_len - chunk) / 2.0, ops, priced)
        x = pre / (i_len * t)
        latency = c / x
        out[C_TTFT] = latency - (o_len - 1.0) * t
        out[C_TPOT] = t
        out[C_RPS] = x
        out[C_PREFILL_BOUND] = 1.0
        out[C_STEP] = t
        return
    t_mixed = engine_step_time(m, w, hw, d_mixed, dec_c0, pre_tokens / chunk, chunk, (i_len - chunk) / 2.0,
                               ops, priced)
    t_dec = engine_step_time(m, w, hw, c, dec_c0, 0.0, 0.0, 0.0, ops, priced)
    g = 0.0
    if o_len > 1.0:
        g = (f * (n_c + o_len - 1.0) - n_c) / (o_len - 1.0)
        if g < 0.0:
            g = 0.0
        if g > 1.0:
            g = 1.0
    tpot = g * t_mixed + (1.0 - g) * t_dec
    ttft = n_c * t_mixed
    latency = ttft + (o_len - 1.0) * tpot
    out[C_TTFT] = ttft
    out[C_TPOT] = tpot
    out[C_RPS] = c / latency
    out[C_PREFILL_BOUND] = 0.0
    out[C_STEP] = f * t_mixed + (1.0 - f) * t_dec


@kernel
def engine_kv_budget(m, w, hw, engine, scratch):
    """Bytes of KV cache one chip of an attention group may hold under an engine's memory policy: the
    engine's share of HBM less the weights and the workspace of one ``E_BUDGET``-token step (TensorRT-LLM:
    its share of what those leave). ``scratch`` (W_SIZE) is scratch."""
    for j in range(len(scratch)):
        scratch[j] = w[j]
    scratch[W_MAX_TOKENS] = engine[E_BUDGET]
    scratch[W_BATCH] = 1.0
    weights = weight_bytes_per_chip(m, scratch)
    work = workspace_bytes_per_chip(m, scratch)
    hbm = hw[H_HBM_BYTES]
    if engine[E_FREE_RULE] > 0.5:
        return engine[E_MEMORY_FRACTION] * (hbm - weights - work)
    return engine[E_MEMORY_FRACTION] * hbm - weights - work


@kernel
def engine_kv_capacity(m, w, hw, engine, scratch):
    """Sequences whose KV cache fits on one attention group under an engine's memory policy: its KV budget
    (:func:`engine_kv_budget`) divided by the KV of one sequence at its held length (input + output, or
    input + output / 2 with paged KV), at most the engine's sequence cap."""
    budget = engine_kv_budget(m, w, hw, engine, scratch)
    held = w[W_INPUT] + (w[W_OUTPUT] if engine[E_RESERVE_FULL] > 0.5 else w[W_OUTPUT] / 2.0)
    per_seq = kv_bytes_per_chip(m, scratch, held)
    cap = 0.0
    if budget > 0.0:
        cap = budget // per_seq
    if engine[E_MAX_SEQS] > 0.0 and cap > engine[E_MAX_SEQS]:
        cap = engine[E_MAX_SEQS]
    return cap


@kernel
def engine_kv_tokens(m, w, hw, engine, scratch):
    """Tokens of KV cache one attention group holds under an engine's memory policy (0 when the weights
    leave no room): its KV budget divided by the bytes one cached token takes per chip."""
    budget = engine_kv_budget(m, w, hw, engine, scratch)
    if budget <= 0.0:
        return 0.0
    return budget // kv_bytes_per_chip(m, scratch, 1.0)


@glue
def replica_steady_state(m, w, hw, inflight, attn_dp, engine, ops, priced, out):
    """The closed-loop steady state of ``inflight`` requests on one replica (``out`` as in
    :func:`serving_closed_loop`). With ``attn_dp`` data-parallel attention groups (MoE models with
    ep > tp) each group runs inflight / attn_dp of them in lockstep with the others (the MoE layers join
    them), so the replica's request rate is attn_dp times a group's."""
    serving_closed_loop(m, w, hw, inflight / attn_dp, engine, ops, priced, out)
    out[C_RPS] = out[C_RPS] * attn_dp


@glue
def replica_at_concurrency(m, w, hw, engine, concurrency, attn_dp, scratch, ops, priced, steady, out):
    """``concurrency`` requests in a closed loop on one replica (``w[W_BATCH]`` 1): the engine runs as many
    as its KV cache holds (``attn_dp`` groups, each holding :func:`engine_kv_capacity`), the rest wait.

    Writes out[V_TPOT], out[V_TTFT] (Little's law over every request in the loop, waiting included),
    out[V_RPS] (requests/s of the replica), out[V_CAP] (sequences in flight at most) and
    out[V_PREFILL_BOUND]; the figures are NaN when not one sequence's KV cache fits. ``scratch``
    (W_SIZE) and ``steady`` (C_SIZE) are scratch.
    """
    cap = engine_kv_capacity(m, w, hw, engine, scratch) * attn_dp
    out[V_CAP] = cap
    if cap < 1.0:
        out[V_TPOT] = np.nan
        out[V_TTFT] = np.nan
        out[V_RPS] = np.nan
        out[V_PREFILL_BOUND] = np.nan
        return
    inflight = concurrency if concurrency < cap else cap
    replica_steady_state(m, w, hw, inflight, attn_dp, engine, ops, priced, steady)
    out[V_TPOT] = steady[C_TPOT]
    out[V_RPS] = steady[C_RPS]
    out[V_PREFILL_BOUND] = steady[C_PREFILL_BOUND]
    out[V_TTFT] = concurrency / steady[C_RPS] - (w[W_OUTPUT] - 1.0) * steady[C_TPOT] + hw[H_REQUEST_OVERHEAD]
