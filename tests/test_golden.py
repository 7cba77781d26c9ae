"""Exact figures derived by hand, and the H20-vs-H100 story as it falls out of the roofline."""

import pytest

import roofline
from roofline import Workload, load_model


def llama_params(L, h, heads, kv, ffn, vocab, tied=False):
    hd = h // heads
    attn = h * heads * hd + 2 * h * kv * hd + heads * hd * h
    mlp = 3 * h * ffn
    return vocab * h + L * (attn + mlp + 2 * h) + h + (0 if tied else vocab * h)


@pytest.mark.parametrize("name, by_hand", [
    ("Llama-2-7B", llama_params(32, 4096, 32, 32, 11008, 32000)),
    ("Llama-2-13B", llama_params(40, 5120, 40, 40, 13824, 32000)),
    ("Llama-2-70B", llama_params(80, 8192, 64, 8, 28672, 32000)),
    ("Llama-3.1-8B", llama_params(32, 4096, 32, 8, 14336, 128256)),
    ("70B", llama_params(80, 8192, 64, 8, 28672, 128256)),
    ("405B", llama_params(126, 16384, 128, 8, 53248, 128256)),
    ("Mistral-7B", llama_params(32, 4096, 32, 8, 14336, 32000)),
])
def test_parameter_counts(name, by_hand):
    assert load_model(name).param_count() == by_hand


def test_published_headline_counts():
    assert load_model("Llama-3.1-70B").param_count() == 70_553_706_496  # 70.55e9
    assert load_model("Llama-2-7B").param_count() == 6_738_415_616  # 6.74e9
    # Qwen2.5-7B: q/k/v biases (3584 + 2 * 512 per layer), untied 152064-row head.
    q = load_model("Qwen2.5-7B")
    h, L, kvd, f, V = 3584, 28, 4 * 128, 18944, 152064
    per_layer = 2 * h * h + 2 * h * kvd + (h + 2 * kvd) + 3 * h * f + 2 * h
    assert q.param_count() == 2 * V * h + L * per_layer + h
    # GPT-3 175B: learned positions, LayerNorm and biases, tied embeddings.
    g = load_model("GPT-3-175B")
    h, L = 12288, 96
    per_layer = 4 * h * h + 4 * h + 2 * h * 4 * h + 4 * h + h + 2 * 2 * h
    assert g.param_count() == (50257 + 2048) * h + L * per_layer + 2 * h
    assert g.param_count() == pytest.approx(175e9, rel=0.01)


@pytest.mark.parametrize("name, kv_dtype, by_hand", [
    ("70B", "bf16", 2 * 8 * 128 * 80 * 2),  # 327,680 bytes per token
    ("Llama-2-7B", "bf16", 2 * 32 * 128 * 32 * 2),  # no GQA: 524,288
    ("8B", "fp8", 2 * 8 * 128 * 32 * 1),
    ("405B", "bf16", 2 * 8 * 128 * 126 * 2),
    ("Qwen2.5-72B", "int8", 2 * 8 * 128 * 80 * 1),
])
def test_kv_bytes_per_token(name, kv_dtype, by_hand):
    est = roofline.estimate("H200", name, Workload(kv_dtype=kv_dtype, tp=8))
    assert est.to_dict()["model"]["kv_bytes_per_token"] == by_hand


def test_kv_bytes_per_token_golden_value():
    assert roofline.estimate("H100", "70B", Workload(tp=4)).to_dict()["model"]["kv_bytes_per_token"] == 327_680


def test_sliding_window_caps_the_cache():
    mistral = load_model("Mistral-7B")
    assert mistral.sliding_window == 4096
    short = roofline.estimate("H100", mistral, Workload(input_len=4000, output_len=1, tp=1)).inference
    long = roofline.estimate("H100", mistral, Workload(input_len=30000, output_len=1, tp=1)).inference
    assert long.kv_bytes_per_chip == pytest.approx(short.kv_bytes_per_chip * 4096 / 4001)


def test_h20_decodes_faster_but_prefills_slower_than_h100():
    """Same layout on both chips: batch-1 decode reads the weights from HBM (H20: 4.0 TB/s vs 3.35),
    prefill is compute-bound (H20: 148 vs 989 dense TFLOP/s)."""
    wl = Workload(batch=1, tp=8)
    h20 = roofline.estimate("H20", "70B", wl).inference
    h100 = roofline.estimate("H100", "70B", wl).inference
    assert h20.decode.bound == h100.decode.bound == "memory"
    assert h20.prefill.bound == h100.prefill.bound == "compute"
    assert h20.tpot_s < h100.tpot_s
    assert h20.prefill.time_s / h100.prefill.time_s > 4  # the pass; TTFT adds the engine's fixed time per request
    assert h20.ttft_s - h20.prefill.time_s == pytest.approx(h100.ttft_s - h100.prefill.time_s, rel=1e-9)
    assert h20.ttft_s > h20.prefill.time_s


def test_default_layout_story_holds_too():
    """`roofline estimate --chip X --model 70B` picks the smallest TP that fits on each chip."""
    h20 = roofline.estimate("H20", "70B").inference
    h100 = roofline.estimate("H100", "70B").inference
    assert h20.tpot_s < h100.tpot_s and h20.prefill.time_s > 4 * h100.prefill.time_s
