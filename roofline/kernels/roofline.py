"""The one roofline function, and the collective and GEMM cost helpers ops are built from."""

from roofline._jit import kernel
from roofline.kernels.layout import (
    BOUND_COMPUTE, BOUND_MEMORY, BOUND_NETWORK, H_ATTN_EFF, H_ATTN_PEAK, H_EFF_COMPUTE, H_EFF_HBM, H_EFF_OUT, H_EFF_UP,
    H_EXPERT_EFF, H_HBM_BW, H_KERNEL_OVERHEAD, H_LAT_BASE, H_LAT_OUT, H_LAT_UP, H_LL128_BASE, H_LL128_OUT, H_LL128_UP,
    H_OUT_BW, H_P2P_REDUCE_BYTES, H_PEAK_FLOPS, H_SIMPLE_BASE, H_SIMPLE_OUT, H_SIMPLE_UP, H_UP_BW, OP_ATTN, OP_COUNT,
    OP_EXPERT_ACT, OP_EXPERT_DOWN, OP_EXPERT_UP, OP_FLOPS, OP_HBM, OP_LINK, OP_ONE_SHOT, OP_SCALE_OUT, OP_STEPS,
)


#: NCCL's cost model (src/graph/tuning.cc, github.com/NVIDIA/nccl): the LL protocol moves 8-byte lines
#: carrying 4 bytes of data plus a flag and reaches 1/4 of the ring bus bandwidth for all-reduce; LL128
#: carries 120 of every 128 bytes (0.92); Simple reaches the full bandwidth but pays the largest latency.
LL_BANDWIDTH_FACTOR = 0.25
LL128_BANDWIDTH_FACTOR = 0.92
#: The serving engines' own all-reduce kernels run over at most 8 chips of one NVLink domain: vLLM's
#: CustomAllreduce (_SUPPORTED_WORLD_SIZES 2, 4, 6, 8), SGLang's copy of it, TensorRT-LLM's one-shot and
#: two-shot kernels (its strategy table covers TP 2, 4 and 8).
P2P_REDUCE_MAX_CHIPS = 8.0
#: Their one-shot sizes (vLLM csrc/custom_all_reduce.cuh, CustomAllreduce::allreduce): every size on 2 chips, under
#: 512 KiB over up to 4, under 256 KiB over up to 8 (TensorRT-LLM's SM90 table switches to two-shot at 32 to 64
#: tokens of a 4,096-wide model over 8 chips: 256 to 512 KiB).
ONE_SHOT_BYTES_4 = 512.0 * 1024.0
ONE_SHOT_BYTES_8 = 256.0 * 1024.0


@kernel
def collective_time(nbytes, steps, scale_out, hw):
    """Seconds of a ring collective sending ``nbytes`` per chip in ``steps`` ring steps: NCCL picks the
    fastest of its three protocols, each ``base + steps x hop + bytes / (factor x bandwidth)``."""
    if scale_out:
        bw = hw[H_OUT_BW] * hw[H_EFF_OUT]
        hop_ll, hop_128, hop_simple = hw[H_LAT_OUT], hw[H_LL128_OUT], hw[H_SIMPLE_OUT]
    else:
        bw = hw[H_UP_BW] * hw[H_EFF_UP]
        hop_ll, hop_128, hop_simple = hw[H_LAT_UP], hw[H_LL128_UP], hw[H_SIMPLE_UP]
    t = nbytes / bw + hw[H_SIMPLE_BASE] + steps * hop_simple
    t_ll = nbytes / (bw * LL_BANDWIDTH_FACTOR) + hw[H_LAT_BASE] + steps * hop_ll
    if t_ll < t:
        t = t_ll
    t_128 = nbytes / (bw * LL128_BANDWIDTH_FACTOR) + hw[H_LL128_BASE] + steps * hop_128
    if t_128 < t:
        t = t_128
    return t


@kernel
def one_shot_time(msg_bytes, n, hw):
    """Seconds of a one-shot all-reduce of ``msg_bytes`` over ``n`` chips of one NVLink domain by a serving
    engine's own kernel (vLLM csrc/custom_all_reduce.cuh cross_device_reduce_1stage, TensorRT-LLM's ONESHOT):
    a barrier of one flag write to each peer, every rank reading the n - 1 peers' whole messages directly over
    its NVLink and summing them, a barrier at the end. A flag write to a peer costs the link's hop latency of
    NCCL's LL protocol (also a flag-carrying write the receiver polls); no NCCL base latency, no ring steps."""
    return 2.0 * hw[H_LAT_UP] + (n - 1.0) * msg_bytes / (hw[H_UP_BW] * hw[H_EFF_UP])


