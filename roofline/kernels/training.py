"""Training kernels: one optimizer step of a (TP, PP, DP, CP) layout — time, breakdown and memory.

Conventions (stated once here):

* **Ops.** The forward op table is :func:`roofline.kernels.forward.fill_pass` for one layer with
  ``q = seq_len / cp`` new tokens and nothing cached (causal attention), ``micro_batch`` sequences;
  the LM head is re-set to run over every token, its logits followed by a vocabulary-parallel
  cross-entropy (fp32 logits written and read back; three tiny TP all-reduces of one fp32 per token).
  Each norm row also carries the residual add of its sub-block (read two, write one activation).
* **Backward** = 2x the forward FLOPs and bytes of every compute row (dX and dW GEMMs; elementwise
  backward reads the saved input and the incoming gradient); FlashAttention's backward is 2.5x its
  forward (it recomputes the scores: 5 matmuls against 2). TP collectives: as many in backward as in
  forward (Megatron's f/g conjugates). Without FlashAttention the score matrix is materialised.
* **Recompute.** ``none``: nothing; ``selective`` (Korthikanti et al. 2022): the attention core's
  forward again — free with FlashAttention, which never stores the scores; ``full``: every layer's
  forward again, TP collectives included.
* **Pipeline.** 1F1B; the slowest stage (``ceil(L/pp)`` layers plus the heavier of embedding or head)
  sets the pace; bubble = (pp-1)/(m·v) of the ideal time, i.e. (pp-1)/v micro-batch times. P2P sends of
  ``b·s/cp·h/tp`` activations (scatter/gather over the TP ranks, Narayanan et al. 2021), one each way
  per micro-batch and virtual stage, not overlapped.
* **Rank order** TP (innermost), CP, DP, PP (Megatron-LM's default): a group stays inside the scale-up
  domain when its stride x size fits in it; DP (with CP, gradients are reduced over dp·cp) is
  hierarchical: a scale-up part over ``domain/tp`` ranks and a scale-out part, pipelined like NCCL's
  rings (the slower of the two sets the time); with expert parallelism the routed experts' part goes over
  their expert data-parallel group instead (:mod:`roofline.kernels.train_dp`).
* **Overlap policy** (max, not sum, where the frameworks overlap): DP gradient reduction overlaps the
  backward of one micro-batch (ZeRO-0/1: once per step; ZeRO-2: reduce-scatter every micro-batch);
  the parameter all-gather after the optimizer (ZeRO-1/2) overlaps the first forward; ZeRO-3 gathers
  parameters under each forward and backward, the gradient reduce-scatter under the backward. CP ring
  traffic overlaps the attention it feeds. TP collectives and PP sends are exposed.
* **fp8** (``T_MM_BYTES`` = 1): the linear GEMMs run at the fp8 peak; the attention core, the LM head and
  the router stay 16-bit; the scaling casts around each fp8 GEMM are memory-bound kernels of their own
  (:mod:`roofline.kernels.train_casts`), the weights' once per step with the optimizer.
* **Layer mixes** (recurrent mixers, blocks without a mixer or an MLP): the mean block weighs each part
  by the blocks that have it (:mod:`roofline.kernels.train_mixers`).
* **Eager** blocks (``T_EAGER``, PyTorch op by op) add :mod:`roofline.kernels.train_eager`'s traffic.
* **Memory**: :mod:`roofline.kernels.train_memory` (state by ZeRO stage, activations per stage of the
  schedule, the logits).
"""

import numpy as np

