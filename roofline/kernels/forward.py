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
  in 16-bit (``W_ACT_BYTES``), as in TensorRT-LLM, vLLM and llm-compressor checkpoints, except an untied LM
  head that a 4-bit checkpoint quantises too (``M_HEAD_BYTES``: :func:`~roofline.kernels.shapes.head_weight_bytes`).
* Norms and the MLP activation are elementwise: priced by the bytes they move, no tensor FLOPs. Biases
  are counted in memory but their (negligible) traffic and FLOPs are not.
* Mixture of experts (``M_EXPERTS > 0``): a share ``M_MOE_FRAC`` of the layers replace the dense MLP by a
  router (16-bit GEMM, h x E), shared experts (a dense MLP of ``M_SHARED_FFN``, TP-split) and routed
  experts. Routing is assumed uniform: each expert sees tokens x k / E of the tokens routed in its
  group, and a batch of T tokens touches E (1 - (1 - k/E)^T) distinct experts per layer in
  expectation, whose weights are read once; memory holds every expert. Spread over ep chips, the layer
  waits for the busiest: its experts touched and its token-expert pairs are each the binomial mean plus
  z sigma, z the expected largest of ep standard normals (``experts.busiest_expert_load``; small decode
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
* The layer mix (``roofline.model``): the token-mixer rows (``attn_norm``, ``qkv_proj``, ``attention``,
  ``o_proj``, ``tp_allreduce_attn``) count the blocks with a mixer and carry the mean mixer block: the
  projections weighted by the blocks of each kind (attention, recurrent), and ``attention`` the mean core:
  full attention over every earlier token; sliding-window attention over at most the window (its cache
  capped there); sparse attention (DSA) over at most ``top-k`` keys per query, plus the indexer, which
  scores every cached key with its own heads (2 x heads x width FLOPs per key) and reads its cached keys;
  a recurrent layer (Gated DeltaNet, Mamba-2) over none: per new token 6 x state values FLOPs (read the
  state against the key, update it, read it against the query), prompts in chunks (64 tokens for the
  chunked delta rule of the flash-linear-attention kernels, 128 for Mamba-2's SSD) adding 2 x chunk x
  (key + value width) per head per token, and the causal convolution (2 x kernel per channel); its HBM
  traffic is the fp32 state and the convolution window read and written once per sequence per pass, and
  the inputs and outputs of the new tokens. The MLP rows count the blocks with an MLP (dense and MoE by
  their own counts). Pricing the mean block with one roofline per row is exact when every block of a row is
  bound by the same limit, and otherwise slightly optimistic (the sum of two rooflines is not the roofline
  of the sum).
"""

import math

from roofline._jit import kernel
from roofline.kernels.experts import busiest_expert_load, expert_split, expert_width
from roofline.kernels.layout import (
    M_ATTN_LAYERS, M_CHUNKED, M_EXPERTS, M_FFN, M_GATED, M_HEAD_DIM, M_HEADS, M_HIDDEN, M_IDX_DIM, M_IDX_HEADS,
    M_KV_LORA, M_LAYERS, M_MLP_LAYERS, M_MOE_FFN, M_MOE_FRAC, M_MOE_LATENT, M_NOPE_DIM, M_NORM_PARAMS, M_REC_CONV,
    M_REC_K_DIM, M_REC_KIND, M_REC_LAYERS, M_REC_V_DIM, M_REC_V_HEADS, M_ROPE_DIM, M_SHARED_FFN, M_SPARSE_TOPK,
    M_SWA_LAYERS, M_TOPK, M_V_DIM, M_VOCAB, M_WINDOW, OP_AR_ATTN, OP_AR_MLP, OP_ATTN, OP_ATTN_NORM, OP_COUNT,
    OP_EMBED, OP_EP_COMBINE, OP_EP_DISPATCH, OP_EXPERT_ACT, OP_EXPERT_DOWN, OP_EXPERT_UP, OP_FINAL_NORM, OP_FLOPS,
    OP_GATHER_LOGITS, OP_HBM, OP_LINK, OP_LM_HEAD, OP_MLP_ACT, OP_MLP_DOWN, OP_MLP_NORM, OP_MLP_UP, OP_O_PROJ,
    OP_PP_SEND, OP_QKV, OP_ROUTER, OP_SCALE_OUT, OP_SHARED_DOWN, OP_SHARED_UP, OP_STEPS, W_ACT_BYTES, W_BATCH, W_EP,
    W_KV_BYTES, W_PP, W_TP, W_WEIGHT_BYTES,
)
from roofline.kernels.mixers import (
    kv_values_per_token, mixer_in_params, mixer_out_width, mixer_proj_bytes, recurrent_widths,
    state_bytes_per_layer,
)
from roofline.kernels.roofline import set_allgather, set_allreduce, set_alltoall, set_gemm, set_memory_op, set_send
from roofline.kernels.shapes import cached_tokens, dense_fraction, head_weight_bytes, norms_per_block

#: Tokens per chunk of the chunked prompt kernels of the recurrent layers: the chunked delta rule of
#: flash-linear-attention (Gated DeltaNet, as vLLM and SGLang run Qwen3-Next / Qwen3.5) and Mamba-2's SSD
#: (``chunk_size`` 128 in the Nemotron-H configs).
DELTA_CHUNK = 64.0
SSD_CHUNK = 128.0
#: New tokens per sequence up to which a pass after a cache is a decode step (one token, or the verified
#: tokens of speculative decoding): MLA attends over its latent, the experts read only those touched, and
#: chunked attention is priced at the mean place in a chunk.
DECODE_TOKENS = 16.0
#: The op rows :func:`fill_moe` sets.
MOE_ROWS = (OP_ROUTER, OP_SHARED_UP, OP_SHARED_DOWN, OP_EXPERT_UP, OP_EXPERT_ACT, OP_EXPERT_DOWN, OP_EP_DISPATCH,
            OP_EP_COMBINE)


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
def is_decode(q, c0):
    """Whether ``q`` new tokens per sequence after ``c0`` cached ones are a decode step (:data:`DECODE_TOKENS`)."""
    return q <= DECODE_TOKENS and c0 > 0.0


@kernel
def chunked_keys(q, c0, chunk):
    """Key visits of ``q`` new tokens after ``c0`` cached ones when every token attends within its aligned
    chunk of ``chunk`` tokens (Llama 4's chunked attention): the rest of the current chunk, the whole chunks
    after it, then the last one's start, each as full attention from the chunk's first token."""
    start = c0 - chunk * math.floor(c0 / chunk)
    first = chunk - start
    if first > q:
        first = q
    whole = math.floor((q - first) / chunk)
    tail = q - first - whole * chunk
    return attended_keys(first, start, 0.0) + whole * attended_keys(chunk, 0.0, 0.0) + attended_keys(tail, 0.0, 0.0)


@kernel
def attention_window(m):
    """The ``window`` argument of :func:`softmax_at` for the model's sliding layers: ``M_WINDOW``, negated
    when they attend within aligned chunks of it (``M_CHUNKED``)."""
    return -m[M_WINDOW] if m[M_CHUNKED] > 0.5 else m[M_WINDOW]


@kernel
def softmax_terms(m, w, q, absorbed):
    """What :func:`softmax_at` asks of the model and layout alone: FLOPs per visited key, K/V values
    cached per token, their bytes, and the bytes per sequence of the new tokens (their K/V written, Q read
    and the output written). ``absorbed``: MLA's decode form (few new tokens after a cache: attention over
    the latent) rather than prefill's (keys and values decompressed per head)."""
    tp = w[W_TP]
    heads = m[M_HEADS] / tp
    kvb = w[W_KV_BYTES]
    cached = kv_values_per_token(m, tp)
    if m[M_KV_LORA] > 0.0:
        if absorbed:
            per_key = 2.0 * heads * (2.0 * m[M_KV_LORA] + m[M_ROPE_DIM])
            q_width = heads * (m[M_KV_LORA] + m[M_ROPE_DIM])
        else:
            per_key = 2.0 * heads * (m[M_NOPE_DIM] + m[M_ROPE_DIM] + m[M_V_DIM])
            q_width = heads * (m[M_NOPE_DIM] + m[M_ROPE_DIM])
        out_width = heads * m[M_V_DIM]
    else:
        hd = m[M_HEAD_DIM]
        per_key = 4.0 * hd * heads
        q_width = heads * hd
        out_width = q_width
    return per_key, cached, kvb, q * (cached * kvb + (q_width + out_width) * w[W_ACT_BYTES])


@kernel
def softmax_at(seqs, q, c0, window, top_k, idx_dim, idx_heads, per_key, cached, kvb, new):
    """(FLOPs, HBM bytes) per chip of one softmax-attention layer for ``seqs`` sequences attending with
    ``q`` new tokens after ``c0`` cached ones, from its :func:`softmax_terms` (and the sparse indexer's width
    and heads), on scalars alone: QK^T and PV (2 FLOPs per multiply-add each) over the visited keys (capped by
    ``window`` when sliding, by ``top_k`` per query when sparse, 0 = neither; a negative ``window`` is aligned
    chunks of -window tokens, :func:`chunked_keys`); the cache read once (at most the window; the current
    chunk's start and the new tokens; at most top_k entries per query), the new K/V written, Q read and the
    output written. Sparse layers add the indexer over every cached key.

    A decode step (:func:`is_decode`) past the first chunk is priced at the mean place in a chunk, (chunk - 1)
    / 2 cached tokens: the mean over a generation of a chunk or more, or over a batch of requests at different
    places. At one context the work jumps from a whole chunk to none at each chunk's end, which a decode priced
    at its mean context would turn into an artefact of the lengths chosen."""
    if window < 0.0:
        chunk = -window
        if is_decode(q, c0) and c0 >= chunk:  # past the first chunk: at the mean place in a chunk
            start = (chunk - 1.0) / 2.0
            keys = attended_keys(q, start, 0.0)
        else:
            start = c0 - chunk * math.floor(c0 / chunk)  # the current chunk's cached tokens
            keys = chunked_keys(q, c0, chunk)
        read = start + q
    else:
        keys = attended_keys(q, c0, window if window > 0.0 else top_k)
        read = cached_tokens(c0 + q, window)
    if top_k > 0.0:
        read = cached_tokens(c0 + q, top_k * q)
    flops = per_key * keys * seqs
    hbm = seqs * (read * cached * kvb + new)
    if top_k > 0.0:  # the lightning indexer: every cached key scored by every new token's indexer heads
        flops += 2.0 * idx_heads * idx_dim * attended_keys(q, c0, 0.0) * seqs
        hbm += seqs * ((c0 + q) * idx_dim * kvb + q * idx_dim * kvb)
    return flops, hbm


@kernel
def recurrent_cost(m, w, seqs, q):
    """(FLOPs, HBM bytes) per chip of one recurrent layer (Gated DeltaNet or Mamba-2) for ``seqs``
    sequences with ``q`` new tokens each; independent of the context (see the module conventions)."""
    tp = w[W_TP]
    ab = w[W_ACT_BYTES]
    conv, _, out, state = recurrent_widths(m, tp)
    heads = m[M_REC_V_HEADS] / tp
    tokens = seqs * q
    flops = tokens * (6.0 * state + 2.0 * m[M_REC_CONV] * conv)
    if q > 1.0:
        chunk = DELTA_CHUNK if m[M_REC_KIND] < 1.5 else SSD_CHUNK
        if chunk > q:
            chunk = q
        flops += tokens * heads * 2.0 * chunk * (m[M_REC_K_DIM] + m[M_REC_V_DIM])
    hbm = seqs * 2.0 * state_bytes_per_layer(m, tp, ab) + tokens * (conv + out) * ab
    return flops, hbm


@kernel
def attention_cost(m, w, seqs, q, c0):
    """(FLOPs, HBM bytes) per chip of the mean token-mixer block for ``seqs`` sequences with ``q`` new
    tokens after ``c0`` cached ones: full, sliding-window or sparse attention and recurrent layers, weighted
    by their blocks (one kind: that kind's cost). What does not depend on the context is worked out first
    (:func:`softmax_terms`, :func:`recurrent_cost`), then :func:`attention_at` (a sweep keeps the first part
    for many contexts)."""
    swa = m[M_SWA_LAYERS]
    rec = m[M_REC_LAYERS]
    per_key, cached, kvb, new = softmax_terms(m, w, q, is_decode(q, c0))
    rec_flops = 0.0
    rec_hbm = 0.0
    if rec > 0.0:
        rec_flops, rec_hbm = recurrent_cost(m, w, seqs, q)
    return attention_at(seqs, q, c0, m[M_ATTN_LAYERS] - swa, swa, rec, attention_window(m), m[M_SPARSE_TOPK],
                        m[M_IDX_DIM], m[M_IDX_HEADS], per_key, cached, kvb, new, rec_flops, rec_hbm)


@kernel
def one_kind(full, swa, rec):
    """Whether the token mixers are of one kind (full or sparse attention, or sliding alone): the mean block
    then costs what one softmax layer of that kind does (:func:`attention_at`)."""
    return rec <= 0.0 and (swa <= 0.0 or full <= 0.0)


@kernel
def attention_at(seqs, q, c0, full, swa, rec, window, top_k, idx_dim, idx_heads, per_key, cached, kvb, new,
                 rec_flops, rec_hbm):
    """:func:`attention_cost` at context ``c0`` from the blocks of each kind (full or sparse, sliding,
    recurrent), the softmax terms and a recurrent layer's (FLOPs, bytes), on scalars alone."""
    if one_kind(full, swa, rec):
        return softmax_at(seqs, q, c0, window if swa > 0.0 else 0.0, top_k, idx_dim, idx_heads, per_key, cached,
                          kvb, new)
    flops = 0.0
    hbm = 0.0
    if full > 0.0:
        f, b = softmax_at(seqs, q, c0, 0.0, top_k, idx_dim, idx_heads, per_key, cached, kvb, new)
        flops += full * f
        hbm += full * b
    if swa > 0.0:
        f, b = softmax_at(seqs, q, c0, window, 0.0, idx_dim, idx_heads, per_key, cached, kvb, new)
        flops += swa * f
        hbm += swa * b
    if rec > 0.0:
        flops += rec * rec_flops
        hbm += rec * rec_hbm
    return flops / (full + swa + rec), hbm / (full + swa + rec)


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
    norm_bytes = (2.0 * tokens * h * ab + m[M_NORM_PARAMS] * ab) * norms_per_block(m) / 2.0
    moe_frac = m[M_MOE_FRAC] if m[M_EXPERTS] > 0.0 else 0.0
    dense_layers = layers * dense_fraction(m)
    moe_layers = layers * moe_frac
    mixers = m[M_ATTN_LAYERS] + m[M_REC_LAYERS]
    mixer_layers = layers if mixers >= m[M_LAYERS] else layers * mixers / m[M_LAYERS]
    mlp_layers = layers if m[M_MLP_LAYERS] >= m[M_LAYERS] else layers * m[M_MLP_LAYERS] / m[M_LAYERS]
    wm_in, wm_out = mixer_proj_bytes(m, w, tp)

    set_memory_op(ops, OP_EMBED, tokens * h * ab / tp + tokens * h * ab, first)
    set_memory_op(ops, OP_ATTN_NORM, norm_bytes, mixer_layers)
    p_in = mixer_in_params(m, tp)
    ops[OP_QKV, OP_FLOPS] = 2.0 * tokens * p_in
    ops[OP_QKV, OP_HBM] = p_in * wm_in + tokens * (h + p_in / h) * ab
    ops[OP_QKV, OP_LINK] = 0.0
    ops[OP_QKV, OP_STEPS] = 0.0
    ops[OP_QKV, OP_SCALE_OUT] = 0.0
    ops[OP_QKV, OP_COUNT] = mixer_layers
    attn_flops, attn_hbm = attention_cost(m, w, b, q, c0)
    ops[OP_ATTN, OP_FLOPS] = attn_flops
    ops[OP_ATTN, OP_HBM] = attn_hbm
    ops[OP_ATTN, OP_LINK] = 0.0
    ops[OP_ATTN, OP_STEPS] = 0.0
    ops[OP_ATTN, OP_SCALE_OUT] = 0.0
    ops[OP_ATTN, OP_COUNT] = mixer_layers
    set_gemm(ops, OP_O_PROJ, tokens, mixer_out_width(m, tp), h, wm_out, ab, mixer_layers)
    set_allreduce(ops, OP_AR_ATTN, tokens * h * ab, tp, tp_out, mixer_layers)
    set_memory_op(ops, OP_MLP_NORM, norm_bytes, mlp_layers)
    set_gemm(ops, OP_MLP_UP, tokens, h, n_in * ffn, wb, ab, dense_layers)
    set_memory_op(ops, OP_MLP_ACT, tokens * (n_in + 1.0) * ffn * ab, dense_layers)
    set_gemm(ops, OP_MLP_DOWN, tokens, ffn, h, wb, ab, dense_layers)
    set_allreduce(ops, OP_AR_MLP, tokens * h * ab, tp, tp_out, mlp_layers)
    fill_moe(m, w, domain, tokens, moe_layers, is_decode(q, c0), ops)
    set_memory_op(ops, OP_FINAL_NORM, norm_bytes, last)
    head_rows = b if c0 <= 0.0 else tokens  # prefill: the last token; decode: every verified token
    set_gemm(ops, OP_LM_HEAD, head_rows, h, m[M_VOCAB] / tp, head_weight_bytes(m, w), ab, last)
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
    if count <= 0.0:  # a dense model (or no MoE layer in the pass): every MoE row is empty
        for i in MOE_ROWS:
            set_memory_op(ops, i, 0.0, 0.0)
        return
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
    # the shared experts' rows also carry a latent MoE's projections to and from the latent (whole on every
    # rank): the same input and the same output, so one GEMM each of the summed width
    shared = m[M_SHARED_FFN] / tp
    lat = m[M_MOE_LATENT]
    on = count if shared > 0.0 or lat > 0.0 else 0.0
    set_gemm(ops, OP_SHARED_UP, tokens, h, n_in * shared + lat, wb, ab, on)
    set_gemm(ops, OP_SHARED_DOWN, tokens, shared + lat, h, wb, ab, on)
    x = expert_width(m)  # what the routed experts read and write: the hidden size, or a latent MoE's latent
    ops[OP_EXPERT_UP, OP_FLOPS] = 2.0 * routed * x * n_in * f
    ops[OP_EXPERT_UP, OP_HBM] = touched * x * n_in * f * wb + routed * (x + n_in * f) * ab
    ops[OP_EXPERT_DOWN, OP_FLOPS] = 2.0 * routed * f * x
    ops[OP_EXPERT_DOWN, OP_HBM] = touched * f * x * wb + routed * (f + x) * ab
    for i in (OP_EXPERT_UP, OP_EXPERT_DOWN):
        ops[i, OP_LINK] = 0.0
        ops[i, OP_STEPS] = 0.0
        ops[i, OP_SCALE_OUT] = 0.0
        ops[i, OP_COUNT] = count
    set_memory_op(ops, OP_EXPERT_ACT, (routed * (n_in + 1.0) * f + tokens * (n_in + 1.0) * shared) * ab, count)
    ep = w[W_EP]
    if split > 1.0 and group > 1.0:
        # data-parallel attention groups sharing split experts (SGLang's DP attention with TP MoE): each
        # MoE layer all-gathers the groups' hidden states (a ring over the chips of one TP rank, one per
        # group) and reduce-scatters its partial sums back over the same ring (the bytes of the all-gather);
        # the TP all-reduce of the MLP rows then sums them inside each group; over the scale-up link while
        # it holds the groups
        out = 1.0 if group * tp * w[W_PP] > domain else 0.0
        set_allgather(ops, OP_EP_DISPATCH, tokens * h * ab, group, out, count)
        set_allgather(ops, OP_EP_COMBINE, tokens * h * ab, group, out, count)
        return
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
    set_alltoall(ops, OP_EP_DISPATCH, tokens * copies * x * dispatch_bytes, ep / tp, out, a2a)
    set_alltoall(ops, OP_EP_COMBINE, tokens * copies * x * ab, ep / tp, out, a2a)
