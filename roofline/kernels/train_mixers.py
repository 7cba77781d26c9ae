"""Token mixers in training: key visits of the attention layers, and the share of each kind of block a
layer mix holds (softmax attention, recurrent mixers, blocks without a mixer or without an MLP).

Training prices one mean block (:mod:`roofline.kernels.training`). A model whose blocks are all alike
(every block a softmax-attention mixer and an MLP, full, windowed or sparse) is priced as before; a
*hybrid* mix (Gated DeltaNet or Mamba-2 layers beside attention, Nemotron-H's blocks with only a mixer
or only an MLP) takes each part of the mean block weighted by the blocks that have it:

* **Recurrent mixers** run their chunked training kernels (flash-linear-attention's chunked gated delta
  rule, mamba_ssm's SSD): the FLOPs and bytes of :func:`roofline.kernels.forward.recurrent_cost` over the
  whole sequence. Their backward is priced with the mean mixer block at FlashAttention's 2.5x, a
  judgement: both kernels recompute their chunk states (and the delta rule its WY factors) in backward.
* **Stored activations** of a recurrent layer: the input projection's output, the convolution's output,
  the kernel's output and the gated norm's output (the output projection's input), 16-bit; the chunk
  states are recomputed, not kept.
* **Context parallelism** of a recurrent layer would pass its state from rank to rank; it is not
  modelled, and layouts with cp > 1 are refused for models with recurrent layers.
"""

from roofline._jit import kernel
from roofline.kernels.experts import expert_width
from roofline.kernels.forward import attended_keys, chunked_keys, recurrent_cost
from roofline.kernels.layout import (
    M_ATTN_LAYERS, M_CHUNKED, M_EXPERTS, M_FFN, M_GATED, M_HIDDEN, M_IDX_DIM, M_IDX_HEADS, M_LAYERS, M_MLP_LAYERS,
    M_MOE_FFN, M_MOE_FRAC, M_MOE_LATENT, M_REC_LAYERS, M_SHARED_FFN, M_SPARSE_TOPK, M_SWA_LAYERS, M_TOPK, M_WINDOW,
    W_TP,
)
from roofline.kernels.mixers import mixer_in_params, mixer_out_width, recurrent_widths
from roofline.kernels.shapes import dense_fraction


@kernel
def layer_keys(m, s):
    """Key visits of one attention layer over a sequence of ``s`` tokens, the mean over the model's attention
    layers: a sliding-window layer visits at most ``M_WINDOW`` keys per query (within its aligned chunk of them
    when chunked, Llama 4), a full one every earlier key, a sparse one (DSA) at most ``M_SPARSE_TOPK`` per query
    (gpt-oss alternates windowed and full layers, Gemma 3 has five windowed to one full). Every layer is priced
    alike at this mean: attention is compute-bound at training lengths, where the time is linear in the key visits."""
    window = m[M_WINDOW]
    n_attn = m[M_ATTN_LAYERS]
    n_swa = m[M_SWA_LAYERS] if window > 0.0 else 0.0
    full = attended_keys(s, 0.0, m[M_SPARSE_TOPK])
    if n_attn <= 0.0 or n_swa <= 0.0:
        return full
    slid = chunked_keys(s, 0.0, window) if m[M_CHUNKED] > 0.5 else attended_keys(s, 0.0, window)
    if n_swa >= n_attn:
        return slid
    return (n_swa * slid + (n_attn - n_swa) * full) / n_attn


@kernel
def indexer_flops(m, s):
    """FLOPs over a sequence of ``s`` tokens of a sparse-attention (DSA) model's lightning indexer, the mean per
    attention layer: each query's indexer heads score every earlier key, 2 FLOPs per multiply-add, on every
    TP rank (as serving prices it, :func:`roofline.kernels.forward.softmax_at`); 0 without sparse layers."""
    if m[M_SPARSE_TOPK] <= 0.0 or m[M_ATTN_LAYERS] <= 0.0:
        return 0.0
    n_swa = m[M_SWA_LAYERS] if m[M_WINDOW] > 0.0 else 0.0
    share = (m[M_ATTN_LAYERS] - n_swa) / m[M_ATTN_LAYERS]
    return share * 2.0 * m[M_IDX_HEADS] * m[M_IDX_DIM] * attended_keys(s, 0.0, 0.0)