from roofline._jit import kernel
from roofline.kernels.forward import fill_pass
from roofline.kernels.layout import (
    H_EFF_COMPUTE, H_EFF_HBM, H_HBM_BW, H_PEAK_FLOPS, H_SIZE, H_UP_DOMAIN, M_ATTN_LAYERS, M_HEADS,
    M_HEAD_DIM, M_HIDDEN, M_LAYERS, M_REC_LAYERS, M_VOCAB, N_OPS,
    OP_AR_ATTN, OP_AR_MLP, OP_ATTN, OP_ATTN_NORM, OP_COLS, OP_EMBED, OP_EP_COMBINE, OP_EP_DISPATCH, OP_EXPERT_ACT,
    OP_EXPERT_DOWN, OP_EXPERT_UP, OP_FINAL_NORM, OP_FLOPS, OP_GATHER_LOGITS, OP_HBM, OP_LM_HEAD, OP_MLP_ACT,
    OP_MLP_DOWN, OP_MLP_NORM, OP_MLP_UP, OP_O_PROJ, OP_QKV, OP_ROUTER, OP_SHARED_DOWN, OP_SHARED_UP, R_BUBBLE,
    R_COMPUTE, R_CP, R_DP, R_HW_FLOPS, R_MICRO, R_MODEL_FLOPS, R_OPT, R_PP, R_SIZE, R_STEP, R_TP, T_CP, T_CP_COMM,
    T_DP, T_EAGER, T_EP, T_FIRST, T_FLASH, T_GB, T_LAST, T_MB, T_MM_BYTES, T_PP, T_RECOMPUTE, T_SEQ, T_SP, T_TP,
    T_VPP, T_ZERO, W_ACCEPT, W_ACT_BYTES, W_BATCH, W_DRAFT, W_EP, W_INPUT, W_KV_BYTES, W_MAX_TOKENS, W_PP, W_SIZE,
    W_TP, W_WEIGHT_BYTES, X_ATTN_EFF, X_ATTN_PEAK, X_GEMM16_EFF, X_OPT_TRAFFIC, X_STEP_OVERHEAD, X_SUSTAINED,
)
from roofline.kernels.mixers import kv_heads_per_chip
from roofline.kernels.roofline import op_time, set_allgather, set_allreduce, set_alltoall, set_gemm, set_send
from roofline.kernels.shapes import active_linear_params
from roofline.kernels.train_casts import WEIGHT_CAST_BYTES, cast_bytes_per_token
from roofline.kernels.train_dp import comm_time, dp_traffic, stage_params
from roofline.kernels.train_eager import add_eager_bytes
from roofline.kernels.train_memory import fill_memory
from roofline.kernels.train_mixers import (
    blend_recurrent, indexer_flops, layer_keys, recurrent_flops_per_seq, uneven_blocks,
)

# Korthikanti et al. 2022, Table 2: bytes per (s·b·h) kept for backward by one layer, 16-bit values
# and 1-byte dropout masks; the attention scores add 5·a·s²·b.
UNFUSED_SCORE_PASSES_FWD = 6.0  # score matrix through HBM in forward: write S, softmax r/w, dropout r/w, PV read
COMPUTE_ROWS = (OP_ATTN_NORM, OP_QKV, OP_O_PROJ, OP_MLP_NORM, OP_MLP_UP, OP_MLP_ACT, OP_MLP_DOWN, OP_ROUTER,
                OP_SHARED_UP, OP_SHARED_DOWN, OP_EXPERT_UP, OP_EXPERT_ACT, OP_EXPERT_DOWN)


