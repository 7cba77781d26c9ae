"""The op table of one forward pass: every op of a pass with its FLOPs, HBM bytes and link bytes.

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
* Mixture of experts (``M_EXPERTS > 0``): a share ``M_MOE_FRAC`` of the layers replace the dense MLP by a
  router (16-bit GEMM, h x E), shared experts (a dense MLP of ``M_SHARED_FFN``, TP-split) and routed
  experts. Routing is assumed uniform: each expert sees tokens x k / E of the tokens routed in its
  group, and a batch of T tokens touches E (1 - (1 - k/E)^T) distinct experts per layer in
  expectation, whose weights are read once; memory holds every expert. Spread over ep chips, the layer
  waits for the busiest: its experts touched and its token-expert pairs are each the binomial mean plus
  z sigma, z the expected largest of ep standard normals (``shapes.busiest_expert_load``; small decode
  batches touch a few experts, unevenly). Expert parallelism ``ep``: with
  ep <= tp the experts are spread over ep of the TP ranks and each is split tp/ep ways (the tokens are
  already on every TP rank; the TP all-reduce combines them); with ep > tp, attention runs data-parallel
  (ep/tp groups of tp chips, each with its own sequences) and the MoE layer is an all-to-all dispatch of
  each token to its k experts and a combine back, over the scale-up link while ep x pp fits the domain.
* Multi-head latent attention (``M_KV_LORA > 0``): the cache holds one latent of kv_lora + rope values per
  token per layer, shared by all heads (so replicated, not split, over TP). Projections: h x q_lora and
  h x (kv_lora + rope) replicated, q_lora x heads (nope + rope) and kv_lora x heads (nope + v) split over
  TP, each applied once per new token (decode absorbs the kv_lora x heads (nope + v) weights into the
  query and output; prefill decompresses the new keys and values: the same multiply count). Attention
  core per visited key: 2 heads (2 kv_lora + rope) FLOPs when decoding in the absorbed form,
  2 heads (nope + rope + v) when prefilling in the decompressed form.
"""

