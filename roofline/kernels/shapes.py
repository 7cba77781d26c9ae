"""Sizes: parameter counts, and the bytes of weights, KV cache and workspace on one chip.

The one place that counts parameters. :class:`roofline.model.Model` reports its totals through
:func:`param_count` and :func:`kv_elements_per_token` (exact: every count is a whole number far below
2**53, so float64 holds it exactly), and the memory and time kernels size weights with the same
projection counts (the token mixers' from :mod:`roofline.kernels.mixers`, the experts' placement and width
from :mod:`roofline.kernels.experts`). The tensor-parallel conventions are those of
:mod:`roofline.kernels.forward`.
"""

from roofline._jit import kernel
from roofline.kernels.experts import expert_split, expert_width, latent_moe_params
from roofline.kernels.layout import (
    M_ATTN_LAYERS, M_EXPERTS, M_FFN, M_GATED, M_HEAD_BYTES, M_HIDDEN, M_IDX_DIM, M_LAYERS, M_MLP_BIAS, M_MLP_LAYERS,
    M_MOE_FFN, M_MOE_FRAC, M_MOE_LATENT, M_MOE_LAYERS, M_NORM_PARAMS, M_POS_ROWS, M_REC_LAYERS, M_ROUTER_BIAS,
    M_SANDWICH, M_SHARED_FFN, M_SHARED_GATE, M_SPARSE_TOPK, M_SWA_LAYERS, M_TIED, M_TOPK, M_VOCAB, M_WINDOW,
    W_ACT_BYTES, W_BATCH, W_INPUT, W_KV_BYTES, W_MAX_TOKENS, W_PP, W_TP, W_WEIGHT_BYTES,
)
from roofline.kernels.mixers import (
    attention_in_params, attention_out_width, attention_small_params, attention_weight_bytes, kv_values_per_token,
    mixer_in_params, mixer_out_width, recurrent_small_params, recurrent_weight_bytes, recurrent_widths,
    state_bytes_per_layer,
)


@kernel
def mlp_bias_params(m, width):
    """Biases of one MLP of ``width`` (on one TP rank: its share of the width); 0 without biases."""
    if m[M_MLP_BIAS] > 0.5:
        n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
        return n_in * width + m[M_HIDDEN]
    return 0.0


@kernel
def moe_shared_params(m, tp):
    """The always-on part of one MoE layer on one TP rank: the shared experts (TP-split), the router with
    its score-correction biases, Qwen2-MoE's shared-expert gate and a latent MoE's two projections from and
    to the latent (on every TP rank: the experts of each rank need the whole latent)."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    shared = (n_in + 1.0) * h * m[M_SHARED_FFN] / tp + h * m[M_EXPERTS] + 2.0 * h * m[M_MOE_LATENT]
    if m[M_ROUTER_BIAS] > 0.5:
        shared += m[M_EXPERTS]
    if m[M_SHARED_GATE] > 0.5:
        shared += h
    return shared


@kernel
def expert_bias_params(m, width):
    """Biases of one expert MLP of ``width`` (gpt-oss: gate/up and down biases); 0 without MLP biases."""
    if m[M_MLP_BIAS] > 0.5:
        n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
        return n_in * width + m[M_HIDDEN]
    return 0.0


@kernel
def moe_layer_params_per_chip(m, w):
    """(routed expert parameters, shared expert + router parameters) of one MoE layer on one chip."""
    if m[M_EXPERTS] <= 0.0:
        return 0.0, 0.0
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    per, split, _ = expert_split(m, w)
    f = m[M_MOE_FFN] / split
    routed = per * ((n_in + 1.0) * expert_width(m) * f + expert_bias_params(m, f))
    return routed, moe_shared_params(m, w[W_TP])


@kernel
def dense_fraction(m):
    """Share of the blocks with a dense MLP."""
    if m[M_MLP_LAYERS] >= m[M_LAYERS]:
        return 1.0 - m[M_MOE_FRAC]
    return (m[M_MLP_LAYERS] - m[M_MOE_LAYERS]) / m[M_LAYERS]


@kernel
def mixer_linear_params(m, tp):
    """Linear parameters of the token mixers per block on one TP rank (mean over all blocks)."""
    h = m[M_HIDDEN]
    mixers = m[M_ATTN_LAYERS] + m[M_REC_LAYERS]
    per = mixer_in_params(m, tp) + mixer_out_width(m, tp) * h
    if mixers >= m[M_LAYERS]:
        return per
    return per * mixers / m[M_LAYERS]


@kernel
def active_linear_params(m):
    """Linear parameters one token goes through in an average block (no TP split): the token mixer, and the
    dense MLP or the router, shared experts and k routed experts, weighted by the blocks of each kind."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    mix = mixer_linear_params(m, 1.0)
    dense = (n_in + 1.0) * h * m[M_FFN]
    if m[M_EXPERTS] <= 0.0:
        return mix + dense_fraction(m) * dense
    moe = (n_in + 1.0) * h * (m[M_TOPK] * m[M_MOE_FFN] + m[M_SHARED_FFN]) + h * m[M_EXPERTS]
    moe += latent_moe_params(m, m[M_TOPK], 1.0)
    return mix + dense_fraction(m) * dense + m[M_MOE_FRAC] * moe


