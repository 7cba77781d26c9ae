"""The serving engines' own all-reduce kernels: vLLM's and SGLang's CustomAllreduce and TensorRT-LLM's one-shot
kernel take the small all-reduces of tensor parallelism (2 to 8 chips of one NVLink domain, under 512 KiB over
up to 4 chips, under 256 KiB over up to 8, under the engine's cap over 2) without NCCL's ring steps and base
latency; the two-shot sizes and the rest keep NCCL's ring price."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline import Workload, load_chip, load_model
from roofline.kernels import layout as L
from roofline.kernels import roofline as R
from roofline.loaders.engines import ENGINES
from roofline.passes import Packed
from roofline.training.estimate import TrainingContext

MIB = 1024.0 * 1024.0


def hardware(engine="vllm", chip="H100-SXM"):
    return Packed(load_chip(chip), load_model("70B"), Workload(tp=8), ENGINES[engine]).hw


def reduce_row(msg_bytes, n, scale_out=0.0):
    ops = np.zeros((1, L.OP_COLS))
    R.set_allreduce(ops, 0, msg_bytes, float(n), scale_out, 1.0)
    return ops


def nccl(ops, hw):
    return R.collective_time(ops[0, L.OP_LINK], ops[0, L.OP_STEPS], ops[0, L.OP_SCALE_OUT] > 0.0, hw)


@pytest.mark.parametrize("engine", ["vllm", "sglang", "trtllm", "generic"])
def test_every_engine_declares_its_kernels_from_its_code(engine):
    e = ENGINES[engine]
    assert 7e6 < e.p2p_allreduce_max_bytes <= 8 * MIB


def test_a_decode_all_reduce_is_one_shot_by_hand():
    """32 tokens of a 4,096-wide model in 16 bits (256 KiB) over 4 chips run one-shot: a flag barrier before
    and after (two hops of the link's LL latency) and 3 peers' whole messages read over the chip's NVLink.
    64 tokens (512 KiB, vLLM's limit over 4 chips) and 32 tokens over 8 chips are two-shot sizes: NCCL's price."""
    hw = hardware()
    bw = hw[L.H_UP_BW] * hw[L.H_EFF_UP]
    hop = hw[L.H_LAT_UP]
    small, large = 32 * 4096 * 2.0, 64 * 4096 * 2.0
    assert R.link_time(reduce_row(small, 4), 0, hw) == pytest.approx(2 * hop + 3 * small / bw, rel=1e-12)
    for msg, n in ((large, 4), (small, 8)):
        ops = reduce_row(msg, n)
        assert R.link_time(ops, 0, hw) == nccl(ops, hw)
    assert R.link_time(reduce_row(small / 2, 8), 0, hw) == pytest.approx(2 * hop + 7 * small / 2 / bw, rel=1e-12)
    # over 2 chips every size under the engine's cap is one-shot
    assert R.link_time(reduce_row(4 * MIB, 2), 0, hw) == pytest.approx(2 * hop + 4 * MIB / bw, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from([2, 4, 6, 8]), st.floats(1e3, 8 * MIB - 1), st.sampled_from(["vllm", "sglang", "trtllm"]))
def test_the_one_shot_kernel_beats_the_ring_of_nccl(n, msg, engine):
    hw = hardware(engine)
    ops = reduce_row(msg, n)
    t = R.link_time(ops, 0, hw)
    if R.is_one_shot(msg, float(n), 0.0) and msg < hw[L.H_P2P_REDUCE_BYTES]:
        assert 0.0 < t < nccl(ops, hw)
    else:
        assert t == nccl(ops, hw)


@pytest.mark.parametrize("msg, n, scale_out", [(8 * MIB, 2, 0.0), (64 * MIB, 4, 0.0), (64 * 1024.0, 16, 0.0),
                                               (64 * 1024.0, 8, 1.0)])
def test_large_wide_or_networked_all_reduces_stay_with_nccl(msg, n, scale_out):
    """At the engine's cap and above, over more than 8 chips (vLLM's and SGLang's world sizes 2-8,
    TensorRT-LLM's table TP 2-8) or across the network, NCCL runs the all-reduce."""
    hw = hardware(chip="GB200")
    ops = reduce_row(msg, n, scale_out)
    assert R.link_time(ops, 0, hw) == nccl(ops, hw)


def test_other_collectives_and_training_keep_the_ring():
    """An all-gather is not an all-reduce, and training has no serving engine: both priced by NCCL."""
    hw = hardware()
    ops = np.zeros((1, L.OP_COLS))
    R.set_allgather(ops, 0, 64 * 1024.0, 8.0, 0.0, 1.0)
    assert R.link_time(ops, 0, hw) == nccl(ops, hw)
    train = TrainingContext.build(load_chip("H100-SXM"), load_model("70B"), "bf16").hw
    assert train[L.H_P2P_REDUCE_BYTES] == 0.0
    ops = reduce_row(64 * 1024.0, 8)
    assert R.link_time(ops, 0, train) == nccl(ops, train)


def test_decode_at_tp8_is_faster_by_the_saved_latency():
    """A 70B decode step of 8 sequences at TP 8 under vLLM (128 KiB all-reduces, one-shot): each of the 160
    all-reduces saves NCCL's base latency and ring steps; nothing else in the step changes."""
    p = Packed(load_chip("H100-SXM"), load_model("70B"), Workload(tp=8), ENGINES["vllm"])
    step = p.decode(8)
    hw = p.hw.copy()
    hw[L.H_P2P_REDUCE_BYTES] = 0.0
    nccl_step = p.tpot(8, hw)
    msg = 8 * 8192 * 2.0
    ops = reduce_row(msg, 8)
    saved = 2 * 80 * (nccl(ops, p.hw) - R.link_time(ops, 0, p.hw))
    assert nccl_step - step.time_s == pytest.approx(saved, rel=1e-9)