from roofline._jit import kernel
from roofline.kernels.layout import (
    M_EXPERTS, M_FFN, M_GATED, M_HEAD_DIM, M_HEADS, M_HIDDEN, M_KV_LORA, M_MOE_FFN, M_MOE_FRAC, M_NOPE_DIM,
    M_NORM_PARAMS, M_ROPE_DIM, M_SHARED_FFN, M_TOPK, M_V_DIM, M_VOCAB, M_WINDOW, OP_AR_ATTN, OP_AR_MLP,
    OP_ATTN, OP_ATTN_NORM, OP_COUNT, OP_EMBED, OP_EP_COMBINE, OP_EP_DISPATCH, OP_EXPERT_ACT, OP_EXPERT_DOWN,
    OP_EXPERT_UP, OP_FINAL_NORM, OP_FLOPS, OP_GATHER_LOGITS, OP_HBM, OP_LINK, OP_LM_HEAD, OP_MLP_ACT,
    OP_MLP_DOWN, OP_MLP_NORM, OP_MLP_UP, OP_O_PROJ, OP_PP_SEND, OP_QKV, OP_ROUTER, OP_SCALE_OUT,
    OP_SHARED_DOWN, OP_SHARED_UP, OP_STEPS, W_ACT_BYTES, W_BATCH, W_EP, W_KV_BYTES, W_PP, W_TP,
    W_WEIGHT_BYTES,
)
from roofline.kernels.roofline import set_allgather, set_allreduce, set_alltoall, set_gemm, set_memory_op, set_send
from roofline.kernels.shapes import (
    attention_in_params, attention_out_width, busiest_expert_load, cached_tokens, expert_split, kv_values_per_token,
)


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
def attention_cost(m, w, seqs, q, c0):
    """(FLOPs, HBM bytes) per chip of ``seqs`` sequences attending with ``q`` new tokens after ``c0``
    cached ones: QK^T and PV (2 FLOPs per multiply-add each) over the visited keys; the cache read once,
    the new K/V written, Q read and the output written."""
    tp = w[W_TP]
    heads = m[M_HEADS] / tp
    kvb = w[W_KV_BYTES]
    keys = attended_keys(q, c0, m[M_WINDOW])
    cached = kv_values_per_token(m, tp)
    if m[M_KV_LORA] > 0.0:
        if q <= 16.0 and c0 > 0.0:  # decode (and speculative verification): absorbed form over the latent
            per_key = 2.0 * heads * (2.0 * m[M_KV_LORA] + m[M_ROPE_DIM])
            q_width = heads * (m[M_KV_LORA] + m[M_ROPE_DIM])
        else:  # prefill: keys and values decompressed per head
            per_key = 2.0 * heads * (m[M_NOPE_DIM] + m[M_ROPE_DIM] + m[M_V_DIM])
            q_width = heads * (m[M_NOPE_DIM] + m[M_ROPE_DIM])
        out_width = heads * m[M_V_DIM]
    else:
        hd = m[M_HEAD_DIM]
        per_key = 4.0 * hd * heads
        q_width = heads * hd
        out_width = q_width
    flops = per_key * keys * seqs
    hbm = seqs * (cached_tokens(c0 + q, m[M_WINDOW]) * cached * kvb
                  + q * (cached * kvb + (q_width + out_width) * w[W_ACT_BYTES]))
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
    ffn = m[M_FFN] / tp
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    wb = w[W_WEIGHT_BYTES]
    ab = w[W_ACT_BYTES]
    tp_out = 1.0 if tp > domain else 0.0
    pp_out = 1.0 if tp * pp > domain else 0.0
    norm_bytes = 2.0 * tokens * h * ab + m[M_NORM_PARAMS] * ab
    moe_frac = m[M_MOE_FRAC] if m[M_EXPERTS] > 0.0 else 0.0
    dense_layers = layers * (1.0 - moe_frac)
    moe_layers = layers * moe_frac

    set_memory_op(ops, OP_EMBED, tokens * h * ab / tp + tokens * h * ab, first)
    set_memory_op(ops, OP_ATTN_NORM, norm_bytes, layers)
    p_in = attention_in_params(m, tp)
    ops[OP_QKV, OP_FLOPS] = 2.0 * tokens * p_in
    ops[OP_QKV, OP_HBM] = p_in * wb + tokens * (h + p_in / h) * ab
    ops[OP_QKV, OP_LINK] = 0.0
    ops[OP_QKV, OP_STEPS] = 0.0
    ops[OP_QKV, OP_SCALE_OUT] = 0.0
    ops[OP_QKV, OP_COUNT] = layers
    attn_flops, attn_hbm = attention_cost(m, w, b, q, c0)
    ops[OP_ATTN, OP_FLOPS] = attn_flops
    ops[OP_ATTN, OP_HBM] = attn_hbm
    ops[OP_ATTN, OP_LINK] = 0.0
    ops[OP_ATTN, OP_STEPS] = 0.0
    ops[OP_ATTN, OP_SCALE_OUT] = 0.0
    ops[OP_ATTN, OP_COUNT] = layers
    set_gemm(ops, OP_O_PROJ, tokens, attention_out_width(m, tp), h, wb, ab, layers)
    set_allreduce(ops, OP_AR_ATTN, tokens * h * ab, tp, tp_out, layers)
    set_memory_op(ops, OP_MLP_NORM, norm_bytes, layers)
    set_gemm(ops, OP_MLP_UP, tokens, h, n_in * ffn, wb, ab, dense_layers)
    set_memory_op(ops, OP_MLP_ACT, tokens * (n_in + 1.0) * ffn * ab, dense_layers)
    set_gemm(ops, OP_MLP_DOWN, tokens, ffn, h, wb, ab, dense_layers)
    set_allreduce(ops, OP_AR_MLP, tokens * h * ab, tp, tp_out, layers)
    fill_moe(m, w, domain, tokens, moe_layers, c0 > 0.0 and q <= 16.0, ops)
    set_memory_op(ops, OP_FINAL_NORM, norm_bytes, last)
    head_rows = b if c0 <= 0.0 else tokens  # prefill: the last token; decode: every verified token
    set_gemm(ops, OP_LM_HEAD, head_rows, h, m[M_VOCAB] / tp, ab, ab, last)
    set_allgather(ops, OP_GATHER_LOGITS, head_rows * m[M_VOCAB] / tp * 4.0, tp, tp_out, last)
    set_send(ops, OP_PP_SEND, tokens * h * ab, pp_out, sends)


