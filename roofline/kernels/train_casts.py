"""fp8 training: the scaling casts TransformerEngine-style recipes add around every fp8 GEMM.

With per-tensor (delayed) scaling, each fp8 GEMM's 16-bit input is cast to fp8 in forward, and its
16-bit output gradient in backward, by a fused cast-transpose kernel that reads the tensor (2 bytes per
element), records its amax, and writes the fp8 copy and its transpose (1 + 1 bytes: the weight-gradient
GEMM needs the transposed operand on Hopper's fp8 tensor cores). These are memory-bound kernels of their
own, priced on HBM. Weights are cast once per optimizer step (read 2, write fp8 and transpose 2), the
fp8 copies reused by every micro-batch. The amax reductions and scale updates are a few numbers per
tensor and are not priced. What stays 16-bit: the attention core (FlashAttention), the LM head and the
router, which fp8 recipes leave in bf16 (NVIDIA TransformerEngine and NeMo fp8 recipes).
"""

from roofline._jit import kernel
from roofline.kernels.layout import (
    M_EXPERTS, M_GATED, M_HEAD_DIM, M_HEADS, M_HIDDEN, M_MOE_FRAC, M_MOE_LATENT, M_SHARED_FFN, M_TOPK, T_TP,
)
from roofline.kernels.mixers import kv_heads_per_chip
from roofline.kernels.train_mixers import hybrid_cast_elements, mlp_width, uneven_blocks

#: HBM bytes per element a cast-transpose moves: read 16-bit, write fp8 and its fp8 transpose.
CAST_BYTES_PER_ELEMENT = 4.0
#: HBM bytes per parameter of the once-per-step weight cast (same kernel).
WEIGHT_CAST_BYTES = 4.0


@kernel
def cast_bytes_per_token(m, t):
    """(forward, backward) HBM bytes of one layer's fp8 casts per token on one TP rank: the inputs of the
    QKV, output-projection and MLP GEMMs in forward, their output gradients in backward. The MoE share of
    the blocks casts one copy of the token per routed expert (and one for the shared experts). A hybrid mix:
    :func:`roofline.kernels.train_mixers.hybrid_cast_elements`."""
    tp = t[T_TP]
    if uneven_blocks(m) or m[M_MOE_LATENT] > 0.0:
        fwd, bwd = hybrid_cast_elements(m, tp)
        return fwd * CAST_BYTES_PER_ELEMENT, bwd * CAST_BYTES_PER_ELEMENT
    h = m[M_HIDDEN]
    q = m[M_HEADS] / tp * m[M_HEAD_DIM]
    kv = kv_heads_per_chip(m, tp) * m[M_HEAD_DIM]
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    copies = 1.0
    ffn = mlp_width(m, tp)
    if m[M_EXPERTS] > 0.0:
        shared = 1.0 if m[M_SHARED_FFN] > 0.0 else 0.0
        copies = (1.0 - m[M_MOE_FRAC]) + m[M_MOE_FRAC] * (m[M_TOPK] + shared)
    fwd = h + q + copies * h + ffn
    bwd = (q + 2.0 * kv) + h + n_in * ffn + copies * h
    return fwd * CAST_BYTES_PER_ELEMENT, bwd * CAST_BYTES_PER_ELEMENT
