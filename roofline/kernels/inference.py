"""Inference kernels: the op table of one forward pass, prefill and decode times, memory per chip.

Conventions (documented once here, relied on everywhere):

* Tensor parallelism (Megatron style): attention heads and the MLP width are split over ``tp`` chips;
  K/V heads are split too, and replicated when ``tp`` exceeds them (each chip then holds one). Two
  all-reduces of the hidden states per layer. Vocabulary-parallel embedding and LM head; the logits are
  gathered in fp32.
* Attention is FlashAttention-style: the score matrix never reaches HBM. Each new token attends to every
  earlier token in its sequence (causal), capped by the sliding window; a prefill from empty therefore
  costs q(q+1)/2 key visits, half the full square. HBM traffic is the KV cache read once per pass, the
  new K/V written once, Q read and the output written.
* The embedding is a gather: only the batch's rows are read. The LM head is a full GEMM over one token
  per sequence (the last one), reading the whole (vocab/tp x hidden) matrix.
* Quantised weight formats apply to the linear layers of the blocks; embeddings, LM head and norms stay
  in 16-bit (``W_ACT_BYTES``), as in TensorRT-LLM, vLLM and llm-compressor checkpoints.
* Norms and the MLP activation are elementwise: priced by the bytes they move, no tensor FLOPs. Biases
  are counted in memory but their (negligible) traffic and FLOPs are not.
"""

from roofline._jit import kernel
from roofline.kernels.layout import (
    H_HBM_BYTES, H_MEM_FRACTION, H_STEP_OVERHEAD, H_UP_DOMAIN, M_FFN, M_GATED, M_HEAD_DIM, M_HEADS,
    M_HIDDEN, M_KV_HEADS, M_LAYERS, M_MLP_BIAS, M_NORM_PARAMS, M_O_BIAS, M_POS_ROWS, M_QKV_BIAS, M_TIED,
    M_VOCAB, M_WINDOW, N_OPS, OP_AR_ATTN, OP_AR_MLP, OP_ATTN, OP_ATTN_NORM, OP_COUNT, OP_EMBED,
    OP_FINAL_NORM, OP_FLOPS, OP_GATHER_LOGITS, OP_HBM, OP_LINK, OP_LM_HEAD, OP_MLP_ACT, OP_MLP_DOWN,
    OP_MLP_NORM, OP_MLP_UP, OP_O_PROJ, OP_PP_SEND, OP_QKV, OP_SCALE_OUT, OP_STEPS, W_ACT_BYTES, W_BATCH,
    W_INPUT, W_KV_BYTES, W_MAX_TOKENS, W_OUTPUT, W_PP, W_TP, W_WEIGHT_BYTES,
)
from roofline.kernels.roofline import (
    price_ops, set_allgather, set_allreduce, set_gemm, set_memory_op, set_send,
)


@kernel
def kv_heads_per_chip(m, tp):
    """K/V heads held by each chip: split over TP, replicated (one per chip) when TP exceeds them."""
    if tp >= m[M_KV_HEADS]:
        return 1.0
    return m[M_KV_HEADS] / tp


@kernel
def attended_keys(q, c0, window):
    """Key visits of ``q`` new tokens after ``c0`` cached ones: sum over j=1..q of min(c0 + j, window)."""
    if window <= 0.0:
        return q * c0 + q * (q + 1.0) / 2.0
    free = window - c0
    if free < 0.0:
        free = 0.0
    if free > q:
        free = q
    return free * c0 + free * (free + 1.0) / 2.0 + (q - free) * window


@kernel
def cached_tokens(ctx, window):
    """Tokens a sequence keeps in its KV cache at context ``ctx``."""
    if window > 0.0 and ctx > window:
        return window
    return ctx


@kernel
def attention_cost(m, w, seqs, q, c0):
    """(FLOPs, HBM bytes) per chip of ``seqs`` sequences attending with ``q`` new tokens after ``c0``
    cached ones: QK^T and PV (2 FLOPs per multiply-add each) over the visited keys; the cache read once,
    the new K/V written, Q read and the output written."""
    tp = w[W_TP]
    hd = m[M_HEAD_DIM]
    q_dim = m[M_HEADS] / tp * hd
    kv_dim = kv_heads_per_chip(m, tp) * hd
    kvb = w[W_KV_BYTES]
    flops = 4.0 * hd * (m[M_HEADS] / tp) * attended_keys(q, c0, m[M_WINDOW]) * seqs
    hbm = seqs * (cached_tokens(c0 + q, m[M_WINDOW]) * 2.0 * kv_dim * kvb
                  + q * (2.0 * kv_dim * kvb + 2.0 * q_dim * w[W_ACT_BYTES]))
    return flops, hbm


