"""Eager training kernels: the extra HBM traffic of a Llama-style block run op by op (PyTorch without
``torch.compile`` or fused kernels), against the fused pricing of :mod:`roofline.kernels.forward`.

The reference is Meta's Llama model code (``llama/model.py``), which eager PyTorch runs one kernel per op:

* **RMSNorm** ``(x.float() * rsqrt(x.float().pow(2).mean(-1) + eps)).type_as(x) * weight``: cast up (read 2,
  write 4 bytes per element), square (4, 4), mean (read 4), scale (4, 4), cast down (4, 2), weight (2, 2):
  36 bytes per element against the fused kernel's 4 (read 2, write 2). A LayerNorm is one native kernel
  (``F.layer_norm``) either way; QK-norm (Qwen3) is an RMSNorm over every query and key element.
* **Rotary embedding** in complex arithmetic on fp32 copies of the queries and keys: cast up (2, 4),
  complex multiply (4, 4), cast down (4, 2): 20 bytes per rotated element; fused rotary rides in the QKV
  epilogue or the attention kernel (0). Models with learned absolute positions rotate nothing.
* **Grouped-query K/V** are expanded to the query heads before attention (``repeat_kv``): K and V read at
  the KV width, written at the query width (2 bytes each).
* **The attention output** is transposed back to ``(tokens, heads x head_dim)`` by a contiguous copy
  (read 2, write 2).
* **SwiGLU** ``silu(gate) * up`` as two kernels: silu (read 2, write 2), product (read 4, write 2): 10 bytes
  per intermediate element against the fused 6, so 5/3 of the activation row. A GELU MLP is one kernel
  either way.

Each is added to the memory-bound rows the block already has (the norms and the MLP activation; every
block attends, as training refuses recurrent mixers); the conventions of :mod:`roofline.kernels.training`
then give backward 2x and recompute. Saved for backward (:func:`eager_saved_bytes`): the fp32 copy of
each RMSNorm input (QK-norm's too), the fp32 rotated inputs, the expanded K/V FlashAttention keeps, and the silu output.
"""

from roofline._jit import kernel
from roofline.kernels.layout import (
    M_GATED, M_HEAD_DIM, M_HEADS, M_HIDDEN, M_KV_LORA, M_NORM_PARAMS, M_POS_ROWS, M_QK_NORM, M_ROPE_DIM, M_V_DIM,
    OP_ATTN_NORM, OP_EXPERT_ACT, OP_FINAL_NORM, OP_HBM, OP_MLP_ACT, OP_MLP_NORM, T_CP, T_MB, T_SEQ, T_SP, T_TP,
)
from roofline.kernels.mixers import kv_heads_per_chip
from roofline.kernels.shapes import norms_per_block

#: Extra HBM bytes per element of an eager RMSNorm over the fused one (36 - 4).
RMS_EXTRA_BYTES = 32.0
#: HBM bytes per rotated element of eager complex-arithmetic rotary embedding.
ROPE_BYTES = 20.0
#: An eager SwiGLU's bytes over the fused kernel's (10 / 6 per intermediate element).
SWIGLU_RATIO = 10.0 / 6.0


@kernel
def _rms(m):
    """Whether the block norms are RMSNorms (h parameters each; a LayerNorm has 2h)."""
    return m[M_NORM_PARAMS] < 1.5 * m[M_HIDDEN]


@kernel
def _widths(m, tp):
    """(query, key/value, rotated query, rotated key, attention output) elements per token on one TP rank."""
    heads = m[M_HEADS] / tp
    kv = kv_heads_per_chip(m, tp) * m[M_HEAD_DIM]
    if m[M_KV_LORA] > 0.0:  # MLA: only the decoupled rotary part turns, the key's part shared by the heads
        return heads * m[M_HEAD_DIM], heads * m[M_HEAD_DIM], heads * m[M_ROPE_DIM], m[M_ROPE_DIM], heads * m[M_V_DIM]
    q = heads * m[M_HEAD_DIM]
    return q, kv, q, kv, q


@kernel
def add_eager_bytes(m, t, ops):
    """Add the eager kernels' extra HBM bytes of one layer (and the final norm) for one micro-batch on one
    chip to the forward rows of ``ops``, filled by ``fill_training_layer``."""
    tp = t[T_TP]
    tokens = t[T_MB] * t[T_SEQ] / t[T_CP]
    h = m[M_HIDDEN]
    sp_div = tp if t[T_SP] > 0.5 else 1.0
    q, kv, q_rot, k_rot, out = _widths(m, tp)
    if _rms(m):
        norm = RMS_EXTRA_BYTES * tokens * h * norms_per_block(m) / 2.0 / sp_div
        ops[OP_ATTN_NORM, OP_HBM] += norm
        ops[OP_MLP_NORM, OP_HBM] += norm
        ops[OP_FINAL_NORM, OP_HBM] += RMS_EXTRA_BYTES * tokens * h / sp_div
    mixer = 4.0 * out  # the output's contiguous copy
    if m[M_POS_ROWS] <= 0.0:
        mixer += ROPE_BYTES * (q_rot + k_rot)
    if kv < q:
        mixer += 4.0 * q + 4.0 * kv
    if m[M_QK_NORM] > 0.5:
        mixer += (RMS_EXTRA_BYTES + 4.0) * (q + kv)
    ops[OP_ATTN_NORM, OP_HBM] += mixer * tokens
    if m[M_GATED] > 0.5:
        ops[OP_MLP_ACT, OP_HBM] *= SWIGLU_RATIO
        ops[OP_EXPERT_ACT, OP_HBM] *= SWIGLU_RATIO


@kernel
def eager_saved_bytes(m, t, ffn):
    """Bytes one layer keeps for backward per micro-batch on one chip beyond the fused accounting of
    ``activation_bytes_per_layer`` (no recompute or selective); ``ffn`` is the MLP intermediate width it
    stores per token on one chip."""
    tp = t[T_TP]
    tokens = t[T_MB] * t[T_SEQ] / t[T_CP]
    h = m[M_HIDDEN]
    sp_div = tp if t[T_SP] > 0.5 else 1.0
    q, kv, q_rot, k_rot, _ = _widths(m, tp)
    saved = 0.0
    if _rms(m):
        saved += 4.0 * h * norms_per_block(m) / sp_div
    if m[M_POS_ROWS] <= 0.0:
        saved += 4.0 * (q_rot + k_rot)
    if kv < q:
        saved += 4.0 * (q - kv)
    if m[M_QK_NORM] > 0.5:
        saved += 4.0 * (q + kv)
    if m[M_GATED] > 0.5:
        saved += 2.0 * ffn
    return saved * tokens