@kernel
def is_one_shot(msg_bytes, n, scale_out):
    """Whether a serving engine runs an all-reduce of ``msg_bytes`` over ``n`` chips with its one-shot kernel
    (under its cap ``H_P2P_REDUCE_BYTES``, checked when priced): 2 to ``P2P_REDUCE_MAX_CHIPS`` chips of one
    NVLink domain at the one-shot sizes.

    The engines' two-shot sizes stay priced as NCCL's ring. An engine takes two-shot where it beats NCCL
    (TensorRT-LLM's table is measured), so the ring's time bounds it from above; from below, 2(n - 1)/n of the
    message at the link's all-reduce bandwidth behind three barriers. No measurement of the two-shot kernels is
    in the data, and the runs of serving.csv do not reach the lower bound: priced at it, the fitted
    per-sequence costs rose by 4 to 6 us and TensorRT-LLM's offline 8B throughput rows of inference.csv (not
    fitted) came out 18 % slow. So the upper bound, the price the tool had before."""
    if scale_out > 0.0 or n < 2.0 or n > P2P_REDUCE_MAX_CHIPS:
        return False
    return n <= 2.0 or (n <= 4.0 and msg_bytes < ONE_SHOT_BYTES_4) or msg_bytes < ONE_SHOT_BYTES_8


@kernel
def link_time(ops, i, hw):
    """Seconds of the collective of op row ``i`` (a row with ``OP_STEPS`` > 0): an all-reduce of the one-shot
    sizes (``OP_ONE_SHOT``, :func:`is_one_shot`) under the engine's cap by :func:`one_shot_time`, every other
    collective by NCCL's ring (:func:`collective_time`)."""
    shot = ops[i, OP_ONE_SHOT]
    if shot > 0.0 and shot < hw[H_P2P_REDUCE_BYTES]:
        return one_shot_time(shot, 0.5 * ops[i, OP_STEPS] + 1.0, hw)
    return collective_time(ops[i, OP_LINK], ops[i, OP_STEPS], ops[i, OP_SCALE_OUT] > 0.0, hw)


@kernel
def op_rates(i, hw):
    """(achievable FLOP/s, achievable HBM bytes/s) of op row ``i``: attention at ``H_ATTN_PEAK`` (the 16-bit
    peak: fused attention kernels compute in 16 bits even when the GEMMs run in fp8 or fp4) and at its own
    fraction ``H_ATTN_EFF`` where one is set; the routed experts' ops at ``H_EXPERT_EFF`` of the GEMM and HBM
    fractions; the other ops at ``H_PEAK_FLOPS``."""
    peak = hw[H_PEAK_FLOPS]
    eff_c = hw[H_EFF_COMPUTE]
    eff_m = hw[H_EFF_HBM]
    if i == OP_ATTN:
        if hw[H_ATTN_PEAK] > 0.0:
            peak = hw[H_ATTN_PEAK]
        if hw[H_ATTN_EFF] > 0.0:
            eff_c = hw[H_ATTN_EFF]
    elif (i == OP_EXPERT_UP or i == OP_EXPERT_ACT or i == OP_EXPERT_DOWN) and hw[H_EXPERT_EFF] > 0.0:
        eff_c = eff_c * hw[H_EXPERT_EFF]
        eff_m = eff_m * hw[H_EXPERT_EFF]
    return peak * eff_c, hw[H_HBM_BW] * eff_m


@kernel
def roofline_seconds(count, flops, hbm, t_n, flops_per_s, bytes_per_s, kernel_s):
    """Time of ``count`` occurrences of an op of ``flops`` and ``hbm`` bytes at the rates of :func:`op_rates`,
    whose collective takes ``t_n`` seconds: each of compute, memory and network is a lower bound; the op
    takes the largest plus ``kernel_s`` per launch. Returns ``(seconds, bound)``."""
    t_c = 0.0
    if flops > 0.0:
        t_c = flops / flops_per_s
    t_m = 0.0
    if hbm > 0.0:
        t_m = hbm / bytes_per_s
    if t_c == 0.0 and t_m == 0.0 and t_n == 0.0:
        return 0.0, BOUND_MEMORY  # nothing to do (a collective over one chip): no kernel runs
    if t_n >= t_c and t_n >= t_m and t_n > 0.0:
        return count * (t_n + kernel_s), BOUND_NETWORK
    if t_c >= t_m:
        return count * (t_c + kernel_s), BOUND_COMPUTE
    return count * (t_m + kernel_s), BOUND_MEMORY


