"""The layer mix (issue 17): sliding-window, sparse, linear-attention and Mamba-2 blocks priced by kind.

Synthetic models keep the arithmetic checkable by hand; the published models (gpt-oss-120b, Qwen3.5) check
that the profiles load and serve.
"""

import attrs
import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from roofline import Workload, load_chip, load_model
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels import shapes
from roofline.kernels.forward import attention_cost
from roofline.kernels.mixers import recurrent_widths
from roofline.model import Model
from roofline.pack import pack_model
from roofline.passes import Packed
from roofline.serving.inflight import estimate_serving
from roofline.workload import valid_tp_sizes

BASE = dict(name="mix", num_layers=24, hidden_size=2048, num_heads=16, num_kv_heads=4, head_dim=128,
            intermediate_size=5632, vocab_size=32000)
GDN = dict(linear_key_heads=8, linear_value_heads=16, linear_key_head_dim=128, linear_value_head_dim=128,
           linear_conv_kernel=4)
MAMBA = dict(mamba_heads=64, mamba_head_dim=64, mamba_state_size=128, mamba_groups=8, mamba_conv_kernel=4)
DSA = dict(kv_lora_rank=512, q_lora_rank=1536, qk_nope_head_dim=128, qk_rope_head_dim=64, v_head_dim=128,
           num_kv_heads=16, head_dim=192)


def model(**kw) -> Model:
    return Model(**{**BASE, **kw})


def w_vector(tp=1, pp=1, batch=1, kv_bytes=2.0):
    w = np.zeros(L.W_SIZE)
    w[L.W_BATCH], w[L.W_TP], w[L.W_PP] = batch, tp, pp
    w[L.W_WEIGHT_BYTES] = w[L.W_KV_BYTES] = w[L.W_ACT_BYTES] = kv_bytes
    w[L.W_INPUT], w[L.W_OUTPUT], w[L.W_MAX_TOKENS], w[L.W_EP], w[L.W_ACCEPT] = 1024, 128, 8192, 1, 1
    return w


def kv_bytes(m: Model, ctx: float, **w) -> float:
    return float(shapes.kv_bytes_per_chip(pack_model(m), w_vector(**w), ctx))


# ---- caches ----------------------------------------------------------------------------------------------


@given(st.integers(1, 23), st.integers(16, 4096), st.integers(1, 2_000_000))
def test_a_sliding_window_layer_never_caches_more_than_its_window(sliding, window, ctx):
    m = model(sliding_window=window, sliding_layers=sliding)
    per_layer_token = 2 * 4 * 128 * 2  # K and V of 4 heads of 128, 16-bit
    full = (24 - sliding) * per_layer_token * ctx
    assert kv_bytes(m, ctx) == pytest.approx(full + sliding * per_layer_token * min(ctx, window), rel=1e-12)
    assert kv_bytes(m, ctx) - full <= sliding * per_layer_token * window * (1 + 1e-12)


@pytest.mark.parametrize("kind", ["gdn", "mamba"])
@given(ctx=st.integers(1, 1_000_000))
def test_a_recurrent_layer_keeps_a_fixed_state_whatever_the_context(kind, ctx):
    m = model(linear_layers=18, **GDN) if kind == "gdn" else model(mamba_layers=18, **MAMBA)
    fixed = m.state_bytes_per_sequence()
    attention = 6 * 2 * 4 * 128 * 2  # the six attention blocks' K and V per token
    assert kv_bytes(m, ctx) == pytest.approx(fixed + attention * ctx, rel=1e-12)


def test_state_sizes_by_hand():
    # Gated DeltaNet: fp32 state of value heads x key width x value width, plus 3 convolution inputs of the
    # q, k and v channels (2 x 8 x 128 + 16 x 128) at 16 bit
    gdn = model(linear_layers=18, **GDN)
    assert gdn.state_bytes_per_sequence() == 18 * (4 * 16 * 128 * 128 + 3 * (2 * 8 * 128 + 16 * 128) * 2)
    # Mamba-2: fp32 state of heads x head width x state size, plus 3 inputs of x (64 x 64) and B, C (2 x 8 x 128)
    mamba = model(mamba_layers=18, **MAMBA)
    assert mamba.state_bytes_per_sequence() == 18 * (4 * 64 * 64 * 128 + 3 * (64 * 64 + 2 * 8 * 128) * 2)