@kernel
def fill_pass(m, w, domain, q, c0, layers, first, last, sends, ops):
    """Fill ``ops`` (N_OPS x OP_COLS) with one forward pass on one chip.

    ``q`` new tokens per sequence after ``c0`` cached ones, for ``w[W_BATCH]`` sequences, over ``layers``
    blocks; ``first``/``last`` (0 or 1) say whether the embedding and the final norm + LM head are in
    this pass; ``sends`` is the number of pipeline point-to-point sends.
    """
    b = w[W_BATCH]
    tokens = b * q
    tp = w[W_TP]
    pp = w[W_PP]
    h = m[M_HIDDEN]
    hd = m[M_HEAD_DIM]
    q_dim = m[M_HEADS] / tp * hd
    kv_dim = kv_heads_per_chip(m, tp) * hd
    ffn = m[M_FFN] / tp
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    wb = w[W_WEIGHT_BYTES]
    ab = w[W_ACT_BYTES]
    tp_out = 1.0 if tp > domain else 0.0
    pp_out = 1.0 if tp * pp > domain else 0.0
    norm_bytes = 2.0 * tokens * h * ab + m[M_NORM_PARAMS] * ab

    set_memory_op(ops, OP_EMBED, tokens * h * ab / tp + tokens * h * ab, first)
    set_memory_op(ops, OP_ATTN_NORM, norm_bytes, layers)
    set_gemm(ops, OP_QKV, tokens, h, q_dim + 2.0 * kv_dim, wb, ab, layers)
    attn_flops, attn_hbm = attention_cost(m, w, b, q, c0)
    ops[OP_ATTN, OP_FLOPS] = attn_flops
    ops[OP_ATTN, OP_HBM] = attn_hbm
    ops[OP_ATTN, OP_LINK] = 0.0
    ops[OP_ATTN, OP_STEPS] = 0.0
    ops[OP_ATTN, OP_SCALE_OUT] = 0.0
    ops[OP_ATTN, OP_COUNT] = layers
    set_gemm(ops, OP_O_PROJ, tokens, q_dim, h, wb, ab, layers)
    set_allreduce(ops, OP_AR_ATTN, tokens * h * ab, tp, tp_out, layers)
    set_memory_op(ops, OP_MLP_NORM, norm_bytes, layers)
    set_gemm(ops, OP_MLP_UP, tokens, h, n_in * ffn, wb, ab, layers)
    set_memory_op(ops, OP_MLP_ACT, tokens * (n_in + 1.0) * ffn * ab, layers)
    set_gemm(ops, OP_MLP_DOWN, tokens, ffn, h, wb, ab, layers)
    set_allreduce(ops, OP_AR_MLP, tokens * h * ab, tp, tp_out, layers)
    set_memory_op(ops, OP_FINAL_NORM, norm_bytes, last)
    set_gemm(ops, OP_LM_HEAD, b, h, m[M_VOCAB] / tp, ab, ab, last)
    set_allgather(ops, OP_GATHER_LOGITS, b * m[M_VOCAB] / tp * 4.0, tp, tp_out, last)
    set_send(ops, OP_PP_SEND, tokens * h * ab, pp_out, sends)


@kernel
def prefill_time(m, w, hw, ops, priced):
    """Seconds to prefill ``w[W_BATCH]`` prompts of ``w[W_INPUT]`` tokens in one pass (time to first
    token): the batch flows through the ``pp`` stages one after another, with ``pp - 1`` sends."""
    pp = w[W_PP]
    fill_pass(m, w, hw[H_UP_DOMAIN], w[W_INPUT], 0.0, m[M_LAYERS], 1.0, 1.0, pp - 1.0, ops)
    return price_ops(ops, N_OPS, hw, priced) + pp * hw[H_STEP_OVERHEAD]


