"""Data-parallel traffic of a training step: what one chip reduces and gathers over its data-parallel ranks,
and the share of the state its optimizer updates.

Conventions (those of :mod:`roofline.kernels.training`): ranks are ordered TP (innermost), CP, DP, PP, and a
data-parallel collective is hierarchical, a scale-up part over the ranks of the group inside one domain and a
scale-out part across domains, pipelined (the slower sets the time), one piece per layer. With expert
parallelism over ``ep`` of the data-parallel ranks (the inner part of DP, as Megatron-LM orders expert ranks),
the routed experts' parameters are held by the dp·cp / ep ranks ``ep`` apart (Megatron-LM's expert
data-parallel group): their gradients, gathers and optimizer state go over that group, the rest over all
dp·cp ranks, one collective after the other. Without it (ep 1) every parameter goes over dp·cp.
"""

from roofline._jit import kernel
from roofline.kernels.layout import (
    M_LAYERS, M_MOE_LAYERS, T_CP, T_DP, T_EP, T_TP, T_ZERO, X_PARAM_BYTES, X_REDUCE_BYTES,
)
from roofline.kernels.roofline import op_time, set_allgather
from roofline.kernels.shapes import (
    block_weight_bytes, kind_share, moe_layer_params_per_chip, stage_bytes_of, weight_bytes_per_chip,
)


@kernel
def comm_time(cops, hw):
    """Seconds of comm row 0 (the only row set): op_time on a one-row table."""
    t, _ = op_time(cops, 0, hw)
    return t


@kernel
def dp_shard_time(nbytes, pieces, n_in, n_out, hw, cops):
    """Seconds of a hierarchical reduce-scatter (or all-gather) of ``nbytes`` over n_in x n_out ranks,
    issued as ``pieces`` collectives (one per layer: FSDP units, gradient buckets): per piece a
    scale-up part over n_in ranks and a scale-out part over n_out, pipelined (the slower sets it)."""
    if n_in * n_out <= 1.0:
        return 0.0
    piece = nbytes / pieces
    set_allgather(cops, 0, piece / n_in, n_in, 0.0, pieces)
    t_up = comm_time(cops, hw) if n_in > 1.0 else 0.0
    set_allgather(cops, 0, piece / (n_in * n_out), n_out, 1.0, pieces)
    t_out = comm_time(cops, hw) if n_out > 1.0 else 0.0
    return t_up if t_up > t_out else t_out


@kernel
def dp_group(n, stride, domain):
    """(ranks of one scale-up domain, domains) of a group of ``n`` ranks ``stride`` apart."""
    per_domain = domain // stride
    if per_domain < 1.0:
        per_domain = 1.0
    n_in = n if n < per_domain else per_domain
    return n_in, -(-n // n_in)


@kernel
def stage_routed(m, w, k):
    """Routed expert parameters on one chip of a stage of ``k`` blocks (``w`` as for :func:`stage_params`)."""
    return kind_share(m, k, m[M_MOE_LAYERS]) * moe_layer_params_per_chip(m, w)[0]


@kernel
def sharded(params, routed, per_param, n, ep):
    """Bytes (``per_param`` each) of one chip's shard of ``params`` parameters sharded over ``n`` ranks, the
    ``routed`` expert parameters among them over the n / ``ep`` ranks holding the same experts; ``n`` 1: the
    whole."""
    if ep <= 1.0 or n <= 1.0:
        return params * per_param / n
    return (params - routed) * per_param / n + routed * per_param / (n / ep)


@kernel
def stage_params(m, w, pp, first, last):
    """(parameters, routed expert parameters) on one chip of the stage holding the most parameters, in the
    units ``w`` counts in (``training.set_param_counting``: bytes of one); ``first``/``last`` the uneven
    stages' layers (0: an even split, ceil(L / pp) blocks a stage)."""
    layers = m[M_LAYERS]
    if pp <= 1.0:
        k = layers
        params = weight_bytes_per_chip(m, w)
    elif first <= 0.0:
        k = -(-layers // pp)
        params = weight_bytes_per_chip(m, w)
    else:
        parts = block_weight_bytes(m, w)
        k = first
        params = stage_bytes_of(m, parts, first, 1.0, 0.0)
        with_head = stage_bytes_of(m, parts, last, 0.0, 1.0)
        if with_head > params:
            k = last
            params = with_head
        if pp > 2.0:
            middle = (layers - first - last) / (pp - 2.0)
            mid = stage_bytes_of(m, parts, middle, 0.0, 0.0)
            if mid > params:
                k = middle
                params = mid
    return params, stage_routed(m, w, k)


@kernel
def dp_traffic(t, x, hw, domain, pieces, params, routed, cops):
    """(gradient reduce-scatter seconds, parameter all-gather seconds, parameters the optimizer updates on
    this chip) of a stage holding ``params`` parameters, ``routed`` of them routed experts."""
    tp = t[T_TP]
    n = t[T_DP] * t[T_CP]
    ep = t[T_EP]
    opt = sharded(params, routed, 1.0, n if t[T_ZERO] > 0.5 else 1.0, ep)
    n_in, n_out = dp_group(n, tp, domain)
    if ep <= 1.0:
        rs = dp_shard_time(params * x[X_REDUCE_BYTES], pieces, n_in, n_out, hw, cops)
        ag = dp_shard_time(params * x[X_PARAM_BYTES], pieces, n_in, n_out, hw, cops)
        return rs, ag, opt
    other = params - routed
    e_in, e_out = dp_group(n / ep, tp * ep, domain)
    rs = (dp_shard_time(other * x[X_REDUCE_BYTES], pieces, n_in, n_out, hw, cops)
          + dp_shard_time(routed * x[X_REDUCE_BYTES], pieces, e_in, e_out, hw, cops))
    ag = (dp_shard_time(other * x[X_PARAM_BYTES], pieces, n_in, n_out, hw, cops)
          + dp_shard_time(routed * x[X_PARAM_BYTES], pieces, e_in, e_out, hw, cops))
    return rs, ag, opt