def test_sparse_attention_caches_the_indexer_key_beside_the_latent():
    m = model(sparse_top_k=2048, indexer_heads=64, indexer_head_dim=128, **DSA)
    assert m.kv_elements_per_token() == 24 * (512 + 64 + 128)


# ---- decode cost ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("kw", [dict(linear_layers=24, **GDN), dict(mamba_layers=24, **MAMBA)])
@given(c0=st.integers(1, 1_000_000), more=st.integers(1, 1_000_000), seqs=st.integers(1, 256))
@settings(max_examples=30)
def test_linear_attention_and_mamba_decode_cost_does_not_grow_with_context(kw, c0, more, seqs):
    m = pack_model(model(**kw))
    assert attention_cost(m, w_vector(), seqs, 1.0, c0) == attention_cost(m, w_vector(), seqs, 1.0, c0 + more)


@given(st.integers(2, 64).map(lambda k: k * 1024), st.integers(0, 1_000_000), st.integers(1, 64))
@settings(max_examples=40)
def test_full_attention_never_decodes_faster_than_sparse_at_long_context(top_k, extra, seqs):
    """Replacing sparse attention by full attention: the attention of the same weights (indexer kept) with
    every cached key selected (top-k at least the context) never decodes faster; and from twice top-k
    tokens on, the attention work itself (indexer included) is below that of the model without DSA."""
    ctx = 2 * top_k + extra
    sparse = model(sparse_top_k=top_k, indexer_heads=64, indexer_head_dim=128, **DSA)
    every_key = attrs.evolve(sparse, sparse_top_k=ctx + 1)
    chip = load_chip("H100")
    wl = Workload(batch=seqs, input_len=ctx, output_len=2)
    assert Packed(chip, every_key, wl).tpot(seqs) >= Packed(chip, sparse, wl).tpot(seqs)
    fs, bs = attention_cost(pack_model(sparse), w_vector(), seqs, 1.0, ctx)
    ff, bf = attention_cost(pack_model(model(**DSA)), w_vector(), seqs, 1.0, ctx)
    assert ff >= fs and bf >= bs


def test_sliding_window_caps_the_attention_cost_and_full_layers_do_not():
    mixed = pack_model(model(sliding_window=128, sliding_layers=12))
    f1, b1 = attention_cost(mixed, w_vector(), 1, 1.0, 10_000.0)
    f2, b2 = attention_cost(mixed, w_vector(), 1, 1.0, 20_000.0)
    # only the 12 full layers (half the blocks) grow: the mean block grows by half a full layer's growth
    full = pack_model(model())
    g1, _ = attention_cost(full, w_vector(), 1, 1.0, 10_000.0)
    g2, _ = attention_cost(full, w_vector(), 1, 1.0, 20_000.0)
    assert f2 - f1 == pytest.approx((g2 - g1) / 2, rel=1e-9)
    assert b2 > b1


# ---- memory and serving --------------------------------------------------------------------------------


def test_sliding_and_recurrent_layers_let_more_sequences_fit():
    chip = load_chip("H100")
    wl = Workload(input_len=32_768, output_len=1024)
    dense = Packed(chip, model(), wl).max_batch()
    assert Packed(chip, model(sliding_window=1024, sliding_layers=18), wl).max_batch() > dense
    assert Packed(chip, model(linear_layers=18, **GDN), wl).max_batch() > dense


@pytest.mark.parametrize("name,tp,wd", [("gpt-oss-120b", 1, "fp4"), ("Qwen3.5-397B", 4, "fp8")])
def test_published_hybrids_serve_in_the_simulator(name, tp, wd):
    chip, m = load_chip("B200"), load_model(name)
    wl = Workload(tp=tp, weight_dtype=wd, input_len=1024, output_len=128)
    plain = estimate_serving(chip, m, wl, engine="vllm", concurrency=16, use_numba=False)
    compiled = estimate_serving(chip, m, wl, engine="vllm", concurrency=16, use_numba=True)
    assert plain.tpot_s == pytest.approx(compiled.tpot_s, rel=1e-9)
    assert 0 < plain.tpot_s < plain.ttft_s * 10


