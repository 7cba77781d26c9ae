"""Routed experts: how they spread over the chips, how many tokens the busiest chip's experts take, and
the width they work in (a latent MoE's latent). The parameter counts built on these are in
:mod:`roofline.kernels.shapes`; the tensor-parallel conventions are those of :mod:`roofline.kernels.forward`.
"""

import math

from roofline._jit import kernel
from roofline.kernels.layout import (
    M_EXPERTS, M_GATED, M_HIDDEN, M_MOE_FFN, M_MOE_LATENT, W_ATTN_DP, W_EP, W_TP,
)


@kernel
def expert_split(m, w):
    """(routed experts held by each chip, ways each expert is split, MoE-group tokens per attention-group
    token). ep <= tp: experts spread over ep of the TP ranks, each split tp/ep ways, the group is the TP
    group. ep > tp: whole experts, ceil(E / ep) per chip, and ep / tp attention groups feed each MoE layer.
    ``W_ATTN_DP`` groups beyond ep / tp (``Workload.dp_attention``, ep 1): every expert on every chip of the
    groups, split tp x groups ways, and the groups' tokens gathered into each MoE layer."""
    tp = w[W_TP]
    ep = w[W_EP] if w[W_EP] >= 1.0 else 1.0
    e = m[M_EXPERTS]
    dp = w[W_ATTN_DP]
    if dp > 1.0 and ep < tp * dp:
        return e / ep, tp * dp / ep, dp
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
def expert_width(m):
    """Width the routed experts read and write: the latent of a latent MoE, else the hidden size."""
    return m[M_MOE_LATENT] if m[M_MOE_LATENT] > 0.0 else m[M_HIDDEN]


@kernel
def latent_moe_params(m, experts, tp):
    """What a latent MoE changes in one MoE layer's parameters on one TP rank, against experts in the hidden
    width: ``experts`` routed experts narrowed to the latent (TP-split) and the two projections to and from
    it (whole on every rank); 0 without a latent."""
    lat = m[M_MOE_LATENT]
    if lat <= 0.0:
        return 0.0
    n_in = 2.0 if m[M_GATED] > 0.5 else 1.0
    return (n_in + 1.0) * (lat - m[M_HIDDEN]) * experts * m[M_MOE_FFN] / tp + 2.0 * m[M_HIDDEN] * lat