@kernel
def fill_training_layer(m, t, domain, ops, w):
    """Fill ``ops`` with the forward of one layer plus embedding and head, for one micro-batch on one
    chip, adjusted for training (see the module conventions)."""
    tp = t[T_TP]
    cp = t[T_CP]
    b = t[T_MB]
    s = t[T_SEQ]
    q = s / cp
    w[W_BATCH] = b
    w[W_INPUT] = q
    w[W_TP] = tp
    w[W_PP] = 1.0
    w[W_WEIGHT_BYTES] = t[T_MM_BYTES]
    w[W_KV_BYTES] = 2.0
    w[W_ACT_BYTES] = 2.0
    w[W_MAX_TOKENS] = b * q
    # expert parallelism over e data-parallel ranks: the experts spread over e x tp chips (W_EP > tp
    # in the inference convention), an all-to-all per MoE layer among the e ranks
    e = t[T_EP] if t[T_EP] >= 1.0 else 1.0
    w[W_EP] = e * tp if e > 1.0 else 1.0
    w[W_DRAFT] = 0.0
    w[W_ACCEPT] = 1.0
    fill_pass(m, w, domain, q, 0.0, 1.0, 1.0, 1.0, 0.0, ops)
    tokens = b * q
    h = m[M_HIDDEN]
    ab = 2.0
    sp_div = tp if t[T_SP] > 0.5 else 1.0
    resid = 3.0 * tokens * h * ab
    ops[OP_ATTN_NORM, OP_HBM] = (ops[OP_ATTN_NORM, OP_HBM] + resid) / sp_div
    ops[OP_MLP_NORM, OP_HBM] = (ops[OP_MLP_NORM, OP_HBM] + resid) / sp_div
    heads = m[M_HEADS] / tp
    hd = m[M_HEAD_DIM]
    kv_dim = kv_heads_per_chip(m, tp) * hd
    if t[T_FLASH] > 0.5:
        keys = layer_keys(m, s) / cp
        ops[OP_ATTN, OP_HBM] = tokens * 2.0 * kv_dim * ab * cp + 2.0 * tokens * heads * hd * ab
    else:
        keys = q * s
        ops[OP_ATTN, OP_HBM] = (tokens * 2.0 * kv_dim * ab + 2.0 * tokens * heads * hd * ab
                                + UNFUSED_SCORE_PASSES_FWD * b * heads * q * s * ab)
    ops[OP_ATTN, OP_FLOPS] = 4.0 * hd * heads * keys * b + indexer_flops(m, s) / cp * b
    ops[OP_ATTN, OP_FLOPS], ops[OP_ATTN, OP_HBM] = blend_recurrent(m, w, b, q, ops[OP_ATTN, OP_FLOPS],
                                                                   ops[OP_ATTN, OP_HBM])
    v = m[M_VOCAB] / tp
    set_gemm(ops, OP_LM_HEAD, tokens, h, v, ab, ab, 1.0)
    ops[OP_LM_HEAD, OP_HBM] += tokens * v * 4.0 * 2.0
    ops[OP_FINAL_NORM, OP_HBM] /= sp_div
    tp_out = 1.0 if tp > domain else 0.0
    set_allreduce(ops, OP_GATHER_LOGITS, tokens * 4.0, tp, tp_out, 3.0)
    if t[T_EAGER] > 0.5:
        add_eager_bytes(m, t, ops)


@kernel
def exposed(comm, compute):
    """Part of ``comm`` seconds not hidden under ``compute`` seconds."""
    return comm - compute if comm > compute else 0.0


#: The layout fields :func:`price_training_layer` reads: layouts equal in these share its priced table.
LAYER_FIELDS = (T_TP, T_CP, T_MB, T_SEQ, T_SP, T_FLASH, T_MM_BYTES, T_EP, T_EAGER)


@kernel
def cp_exchange(m, hw, t, la, attn_bwd, cops):
    """Exposed seconds per layer of context parallelism's exchange (forward, backward, recompute), by
    ``T_CP_COMM``. p2p: the ring passes each K/V chunk cp - 1 times forward, K/V and their gradients backward,
    under the attention it feeds. a2a: Q, K, V to head shards before attention and the output back after,
    and their gradients in backward, all-to-alls of one layer's inputs on the critical path. all_gather: the
    whole sequence's K/V gathered before attention; backward gathers again and reduce-scatters dK/dV; exposed."""
    tp = t[T_TP]
    cp = t[T_CP]
    tokens = t[T_MB] * t[T_SEQ] / cp
    kv = kv_heads_per_chip(m, tp)
    hd = m[M_HEAD_DIM]
    kv_chunk = tokens * 2.0 * kv * hd * 2.0  # this chip's K and V, 16-bit
    cp_out = 0.0 if tp * cp <= hw[H_UP_DOMAIN] else 1.0
    mode = t[T_CP_COMM]
    full_recompute = t[T_RECOMPUTE] > 1.5
    if mode < 0.5:
        set_send(cops, 0, kv_chunk, cp_out, 1.0)
        ring = (cp - 1.0) * comm_time(cops, hw)
        fwd = exposed(ring, la)
        return fwd + exposed(2.0 * ring, attn_bwd) + (fwd if full_recompute else 0.0)
    if mode < 1.5:
        set_alltoall(cops, 0, tokens * (2.0 * m[M_HEADS] / tp + 2.0 * kv) * hd * 2.0, cp, cp_out, 1.0)
        fwd = comm_time(cops, hw)
        return fwd + fwd + (fwd if full_recompute else 0.0)
    set_allgather(cops, 0, kv_chunk, cp, cp_out, 1.0)
    fwd = comm_time(cops, hw)
    return fwd + 2.0 * fwd + (fwd if full_recompute else 0.0)


