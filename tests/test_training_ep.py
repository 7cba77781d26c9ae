"""Expert parallelism in training: the routed experts' data-parallel traffic and optimizer share go over the
dp·cp / ep ranks holding the same experts (``roofline/kernels/train_dp.py``); ep 1 keeps every parameter over
dp·cp. Mutations these tests catch (checked by hand when written): reducing the routed experts over all dp·cp
ranks fails ``test_routed_experts_reduce_over_their_expert_data_parallel_group`` and
``test_ep_equal_to_dp_leaves_the_experts_no_gradient_reduce``; dropping the routed part's reduce fails the
first; updating their optimizer state over dp·cp fails it and
``test_whole_estimate_prices_the_optimizer_over_the_expert_group``."""

import numpy as np
import pytest

from roofline import load_chip, load_model
from roofline.kernels import layout as L
from roofline.kernels import train_dp as KD
from roofline.kernels import training as KT
from roofline.pack import pack_layout
from roofline.training.estimate import TrainingContext, estimate_training
from roofline.workload import TrainingWorkload

H100 = load_chip("H100")
MIXTRAL = load_model("mixtral-8x7b")


def _setup(dp, ep, zero=2):
    ctx = TrainingContext.build(H100, MIXTRAL, "bf16")
    wl = TrainingWorkload(num_chips=dp, tp=1, pp=1, dp=dp, micro_batch=1, global_batch=4 * dp, seq_len=4096,
                          recompute="none", zero=zero, virtual_pp=1, ep=ep)
    t = pack_layout(wl, MIXTRAL.num_layers)
    w = np.zeros(L.W_SIZE)
    KT.set_param_counting(t, w)
    params, routed = KD.stage_params(ctx.m, w, 1.0, 0.0, 0.0)
    return ctx, t, params, routed


def _group(n, stride, bytes_, ctx):
    n_in, n_out = KD.dp_group(n, stride, H100.scale_up_domain)
    return KD.dp_shard_time(bytes_, MIXTRAL.num_layers, n_in, n_out, ctx.hw, np.zeros((1, L.OP_COLS)))


def test_routed_experts_reduce_over_their_expert_data_parallel_group():
    ctx, t, params, routed = _setup(dp=64, ep=8)
    # one whole expert per chip: 3 x hidden x moe_ffn parameters in each of the 32 layers
    assert routed == pytest.approx(32 * 3 * 4096 * 14336, rel=1e-12)
    cops = np.zeros((1, L.OP_COLS))
    rs, ag, opt = KD.dp_traffic(t, ctx.x, ctx.hw, H100.scale_up_domain, 32.0, params, routed, cops)
    other = params - routed
    reduce_b, param_b = ctx.x[L.X_REDUCE_BYTES], ctx.x[L.X_PARAM_BYTES]
    assert rs == pytest.approx(_group(64, 1, other * reduce_b, ctx) + _group(8, 8, routed * reduce_b, ctx), rel=1e-12)
    assert ag == pytest.approx(_group(64, 1, other * param_b, ctx) + _group(8, 8, routed * param_b, ctx), rel=1e-12)
    assert opt == pytest.approx(other / 64 + routed / 8, rel=1e-12)
    # the expert group's 8 ranks are 8 apart: one per node of 8, so its reduce crosses the network
    assert KD.dp_group(8, 8, H100.scale_up_domain) == (1, 8)


def test_ep_one_keeps_every_parameter_over_dp():
    ctx, t, params, routed = _setup(dp=64, ep=1)
    cops = np.zeros((1, L.OP_COLS))
    rs, ag, opt = KD.dp_traffic(t, ctx.x, ctx.hw, H100.scale_up_domain, 32.0, params, routed, cops)
    assert rs == _group(64, 1, params * ctx.x[L.X_REDUCE_BYTES], ctx)
    assert opt == params / 64


def test_ep_equal_to_dp_leaves_the_experts_no_gradient_reduce():
    """ep = dp (= the experts): each expert lives on one chip, so only the other parameters are reduced."""
    ctx, t, params, routed = _setup(dp=8, ep=8)
    cops = np.zeros((1, L.OP_COLS))
    rs, _, opt = KD.dp_traffic(t, ctx.x, ctx.hw, H100.scale_up_domain, 32.0, params, routed, cops)
    assert rs == pytest.approx(_group(8, 1, (params - routed) * ctx.x[L.X_REDUCE_BYTES], ctx), rel=1e-12)
    assert opt == pytest.approx((params - routed) / 8 + routed, rel=1e-12)


def test_whole_estimate_prices_the_optimizer_over_the_expert_group():
    """Through the whole step, by the closed form. ZeRO-1 shards all the expert state over the same 64 chips
    whatever ep is (each expert on 8 chips, an eighth each; or on 64, a 64th each), so the sweep is the same,
    where sharding the ep=8 chip's experts over all 64 ranks would give less."""
    steps = {}
    for ep in (1, 8):
        ctx, t, params, routed = _setup(dp=64, ep=ep, zero=1)
        wl = TrainingWorkload(num_chips=64, tp=1, pp=1, dp=64, micro_batch=1, global_batch=256, seq_len=4096,
                              recompute="none", zero=1, virtual_pp=1, ep=ep)
        est = estimate_training(H100, MIXTRAL, wl)
        opt = params / 64 if ep == 1 else (params - routed) / 64 + routed / 8
        bps = ctx.hw[L.H_HBM_BW] * ctx.hw[L.H_EFF_HBM]
        expected = opt * ctx.x[L.X_OPT_TRAFFIC] / bps + ctx.x[L.X_STEP_OVERHEAD]
        optimizer = dict(est.breakdown)["optimizer"]
        assert optimizer == pytest.approx(expected, rel=1e-12)
        steps[ep] = optimizer
        wrong = params / 64 * ctx.x[L.X_OPT_TRAFFIC] / bps + ctx.x[L.X_STEP_OVERHEAD]
        assert (optimizer > wrong * (1 + 1e-3)) == (ep > 1)
    assert steps[8] == pytest.approx(steps[1], rel=1e-9)
