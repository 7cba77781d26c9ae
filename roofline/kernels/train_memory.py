"""Training memory per chip: state, stored activations and the peak working set, stage by stage.

Conventions (mixed-precision Adam; the peak of one optimizer step on the most loaded chip):

* **State**: 16-bit parameters (``X_PARAM_BYTES``), fp32 gradients (``X_GRAD_BYTES``), fp32 master
  weights + two moments (``X_OPT_BYTES`` = 12). ZeRO-1 shards the optimizer state over dp·cp, ZeRO-2 also
  the gradients; with expert parallelism over ``ep`` of those ranks, the routed experts' state shards over the
  dp·cp / ep ranks that hold the same experts (Megatron-LM's expert data-parallel group), the rest over dp·cp.
  ZeRO-3 as PyTorch FSDP runs it: the sharded fp32 master is the parameter, so the 16-bit
  parameters exist only for the two blocks gathered at a time (the one computing and the one prefetched),
  never more than the unsharded weights.
* **Activations**: :func:`activation_bytes_per_layer` per layer, times the stage's layers and the
  micro-batches that stage holds in flight under Megatron-LM's schedules: 1F1B, stage ``p`` of ``pp``
  holds min(pp - p, m); interleaved over ``v`` chunks it runs 2(pp-1-p) + (v-1)·pp warm-up chunks, so it
  holds (that + 1) / v stages' worth (the first stage: pp + (pp-1)/v, Korthikanti et al. 2022 Sec. 4.2.3),
  at most m.
* **Working set**: the layer in backward holds one layer's activations at the selective level (every
  recompute mode re-creates them); the last stage also holds the logits, 16-bit from the LM head plus the
  fp32 copy the cross-entropy works in, its gradient written in place (Megatron-LM's
  ``vocab_parallel_cross_entropy``): 6 bytes per logit. The logits are consumed by the LM head's backward
  before any layer's backward starts, so the peak takes the larger of the two, not their sum.
* **Fits** when the peak of the most loaded stage is within ``X_MEM_FRACTION`` of the HBM.
"""

from roofline._jit import kernel
from roofline.kernels.layout import (
    H_HBM_BYTES, M_ATTN_LAYERS, M_GATED, M_HEADS, M_HEAD_DIM, M_HIDDEN, M_LAYERS, M_VOCAB, R_ACT, R_FITS, R_MEM,
    R_STATE, T_CP, T_DP, T_DROPOUT, T_EAGER, T_EP, T_FIRST, T_FLASH, T_GB, T_LAST, T_MB, T_PP, T_RECOMPUTE, T_SEQ,
    T_SP, T_TP, T_VPP, T_ZERO, X_GRAD_BYTES, X_MEM_FRACTION, X_OPT_BYTES, X_PARAM_BYTES,
)
from roofline.kernels.mixers import kv_heads_per_chip
from roofline.kernels.shapes import block_weight_bytes, linear_params_per_chip, stage_bytes_of, stage_weight_bytes
from roofline.kernels.train_dp import sharded, stage_routed
from roofline.kernels.train_eager import eager_saved_bytes
from roofline.kernels.train_mixers import block_shares, hybrid_split_bytes, mlp_width, uneven_blocks

#: Bytes per logit while the loss is computed: the 16-bit logits and the fp32 copy the cross-entropy
#: works in (its gradient written into the same buffer).
LOGIT_BYTES = 6.0


@kernel
def activation_bytes_per_layer(m, t):
    """Bytes one layer keeps for backward per micro-batch on one chip (Korthikanti et al. 2022).

    Without recompute: 10·sbh replicated over TP (two norm inputs 4, QKV and MLP inputs 4, two dropout
    masks 2, only with dropout: 8·sbh without; divided by tp with sequence parallelism) plus, divided by
    tp, the tensors of the split GEMMs: Q, K, V, the output-projection input, the MLP activation input
    and output — 2 bytes x (2·q + 2·kv + 2·q ... ) which for MHA and a 4h GELU MLP is the paper's 24·sbh;
    GQA narrows K and V to the KV width, SwiGLU stores gate and up (2·ffn) plus their product (ffn).
    Unfused attention adds 5·a·s²·b/tp (softmax output, dropout mask and output; 2·a·s²·b without
    dropout); FlashAttention keeps only the fp32 log-sum-exp per head and token. Selective recompute
    drops the score terms; full recompute keeps only the layer input (2·sbh, /tp with SP). ``s`` is
    seq_len / cp. An eager block keeps more (:func:`roofline.kernels.train_eager.eager_saved_bytes`). A
    hybrid mix weighs each part by the blocks that have it (:mod:`roofline.kernels.train_mixers`).
    """
    tp = t[T_TP]
    s = t[T_SEQ] / t[T_CP]
    b = t[T_MB]
    h = m[M_HIDDEN]
    sp = t[T_SP] > 0.5
    rep_div = tp if sp else 1.0
    if t[T_RECOMPUTE] > 1.5:
        return 2.0 * s * b * h / rep_div
    q_dim = m[M_HEADS] / tp * m[M_HEAD_DIM]
    kv_dim = kv_heads_per_chip(m, tp) * m[M_HEAD_DIM]
    ffn = mlp_width(m, tp)  # MoE layers keep the k routed experts' and the shared experts' activations
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    drop = 1.0 if t[T_DROPOUT] > 0.5 else 0.0
    rep = (8.0 + 2.0 * drop) * s * b * h / rep_div
    split = s * b * (2.0 * q_dim + 4.0 * kv_dim + 2.0 * q_dim + 2.0 * n_in * ffn + 2.0 * ffn)
    heads = m[M_HEADS] / tp
    if t[T_FLASH] > 0.5:
        scores = 4.0 * heads * s * b
    elif t[T_RECOMPUTE] > 0.5:
        scores = 0.0
    else:
        scores = (2.0 + 3.0 * drop) * heads * s * t[T_SEQ] * b
    if uneven_blocks(m):  # each part weighted by the blocks that have it (roofline.kernels.train_mixers)
        mix, mlp = block_shares(m)
        rep = (4.0 + drop) * (mix + mlp) * s * b * h / rep_div
        split = s * b * hybrid_split_bytes(m, tp, q_dim, kv_dim)
        scores = scores * m[M_ATTN_LAYERS] / m[M_LAYERS]
    eager = eager_saved_bytes(m, t, ffn) if t[T_EAGER] > 0.5 else 0.0
    return rep + split + scores + eager


