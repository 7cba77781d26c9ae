"""Token-mixer shapes: the projections, cache and state of attention (GQA/MQA, MLA, the sparse-attention
indexer) and of the recurrent mixers (Gated DeltaNet, Mamba-2), per layer and per TP rank.

The conventions are those of :mod:`roofline.kernels.forward`; :mod:`roofline.kernels.shapes` builds the
whole-model counts and the bytes per chip on these.
"""

from roofline._jit import kernel
from roofline.kernels.layout import (
    M_ATTN_LAYERS, M_HEAD_DIM, M_HEADS, M_HIDDEN, M_IDX_DIM, M_IDX_HEADS, M_KV_HEADS, M_KV_LORA, M_ATTN_BYTES,
    M_NOPE_DIM, M_O_BIAS, M_OUT_GATE, M_Q_LORA, M_QK_NORM, M_QKV_BIAS, M_REC_CONV, M_REC_K_DIM, M_REC_K_HEADS,
    M_REC_BYTES, M_REC_KIND, M_REC_LAYERS, M_REC_V_DIM, M_REC_V_HEADS, M_ROPE_DIM, M_SINKS, M_SPARSE_TOPK, M_V_DIM,
    W_WEIGHT_BYTES,
)


@kernel
def kv_heads_per_chip(m, tp):
    """K/V heads held by each chip: split over TP, replicated (one per chip) when TP exceeds them."""
    if tp >= m[M_KV_HEADS]:
        return 1.0
    return m[M_KV_HEADS] / tp


@kernel
def kv_values_per_token(m, tp):
    """K/V values one chip caches per token per layer: the MLA latent (kv_lora + rope, shared by all
    heads, so every TP rank holds it whole) or 2 x its K/V heads x head_dim."""
    if m[M_KV_LORA] > 0.0:
        return m[M_KV_LORA] + m[M_ROPE_DIM]
    return 2.0 * kv_heads_per_chip(m, tp) * m[M_HEAD_DIM]


@kernel
def attention_in_params(m, tp):
    """Parameters of one block's attention input projections (Q, K, V; MLA: compressions and up-projections)
    on one TP rank."""
    h = m[M_HIDDEN]
    heads = m[M_HEADS] / tp
    if m[M_KV_LORA] > 0.0:
        qk = m[M_NOPE_DIM] + m[M_ROPE_DIM]
        if m[M_Q_LORA] > 0.0:
            q = h * m[M_Q_LORA] + m[M_Q_LORA] * heads * qk
        else:
            q = h * heads * qk
        return (q + h * (m[M_KV_LORA] + m[M_ROPE_DIM]) + m[M_KV_LORA] * heads * (m[M_NOPE_DIM] + m[M_V_DIM])
                + indexer_params(m))
    q_width = heads * m[M_HEAD_DIM]
    if m[M_OUT_GATE] > 0.5:  # the query projection also yields the output gate
        q_width = 2.0 * q_width
    return h * q_width + 2.0 * h * kv_heads_per_chip(m, tp) * m[M_HEAD_DIM] + indexer_params(m)


@kernel
def indexer_params(m):
    """Projection weights of DeepSeek Sparse Attention's lightning indexer in one layer (0 without it),
    replicated on every TP rank: queries from the query latent (or the hidden state), one shared key, and a
    weight per indexer head."""
    if m[M_SPARSE_TOPK] <= 0.0:
        return 0.0
    q_in = m[M_Q_LORA] if m[M_Q_LORA] > 0.0 else m[M_HIDDEN]
    return q_in * m[M_IDX_HEADS] * m[M_IDX_DIM] + m[M_HIDDEN] * (m[M_IDX_DIM] + m[M_IDX_HEADS])


@kernel
def recurrent_widths(m, tp):
    """(convolution channels, input-projection width, output width, state values) of one recurrent layer
    on one TP rank. Gated DeltaNet (M_REC_KIND 1): q and k of key heads x key width, v and the output gate z
    of value heads x value width, and the per-head beta and decay inputs; the state is value heads x key
    width x value width. Mamba-2 (2): x and the gate z of heads x head width, B and C of groups x state
    size, and dt per head; the state is heads x head width x state size. With more ranks than groups each
    rank holds one group's B and C (replicated, as vLLM's MambaMixer2 does)."""
    if m[M_REC_KIND] < 1.5:
        key = m[M_REC_K_HEADS] * m[M_REC_K_DIM]
        val = m[M_REC_V_HEADS] * m[M_REC_V_DIM]
        conv = 2.0 * key + val
        width = 2.0 * key + 2.0 * val + 2.0 * m[M_REC_V_HEADS]
        state = m[M_REC_V_HEADS] * m[M_REC_K_DIM] * m[M_REC_V_DIM]
    else:
        inner = m[M_REC_V_HEADS] * m[M_REC_V_DIM]
        groups = m[M_REC_K_HEADS] if tp <= m[M_REC_K_HEADS] else tp  # past tp = groups: one group per rank
        bc = 2.0 * groups * m[M_REC_K_DIM]
        conv = inner + bc
        width = 2.0 * inner + bc + m[M_REC_V_HEADS]
        state = inner * m[M_REC_K_DIM]
        val = inner
    return conv / tp, width / tp, val / tp, state / tp