@kernel
def linear_params_per_chip(m, tp):
    """Parameters of an average block's linear layers on one TP rank: the token mixer, and the dense MLP or
    (for the MoE share of the blocks) router, shared experts and every routed expert (no EP split)."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    mix = mixer_linear_params(m, tp)
    dense = (n_in + 1.0) * h * m[M_FFN] / tp
    if m[M_EXPERTS] <= 0.0:
        return mix + dense_fraction(m) * dense
    moe = (n_in + 1.0) * h * (m[M_EXPERTS] * m[M_MOE_FFN] + m[M_SHARED_FFN]) / tp + h * m[M_EXPERTS]
    moe += latent_moe_params(m, m[M_EXPERTS], tp)
    return mix + dense_fraction(m) * dense + m[M_MOE_FRAC] * moe


@kernel
def norms_per_block(m):
    """Norms of a block with both a token mixer and an MLP: 2, or 4 with sandwich norms (Gemma 2/3)."""
    return 4.0 if m[M_SANDWICH] > 0.5 else 2.0


@kernel
def block_norms(m):
    """Norms in all the blocks: one (two with sandwich norms) per token mixer and per MLP."""
    return (m[M_ATTN_LAYERS] + m[M_REC_LAYERS] + m[M_MLP_LAYERS]) * norms_per_block(m) / 2.0


# ---- whole-model counts (what Model reports) ------------------------------------------------------


@kernel
def param_count(m, active):
    """Parameters of the whole model: embeddings (and learned positions), every block (token mixer by kind,
    dense or MoE MLP, norms), the final norm and an untied LM head; the per-chip pieces of
    :func:`weight_bytes_per_chip` at one chip. ``active`` 1 keeps only the experts_per_token routed experts
    a token uses."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    blocks = block_norms(m) * m[M_NORM_PARAMS]
    if m[M_ATTN_LAYERS] > 0.0:
        attn = attention_in_params(m, 1.0) + attention_out_width(m, 1.0) * h + attention_small_params(m, 1.0)
        blocks += m[M_ATTN_LAYERS] * attn
    if m[M_REC_LAYERS] > 0.0:
        _, width, out, _ = recurrent_widths(m, 1.0)
        blocks += m[M_REC_LAYERS] * ((width + out) * h + recurrent_small_params(m, 1.0))
    dense_layers = m[M_MLP_LAYERS] - m[M_MOE_LAYERS]
    blocks += dense_layers * ((n_in + 1.0) * h * m[M_FFN] + mlp_bias_params(m, m[M_FFN]))
    if m[M_EXPERTS] > 0.0:
        routed = m[M_TOPK] if active > 0.5 else m[M_EXPERTS]
        expert = (n_in + 1.0) * expert_width(m) * m[M_MOE_FFN] + expert_bias_params(m, m[M_MOE_FFN])
        blocks += m[M_MOE_LAYERS] * (routed * expert + moe_shared_params(m, 1.0))
    head = 0.0 if m[M_TIED] > 0.5 else m[M_VOCAB] * h
    return (m[M_VOCAB] + m[M_POS_ROWS]) * h + blocks + m[M_NORM_PARAMS] + head


@kernel
def kv_elements_per_token(m):
    """Values cached per token over all attention layers (whole model, no TP split, no window cap): K/V or
    the MLA latent, plus the sparse-attention indexer's key on full-attention layers. Recurrent layers
    cache nothing per token (their state is :func:`state_bytes_per_layer`)."""
    full = m[M_ATTN_LAYERS] - m[M_SWA_LAYERS]
    idx = m[M_IDX_DIM] * full if m[M_SPARSE_TOPK] > 0.0 else 0.0
    return kv_values_per_token(m, 1.0) * m[M_ATTN_LAYERS] + idx