@kernel
def train_step(m, hw, x, t, scratch, res):
    """Price one optimizer step of layout ``t`` (T_* vector); fill ``res`` (R_* vector), return seconds.

    ``scratch`` is ``(ops, priced, cops, hwa, w)``: (N_OPS x OP_COLS), (N_OPS x 2), (1+ x OP_COLS),
    (H_SIZE) and (W_SIZE) float64. Step = compute + tp_comm + pp_bubble + pp_comm + dp_comm + cp_comm + optimizer,
    all on the slowest pipeline stage, in seconds: :func:`price_training_layer`, then :func:`step_from_layer`.
    """
    price_training_layer(m, hw, x, t, scratch)
    return step_from_layer(m, hw, x, t, scratch, res)


@kernel
def price_training_layer(m, hw, x, t, scratch):
    """Fill and price one layer's ops (with embedding and head) for one micro-batch into ``scratch[1]``
    (``priced``: seconds and bound per op row); it reads only the :data:`LAYER_FIELDS` of ``t``."""
    ops = scratch[0]
    priced = scratch[1]
    hwa = scratch[3]
    w = scratch[4]
    flash = t[T_FLASH] > 0.5
    fill_training_layer(m, t, hw[H_UP_DOMAIN], ops, w)
    for i in range(N_OPS):
        priced[i, 0] = 0.0
    for i in range(H_SIZE):
        hwa[i] = hw[i]
    hwa[H_EFF_COMPUTE] = hw[H_EFF_COMPUTE] * x[X_SUSTAINED]
    for i in COMPUTE_ROWS:
        priced[i, 0], priced[i, 1] = op_time(ops, i, hwa)
    for i in (OP_EMBED, OP_FINAL_NORM, OP_LM_HEAD, OP_AR_ATTN, OP_AR_MLP, OP_GATHER_LOGITS, OP_EP_DISPATCH,
              OP_EP_COMBINE):
        priced[i, 0], priced[i, 1] = op_time(ops, i, hwa)
    hwa[H_PEAK_FLOPS] = x[X_ATTN_PEAK]
    fp8 = t[T_MM_BYTES] < 1.5
    if fp8:  # the LM head and the router stay 16-bit in fp8 recipes
        hwa[H_EFF_COMPUTE] = x[X_GEMM16_EFF] * x[X_SUSTAINED]
        for i in (OP_LM_HEAD, OP_ROUTER):
            priced[i, 0], priced[i, 1] = op_time(ops, i, hwa)
    hwa[H_EFF_COMPUTE] = (x[X_ATTN_EFF] if flash else x[X_GEMM16_EFF]) * x[X_SUSTAINED]
    priced[OP_ATTN, 0], priced[OP_ATTN, 1] = op_time(ops, OP_ATTN, hwa)


