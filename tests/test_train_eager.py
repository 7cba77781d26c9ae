"""Eager training kernels (``--kernels eager``): a Llama-style block run op by op, as PyTorch runs Meta's
reference code without torch.compile (roofline.kernels.train_eager).

Checked against the closed-form byte counts of each eager op, on the op table and in memory; a LayerNorm +
GELU block with learned positions and one KV head per query head differs only by the attention output's
copy; eager is never faster and never smaller; the validation rule reads only IBM and Meta's FSDP rows as
eager; the CLI carries the mode to the layout line, the JSON and the plan's command line."""

from __future__ import annotations

import json

import attrs
import numpy as np
import pytest
from click.testing import CliRunner

from roofline import load_chip, load_model
from roofline.cli import main
from roofline.kernels import layout as L
from roofline.kernels import training as KT
from roofline.kernels.train_memory import activation_bytes_per_layer
from roofline.pack import pack_layout, pack_model
from roofline.training.estimate import estimate_training
from roofline.validate.schema import eager_pytorch, read_rows
from roofline.workload import TrainingWorkload

A100 = load_chip("A100-SXM-80GB")
LLAMA7 = load_model("Llama-2-7B")  # MHA, RMSNorm, SwiGLU, rotary
LLAMA70 = load_model("Llama-2-70B")  # GQA 64 query / 8 KV heads
GPT3 = load_model("GPT-3-175B")  # LayerNorm, GELU, learned positions, MHA
FSDP = TrainingWorkload(num_chips=128, tp=1, pp=1, dp=128, micro_batch=2, global_batch=256, seq_len=4096,
                        recompute="none", zero=3, virtual_pp=1)


def _hbm(model, wl):
    """The forward op table's HBM bytes per row of one layer (and the head) for ``wl``."""
    m = pack_model(model)
    t = pack_layout(wl, model.num_layers)
    ops = np.zeros((L.N_OPS, L.OP_COLS))
    w = np.zeros(L.W_SIZE)
    KT.fill_training_layer(m, t, 8.0, ops, w)
    return ops[:, L.OP_HBM].copy()


def _extra(model, wl):
    eager = attrs.evolve(wl, kernels="eager")
    return _hbm(model, eager) - _hbm(model, wl)


def test_llama_block_extra_bytes_are_the_op_counts():
    """RMSNorm 36 bytes an element against 4, rotary 20 per query and key element, the output's contiguous
    copy 4, SwiGLU 10 per intermediate element against 6: per token of one layer."""
    tokens = 2 * 4096
    h, f = LLAMA7.hidden_size, LLAMA7.intermediate_size
    extra = _extra(LLAMA7, FSDP)
    assert extra[L.OP_MLP_NORM] == pytest.approx(32 * h * tokens, rel=1e-12)
    assert extra[L.OP_FINAL_NORM] == pytest.approx(32 * h * tokens, rel=1e-12)
    assert extra[L.OP_ATTN_NORM] == pytest.approx((32 * h + 20 * (h + h) + 4 * h) * tokens, rel=1e-12)
    assert extra[L.OP_MLP_ACT] == pytest.approx(4 * f * tokens, rel=1e-12)
    others = [i for i in range(L.N_OPS) if i not in (L.OP_ATTN_NORM, L.OP_MLP_NORM, L.OP_FINAL_NORM, L.OP_MLP_ACT)]
    assert np.all(extra[others] == 0.0)


def test_gqa_expands_keys_and_values():
    """Llama-2-70B at TP 8: one KV head per chip expanded to its 8 query heads (read 2 x 128, write 2 x 1,024
    elements of 2 bytes), rotary over 1,024 query and 128 key elements."""
    wl = attrs.evolve(FSDP, num_chips=1024, tp=8, dp=128, global_batch=256)
    tokens = 2 * 4096
    q, kv = 8 * 128, 1 * 128
    h = LLAMA70.hidden_size
    extra = _extra(LLAMA70, wl)
    norm = 32 * h / 8  # sequence parallel shards the norms over TP
    assert extra[L.OP_ATTN_NORM] == pytest.approx((norm + 20 * (q + kv) + 4 * q + 4 * q + 4 * kv) * tokens, rel=1e-12)


def test_qk_norm_and_mla():
    """Qwen3's QK-norm is an eager RMSNorm over every query and key element (36 bytes each, nothing fused);
    MLA rotates only its decoupled part: 64 of each query head's 192 elements and one 64-wide key shared by
    the heads, and its output is 128 wide per head."""
    tokens = 2 * 4096
    qwen = load_model("Qwen3-30B-A3B")  # 32 query, 4 KV heads of 128; hidden 2,048
    wl = attrs.evolve(FSDP, num_chips=512, tp=4, dp=128, global_batch=256, ep=8)
    q, kv = 8 * 128, 1 * 128
    extra = _extra(qwen, wl)[L.OP_ATTN_NORM]
    want = 32 * 2048 / 4 + 20 * (q + kv) + 4 * q + (4 * q + 4 * kv) + 36 * (q + kv)
    assert extra == pytest.approx(want * tokens, rel=1e-12)
    v3 = load_model("DeepSeek-V3")  # 128 heads, qk 128 + 64 rotary, v 128; hidden 7,168
    wl = attrs.evolve(FSDP, num_chips=1024, tp=8, dp=128, global_batch=256, ep=8)
    extra = _extra(v3, wl)[L.OP_ATTN_NORM]
    want = 32 * 7168 / 8 + 20 * (16 * 64 + 64) + 4 * 16 * 128
    assert extra == pytest.approx(want * tokens, rel=1e-12)


