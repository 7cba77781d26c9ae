"""Times and memory of whole passes: prefill (time to first token), a decode step, memory per chip and
the largest batch that fits. The op table is :func:`roofline.kernels.forward.fill_pass`, priced by
:func:`roofline.kernels.roofline.price_ops`; sizes come from :mod:`roofline.kernels.shapes`.
"""

from roofline._jit import kernel
from roofline.kernels.forward import (
    DECODE_TOKENS, attention_at, attention_cost, attention_window, fill_pass, recurrent_cost, softmax_terms,
)
from roofline.kernels.layout import (
    DP_ACCEPT, DP_BATCH, DP_BYTES_PER_S, DP_CACHED, DP_COUNT, DP_FLOPS_PER_S, DP_FULL, DP_IDX_DIM, DP_IDX_HEADS,
    DP_KERNEL_S, DP_KVB, DP_NEW, DP_PER_KEY, DP_PP, DP_Q, DP_REC, DP_REC_FLOPS, DP_REC_HBM, DP_SEQS, DP_SEQ_S,
    DP_STEP_S, DP_SWA, DP_TOP_K, DP_WINDOW, H_HBM_BYTES, H_KERNEL_OVERHEAD, H_MEM_FRACTION, H_REQUEST_OVERHEAD,
    H_SEQ_OVERHEAD, H_STEP_OVERHEAD, H_UP_DOMAIN, M_ATTN_LAYERS, M_IDX_DIM, M_IDX_HEADS, M_LAYERS, M_REC_LAYERS,
    M_SPARSE_TOPK, M_SWA_LAYERS, N_OPS, OP_ATTN, OP_COUNT, OP_FLOPS, OP_HBM, W_ACCEPT, W_BATCH,
    W_DRAFT, W_INPUT, W_OUTPUT, W_PP,
)
from roofline.kernels.roofline import op_rates, op_time, price_ops, roofline_seconds
from roofline.kernels.shapes import kv_bytes_per_chip, weight_bytes_per_chip, workspace_bytes_per_chip


@kernel
def prefill_time(m, w, hw, ops, priced):
    """Seconds to prefill ``w[W_BATCH]`` prompts of ``w[W_INPUT]`` tokens in one pass (time to first
    token): the batch flows through the ``pp`` stages one after another, with ``pp - 1`` sends. The serving
    engine's costs (``H_*_OVERHEAD``: per stage pass, per kernel, per sequence, per request) are added."""
    pp = w[W_PP]
    fill_pass(m, w, hw[H_UP_DOMAIN], w[W_INPUT], 0.0, m[M_LAYERS], 1.0, 1.0, pp - 1.0, ops)
    return (price_ops(ops, N_OPS, hw, priced) + pp * hw[H_STEP_OVERHEAD] + w[W_BATCH] * hw[H_SEQ_OVERHEAD]
            + hw[H_REQUEST_OVERHEAD])


@kernel
def decode_step_time(m, w, hw, c0, ops, priced):
    """Seconds per output token for each of ``w[W_BATCH]`` sequences with ``c0`` tokens cached.

    Without pipeline parallelism: one pass over the whole model. With ``pp`` stages the batch is split
    into min(pp, batch) micro-batches that circulate through the stages; a sequence gets its next token
    once its micro-batch has visited every stage, so the time per token is ``pp`` stage times (the
    stage priced is the last one, which also carries the LM head). With speculative decoding each step
    verifies 1 + ``W_DRAFT`` tokens per sequence and emits ``W_ACCEPT`` of them on average: the time per
    output token is the step time divided by ``W_ACCEPT``. The engine's costs per step, per kernel and per
    sequence are in the step.

    Written as :func:`decode_step_at` over :func:`decode_other_ops`: only the attention row depends on the
    context, so a sweep prices the other rows once and the attention row at each context.
    """
    return decode_step_at(m, w, hw, c0, decode_other_ops(m, w, hw, c0, ops, priced), ops, priced)