@kernel
def step_from_layer(m, hw, x, t, scratch, res):
    """:func:`train_step` once ``scratch[1]`` holds the priced layer of ``t``
    (:func:`price_training_layer`): fills ``res``, returns the step's seconds."""
    priced = scratch[1]
    cops = scratch[2]
    w = scratch[4]
    for i in range(R_SIZE):
        res[i] = 0.0
    tp = t[T_TP]
    pp = t[T_PP]
    dp = t[T_DP]
    cp = t[T_CP]
    vpp = t[T_VPP]
    b = t[T_MB]
    s = t[T_SEQ]
    flash = t[T_FLASH] > 0.5
    rec = t[T_RECOMPUTE]
    domain = hw[H_UP_DOMAIN]
    layers = m[M_LAYERS]
    stage_layers = -(-layers // pp)
    micro = t[T_GB] / (dp * b)
    fp8 = t[T_MM_BYTES] < 1.5
    lc = 0.0
    for i in COMPUTE_ROWS:
        lc += priced[i, 0]
    la = priced[OP_ATTN, 0]
    lt = priced[OP_AR_ATTN, 0] + priced[OP_AR_MLP, 0] + priced[OP_EP_DISPATCH, 0] + priced[OP_EP_COMBINE, 0]
    head = priced[OP_FINAL_NORM, 0] + priced[OP_LM_HEAD, 0]
    embed = priced[OP_EMBED, 0]
    ends = head if pp <= 1.0 or head > embed else embed
    if pp <= 1.0:
        ends = head + embed
    ends_tp = 2.0 * priced[OP_GATHER_LOGITS, 0] if (pp <= 1.0 or head > embed) else 0.0
    attn_bwd = 2.5 * la if flash else 2.0 * la
    fwd_l = lc  # one layer's forward and backward outside attention, with fp8's casts
    bwd_l = 2.0 * lc
    if fp8:
        cast_f, cast_b = cast_bytes_per_token(m, t)
        per_byte = b * s / cp / (hw[H_HBM_BW] * hw[H_EFF_HBM])
        fwd_l += cast_f * per_byte
        bwd_l += cast_b * per_byte
    rec_c = 0.0
    rec_t = 0.0
    if rec > 1.5:
        rec_c = fwd_l + la
        rec_t = lt
    elif rec > 0.5 and not flash:
        rec_c = la
    fwd_mb = stage_layers * (fwd_l + la) + ends
    bwd_mb = stage_layers * (bwd_l + attn_bwd) + 2.0 * ends
    compute_mb = fwd_mb + bwd_mb + stage_layers * rec_c
    tp_mb = stage_layers * (2.0 * lt + rec_t) + ends_tp
    first = t[T_FIRST]
    last = t[T_LAST]
    if pp > 1.0 and first > 0.0:
        # uneven stages: the slowest of the first (its layers and the embedding), a middle stage and the last
        # (its layers, the final norm and LM head and the logits' collectives) sets the pace
        middle = (layers - first - last) / (pp - 2.0) if pp > 2.0 else 0.0
        gather = 2.0 * priced[OP_GATHER_LOGITS, 0]
        best = -1.0
        for k, end, end_tp in ((first, embed, 0.0), (middle, 0.0, 0.0), (last, head, gather)):
            if k <= 0.0:
                continue
            total = k * (fwd_l + bwd_l + la + attn_bwd + rec_c + 2.0 * lt + rec_t) + 3.0 * end + end_tp
            if total > best:
                best = total
                stage_layers = k
                fwd_mb = k * (fwd_l + la) + end
                bwd_mb = k * (bwd_l + attn_bwd) + 2.0 * end
                compute_mb = fwd_mb + bwd_mb + k * rec_c
                tp_mb = k * (2.0 * lt + rec_t) + end_tp
    res[R_MICRO] = micro
    res[R_COMPUTE] = micro * compute_mb
    res[R_TP] = micro * tp_mb
    res[R_BUBBLE] = (pp - 1.0) / vpp * (compute_mb + tp_mb)

    # pipeline point-to-point: one send each way per micro-batch and virtual stage
    if pp > 1.0:
        pp_out = 0.0 if tp * cp * dp * pp <= domain else 1.0
        set_send(cops, 0, b * s / cp * m[M_HIDDEN] * 2.0 / tp, pp_out, 1.0)
        res[R_PP] = 2.0 * vpp * micro * comm_time(cops, hw)

    if cp > 1.0:
        res[R_CP] = micro * stage_layers * cp_exchange(m, hw, t, la, attn_bwd, cops)

    # data parallel over dp·cp ranks (hierarchical; routed experts over their expert data-parallel group), per
    # ZeRO stage and the overlap policy
    set_param_counting(t, w)
    params, routed = stage_params(m, w, pp, first, last)
    zero = t[T_ZERO]
    rs_g, ag_w, opt_params = dp_traffic(t, x, hw, domain, stage_layers, params, routed, cops)
    if zero < 0.5:
        dp_t = exposed(2.0 * rs_g, bwd_mb)
    elif zero < 1.5:
        dp_t = exposed(rs_g, bwd_mb) + exposed(ag_w, fwd_mb)
    elif zero < 2.5:
        dp_t = micro * exposed(rs_g, bwd_mb) + exposed(ag_w, fwd_mb)
    else:
        dp_t = micro * (exposed(ag_w, fwd_mb) + exposed(ag_w + rs_g, bwd_mb + stage_layers * rec_c))
    res[R_DP] = dp_t

    # optimizer: memory-bound sweep over this chip's share of the state
    opt_bytes = opt_params * x[X_OPT_TRAFFIC] + (params * WEIGHT_CAST_BYTES if fp8 else 0.0)
    res[R_OPT] = opt_bytes / (hw[H_HBM_BW] * hw[H_EFF_HBM]) + x[X_STEP_OVERHEAD]

    step = res[R_COMPUTE] + res[R_TP] + res[R_BUBBLE] + res[R_PP] + res[R_DP] + res[R_CP] + res[R_OPT]
    res[R_STEP] = step

    fill_memory(m, hw, x, t, w, res)  # w is still set for parameter counts

    # FLOPs per chip per step. Model FLOPs (MFU): 3x the forward of the whole model — linear layers
    # 2·params per token, causal attention 4·head_dim·heads per attended key, LM head 2·h·V per token —
    # over the global batch, no recompute. Executed FLOPs (HFU) add FlashAttention's backward recompute
    # (+0.5x attention), the masked half of unfused attention, and the recompute mode's forward work.
    heads_hd = 4.0 * m[M_HEAD_DIM] * m[M_HEADS]
    attn_seq = heads_hd * layer_keys(m, s) + indexer_flops(m, s)
    linear_seq = 2.0 * active_linear_params(m) * s
    head_seq = 2.0 * m[M_HIDDEN] * m[M_VOCAB] * s
    seqs_per_chip = t[T_GB] / (tp * pp * dp * cp)
    attn_run = attn_seq if flash else heads_hd * s * s + indexer_flops(m, s)
    if uneven_blocks(m):  # the mean block's mixing: attention and recurrent layers over all the blocks
        rec_seq = m[M_REC_LAYERS] * recurrent_flops_per_seq(m, w, s)
        attn_seq = (m[M_ATTN_LAYERS] * attn_seq + rec_seq) / layers
        attn_run = (m[M_ATTN_LAYERS] * attn_run + rec_seq) / layers
    model = 3.0 * seqs_per_chip * (layers * (linear_seq + attn_seq) + head_seq)
    hw_f = 3.0 * seqs_per_chip * (layers * (linear_seq + attn_run) + head_seq)
    if flash:
        hw_f += 0.5 * seqs_per_chip * layers * attn_run
    if rec > 1.5:
        hw_f += seqs_per_chip * layers * (linear_seq + attn_run)
    elif rec > 0.5 and not flash:
        hw_f += seqs_per_chip * layers * attn_run
    res[R_MODEL_FLOPS] = model
    res[R_HW_FLOPS] = hw_f
    return step


@kernel
def set_param_counting(t, w):
    """Set ``w`` (W_SIZE) to count the parameters of layout ``t`` per chip in bytes of one: W_TP, W_PP, W_EP
    and one byte per weight and activation, everything else 0."""
    for i in range(W_SIZE):
        w[i] = 0.0
    w[W_TP] = t[T_TP]
    w[W_PP] = t[T_PP]
    w[W_WEIGHT_BYTES] = 1.0
    w[W_ACT_BYTES] = 1.0
    e = t[T_EP] if t[T_EP] >= 1.0 else 1.0
    w[W_EP] = e * t[T_TP] if e > 1.0 else 1.0


@kernel
def training_memory(m, hw, x, t, w, res):
    """The memory of layout ``t`` alone, as :func:`train_step` fills it (R_STATE, R_ACT, R_MEM, R_FITS of
    ``res``; ``w`` is scratch, W_SIZE): the plain-Python planner asks it before pricing a step."""
    set_param_counting(t, w)
    fill_memory(m, hw, x, t, w, res)


@kernel
def price_layouts(m, hw, x, layouts, n, results):
    """Price ``n`` layouts (rows of ``layouts``, T_SIZE columns) into ``results`` (n x R_SIZE)."""
    scratch = (np.zeros((N_OPS, OP_COLS)), np.zeros((N_OPS, 2)), np.zeros((1, OP_COLS)), np.zeros(H_SIZE),
               np.zeros(W_SIZE))
    res = np.zeros(R_SIZE)
    for k in range(n):
        train_step(m, hw, x, layouts[k], scratch, res)
        for j in range(R_SIZE):
            results[k, j] = res[j]