@kernel
def uneven_blocks(m):
    """Whether the blocks differ in more than their attention's key visits: recurrent mixers, or blocks
    without a token mixer or without an MLP."""
    n = m[M_LAYERS]
    return m[M_REC_LAYERS] > 0.0 or m[M_ATTN_LAYERS] < n or m[M_MLP_LAYERS] < n


@kernel
def blend_recurrent(m, w, seqs, q, attn_flops, attn_hbm):
    """(FLOPs, HBM bytes) of the mean token-mixer block on one chip: one attention layer's ``attn_flops`` and
    ``attn_hbm`` and one recurrent layer's (``seqs`` sequences of ``q`` tokens, from nothing), weighted by
    the blocks of each kind; the attention figures alone when there are no recurrent layers."""
    r = m[M_REC_LAYERS]
    if r <= 0.0:
        return attn_flops, attn_hbm
    a = m[M_ATTN_LAYERS]
    f, b = recurrent_cost(m, w, seqs, q)
    return (a * attn_flops + r * f) / (a + r), (a * attn_hbm + r * b) / (a + r)


@kernel
def recurrent_flops_per_seq(m, w, s):
    """FLOPs of one recurrent layer over one sequence of ``s`` tokens, the whole layer (every TP rank's
    share): the chunked kernel's work scales as 1 / tp, so one rank's times ``W_TP``."""
    if m[M_REC_LAYERS] <= 0.0:
        return 0.0
    f, _ = recurrent_cost(m, w, 1.0, s)
    return f * w[W_TP]


@kernel
def mlp_width(m, tp):
    """Mean MLP width per block on one TP rank, over all blocks: dense MLPs, and for the MoE blocks the k
    routed and the shared experts a token goes through (0 for the blocks without an MLP)."""
    ffn = dense_fraction(m) * m[M_FFN] / tp
    if m[M_EXPERTS] > 0.0:
        ffn += m[M_MOE_FRAC] * (m[M_TOPK] * m[M_MOE_FFN] + m[M_SHARED_FFN]) / tp
    return ffn


@kernel
def hybrid_split_bytes(m, tp, q_dim, kv_dim):
    """Bytes per token one mean block of a hybrid mix keeps of its TP-split tensors: an attention layer's Q,
    K, V and output-projection input (``q_dim``, ``kv_dim`` per rank), a recurrent layer's (module
    conventions) and the MLP's activation input and output, each weighted by the blocks that have it."""
    n = m[M_LAYERS]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    ffn = mlp_width(m, tp)
    out = m[M_ATTN_LAYERS] / n * (4.0 * q_dim + 4.0 * kv_dim) + 2.0 * n_in * ffn + 2.0 * ffn
    if m[M_REC_LAYERS] > 0.0:
        conv, width, val, _ = recurrent_widths(m, tp)
        out += m[M_REC_LAYERS] / n * 2.0 * (width + conv + 2.0 * val)
    return out


@kernel
def block_shares(m):
    """(share of blocks with a token mixer, share with an MLP)."""
    n = m[M_LAYERS]
    return (m[M_ATTN_LAYERS] + m[M_REC_LAYERS]) / n, m[M_MLP_LAYERS] / n


@kernel
def hybrid_cast_elements(m, tp):
    """(forward, backward) elements per token of one mean block's fp8 casts on one TP rank for a hybrid mix:
    the mixer's input and output-projection input in forward and their output gradients in backward (its
    mean widths, :func:`roofline.kernels.mixers.mixer_in_params`), the MLP's as for every model, weighted by
    the blocks that have each."""
    h = m[M_HIDDEN]
    mix, mlp = block_shares(m)
    copies = mlp * h  # elements of the MLP's inputs (and of its outputs' gradients) per token
    if m[M_EXPERTS] > 0.0:
        shared = 1.0 if m[M_SHARED_FFN] > 0.0 else 0.0
        lat = m[M_MOE_LATENT]  # a latent MoE's projections: the hidden state in, the latent out
        copies = (dense_fraction(m) + m[M_MOE_FRAC] * shared) * h + m[M_MOE_FRAC] * (
            m[M_TOPK] * expert_width(m) + (h + lat if lat > 0.0 else 0.0))
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    ffn = mlp_width(m, tp)
    fwd = mix * (h + mixer_out_width(m, tp)) + copies + ffn
    bwd = mix * (mixer_in_params(m, tp) / h + h) + n_in * ffn + copies
    return fwd, bwd