# ---- per chip ---------------------------------------------------------------------------------------


@kernel
def cached_tokens(ctx, window):
    """Tokens a sequence keeps in its KV cache at context ``ctx``."""
    if window > 0.0 and ctx > window:
        return window
    return ctx


@kernel
def kind_share(m, k, count):
    """Blocks of a kind (``count`` in the whole model) on a stage of ``k`` blocks: its share of them (all of
    them when every block is of the kind)."""
    if count >= m[M_LAYERS]:
        return k
    return k * count / m[M_LAYERS]


@kernel
def stage_share(m, pp, count):
    """Blocks of a kind on the heaviest of ``pp`` even stages (ceil(L / pp) blocks)."""
    return kind_share(m, -(-m[M_LAYERS] // pp), count)


@kernel
def head_weight_bytes(m, w):
    """Bytes per stored weight of an untied LM head: the format the model's 4-bit checkpoints keep it in
    (M_HEAD_BYTES: W4A16 NVFP4 in the ModelOpt MIXED_PRECISION releases) when the weights are 4-bit, else 16
    bit (the activations' format). A head tied to the embedding is the embedding, in 16 bit."""
    if m[M_HEAD_BYTES] > 0.0 and w[W_WEIGHT_BYTES] < 1.0 and m[M_TIED] < 0.5:
        return m[M_HEAD_BYTES]
    return w[W_ACT_BYTES]


@kernel
def stage_weight_bytes(m, w, k, first, last):
    """Bytes of weights on one chip of a pipeline stage of ``k`` blocks (TP shards, EP shards of the experts):
    its share of each kind of block, plus the embedding when ``first`` and the final norm and LM head when
    ``last`` (1 or 0). The whole model on one stage (``k`` = L, both ends) counts a tied head once."""
    return stage_bytes_of(m, block_weight_bytes(m, w), k, first, last)


@kernel
def block_weight_bytes(m, w):
    """Bytes on one chip of each kind of block and of the ends, for :func:`stage_bytes_of`: ``(attention,
    recurrent, dense MLP, MoE MLP, norms of one mixer or MLP, embedding, head, head when tied to the
    embedding)`` (TP and EP shards)."""
    tp = w[W_TP]
    h = m[M_HIDDEN]
    ffn = m[M_FFN] / tp
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    wb = w[W_WEIGHT_BYTES]
    ab = w[W_ACT_BYTES]
    wm = attention_weight_bytes(m, w)
    attn = 0.0
    if m[M_ATTN_LAYERS] > 0.0:
        attn = ((attention_in_params(m, tp) + attention_out_width(m, tp) * h) * wm
                + attention_small_params(m, tp) * ab)
    rec = 0.0
    if m[M_REC_LAYERS] > 0.0:
        _, width, out, _ = recurrent_widths(m, tp)
        rec = (width + out) * h * recurrent_weight_bytes(m, w) + recurrent_small_params(m, tp) * ab
    dense = (n_in + 1.0) * h * ffn * wb + mlp_bias_params(m, ffn) * ab
    moe = 0.0
    if m[M_EXPERTS] > 0.0:
        routed, shared = moe_layer_params_per_chip(m, w)
        moe = (routed + shared) * wb
    norms = m[M_NORM_PARAMS] * ab * norms_per_block(m) / 2.0
    embed = (m[M_VOCAB] / tp + m[M_POS_ROWS]) * h * ab
    head = m[M_VOCAB] / tp * h * head_weight_bytes(m, w) + m[M_NORM_PARAMS] * ab
    return attn, rec, dense, moe, norms, embed, head, m[M_NORM_PARAMS] * ab


@kernel
def stage_bytes_of(m, parts, k, first, last):
    """:func:`stage_weight_bytes` from the :func:`block_weight_bytes` ``parts`` of the same chip."""
    attn, rec, dense, moe, norms, embed, head, tied_head = parts
    mixers = m[M_ATTN_LAYERS] + m[M_REC_LAYERS]
    dense_layers = m[M_MLP_LAYERS] - m[M_MOE_LAYERS]
    if k >= m[M_LAYERS] and first > 0.5 and last > 0.5:
        if m[M_TIED] > 0.5:
            head = tied_head
        return (m[M_ATTN_LAYERS] * attn + m[M_REC_LAYERS] * rec + (mixers + m[M_MLP_LAYERS]) * norms
                + dense_layers * dense + m[M_MOE_LAYERS] * moe + embed + head)
    blocks = (kind_share(m, k, m[M_ATTN_LAYERS]) * attn + kind_share(m, k, m[M_REC_LAYERS]) * rec
              + (kind_share(m, k, mixers) + kind_share(m, k, m[M_MLP_LAYERS])) * norms
              + kind_share(m, k, dense_layers) * dense + kind_share(m, k, m[M_MOE_LAYERS]) * moe)
    return blocks + first * embed + last * head


@kernel
def weight_bytes_per_chip(m, w):
    """Bytes of weights on the most loaded chip (TP shards, EP shards of the experts; with PP even stages of
    ceil(L / pp) blocks, the first or the last, whichever end is heavier)."""
    pp = w[W_PP]
    if pp <= 1.0:
        return stage_weight_bytes(m, w, m[M_LAYERS], 1.0, 1.0)
    k = -(-m[M_LAYERS] // pp)
    parts = block_weight_bytes(m, w)
    with_embed = stage_bytes_of(m, parts, k, 1.0, 0.0)
    with_head = stage_bytes_of(m, parts, k, 0.0, 1.0)
    return with_embed if with_embed > with_head else with_head


@kernel
def cache_parts(m, w):
    """What one sequence keeps on one chip (the heaviest stage), in bytes: (per token in full-attention
    layers, per token within the window in sliding-window layers, fixed: the recurrent layers' states)."""
    tp = w[W_TP]
    pp = w[W_PP]
    per_layer = kv_values_per_token(m, tp) * w[W_KV_BYTES]
    full = m[M_ATTN_LAYERS] - m[M_SWA_LAYERS]
    grow = 0.0
    if full > 0.0:
        idx = m[M_IDX_DIM] * w[W_KV_BYTES] if m[M_SPARSE_TOPK] > 0.0 else 0.0
        grow = (per_layer + idx) * stage_share(m, pp, full)
    windowed = 0.0
    if m[M_SWA_LAYERS] > 0.0:
        windowed = per_layer * stage_share(m, pp, m[M_SWA_LAYERS])
    fixed = 0.0
    if m[M_REC_LAYERS] > 0.0:
        fixed = state_bytes_per_layer(m, tp, w[W_ACT_BYTES]) * stage_share(m, pp, m[M_REC_LAYERS])
    return grow, windowed, fixed


@kernel
def kv_bytes_per_chip(m, w, ctx):
    """KV-cache (and recurrent-state) bytes on one chip for ``w[W_BATCH]`` sequences of ``ctx`` tokens."""
    grow, windowed, fixed = cache_parts(m, w)
    return kv_bytes_from_parts(w[W_BATCH], grow, windowed, fixed, ctx, m[M_WINDOW])


@kernel
def kv_bytes_from_parts(b, grow, windowed, fixed, ctx, window):
    """:func:`kv_bytes_per_chip` of ``b`` sequences from the :func:`cache_parts` of the same chip (a sweep
    takes the parts once per row)."""
    return b * (grow * ctx + windowed * cached_tokens(ctx, window) + fixed)


@kernel
def cache_units(m, w, ctx):
    """What a sequence of ``ctx`` tokens keeps, in units of what a one-token sequence keeps (the unit the
    engine simulators count the KV cache in): ``ctx`` for full attention, capped at the window for
    sliding-window attention, and in between for a mix with fixed recurrent states."""
    grow, windowed, fixed = cache_parts(m, w)
    if windowed == 0.0 and fixed == 0.0:
        return ctx
    if grow == 0.0 and fixed == 0.0:
        return cached_tokens(ctx, m[M_WINDOW])
    return (grow * ctx + windowed * cached_tokens(ctx, m[M_WINDOW]) + fixed) / (grow + windowed + fixed)


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
    qkv = attention_in_params(m, tp) / m[M_HIDDEN] if m[M_ATTN_LAYERS] > 0.0 else 0.0
    if m[M_REC_LAYERS] > 0.0:
        _, width, _, _ = recurrent_widths(m, tp)
        qkv = qkv if qkv > width else width
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    mlp = (n_in + 1.0) * m[M_FFN] / tp
    if m[M_EXPERTS] > 0.0:
        moe = (n_in + 1.0) * (m[M_TOPK] * m[M_MOE_FFN] + m[M_SHARED_FFN]) / tp
        mlp = mlp if mlp > moe else moe
    widest = qkv if qkv > mlp else mlp
    return tokens * (2.0 * m[M_HIDDEN] + widest) * w[W_ACT_BYTES] + b * m[M_VOCAB] / tp * 4.0
