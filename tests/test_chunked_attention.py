"""Llama 4's chunked attention (``Model.attention_chunked``): a token attends to the earlier tokens of its own
aligned chunk of ``sliding_window`` tokens. Prompts are priced exactly (key visits against a count by brute
force); a decode step past the first chunk at the mean place in a chunk; below one chunk the blocks cost what
a sliding window of the chunk does (both see every earlier token). The sweep prices it as the single estimate
does (tests/test_sweep.py, every attention kind)."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline import api
from roofline.errors import RooflineError
from roofline.kernels import forward as F
from roofline.kernels import training as T
from roofline.loaders.models import load_model, model_from_dict
from roofline.pack import pack_model
from roofline.workload import Workload
from tests.test_hf_families import CONFIGS


@settings(max_examples=300, deadline=None)
@given(q=st.integers(1, 3000), c0=st.integers(0, 5000), chunk=st.integers(1, 700))
def test_chunked_keys_count_every_token_within_its_chunk(q, c0, chunk):
    brute = sum(p % chunk + 1 for p in range(c0, c0 + q))
    assert F.chunked_keys(float(q), float(c0), float(chunk)) == pytest.approx(brute, rel=1e-12)


def _softmax(q, c0, window):
    """(keys, cache tokens read) of one layer, from softmax_at with unit terms (one FLOP per key, one byte per
    cached token, nothing new)."""
    keys, read = F.softmax_at(1.0, q, c0, window, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0)
    return keys, read


def test_a_prompt_reads_its_chunks_and_a_late_decode_step_the_mean_place():
    chunk = 8192.0
    keys, read = _softmax(20000.0, 0.0, -chunk)
    assert keys == 2 * chunk * (chunk + 1) / 2 + 3616 * 3617 / 2 and read == 20000.0
    keys, read = _softmax(5000.0, 3000.0, -chunk)  # a prompt piece after 3,000 cached: crosses into chunk 2
    assert keys == F.chunked_keys(5000.0, 3000.0, chunk) and read == 8000.0
    assert _softmax(1.0, 100.0, -chunk) == _softmax(1.0, 100.0, 0.0) == (101.0, 101.0)  # first chunk: exact
    mean = (chunk - 1) / 2
    for c0 in (8192.0, 9000.0, 16383.0, 130000.0):
        assert _softmax(1.0, c0, -chunk) == (mean + 1, mean + 1)
        assert _softmax(3.0, c0, -chunk) == (3 * mean + 6, mean + 3)


MAVERICK = load_model("Llama-4-Maverick")
WINDOWED = attrs.evolve(MAVERICK, attention_chunked=False)


def _times(model, **wl):
    inf = api.estimate("H200", model, Workload(tp=8, weight_dtype="fp8", **wl), reference=None).inference
    return inf.ttft_s, inf.tpot_s


def test_below_one_chunk_it_costs_what_the_window_does_and_beyond_it_less():
    assert _times(MAVERICK, batch=8, input_len=2048, output_len=256) == _times(WINDOWED, batch=8, input_len=2048,
                                                                                output_len=256)
    (ttft_c, tpot_c), (ttft_w, tpot_w) = (_times(m, batch=8, input_len=32768, output_len=512)
                                          for m in (MAVERICK, WINDOWED))
    assert ttft_c < ttft_w and tpot_c < tpot_w


def test_training_visits_the_chunks_exactly():
    m = pack_model(MAVERICK)
    s, c = 32768.0, 8192.0
    full, chunked = s * (s + 1) / 2, 4 * c * (c + 1) / 2
    assert T.layer_keys(m, s) == pytest.approx((12 * full + 36 * chunked) / 48, rel=1e-12)
    assert T.layer_keys(pack_model(WINDOWED), s) > T.layer_keys(m, s)


def test_the_configs_and_the_profile_say_chunked():
    assert MAVERICK.attention_chunked and MAVERICK.swa_layers == 36
    scout = load_model(CONFIGS / "meta-llama--Llama-4-Scout-17B-16E-Instruct")
    assert scout.attention_chunked and scout.sliding_window == 8192
    assert not load_model(CONFIGS / "openai--gpt-oss-120b").attention_chunked
    assert "chunked attention (8,192)" in MAVERICK.layer_mix
    with pytest.raises(RooflineError, match="attention_chunked=true needs the chunk as sliding_window"):
        model_from_dict({"name": "x", "num_layers": 2, "hidden_size": 64, "num_heads": 4, "num_kv_heads": 4,
                         "intermediate_size": 128, "vocab_size": 100, "attention_chunked": True})