@kernel
def decode_seqs(w):
    """Sequences in the pass a decode step prices: the batch, or with ``pp`` stages one micro-batch of the
    min(pp, batch) the batch is split into."""
    b = w[W_BATCH]
    pp = w[W_PP]
    if pp <= 1.0:
        return b
    micro = pp if b > pp else b
    return -(-b // micro)


@kernel
def decode_other_ops(m, w, hw, c0, ops, priced):
    """Fill ``ops`` with the pass of one decode step (:func:`decode_step_time`) at context ``c0`` and price
    every row into ``priced``; returns the seconds of every row but attention. None of those rows depends on
    the context (a decode step has ``c0`` > 0, which is all the other rows ask of it; tested), so a sweep
    calls this once per batch (with :func:`decode_attention_plan`) and :func:`decode_seconds` per context."""
    pp = w[W_PP]
    q = 1.0 + w[W_DRAFT]
    if pp <= 1.0:
        fill_pass(m, w, hw[H_UP_DOMAIN], q, c0, m[M_LAYERS], 1.0, 1.0, 0.0, ops)
    else:
        stage = w.copy()
        stage[W_BATCH] = decode_seqs(w)
        fill_pass(m, stage, hw[H_UP_DOMAIN], q, c0, -(-m[M_LAYERS] // pp), 0.0, 1.0, 1.0, ops)
    price_ops(ops, N_OPS, hw, priced)
    others = 0.0
    for i in range(N_OPS):
        if i != OP_ATTN:
            others += priced[i, 0]
    return others


@kernel
def decode_step_at(m, w, hw, c0, others, ops, priced):
    """Seconds per output token at context ``c0`` (:func:`decode_step_time`), given ``ops`` filled by
    :func:`decode_other_ops` for the same batch and ``others`` its return: the attention row is set and
    priced at ``c0`` (``priced`` updated), then the step is assembled."""
    flops, hbm = attention_cost(m, w, decode_seqs(w), 1.0 + w[W_DRAFT], c0)
    ops[OP_ATTN, OP_FLOPS] = flops
    ops[OP_ATTN, OP_HBM] = hbm
    t, bound = op_time(ops, OP_ATTN, hw)
    priced[OP_ATTN, 0] = t
    priced[OP_ATTN, 1] = bound
    return step_with_attention(w, hw, others, t)


@kernel
def step_with_attention(w, hw, others, t):
    """Seconds per output token of a decode step whose attention row takes ``t`` and the others ``others``:
    :func:`step_seconds` with this layout's and engine's figures."""
    accept = w[W_ACCEPT] if w[W_ACCEPT] > 0.0 else 1.0
    return step_seconds(others, t, w[W_PP], w[W_BATCH], hw[H_STEP_OVERHEAD], hw[H_SEQ_OVERHEAD], accept)


@kernel
def step_seconds(others, t, pp, b, step_s, seq_s, accept):
    """The decode step's rows (``others`` + attention ``t``) with the engine's costs per step and per
    sequence of ``b`` (per stage with ``pp`` stages), over the ``accept`` tokens it emits per sequence."""
    if pp <= 1.0:
        return (others + t + step_s + b * seq_s) / accept
    return (pp * (others + t + step_s) + b * seq_s) / accept


@kernel
def decode_attention_plan(m, w, hw, ops, plan):
    """Fill ``plan`` (``DP_SIZE``) with what :func:`decode_step_at` takes the same at every context, for
    ``ops`` filled by :func:`decode_other_ops`; :func:`decode_seconds` then prices a context from it with
    the very same arithmetic (a sweep loads the plan into scalars once per row). The attention row moves no
    link bytes (``fill_pass``), so its network time is 0 at every context."""
    q = 1.0 + w[W_DRAFT]
    seqs = decode_seqs(w)
    plan[DP_SEQS] = seqs
    plan[DP_Q] = q
    plan[DP_FULL] = m[M_ATTN_LAYERS] - m[M_SWA_LAYERS]
    plan[DP_SWA] = m[M_SWA_LAYERS]
    plan[DP_REC] = m[M_REC_LAYERS]
    plan[DP_WINDOW] = attention_window(m)
    plan[DP_TOP_K] = m[M_SPARSE_TOPK]
    plan[DP_IDX_DIM] = m[M_IDX_DIM]
    plan[DP_IDX_HEADS] = m[M_IDX_HEADS]
    plan[DP_PER_KEY], plan[DP_CACHED], plan[DP_KVB], plan[DP_NEW] = softmax_terms(m, w, q, q <= DECODE_TOKENS)
    plan[DP_REC_FLOPS] = 0.0
    plan[DP_REC_HBM] = 0.0
    if m[M_REC_LAYERS] > 0.0:
        plan[DP_REC_FLOPS], plan[DP_REC_HBM] = recurrent_cost(m, w, seqs, q)
    plan[DP_FLOPS_PER_S], plan[DP_BYTES_PER_S] = op_rates(OP_ATTN, hw)
    plan[DP_COUNT] = ops[OP_ATTN, OP_COUNT]
    plan[DP_KERNEL_S] = hw[H_KERNEL_OVERHEAD]
    plan[DP_PP] = w[W_PP]
    plan[DP_BATCH] = w[W_BATCH]
    plan[DP_STEP_S] = hw[H_STEP_OVERHEAD]
    plan[DP_SEQ_S] = hw[H_SEQ_OVERHEAD]
    plan[DP_ACCEPT] = w[W_ACCEPT] if w[W_ACCEPT] > 0.0 else 1.0


@kernel
def decode_seconds(c0, others, seqs, q, full, swa, rec, window, top_k, idx_dim, idx_heads, per_key, cached, kvb,
                   new, rec_flops, rec_hbm, flops_per_s, bytes_per_s, count, kernel_s, pp, b, step_s, seq_s, accept):
    """:func:`decode_step_at` at context ``c0`` (> 0) from the ``DP_*`` entries of
    :func:`decode_attention_plan`, in that order, bit for bit (the same functions price it)."""
    flops, hbm = attention_at(seqs, q, c0, full, swa, rec, window, top_k, idx_dim, idx_heads, per_key, cached, kvb,
                              new, rec_flops, rec_hbm)
    return step_from_attention_row(flops, hbm, others, flops_per_s, bytes_per_s, count, kernel_s, pp, b, step_s,
                                   seq_s, accept)


@kernel
def step_from_attention_row(flops, hbm, others, flops_per_s, bytes_per_s, count, kernel_s, pp, b, step_s, seq_s,
                            accept):
    """The decode step (:func:`step_seconds`) once its attention row's FLOPs and bytes are known."""
    t = 0.0
    if count > 0.0:
        t, _ = roofline_seconds(count, flops, hbm, 0.0, flops_per_s, bytes_per_s, kernel_s)
    return step_seconds(others, t, pp, b, step_s, seq_s, accept)


@kernel
def memory_per_chip(m, w):
    """Weights + workspace + KV cache at the final context (input + output), in bytes per chip."""
    return memory_without_cache(m, w) + kv_bytes_per_chip(m, w, w[W_INPUT] + w[W_OUTPUT])


@kernel
def memory_without_cache(m, w):
    """Weights + workspace in bytes per chip: :func:`memory_per_chip` but the KV cache, which alone depends on
    the output length."""
    return weight_bytes_per_chip(m, w) + workspace_bytes_per_chip(m, w)


@kernel
def max_batch(m, w, hw):
    """Largest number of sequences whose weights, KV cache and workspace fit in the usable HBM
    (0 when not even one does)."""
    usable = hw[H_HBM_BYTES] * hw[H_MEM_FRACTION]
    trial = w.copy()
    trial[W_BATCH] = 1.0
    if memory_per_chip(m, trial) > usable:
        return 0.0
    lo = 1.0
    hi = 2.0
    trial[W_BATCH] = hi
    while memory_per_chip(m, trial) <= usable and hi < 1e12:
        lo = hi
        hi = hi * 2.0
        trial[W_BATCH] = hi
    while hi - lo > 1.0:
        mid = (lo + hi) // 2.0
        trial[W_BATCH] = mid
        if memory_per_chip(m, trial) <= usable:
            lo = mid
        else:
            hi = mid
    return lo


@kernel
def mean_decode_context(input_len, output_len):
    """Tokens cached before the mean decode step, input + (output - 1) / 2; decode time is affine in the
    context, so the step at this context is the mean time per output token."""
    return input_len + (output_len - 1.0) / 2.0