@kernel
def op_time(ops, i, hw):
    """Time of op row ``i`` (all its occurrences) and the limit that bound it.

    Roofline: each of compute (FLOPs ÷ achievable FLOP/s), memory (HBM bytes ÷ achievable bytes/s) and
    network (link bytes ÷ achievable link bytes/s, plus the collective's latency) is a lower bound on
    the op's time; the op takes the largest. Ops of a pass run one after another, so pass times add.
    The rates per row: :func:`op_rates`.

    Returns ``(seconds, bound)`` with bound one of BOUND_COMPUTE, BOUND_MEMORY, BOUND_NETWORK.
    """
    count = ops[i, OP_COUNT]
    if count <= 0.0:
        return 0.0, BOUND_MEMORY
    flops_per_s, bytes_per_s = op_rates(i, hw)
    t_n = 0.0
    if ops[i, OP_STEPS] > 0.0:
        t_n = link_time(ops, i, hw)
    return roofline_seconds(count, ops[i, OP_FLOPS], ops[i, OP_HBM], t_n, flops_per_s, bytes_per_s,
                            hw[H_KERNEL_OVERHEAD])


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
    ops[i, OP_ONE_SHOT] = 0.0
    ops[i, OP_COUNT] = count


@kernel
def set_memory_op(ops, i, hbm_bytes, count):
    """Row ``i`` := an elementwise or gather op: no tensor FLOPs, priced by the bytes it moves."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = hbm_bytes
    ops[i, OP_LINK] = 0.0
    ops[i, OP_STEPS] = 0.0
    ops[i, OP_SCALE_OUT] = 0.0
    ops[i, OP_ONE_SHOT] = 0.0
    ops[i, OP_COUNT] = count


@kernel
def set_allreduce(ops, i, msg_bytes, n, scale_out, count):
    """Row ``i`` := an all-reduce of ``msg_bytes`` over ``n`` chips, as a ring: each chip sends 2(n-1)/n of
    the message in 2(n-1) steps (nothing when n == 1); ``OP_ONE_SHOT`` keeps the message where a serving
    engine's one-shot kernel would take it (:func:`is_one_shot`, :func:`link_time`)."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = 0.0
    ops[i, OP_ONE_SHOT] = 0.0
    if n > 1.0:
        ops[i, OP_LINK] = 2.0 * (n - 1.0) / n * msg_bytes
        ops[i, OP_STEPS] = 2.0 * (n - 1.0)
        if is_one_shot(msg_bytes, n, scale_out):
            ops[i, OP_ONE_SHOT] = msg_bytes
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
    ops[i, OP_ONE_SHOT] = 0.0
    ops[i, OP_COUNT] = count


@kernel
def set_send(ops, i, msg_bytes, scale_out, count):
    """Row ``i`` := a point-to-point send (one step)."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = 0.0
    ops[i, OP_LINK] = msg_bytes
    ops[i, OP_STEPS] = 1.0 if count > 0.0 else 0.0
    ops[i, OP_SCALE_OUT] = scale_out
    ops[i, OP_ONE_SHOT] = 0.0
    ops[i, OP_COUNT] = count


@kernel
def set_alltoall(ops, i, msg_bytes, n, scale_out, count):
    """Row ``i`` := an all-to-all of a ``msg_bytes`` buffer over ``n`` chips: each chip keeps 1/n and
    sends the rest, to all peers at once (one latency step); nothing when n == 1."""
    ops[i, OP_FLOPS] = 0.0
    ops[i, OP_HBM] = 0.0
    if n > 1.0:
        ops[i, OP_LINK] = (n - 1.0) / n * msg_bytes
        ops[i, OP_STEPS] = 1.0
    else:
        ops[i, OP_LINK] = 0.0
        ops[i, OP_STEPS] = 0.0
    ops[i, OP_SCALE_OUT] = scale_out
    ops[i, OP_ONE_SHOT] = 0.0
    ops[i, OP_COUNT] = count