@kernel
def recurrent_small_params(m, tp):
    """The small parameters of one recurrent layer on one TP rank: the convolution (Mamba-2 with a bias),
    the per-head decay and step biases (Mamba-2 also its skip D), and the gated output norm (Gated
    DeltaNet: one value head's width, shared; Mamba-2: the whole inner width)."""
    conv, _, out, _ = recurrent_widths(m, tp)
    heads = m[M_REC_V_HEADS] / tp
    if m[M_REC_KIND] < 1.5:
        return conv * m[M_REC_CONV] + 2.0 * heads + m[M_REC_V_DIM]
    return conv * (m[M_REC_CONV] + 1.0) + 3.0 * heads + out


@kernel
def state_bytes_per_layer(m, tp, act_bytes):
    """Bytes one sequence keeps in one recurrent layer on one TP rank, whatever its length: the state in
    fp32 and the last (kernel - 1) inputs of the convolution at ``act_bytes``."""
    if m[M_REC_LAYERS] <= 0.0:
        return 0.0
    conv, _, _, state = recurrent_widths(m, tp)
    return 4.0 * state + (m[M_REC_CONV] - 1.0) * conv * act_bytes


@kernel
def mixer_in_params(m, tp):
    """Input-projection parameters of the mean token-mixer block on one TP rank: attention's, a recurrent
    layer's, or their mean weighted by the blocks of each kind."""
    a = m[M_ATTN_LAYERS]
    r = m[M_REC_LAYERS]
    if r <= 0.0:
        return attention_in_params(m, tp)
    _, width, _, _ = recurrent_widths(m, tp)
    rec = m[M_HIDDEN] * width
    if a <= 0.0:
        return rec
    return (a * attention_in_params(m, tp) + r * rec) / (a + r)


@kernel
def mixer_out_width(m, tp):
    """Width entering the output projection of the mean token-mixer block on one TP rank."""
    a = m[M_ATTN_LAYERS]
    r = m[M_REC_LAYERS]
    if r <= 0.0:
        return attention_out_width(m, tp)
    _, _, out, _ = recurrent_widths(m, tp)
    if a <= 0.0:
        return out
    return (a * attention_out_width(m, tp) + r * out) / (a + r)


@kernel
def attention_weight_bytes(m, w):
    """Bytes per stored weight of the attention projections: the format the model's 4-bit checkpoints
    keep them in (M_ATTN_BYTES: 16 bit or FP8) when the weights are 4-bit, else the weight format."""
    if m[M_ATTN_BYTES] > 0.0 and w[W_WEIGHT_BYTES] < 1.0:
        return m[M_ATTN_BYTES]
    return w[W_WEIGHT_BYTES]


@kernel
def recurrent_weight_bytes(m, w):
    """:func:`attention_weight_bytes` of the recurrent mixers' projections (M_REC_BYTES): the same but in a
    checkpoint that keeps its attention in 16 bit and its recurrent mixers in FP8 (Nemotron 3.5 Lightning)."""
    if m[M_REC_BYTES] > 0.0 and w[W_WEIGHT_BYTES] < 1.0:
        return m[M_REC_BYTES]
    return w[W_WEIGHT_BYTES]


@kernel
def mixer_proj_bytes(m, w, tp):
    """(input, output) projections' bytes per weight of the mean token-mixer block on one TP rank: the one
    format when attention and recurrent mixers keep the same, else each kind's weighted by its blocks and
    their parameters (Nemotron 3.5 Lightning: 16-bit attention, FP8 Mamba-2)."""
    wa = attention_weight_bytes(m, w)
    wr = recurrent_weight_bytes(m, w)
    if wa == wr or m[M_REC_LAYERS] <= 0.0:
        return wa, wa
    _, width, out, _ = recurrent_widths(m, tp)
    rec_in = m[M_REC_LAYERS] * width * m[M_HIDDEN]
    rec_out = m[M_REC_LAYERS] * out
    attn_in = attn_out = 0.0
    if m[M_ATTN_LAYERS] > 0.0:
        attn_in = m[M_ATTN_LAYERS] * attention_in_params(m, tp)
        attn_out = m[M_ATTN_LAYERS] * attention_out_width(m, tp)
    return ((attn_in * wa + rec_in * wr) / (attn_in + rec_in), (attn_out * wa + rec_out * wr) / (attn_out + rec_out))


@kernel
def attention_out_width(m, tp):
    """Width entering the output projection on one TP rank (heads x value width)."""
    if m[M_KV_LORA] > 0.0:
        return m[M_HEADS] / tp * m[M_V_DIM]
    return m[M_HEADS] / tp * m[M_HEAD_DIM]


@kernel
def attention_small_params(m, tp):
    """The small attention parameters of one layer on one TP rank: q/k/v biases (split with their heads),
    the output bias, Qwen3's q/k norms (2 x head_dim) and MLA's two latent norms (q_lora + kv_lora rank)."""
    if m[M_KV_LORA] > 0.0:
        return m[M_Q_LORA] + m[M_KV_LORA] + (2.0 * m[M_IDX_DIM] if m[M_SPARSE_TOPK] > 0.0 else 0.0)
    small = 0.0
    if m[M_QKV_BIAS] > 0.5:
        small += (m[M_HEADS] / tp + 2.0 * kv_heads_per_chip(m, tp)) * m[M_HEAD_DIM]
    if m[M_O_BIAS] > 0.5:
        small += m[M_HIDDEN]
    if m[M_QK_NORM] > 0.5:
        small += 2.0 * m[M_HEAD_DIM]
    if m[M_SINKS] > 0.5:
        small += m[M_HEADS] / tp
    if m[M_SPARSE_TOPK] > 0.0:  # the indexer's key norm (LayerNorm: weight and bias)
        small += 2.0 * m[M_IDX_DIM]
    return small
