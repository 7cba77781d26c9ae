"""Parameter counts live in one place: a model reports exactly the parameters the pricing kernels hold in
memory (roofline/kernels/shapes.py), for every profile and every Hugging Face config in the tests."""

from pathlib import Path

import pytest

from roofline.kernels import layout as L
from roofline.kernels import shapes
from roofline.loaders.models import MODELS, load_model
from roofline.pack import pack_model, pack_workload
from roofline.workload import Workload

HF = sorted(str(p.parent) for p in (Path(__file__).parent / "data" / "hf").glob("*/config.json"))


def one_chip_one_byte(model):
    """The workload vector of the whole model on one chip, one byte per weight and per 16-bit value."""
    w = pack_workload(Workload(tp=1), 8192, 1)
    w[L.W_WEIGHT_BYTES] = w[L.W_ACT_BYTES] = 1.0
    return w


@pytest.mark.parametrize("name", MODELS.names() + HF)
def test_weights_on_one_chip_are_the_parameter_count(name):
    model = load_model(name)
    held = shapes.weight_bytes_per_chip(pack_model(model), one_chip_one_byte(model))
    assert held == model.param_count()  # equal, not close: the same count


@pytest.mark.parametrize("name", ["DeepSeek-V3", "Qwen3-30B-A3B", "Mixtral-8x7B", "Llama-3.1-70B"])
def test_tensor_parallel_shards_hold_at_least_the_model(name):
    """TP splits the projections and replicates norms (and K/V heads beyond their count): tp shards hold
    the whole model, and no more than the model plus tp - 1 copies of what is replicated."""
    model = load_model(name)
    m = pack_model(model)
    for tp in (2, 4, 8):
        w = one_chip_one_byte(model)
        w[L.W_TP] = tp
        shard = shapes.weight_bytes_per_chip(m, w)
        assert shard * tp >= model.param_count() * (1 - 1e-12)
        assert shard < model.param_count() / tp * 1.6