@kernel
def decode_step_time(m, w, hw, c0, ops, priced):
    """Seconds per output token for each of ``w[W_BATCH]`` sequences with ``c0`` tokens cached.

    Without pipeline parallelism: one pass over the whole model. With ``pp`` stages the batch is split
    into min(pp, batch) micro-batches that circulate through the stages; a sequence gets its next token
    once its micro-batch has visited every stage, so the time per token is ``pp`` stage times (the
    stage priced is the last one, which also carries the LM head).
    """
    pp = w[W_PP]
    if pp <= 1.0:
        fill_pass(m, w, hw[H_UP_DOMAIN], 1.0, c0, m[M_LAYERS], 1.0, 1.0, 0.0, ops)
        return price_ops(ops, N_OPS, hw, priced) + hw[H_STEP_OVERHEAD]
    b = w[W_BATCH]
    micro = pp if b > pp else b
    stage = w.copy()
    stage[W_BATCH] = -(-b // micro)
    layers = -(-m[M_LAYERS] // pp)
    fill_pass(m, stage, hw[H_UP_DOMAIN], 1.0, c0, layers, 0.0, 1.0, 1.0, ops)
    return pp * (price_ops(ops, N_OPS, hw, priced) + hw[H_STEP_OVERHEAD])


@kernel
def linear_params_per_chip(m, tp):
    """Parameters of one block's linear layers on one TP rank (Q, K, V, O and the MLP)."""
    h = m[M_HIDDEN]
    q_dim = m[M_HEADS] / tp * m[M_HEAD_DIM]
    kv_dim = kv_heads_per_chip(m, tp) * m[M_HEAD_DIM]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    return h * q_dim + 2.0 * h * kv_dim + q_dim * h + (n_in + 1.0) * h * m[M_FFN] / tp


@kernel
def weight_bytes_per_chip(m, w):
    """Bytes of weights on the most loaded chip (TP shards; with PP the first or last stage)."""
    tp = w[W_TP]
    pp = w[W_PP]
    h = m[M_HIDDEN]
    hd = m[M_HEAD_DIM]
    q_dim = m[M_HEADS] / tp * hd
    kv_dim = kv_heads_per_chip(m, tp) * hd
    ffn = m[M_FFN] / tp
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    linear = linear_params_per_chip(m, tp)
    small = 2.0 * m[M_NORM_PARAMS]
    if m[M_QKV_BIAS] > 0.5:
        small += q_dim + 2.0 * kv_dim
    if m[M_O_BIAS] > 0.5:
        small += h
    if m[M_MLP_BIAS] > 0.5:
        small += n_in * ffn + h
    layer = linear * w[W_WEIGHT_BYTES] + small * w[W_ACT_BYTES]
    embed = (m[M_VOCAB] / tp + m[M_POS_ROWS]) * h * w[W_ACT_BYTES]
    head = m[M_VOCAB] / tp * h * w[W_ACT_BYTES] + m[M_NORM_PARAMS] * w[W_ACT_BYTES]
    if pp <= 1.0:
        if m[M_TIED] > 0.5:
            head = m[M_NORM_PARAMS] * w[W_ACT_BYTES]
        return m[M_LAYERS] * layer + embed + head
    stage_layers = -(-m[M_LAYERS] // pp)
    return stage_layers * layer + (embed if embed > head else head)


@kernel
def kv_bytes_per_chip(m, w, ctx):
    """KV-cache bytes on one chip for ``w[W_BATCH]`` sequences of ``ctx`` tokens."""
    stage_layers = -(-m[M_LAYERS] // w[W_PP])
    per_token = 2.0 * kv_heads_per_chip(m, w[W_TP]) * m[M_HEAD_DIM] * w[W_KV_BYTES] * stage_layers
    return w[W_BATCH] * cached_tokens(ctx, m[M_WINDOW]) * per_token


@kernel
def workspace_bytes_per_chip(m, w):
    """Transient activation bytes of the largest forward pass: residual, normed input and the widest
    intermediate (QKV or MLP) for min(batch x input, W_MAX_TOKENS) tokens (at least one per sequence),
    plus the fp32 logits of the batch."""
    tp = w[W_TP]
    b = w[W_BATCH]
    tokens = b * w[W_INPUT]
    if tokens > w[W_MAX_TOKENS]:
        tokens = w[W_MAX_TOKENS]
    if tokens < b:
        tokens = b
    hd = m[M_HEAD_DIM]
    qkv = (m[M_HEADS] / tp + 2.0 * kv_heads_per_chip(m, tp)) * hd
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    mlp = (n_in + 1.0) * m[M_FFN] / tp
    widest = qkv if qkv > mlp else mlp
    return tokens * (2.0 * m[M_HIDDEN] + widest) * w[W_ACT_BYTES] + b * m[M_VOCAB] / tp * 4.0


@kernel
def memory_per_chip(m, w):
    """Weights + KV cache at the final context (input + output) + workspace, in bytes per chip."""
    ctx = w[W_INPUT] + w[W_OUTPUT]
    return weight_bytes_per_chip(m, w) + kv_bytes_per_chip(m, w, ctx) + workspace_bytes_per_chip(m, w)


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
