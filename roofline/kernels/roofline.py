"""The one roofline function, and the collective and GEMM cost helpers ops are built from."""

from roofline._jit import kernel
from roofline.kernels.layout import (
    BOUND_COMPUTE, BOUND_MEMORY, BOUND_NETWORK, H_EFF_COMPUTE, H_EFF_HBM, H_EFF_OUT, H_EFF_UP, H_HBM_BW,
    H_LAT_BASE, H_LAT_OUT, H_LAT_UP, H_OUT_BW, H_PEAK_FLOPS, H_UP_BW, OP_COUNT, OP_FLOPS, OP_HBM, OP_LINK,
    OP_SCALE_OUT, OP_STEPS,
)


@kernel
def op_time(ops, i, hw):
    """Time of op row ``i`` (all its occurrences) and the limit that bound it.

    Roofline: each of compute (FLOPs ÷ achievable FLOP/s), memory (HBM bytes ÷ achievable bytes/s) and
    network (link bytes ÷ achievable link bytes/s, plus the collective's latency) is a lower bound on
    the op's time; the op takes the largest. Ops of one pass run one after another, so pass times add.

    Returns ``(seconds, bound)`` with bound one of BOUND_COMPUTE, BOUND_MEMORY, BOUND_NETWORK.
    """
    count = ops[i, OP_COUNT]
    if count <= 0.0:
        return 0.0, BOUND_MEMORY
    t_c = 0.0
    if ops[i, OP_FLOPS] > 0.0:
        t_c = ops[i, OP_FLOPS] / (hw[H_PEAK_FLOPS] * hw[H_EFF_COMPUTE])
    t_m = 0.0
    if ops[i, OP_HBM] > 0.0:
        t_m = ops[i, OP_HBM] / (hw[H_HBM_BW] * hw[H_EFF_HBM])
    t_n = 0.0
    if ops[i, OP_STEPS] > 0.0:
        if ops[i, OP_SCALE_OUT] > 0.0:
            t_n = ops[i, OP_LINK] / (hw[H_OUT_BW] * hw[H_EFF_OUT]) + hw[H_LAT_BASE] + ops[i, OP_STEPS] * hw[H_LAT_OUT]
        else:
            t_n = ops[i, OP_LINK] / (hw[H_UP_BW] * hw[H_EFF_UP]) + hw[H_LAT_BASE] + ops[i, OP_STEPS] * hw[H_LAT_UP]
    if t_n >= t_c and t_n >= t_m and t_n > 0.0:
        return count * t_n, BOUND_NETWORK
    if t_c >= t_m:
        return count * t_c, BOUND_COMPUTE
    return count * t_m, BOUND_MEMORY


@kernel
def price_ops(ops, n_ops, hw, out):
    """Price every op row; ``out`` receives (seconds, bound) per row. Returns the summed seconds."""
    total = 0.0
    for i in range(n_ops):
        t, b = op_time(ops, i, hw)
        out[i, 0] = t
        out[i, 1] = b
        total += t
    return total


@kernel
def set_gemm(ops, i, m, k, n, w_bytes, a_bytes, count):
    """Row ``i`` := a GEMM of an (m x k) activation by a (k x n) weight: 2mkn FLOPs; reads the weight
    and the input, writes the output."""
    ops[i, OP_FLOPS] = 2.0 * m * k * n
    ops[i, OP_HBM] = k * n * w_bytes + m * k * a_bytes + m * n * a_bytes
    ops[i, OP_LINK] = 0.0
    ops[i, OP_STEPS] = 0.0
    ops[i, OP_SCALE_OUT] = 0.0
    ops[i, OP_COUNT] = count


@kernel
def set_memory_op(ops, i, hbm_bytes, count):
    """Row ``i`` := an elementwise or gather op: no tensor FLOPs, priced by the bytes it moves."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = hbm_bytes
    ops[i, OP_LINK] = 0.0
    ops[i, OP_STEPS] = 0.0
    ops[i, OP_SCALE_OUT] = 0.0
    ops[i, OP_COUNT] = count


@kernel
def set_allreduce(ops, i, msg_bytes, n, scale_out, count):
    """Row ``i`` := a ring all-reduce of ``msg_bytes`` over ``n`` chips: each chip sends
    2(n-1)/n of the message in 2(n-1) steps (nothing when n == 1)."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = 0.0
    if n > 1.0:
        ops[i, OP_LINK] = 2.0 * (n - 1.0) / n * msg_bytes
        ops[i, OP_STEPS] = 2.0 * (n - 1.0)
    else:
        ops[i, OP_LINK] = 0.0
        ops[i, OP_STEPS] = 0.0
    ops[i, OP_SCALE_OUT] = scale_out
    ops[i, OP_COUNT] = count


@kernel
def set_allgather(ops, i, shard_bytes, n, scale_out, count):
    """Row ``i`` := a ring all-gather of ``n`` shards of ``shard_bytes``: (n-1) shards sent in (n-1) steps."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = 0.0
    if n > 1.0:
        ops[i, OP_LINK] = (n - 1.0) * shard_bytes
        ops[i, OP_STEPS] = n - 1.0
    else:
        ops[i, OP_LINK] = 0.0
        ops[i, OP_STEPS] = 0.0
    ops[i, OP_SCALE_OUT] = scale_out
    ops[i, OP_COUNT] = count


@kernel
def set_send(ops, i, msg_bytes, scale_out, count):
    """Row ``i`` := a point-to-point send (one step)."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = 0.0
    ops[i, OP_LINK] = msg_bytes
    ops[i, OP_STEPS] = 1.0 if count > 0.0 else 0.0
    ops[i, OP_SCALE_OUT] = scale_out
    ops[i, OP_COUNT] = count
