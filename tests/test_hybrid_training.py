"""Training of layer mixes with recurrent token mixers (Gated DeltaNet, Mamba-2) and of blocks without a
mixer or an MLP (Nemotron-H): the mean block weighs each part by the blocks that have it
(roofline.kernels.train_mixers). The counts below are derived by hand from the configs' fields."""

from __future__ import annotations

from pathlib import Path

import attrs
import numpy as np
import pytest
from click.testing import CliRunner

from roofline.cli import main
from roofline.kernels import layout as L
from roofline.kernels import train_memory as KM
from roofline.kernels import training as KT
from roofline.kernels.shapes import active_linear_params
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.pack import pack_layout, pack_model
from roofline.training.estimate import TrainingContext, estimate_training
from roofline.training.planner import candidate_layouts, plan_training, sweep_layouts
from roofline.workload import TrainingWorkload

HF_CONFIGS = Path(__file__).parent / "data" / "hf-configs"
H100 = load_chip("H100-SXM")
QWEN35 = load_model(str(HF_CONFIGS / "Qwen--Qwen3.5-27B"))  # 48 Gated DeltaNet + 16 attention blocks, dense
NEMOTRON_H = load_model(str(HF_CONFIGS / "nvidia--Nemotron-H-56B-Base-8K"))  # Mamba-2, attention, MLP-only
LAYOUT = TrainingWorkload(num_chips=64, tp=2, pp=1, dp=32, micro_batch=1, global_batch=256, seq_len=4096,
                          recompute="none", zero=1, virtual_pp=1)


def _gdn_flops(m, tokens, chunk=64.0):
    """Forward FLOPs of one Gated DeltaNet layer over ``tokens`` tokens of one sequence (whole layer): the
    state update and read (6 per state value per token), the causal convolution (2 per tap per channel),
    and the chunked kernel's intra-chunk work (2 x chunk x (key + value width) per value head per token)."""
    key = m.linear_key_heads * m.linear_key_head_dim
    val = m.linear_value_heads * m.linear_value_head_dim
    state = m.linear_value_heads * m.linear_key_head_dim * m.linear_value_head_dim
    conv = 2 * key + val
    intra = m.linear_value_heads * 2 * chunk * (m.linear_key_head_dim + m.linear_value_head_dim)
    return tokens * (6 * state + 2 * m.linear_conv_kernel * conv + intra)


def _every_attention(m):
    """``m`` with softmax attention in every block (its Gated DeltaNet layers and fields dropped)."""
    return attrs.evolve(m, linear_layers=0, linear_key_heads=0, linear_value_heads=0, linear_key_head_dim=0,
                        linear_value_head_dim=0, linear_conv_kernel=0)


def _causal(s):
    return s * (s + 1) / 2


def test_the_mixer_row_is_the_weighted_mean_of_attention_and_gdn():
    """One micro-batch on one chip (tp 2): the token-mixer row of a hybrid block is (16 attention rows +
    48 Gated DeltaNet rows) / 64; the attention row is what the same model with attention alone gets."""
    t = pack_layout(LAYOUT, QWEN35.num_layers)
    ops, w = np.zeros((L.N_OPS, L.OP_COLS)), np.zeros(L.W_SIZE)
    KT.fill_training_layer(pack_model(QWEN35), t, 8.0, ops, w)
    every_attention = _every_attention(QWEN35)
    ops_a = np.zeros((L.N_OPS, L.OP_COLS))
    KT.fill_training_layer(pack_model(every_attention), t, 8.0, ops_a, w)
    s = 4096.0
    assert ops_a[L.OP_ATTN, L.OP_FLOPS] == pytest.approx(4 * QWEN35.head_dim * QWEN35.num_heads / 2 * _causal(s))
    want = (16 * ops_a[L.OP_ATTN, L.OP_FLOPS] + 48 * _gdn_flops(QWEN35, s) / 2) / 64
    assert ops[L.OP_ATTN, L.OP_FLOPS] == pytest.approx(want, rel=1e-12)


def test_model_flops_count_the_recurrent_layers():
    """MFU's model FLOPs: 3 x (linear layers 2 x params per token, 16 attention layers' causal key visits,
    48 GDN layers' chunked work, the LM head) per sequence, over the chip's sequences."""
    est = estimate_training(H100, QWEN35, LAYOUT)
    s = 4096.0
    linear = 2 * float(active_linear_params(pack_model(QWEN35))) * s
    mixing = 16 * 4 * QWEN35.head_dim * QWEN35.num_heads * _causal(s) + 48 * _gdn_flops(QWEN35, s)
    per_seq = QWEN35.num_layers * linear + mixing + 2 * QWEN35.hidden_size * QWEN35.vocab_size * s
    seqs = LAYOUT.global_batch / (LAYOUT.tp * LAYOUT.dp)
    assert est.model_flops_per_chip == pytest.approx(3 * seqs * per_seq, rel=1e-9)