@kernel
def inflight(pp, vpp, micro, stage):
    """Micro-batches' worth of one stage's activations that stage ``stage`` (0-based) holds at its peak."""
    if vpp <= 1.0:
        held = pp - stage
    else:
        held = (2.0 * (pp - 1.0 - stage) + (vpp - 1.0) * pp + 1.0) / vpp
    return held if held < micro else micro


@kernel
def state_bytes(m, x, t, w, params, k):
    """Training state on one chip of a stage of ``k`` blocks holding ``params`` parameters, by ZeRO stage."""
    n = t[T_DP] * t[T_CP]
    zero = t[T_ZERO]
    state = params * x[X_PARAM_BYTES]
    if zero > 2.5 and n > 1.0:
        gathered = 2.0 * linear_params_per_chip(m, t[T_TP]) * x[X_PARAM_BYTES]
        state = gathered if gathered < state else state
    ep = t[T_EP]
    routed = stage_routed(m, w, k) if ep > 1.0 else 0.0
    return (state + sharded(params, routed, x[X_GRAD_BYTES], n if zero > 1.5 else 1.0, ep)
            + sharded(params, routed, x[X_OPT_BYTES], n if zero > 0.5 else 1.0, ep))


@kernel
def fill_memory(m, hw, x, t, w, res):
    """Peak bytes per chip over the pipeline stages into ``res`` (R_STATE, R_ACT, R_MEM, R_FITS), with ``w``
    set up for parameter counts (W_TP, W_PP, W_EP, one byte per weight and activation)."""
    pp = t[T_PP]
    vpp = t[T_VPP]
    layers = m[M_LAYERS]
    micro = t[T_GB] / (t[T_DP] * t[T_MB])
    per_layer = activation_bytes_per_layer(m, t)
    rec_saved = t[T_RECOMPUTE]
    t[T_RECOMPUTE] = 1.0 if t[T_FLASH] < 0.5 else 0.0
    work = activation_bytes_per_layer(m, t)
    t[T_RECOMPUTE] = rec_saved
    logits = t[T_MB] * t[T_SEQ] / t[T_CP] * m[M_VOCAB] / t[T_TP] * LOGIT_BYTES
    best = -1.0
    if pp <= 1.0:
        state = state_bytes(m, x, t, w, stage_weight_bytes(m, w, layers, 1.0, 1.0), layers)
        act = layers * per_layer
        best = state + act + (work if work > logits else logits)
        res[R_STATE] = state
        res[R_ACT] = act
    else:
        first = t[T_FIRST]
        last = t[T_LAST]
        even = first <= 0.0
        k_end = -(-layers // pp)
        parts = block_weight_bytes(m, w)
        for kind in range(3):  # the first stage, the second (the fullest middle stage), the last
            if kind == 1 and pp <= 2.0:
                continue
            if kind == 0:
                k = k_end if even else first
                stage = 0.0
            elif kind == 1:
                k = k_end if even else (layers - first - last) / (pp - 2.0)
                stage = 1.0
            else:
                k = k_end if even else last
                stage = pp - 1.0
            params = stage_bytes_of(m, parts, k, 1.0 if kind == 0 else 0.0, 1.0 if kind == 2 else 0.0)
            state = state_bytes(m, x, t, w, params, k)
            act = k * inflight(pp, vpp, micro, stage) * per_layer
            peak = work if kind < 2 or work > logits else logits
            total = state + act + peak
            if total > best:
                best = total
                res[R_STATE] = state
                res[R_ACT] = act
    res[R_MEM] = best
    res[R_FITS] = 1.0 if best <= hw[H_HBM_BYTES] * x[X_MEM_FRACTION] else 0.0