def test_gpt_oss_keeps_attention_in_16_bit_under_4_bit_weights():
    m = load_model("gpt-oss-120b")
    w4, w8 = w_vector(kv_bytes=2.0), w_vector(kv_bytes=2.0)
    w4[L.W_WEIGHT_BYTES], w8[L.W_WEIGHT_BYTES] = 0.5, 1.0
    packed, plain = pack_model(m), pack_model(attrs.evolve(m, attention_16bit=False))
    attention = 36 * (2880 * (64 + 2 * 8) * 64 + 64 * 64 * 2880)  # q, k, v and o weights
    extra = float(shapes.weight_bytes_per_chip(packed, w4) - shapes.weight_bytes_per_chip(plain, w4))
    assert extra == pytest.approx(attention * (2.0 - 0.5), rel=1e-12)
    assert shapes.weight_bytes_per_chip(packed, w8) == shapes.weight_bytes_per_chip(plain, w8)


def test_a_recurrent_mix_trains_in_the_default_estimate():
    """Training of the recurrent mixers: tests/test_hybrid_training.py."""
    import roofline

    e = roofline.estimate("B200", "Qwen3.5-397B", mode="both", reference=None)
    assert e.training is not None and e.training_note is None and e.training.workload.cp == 1


@pytest.mark.parametrize("bad,field", [
    (dict(sliding_layers=4), "sliding_window"),
    (dict(linear_layers=4), "linear_key_heads"),
    (dict(mamba_heads=8), "mamba_layers"),
    (dict(linear_layers=4, mamba_layers=4, **GDN, **MAMBA), "one kind of recurrent"),
    (dict(mlp_free_layers=12, mixer_free_layers=13), "a block needs"),
    (dict(linear_layers=30, **GDN), "exceed"),
])
def test_impossible_mixes_are_refused_naming_the_field(bad, field):
    with pytest.raises(RooflineError, match=field):
        model(**bad)


def test_tp_must_split_the_recurrent_heads():
    """GDN key and value heads split evenly; Mamba-2 heads split evenly and its groups split or replicate."""
    gdn = Model(**BASE, linear_layers=12, **GDN)  # 16 attention heads, 4 KV; 8 GDN key heads, 16 value heads
    assert valid_tp_sizes(gdn) == [1, 2, 4, 8]  # 16 would split the 8 key heads
    mamba = Model(**{**BASE, "num_heads": 128, "num_kv_heads": 8}, mamba_layers=12, **MAMBA)
    assert valid_tp_sizes(mamba, limit=128) == [1, 2, 4, 8, 16, 32, 64]  # 64 heads; groups 8 replicated past 8
    r = CliRunner().invoke(main, ["estimate", "--chip", "GB200", "--model", "Qwen3.5-397B", "--tp", "32", "--mode",
                                  "inference"])
    assert r.exit_code == 2 and "16 key and 64 value heads of the Gated DeltaNet layers" in r.output
    assert "try 1, 2, 4, 8, 16" in r.output


def test_mamba_groups_replicate_past_tp():
    """Past tp = groups each rank holds one group's B and C (2 x state size), the heads' x and z split."""
    m = Model(**{**BASE, "num_heads": 128, "num_kv_heads": 8}, mamba_layers=12, **MAMBA)
    inner = 64 * 64
    for tp in (8, 16, 32):
        conv, width, out, state = recurrent_widths(pack_model(m), float(tp))
        bc = 2 * 8 * 128 / tp if tp <= 8 else 2 * 128
        assert (conv, width, out, state) == pytest.approx((inner / tp + bc, 2 * inner / tp + bc + 64 / tp,
                                                           inner / tp, inner / tp * 128), rel=1e-12)