def test_recurrent_mixing_grows_linearly_with_the_sequence():
    """Per token, the hybrid's mixing FLOPs grow with the sequence only through its attention layers: from
    4k to 32k tokens they grow by less than the same model's with attention in every block."""
    every_attention = _every_attention(QWEN35)

    def per_token(model, s):
        wl = attrs.evolve(LAYOUT, seq_len=s, global_batch=64)
        return estimate_training(H100, model, wl).model_flops_per_chip / (64 / (wl.tp * wl.dp) * s)

    hybrid_growth = per_token(QWEN35, 32768) - per_token(QWEN35, 4096)
    full_growth = per_token(every_attention, 32768) - per_token(every_attention, 4096)
    assert 0 < hybrid_growth < 0.3 * full_growth  # 16 of 64 blocks attend: a quarter of the growth


def test_stored_activations_of_a_hybrid_block():
    """Bytes one mean block keeps per micro-batch (tp 2, no sequence parallelism, no dropout, flash): the
    norm and GEMM inputs (4 sbh per mixer block and per MLP block), an attention block's Q, K, V and
    output-projection input, a GDN block's projection output, convolution output, kernel output and gated
    norm output, the SwiGLU MLP's gate, up and product, FlashAttention's log-sum-exp, 16-bit."""
    m = QWEN35
    tp, s = 2, 4096.0
    t = pack_layout(attrs.evolve(LAYOUT, dropout=False, sequence_parallel=False), m.num_layers)
    key, val = m.linear_key_heads * m.linear_key_head_dim, m.linear_value_heads * m.linear_value_head_dim
    width = 2 * key + 2 * val + 2 * m.linear_value_heads  # q, k, v, the gate z, beta and the decay input
    gdn = 2 * (width + (2 * key + val) + 2 * val) / tp
    q, kv = m.num_heads * m.head_dim / tp, m.num_kv_heads * m.head_dim / tp
    attn = 2 * (2 * q + 2 * kv)
    mlp = 2 * 3 * m.intermediate_size / tp
    want = s * (8 * m.hidden_size + (16 * attn + 48 * gdn) / 64 + mlp) + 16 / 64 * 4 * m.num_heads / tp * s
    assert KM.activation_bytes_per_layer(pack_model(m), t) == pytest.approx(want, rel=1e-12)


def test_blocks_without_an_mlp_or_a_mixer_keep_only_their_part():
    """Nemotron-H: 54 Mamba-2 and 10 attention blocks without an MLP, 54 MLP blocks without a mixer; with
    full recompute every block keeps only its input, so the mean block keeps what any other model's does."""
    t = pack_layout(attrs.evolve(LAYOUT, recompute="full", tp=1, dp=64), NEMOTRON_H.num_layers)
    assert KM.activation_bytes_per_layer(pack_model(NEMOTRON_H), t) == pytest.approx(2 * 4096 * NEMOTRON_H.hidden_size)
    t = pack_layout(attrs.evolve(LAYOUT, dropout=False, tp=1, dp=64), NEMOTRON_H.num_layers)
    per = KM.activation_bytes_per_layer(pack_model(NEMOTRON_H), t)
    rep = 4 * 4096 * NEMOTRON_H.hidden_size * (64 + 54) / 118  # norm and GEMM inputs of the 64 mixers, 54 MLPs
    mlp = 54 / 118 * 2 * 2 * NEMOTRON_H.intermediate_size * 4096  # squared-ReLU MLP: input and output
    assert per > rep + mlp


@pytest.mark.parametrize("model", [QWEN35, NEMOTRON_H], ids=["qwen3.5-27b", "nemotron-h-56b"])
def test_compiled_and_plain_kernels_agree_on_hybrids(model):
    pytest.importorskip("numba")
    ctx = TrainingContext.build(H100, model, "bf16")
    wl = TrainingWorkload(num_chips=128, seq_len=8192)
    packed = np.stack([pack_layout(c, model.num_layers) for c in candidate_layouts(H100, model, wl)])
    plain, ran_plain = sweep_layouts(ctx, packed, use_numba=False)
    fast, ran_fast = sweep_layouts(ctx, packed, use_numba=True)
    assert not ran_plain and ran_fast
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=0)


def test_the_planner_never_splits_a_recurrent_model_over_context_parallel_ranks():
    """At 64k tokens an attention model's planner considers CP; a recurrent model's considers cp = 1 only."""
    wl = TrainingWorkload(num_chips=64, seq_len=65536)
    assert {c.cp for c in candidate_layouts(H100, QWEN35, wl)} == {1}
    assert max(c.cp for c in candidate_layouts(H100, load_model("Llama-3.1-8B"), wl)) > 1
    best = plan_training(H100, QWEN35, wl).best
    assert best.workload.cp == 1 and best.fits


@pytest.mark.parametrize("args, field", [(["--cp", "2", "--seq-len", "32768"], "cp=2"),
                                         (["--kernels", "eager"], "kernels=eager")])
def test_what_hybrid_training_does_not_model_is_refused(args, field):
    r = CliRunner().invoke(main, ["estimate", "--chip", "H100", "--model", "Qwen3.5-397B", "--mode", "training",
                                  *args])
    assert r.exit_code == 2 and field in r.output and "use --" in r.output and len(r.output.splitlines()) == 1


def test_the_default_estimate_of_a_hybrid_now_has_its_training_part():
    r = CliRunner().invoke(main, ["estimate", "--chip", "B200", "--model", "Qwen3.5-397B", "--format", "json"])
    assert r.exit_code == 0, r.output
    import json

    t = json.loads(r.stdout)["training"]
    assert t["fits"] and t["cp"] == 1 and 0 < t["mfu"] <= t["hfu"] < 1