def test_layernorm_gelu_block_only_copies_the_output():
    """A LayerNorm is one kernel and a GELU one either way, learned positions rotate nothing and MHA expands
    nothing: what is left is the attention output's transpose copy."""
    extra = _extra(GPT3, attrs.evolve(FSDP, num_chips=1024, tp=8, dp=128))
    tokens = 2 * 4096
    q = GPT3.num_heads // 8 * GPT3.head_dim
    assert extra[L.OP_ATTN_NORM] == pytest.approx(4 * q * tokens, rel=1e-12)
    assert extra[L.OP_MLP_NORM] == 0.0 and extra[L.OP_MLP_ACT] == 0.0 and extra[L.OP_FINAL_NORM] == 0.0


def test_saved_activations():
    """Without recompute an eager Llama block keeps the fp32 input of each RMSNorm (4 bytes an element), the
    fp32 rotated queries and keys (4) and the silu output (2 per intermediate element); with full recompute
    only the layer input, either way."""
    m = pack_model(LLAMA7)
    tokens = 2 * 4096
    h, f = LLAMA7.hidden_size, LLAMA7.intermediate_size
    fused = activation_bytes_per_layer(m, pack_layout(FSDP, 32))
    eager = activation_bytes_per_layer(m, pack_layout(attrs.evolve(FSDP, kernels="eager"), 32))
    assert eager - fused == pytest.approx((2 * 4 * h + 4 * (h + h) + 2 * f) * tokens, rel=1e-12)
    full = attrs.evolve(FSDP, recompute="full")
    assert activation_bytes_per_layer(m, pack_layout(attrs.evolve(full, kernels="eager"), 32)) == \
        activation_bytes_per_layer(m, pack_layout(full, 32))


@pytest.mark.parametrize("model", [LLAMA7, LLAMA70, GPT3, load_model("Qwen3-30B-A3B")], ids=lambda m: m.name)
@pytest.mark.parametrize("recompute", ["none", "full"])
def test_eager_is_never_faster_nor_smaller(model, recompute):
    wl = TrainingWorkload(num_chips=512, tp=8, pp=1, dp=64, micro_batch=1, global_batch=512, seq_len=4096,
                          recompute=recompute, zero=1, virtual_pp=1, ep=8 if model.is_moe else None)
    fused = estimate_training(A100, model, wl)
    eager = estimate_training(A100, model, attrs.evolve(wl, kernels="eager"))
    assert eager.step_time_s > fused.step_time_s
    assert eager.memory_per_chip_bytes >= fused.memory_per_chip_bytes
    assert eager.model_flops_per_chip == fused.model_flops_per_chip  # the same work, more traffic


def test_validation_reads_only_the_fsdp_post_as_eager():
    _, rows = read_rows("profiles/measurements/training.csv")
    eager = {r["row_id"] for r in rows if eager_pytorch(r)}
    assert eager and all(r.startswith("ibm-fsdp24-") for r in eager)
    assert len(eager) == sum(r["row_id"].startswith("ibm-fsdp24-") for r in rows)


ARGS = ["estimate", "--mode", "training", "--chip", "A100-SXM-80GB", "--model", "Llama-2-7B", "--num-chips", "128",
        "--tp", "1", "--pp", "1", "--dp", "128", "--micro-batch", "2", "--global-batch", "256", "--recompute", "none",
        "--zero", "3", "--virtual-pp", "1"]


def test_cli_carries_the_mode():
    runner = CliRunner()
    fused = runner.invoke(main, ARGS + ["--format", "json"])
    eager = runner.invoke(main, ARGS + ["--kernels", "eager", "--format", "json"])
    assert fused.exit_code == 0 and eager.exit_code == 0
    f, e = json.loads(fused.output)["training"], json.loads(eager.output)["training"]
    assert (f["kernels"], e["kernels"]) == ("fused", "eager")
    assert e["tokens_per_s_per_chip"] < f["tokens_per_s_per_chip"]
    text = runner.invoke(main, ARGS + ["--kernels", "eager"])
    assert "eager kernels (PyTorch op by op)" in text.output
    assert "eager kernels" not in runner.invoke(main, ARGS).output


def test_plan_names_the_mode_in_its_command():
    out = CliRunner().invoke(main, ["plan", "--chip", "A100-SXM-80GB", "--model", "Llama-2-7B", "--num-chips", "64",
                                    "--kernels", "eager", "--top", "1"])
    assert out.exit_code == 0, out.output
    assert "--kernels eager (with --chip, --model)" in out.output


def test_kernels_is_a_training_option():
    out = CliRunner().invoke(main, ["estimate", "--mode", "inference", "--chip", "H20", "--model", "70B",
                                    "--kernels", "eager"])
    assert out.exit_code == 2
    assert "--kernels applies to training only" in out.output
