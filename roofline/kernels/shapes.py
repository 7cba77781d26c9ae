"""Sizes: parameter counts, and the bytes of weights, KV cache and workspace on one chip.

The one place that counts parameters. :class:`roofline.model.Model` reports its totals through
:func:`param_count` and :func:`kv_elements_per_token` (exact: every count is a whole number far below
2**53, so float64 holds it exactly), and the memory and time kernels size weights with the same
projection counts (:func:`attention_in_params`, :func:`attention_out_width`, the MoE splits). The
tensor-parallel conventions are those of :mod:`roofline.kernels.forward`.
"""

import math

from roofline._jit import kernel
from roofline.kernels.layout import (
    M_EXPERTS, M_FFN, M_GATED, M_HEAD_DIM, M_HEADS, M_HIDDEN, M_KV_HEADS, M_KV_LORA, M_LAYERS, M_MLP_BIAS,
    M_MOE_FFN, M_MOE_FRAC, M_MOE_LAYERS, M_NOPE_DIM, M_NORM_PARAMS, M_O_BIAS, M_POS_ROWS, M_Q_LORA, M_QK_NORM,
    M_QKV_BIAS, M_ROPE_DIM, M_ROUTER_BIAS, M_SHARED_FFN, M_SHARED_GATE, M_TIED, M_TOPK, M_V_DIM, M_VOCAB,
    M_WINDOW, W_ACT_BYTES, W_BATCH, W_EP, W_INPUT, W_KV_BYTES, W_MAX_TOKENS, W_PP, W_TP, W_WEIGHT_BYTES,
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
        return q + h * (m[M_KV_LORA] + m[M_ROPE_DIM]) + m[M_KV_LORA] * heads * (m[M_NOPE_DIM] + m[M_V_DIM])
    return h * heads * m[M_HEAD_DIM] + 2.0 * h * kv_heads_per_chip(m, tp) * m[M_HEAD_DIM]


@kernel
def attention_out_width(m, tp):
    """Width entering the output projection on one TP rank (heads x value width)."""
    if m[M_KV_LORA] > 0.0:
        return m[M_HEADS] / tp * m[M_V_DIM]
    return m[M_HEADS] / tp * m[M_HEAD_DIM]


@kernel
def expert_split(m, w):
    """(routed experts held by each chip, ways each expert is split, MoE-group tokens per attention-group
    token). ep <= tp: experts spread over ep of the TP ranks, each split tp/ep ways, the group is the TP
    group. ep > tp: whole experts, ceil(E / ep) per chip, and ep / tp attention groups feed each MoE layer."""
    tp = w[W_TP]
    ep = w[W_EP] if w[W_EP] >= 1.0 else 1.0
    e = m[M_EXPERTS]
    if ep <= tp:
        return e / ep, tp / ep, 1.0
    return -(-e // ep), 1.0, ep / tp


@kernel
def expected_max_z(n):
    """The expected largest of ``n`` independent standard normal draws (0 for one): Blom's plotting
    position z = Phi^-1((n - 0.375) / (n + 0.25)), with Phi^-1 by Abramowitz and Stegun 26.2.23 (error
    below 5e-4). Exact values for 2, 4, 8 draws: 0.564, 1.029, 1.424; this gives 0.589, 1.049, 1.433."""
    if n <= 1.0:
        return 0.0
    u = (n - 0.375) / (n + 0.25)
    t = math.sqrt(-2.0 * math.log(1.0 - u))
    return t - (2.515517 + 0.802853 * t + 0.010328 * t * t) / (1.0 + 1.432788 * t + 0.189269 * t * t
                                                                + 0.001308 * t * t * t)


@kernel
def busiest_expert_load(n, e, trials, chance, spread):
    """Expected load of the busiest of the ``spread`` chips (or chip groups) the ``e`` routed experts are
    spread over, each holding ``n`` of them: (experts it reads, token-expert pairs it computes). Uniform
    routing: each of its experts is touched with probability ``chance`` (1 - (1 - k/E)^T for T tokens) and
    each of the ``trials`` token-expert pairs lands on it with probability n / e. A step waits for its
    busiest chip: the mean + z sigma of each binomial count (z from :func:`expected_max_z`), the experts
    capped at ``n``. Experts on one chip group (``spread`` 1): the means."""
    share = n / e
    experts = n * chance
    pairs = trials * share
    z = expected_max_z(spread)
    if z > 0.0:
        experts += z * math.sqrt(n * chance * (1.0 - chance))
        if experts > n:
            experts = n
        if share < 1.0:
            pairs += z * math.sqrt(trials * share * (1.0 - share))
    return experts, pairs


@kernel
def attention_small_params(m, tp):
    """The small attention parameters of one layer on one TP rank: q/k/v biases (split with their heads),
    the output bias, Qwen3's q/k norms (2 x head_dim) and MLA's two latent norms (q_lora + kv_lora rank)."""
    if m[M_KV_LORA] > 0.0:
        return m[M_Q_LORA] + m[M_KV_LORA]
    small = 0.0
    if m[M_QKV_BIAS] > 0.5:
        small += (m[M_HEADS] / tp + 2.0 * kv_heads_per_chip(m, tp)) * m[M_HEAD_DIM]
    if m[M_O_BIAS] > 0.5:
        small += m[M_HIDDEN]
    if m[M_QK_NORM] > 0.5:
        small += 2.0 * m[M_HEAD_DIM]
    return small


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
    its score-correction biases and Qwen2-MoE's shared-expert gate."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    shared = (n_in + 1.0) * h * m[M_SHARED_FFN] / tp + h * m[M_EXPERTS]
    if m[M_ROUTER_BIAS] > 0.5:
        shared += m[M_EXPERTS]
    if m[M_SHARED_GATE] > 0.5:
        shared += h
    return shared


@kernel
def moe_layer_params_per_chip(m, w):
    """(routed expert parameters, shared expert + router parameters) of one MoE layer on one chip."""
    if m[M_EXPERTS] <= 0.0:
        return 0.0, 0.0
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    per, split, _ = expert_split(m, w)
    routed = per * (n_in + 1.0) * h * m[M_MOE_FFN] / split
    return routed, moe_shared_params(m, w[W_TP])


@kernel
def active_linear_params(m):
    """Linear parameters one token goes through in an average block (no TP split): attention, and the
    dense MLP or the router, shared experts and k routed experts, weighted by the layers of each kind."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    attn = attention_in_params(m, 1.0) + attention_out_width(m, 1.0) * h
    dense = (n_in + 1.0) * h * m[M_FFN]
    if m[M_EXPERTS] <= 0.0:
        return attn + dense
    moe = (n_in + 1.0) * h * (m[M_TOPK] * m[M_MOE_FFN] + m[M_SHARED_FFN]) + h * m[M_EXPERTS]
    return attn + (1.0 - m[M_MOE_FRAC]) * dense + m[M_MOE_FRAC] * moe


@kernel
def linear_params_per_chip(m, tp):
    """Parameters of an average block's linear layers on one TP rank: attention, and the dense MLP or
    (for the MoE share of the layers) router, shared experts and every routed expert (no EP split)."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    attn = attention_in_params(m, tp) + attention_out_width(m, tp) * h
    dense = (n_in + 1.0) * h * m[M_FFN] / tp
    if m[M_EXPERTS] <= 0.0:
        return attn + dense
    moe = (n_in + 1.0) * h * (m[M_EXPERTS] * m[M_MOE_FFN] + m[M_SHARED_FFN]) / tp + h * m[M_EXPERTS]
    return attn + (1.0 - m[M_MOE_FRAC]) * dense + m[M_MOE_FRAC] * moe


# ---- whole-model counts (what Model reports) ------------------------------------------------------


@kernel
def param_count(m, active):
    """Parameters of the whole model: embeddings (and learned positions), every block, the final norm and
    an untied LM head; the per-chip pieces of :func:`weight_bytes_per_chip` at one chip. ``active`` 1
    keeps only the experts_per_token routed experts a token uses."""
    h = m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    attn = (attention_in_params(m, 1.0) + attention_out_width(m, 1.0) * h + attention_small_params(m, 1.0)
            + 2.0 * m[M_NORM_PARAMS])
    dense = (n_in + 1.0) * h * m[M_FFN] + mlp_bias_params(m, m[M_FFN])
    blocks = (m[M_LAYERS] - m[M_MOE_LAYERS]) * (attn + dense)
    if m[M_EXPERTS] > 0.0:
        routed = m[M_TOPK] if active > 0.5 else m[M_EXPERTS]
        blocks += m[M_MOE_LAYERS] * (attn + routed * (n_in + 1.0) * h * m[M_MOE_FFN] + moe_shared_params(m, 1.0))
    head = 0.0 if m[M_TIED] > 0.5 else m[M_VOCAB] * h
    return (m[M_VOCAB] + m[M_POS_ROWS]) * h + blocks + m[M_NORM_PARAMS] + head


@kernel
def kv_elements_per_token(m):
    """Values cached per token over all layers (whole model, no TP split)."""
    return kv_values_per_token(m, 1.0) * m[M_LAYERS]


# ---- per chip ---------------------------------------------------------------------------------------


@kernel
def cached_tokens(ctx, window):
    """Tokens a sequence keeps in its KV cache at context ``ctx``."""
    if window > 0.0 and ctx > window:
        return window
    return ctx


@kernel
def weight_bytes_per_chip(m, w):
    """Bytes of weights on the most loaded chip (TP shards, EP shards of the experts; with PP the first or
    last stage)."""
    tp = w[W_TP]
    pp = w[W_PP]
    h = m[M_HIDDEN]
    ffn = m[M_FFN] / tp
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    attn = attention_in_params(m, tp) + attention_out_width(m, tp) * h
    small = 2.0 * m[M_NORM_PARAMS] + attention_small_params(m, tp)  # 16-bit: norms and biases
    dense_layer = ((attn + (n_in + 1.0) * h * ffn) * w[W_WEIGHT_BYTES]
                   + (small + mlp_bias_params(m, ffn)) * w[W_ACT_BYTES])
    moe_layer = 0.0
    if m[M_EXPERTS] > 0.0:
        routed, shared = moe_layer_params_per_chip(m, w)
        moe_layer = (attn + routed + shared) * w[W_WEIGHT_BYTES] + small * w[W_ACT_BYTES]
    embed = (m[M_VOCAB] / tp + m[M_POS_ROWS]) * h * w[W_ACT_BYTES]
    head = m[M_VOCAB] / tp * h * w[W_ACT_BYTES] + m[M_NORM_PARAMS] * w[W_ACT_BYTES]
    if pp <= 1.0:
        if m[M_TIED] > 0.5:
            head = m[M_NORM_PARAMS] * w[W_ACT_BYTES]
        return (m[M_LAYERS] - m[M_MOE_LAYERS]) * dense_layer + m[M_MOE_LAYERS] * moe_layer + embed + head
    stage_layers = -(-m[M_LAYERS] // pp)  # the heaviest stage: its share of dense and MoE layers
    layer = (1.0 - m[M_MOE_FRAC]) * dense_layer + m[M_MOE_FRAC] * moe_layer
    return stage_layers * layer + (embed if embed > head else head)


@kernel
def kv_bytes_per_chip(m, w, ctx):
    """KV-cache bytes on one chip for ``w[W_BATCH]`` sequences of ``ctx`` tokens."""
    stage_layers = -(-m[M_LAYERS] // w[W_PP])
    per_token = kv_values_per_token(m, w[W_TP]) * w[W_KV_BYTES] * stage_layers
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
    qkv = attention_in_params(m, tp) / m[M_HIDDEN]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    mlp = (n_in + 1.0) * m[M_FFN] / tp
    if m[M_EXPERTS] > 0.0:
        moe = (n_in + 1.0) * (m[M_TOPK] * m[M_MOE_FFN] + m[M_SHARED_FFN]) / tp
        mlp = mlp if mlp > moe else moe
    widest = qkv if qkv > mlp else mlp
    return tokens * (2.0 * m[M_HIDDEN] + widest) * w[W_ACT_BYTES] + b * m[M_VOCAB] / tp * 4.0