@kernel
def fill_moe(m, w, domain, tokens, moe_layers, decoding, ops):
    """The MoE rows of a pass: router, shared experts, routed experts (uniform routing, distinct experts
    touched E (1 - (1 - k/E)^T) for T tokens in the MoE group) and the EP all-to-all when ep > tp.
    ``tokens`` are this chip's tokens of the pass; all rows get count 0 for a dense model. Across the
    network, prefill uses the hierarchical all-to-all (a token crosses once per remote node, then fans
    out over the scale-up link: DeepEP's normal kernels) and ``decoding`` steps the direct one (a token
    goes straight to each of its k experts' chips: DeepEP's low-latency kernels)."""
    h = m[M_HIDDEN]
    tp = w[W_TP]
    ab = w[W_ACT_BYTES]
    wb = w[W_WEIGHT_BYTES]
    count = moe_layers if m[M_EXPERTS] > 0.0 else 0.0
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    e = m[M_EXPERTS] if m[M_EXPERTS] > 0.0 else 1.0
    k = m[M_TOPK]
    per, split, group = expert_split(m, w)
    group_tokens = tokens * group
    chance = 1.0
    if count > 0.0 and k < e:
        chance = 1.0 - (1.0 - k / e) ** group_tokens
    # experts read and token-expert pairs computed on the busiest of the ep chips holding the experts
    touched, routed = busiest_expert_load(per, e, group_tokens * k, chance, w[W_EP] if count > 0.0 else 1.0)
    f = m[M_MOE_FFN] / split
    set_gemm(ops, OP_ROUTER, tokens, h, m[M_EXPERTS], ab, ab, count)
    shared = m[M_SHARED_FFN] / tp
    set_gemm(ops, OP_SHARED_UP, tokens, h, n_in * shared, wb, ab, count if shared > 0.0 else 0.0)
    set_gemm(ops, OP_SHARED_DOWN, tokens, shared, h, wb, ab, count if shared > 0.0 else 0.0)
    ops[OP_EXPERT_UP, OP_FLOPS] = 2.0 * routed * h * n_in * f
    ops[OP_EXPERT_UP, OP_HBM] = touched * h * n_in * f * wb + routed * (h + n_in * f) * ab
    ops[OP_EXPERT_DOWN, OP_FLOPS] = 2.0 * routed * f * h
    ops[OP_EXPERT_DOWN, OP_HBM] = touched * f * h * wb + routed * (f + h) * ab
    for i in (OP_EXPERT_UP, OP_EXPERT_DOWN):
        ops[i, OP_LINK] = 0.0
        ops[i, OP_STEPS] = 0.0
        ops[i, OP_SCALE_OUT] = 0.0
        ops[i, OP_COUNT] = count
    set_memory_op(ops, OP_EXPERT_ACT, (routed * (n_in + 1.0) * f + tokens * (n_in + 1.0) * shared) * ab, count)
    ep = w[W_EP]
    a2a = count if ep > tp else 0.0
    dispatch_bytes = 1.0 if wb <= 1.0 else ab  # fp8 dispatch with 8-bit weights (DeepEP), else 16-bit
    copies = k  # copies of a token that leave its chip
    out = 1.0 if ep * w[W_PP] > domain else 0.0
    if out > 0.5 and not decoding and ep > tp:
        # hierarchical all-to-all over the network (DeepEP-style): a token crosses the network once per
        # remote node holding one of its experts, then fans out over the scale-up link inside that node
        nodes = ep / domain if domain >= 1.0 else ep
        distinct = nodes * (1.0 - (1.0 - 1.0 / nodes) ** k)
        copies = distinct * ep / tp / (ep / tp - 1.0) * (nodes - 1.0) / nodes  # set_alltoall keeps 1/n
    set_alltoall(ops, OP_EP_DISPATCH, tokens * copies * h * dispatch_bytes, ep / tp, out, a2a)
    set_alltoall(ops, OP_EP_COMBINE, tokens * copies * h * ab, ep / tp, out, a2a)
