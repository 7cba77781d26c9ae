"""ModelOpt MIXED_PRECISION checkpoints (roofline.loaders.hf_quant): the split the estimate prices (every MLP
in one 4-bit format, every token mixer in one 8-bit format, ``Model.mixer_dtype``), the splits it names and
refuses, and what the kept format costs: the token mixers' weights at their own bytes, the rest at the
weights'."""

from __future__ import annotations

import attrs
import pytest

from roofline import api
from roofline.errors import RooflineError
from roofline.loaders.hf_quant import checkpoint_fields
from roofline.loaders.models import load_model, model_from_dict
from roofline.workload import Workload
from tests.test_hf_families import CONFIGS

QWEN36 = "nvidia--Qwen3.6-35B-A3B-NVFP4"
LIGHTNING = "nvidia--NVIDIA-Nemotron-3.5-Lightning-30B-A3B-NVFP4"


def _mixed(layers: dict, kv: str | None = "FP8") -> dict:
    return {"quantization": {"quant_algo": "MIXED_PRECISION", "kv_cache_quant_algo": kv, "quantized_layers": layers}}


def _split(n: int, mlp: str = "W4A16_NVFP4", mixer: str = "FP8", skip: int | None = None) -> dict:
    """A quantized_layers list of n blocks: attention q/o and MLP experts each listed."""
    out = {"lm_head": {"quant_algo": mlp}}
    for i in range(n):
        out[f"model.layers.{i}.mlp.experts"] = {"quant_algo": mlp}
        if i != skip:
            out[f"model.layers.{i}.self_attn.q_proj"] = {"quant_algo": mixer}
            out[f"model.layers.{i}.self_attn.o_proj"] = {"quant_algo": mixer}
    return out


def test_the_qwen36_releases_load_as_4bit_mlps_and_fp8_mixers():
    for folder in ("nvidia--Qwen3.6-27B-NVFP4", QWEN36):
        m = load_model(CONFIGS / folder)
        assert (m.checkpoint_dtype, m.mixer_dtype, dict(m.checkpoint_kv)) == ("int4", "fp8", {"int4": "fp8"})
        assert m.checkpoint_format.endswith("MIXED_PRECISION (MLPs W4A16_NVFP4, token mixers FP8, LM head "
                                            "W4A16_NVFP4)")
        assert m.head_dtype == "int4" and not m.tie_word_embeddings
        assert not m.attention_16bit


def test_a_priced_split_names_both_formats():
    out = checkpoint_fields({}, _mixed(_split(4)), mixer_layers=4, mlp_layers=4)
    assert out == {"checkpoint_format": "hf_quant_config.json: quant_algo MIXED_PRECISION (MLPs W4A16_NVFP4, "
                                        "token mixers FP8, LM head W4A16_NVFP4)",
                   "mixer_dtype": "fp8", "head_dtype": "int4", "checkpoint_dtype": "int4",
                   "checkpoint_kv": {"int4": "fp8"}}
    unlisted = {k: v for k, v in _split(4).items() if k != "lm_head"}  # a head not listed stays 16 bit
    out = checkpoint_fields({}, _mixed(unlisted), mixer_layers=4, mlp_layers=4)
    assert "head_dtype" not in out and out["checkpoint_format"].endswith("token mixers FP8)")
    assert checkpoint_fields({}, _mixed(_split(4, mlp="NVFP4")), 4, 4)["checkpoint_dtype"] == "fp4"


@pytest.mark.parametrize(("layers", "blocks", "reason"), [
    (_split(4, skip=2), 4, "FP8 covers 3 of the 4 blocks' token mixers; the others are not quantised"),
    (_split(4), 5, "W4A16_NVFP4 covers 4 of the 5 blocks' MLPs"),
    (_split(4) | {"model.layers.0.self_attn.k_proj": {"quant_algo": "NVFP4"}}, 4,
     "its token mixers are in 2 formats (FP8, NVFP4)"),
    (_split(4, mlp="FP8"), 4, "MLPs FP8 and token mixers FP8: not 4-bit MLPs beside 8-bit mixers"),
    (_split(4, mixer="NVFP4"), 4, "not 4-bit MLPs beside 8-bit mixers"),
    (_split(4) | {"model.vision.patch_embed": {"quant_algo": "FP8"}}, 4,
     "module model.vision.patch_embed is neither an MLP nor a token mixer"),
    ({}, 4, "no quantized_layers list"),
])
def test_other_splits_are_named_and_not_priced(layers, blocks, reason):
    out = checkpoint_fields({}, _mixed(layers), mixer_layers=blocks, mlp_layers=blocks)
    assert "checkpoint_dtype" not in out and "mixer_dtype" not in out
    assert reason in out["checkpoint_format"]


def _hybrid_split(n: int, mamba: tuple, mixer: str = "FP8", attention: str | None = None) -> dict:
    """n blocks, each an MLP's experts and a token mixer: Mamba-2 (in_proj / out_proj) in the blocks of
    ``mamba``, attention (q_proj / o_proj) in the others; attention listed only when ``attention`` names a
    format."""
    out = {f"backbone.layers.{i}.mixer.experts.0.up_proj": {"quant_algo": "W4A16_NVFP4"} for i in range(n)}
    for i in range(n):
        names = ("in_proj", "out_proj") if i in mamba else ("q_proj", "o_proj")
        algo = mixer if i in mamba else attention
        if algo:
            out |= {f"backbone.layers.{i}.mixer.{name}": {"quant_algo": algo} for name in names}
    return out


def test_recurrent_mixers_in_fp8_beside_16_bit_attention():
    """Nemotron 3.5 Lightning: every Mamba-2 block's projections FP8, the attention blocks unquantised."""
    m = load_model(CONFIGS / LIGHTNING)
    assert (m.checkpoint_dtype, m.mixer_dtype, m.attention_16bit, m.head_dtype) == ("int4", "fp8", True, "int4")
    assert m.checkpoint_format.endswith("MIXED_PRECISION (MLPs W4A16_NVFP4, recurrent mixers FP8, LM head "
                                        "W4A16_NVFP4)")
    out = checkpoint_fields({}, _mixed(_hybrid_split(4, mamba=(0, 2, 3))), 4, 4, recurrent_layers=3)
    assert (out["mixer_dtype"], out["attention_16bit"]) == ("fp8", True)
    # the attention listed in the same format too: every mixer in fp8, the attention not kept in 16 bit
    out = checkpoint_fields({}, _mixed(_hybrid_split(4, mamba=(0, 2, 3), attention="FP8")), 4, 4, recurrent_layers=3)
    assert out["mixer_dtype"] == "fp8" and "attention_16bit" not in out
    # a Mamba-2 block left out: not a split the estimate prices
    out = checkpoint_fields({}, _mixed(_hybrid_split(4, mamba=(0, 2))), 4, 4, recurrent_layers=3)
    assert "mixer_dtype" not in out and "covers 2 of the 4 blocks' token mixers" in out["checkpoint_format"]


def test_each_kind_of_mixer_costs_its_own_bytes():
    """Lightning at int4 against the same model with every mixer at 16 bit: the Mamba-2 projections save a
    byte a weight; against every mixer at fp8: the attention projections add one."""
    m = load_model(CONFIGS / LIGHTNING)
    all16 = attrs.evolve(m, mixer_dtype=None)
    all8 = attrs.evolve(m, attention_16bit=False)
    h = m.hidden_size
    inner = m.mamba_heads * m.mamba_head_dim
    mamba = m.mamba_layers * h * (2 * inner + 2 * m.mamba_groups * m.mamba_state_size + m.mamba_heads + inner)
    attention = m.attention_layers * h * (2 * m.num_heads * m.head_dim + 2 * m.num_kv_heads * m.head_dim)
    assert _weights(all16, "int4") - _weights(m, "int4") == pytest.approx(mamba, rel=1e-9)
    assert _weights(m, "int4") - _weights(all8, "int4") == pytest.approx(attention, rel=1e-9)
    from tests.test_checkpoint_dtype import _run
    code, out = _run("estimate", "--chip", "B200", "--model", str(CONFIGS / LIGHTNING), "--mode", "inference")
    assert code == 0 and "weights int4 (attention 16 bit, recurrent mixers fp8; LM head int4; computes in bf16)" in out


def _weights(model, weight_dtype: str) -> float:
    est = api.estimate("B200", model, Workload(weight_dtype=weight_dtype, tp=1), reference=None)
    return est.inference.weights_bytes_per_chip


def test_kept_mixers_cost_their_own_bytes():
    """Against the same model with every weight at the 4-bit format, fp8 mixers add half a byte per mixer
    weight and 16-bit mixers a byte and a half: three times as much. 8-bit and 16-bit weights apply to all."""
    fp8 = attrs.evolve(load_model(CONFIGS / QWEN36), head_dtype=None)
    plain, half = attrs.evolve(fp8, mixer_dtype=None), attrs.evolve(fp8, mixer_dtype=None, attention_16bit=True)
    added_fp8 = _weights(fp8, "int4") - _weights(plain, "int4")
    added_16 = _weights(half, "int4") - _weights(plain, "int4")
    assert added_fp8 > 0.0
    assert added_16 == pytest.approx(3.0 * added_fp8, rel=1e-9)
    assert _weights(fp8, "fp4") == pytest.approx(_weights(fp8, "int4"), rel=1e-12)
    for dtype in ("fp8", "bf16"):
        assert _weights(fp8, dtype) == _weights(plain, dtype)


def test_kept_mixers_slow_a_lone_decode():
    fp8 = load_model(CONFIGS / QWEN36)
    tpot = {m: api.estimate("B200", m, Workload(weight_dtype="int4", tp=1), reference=None).inference.tpot_s
            for m in (attrs.evolve(fp8, mixer_dtype=None), fp8)}
    low, high = sorted(tpot.values())
    assert tpot[fp8] == high and high > low


def test_the_cli_says_what_the_mixers_are_kept_in():
    from tests.test_checkpoint_dtype import _run
    code, out = _run("estimate", "--chip", "B200", "--model", str(CONFIGS / QWEN36), "--mode", "inference")
    assert code == 0, out
    assert "(weights int4, token mixers fp8, LM head int4, KV cache fp8, the default --weight-dtype)" in out
    assert "weights int4 (token mixers fp8; LM head int4; computes in bf16)" in out
    code, out = _run("estimate", "--chip", "B200", "--model", str(CONFIGS / QWEN36), "--mode", "inference",
                     "--weight-dtype", "fp8")
    assert code == 0 and "weights fp8 (computes in fp8)" in out


def test_a_quantised_lm_head_costs_its_own_bytes():
    """The head a MIXED_PRECISION release lists in W4A16 NVFP4 (Qwen3.6, Lightning) weighs half a byte a
    weight instead of two when the checkpoint runs in its 4-bit format: vocab x hidden x 1.5 bytes fewer on one
    chip, a faster lone decode (the head is read every step), the same FLOPs; at 8 or 16 bits, or tied to
    the embedding, the head is 16 bit as before."""
    m = load_model(CONFIGS / QWEN36)
    plain = attrs.evolve(m, head_dtype=None)
    assert _weights(plain, "int4") - _weights(m, "int4") == pytest.approx(1.5 * m.vocab_size * m.hidden_size,
                                                                          rel=1e-9)
    for dtype in ("fp8", "bf16"):
        assert _weights(m, dtype) == _weights(plain, dtype)
    tied = attrs.evolve(m, tie_word_embeddings=True)
    assert _weights(tied, "int4") == _weights(attrs.evolve(tied, head_dtype=None), "int4")
    est = {k: api.estimate("B200", x, Workload(weight_dtype="int4", tp=1), reference=None).inference
           for k, x in (("head", m), ("plain", plain))}
    assert est["head"].tpot_s < est["plain"].tpot_s
    assert est["head"].decode.flops == est["plain"].decode.flops
    served = {k: api.estimate("B200", x, Workload(weight_dtype="int4", tp=1), reference=None,
                              serving={"engine": "vllm", "concurrency": 4, "num_requests": 8}).serving
              for k, x in (("head", m), ("plain", plain))}  # the engine's steps read the head at its bytes too
    assert served["head"].tpot_s < served["plain"].tpot_s


@pytest.mark.parametrize(("extra", "message"), [
    ({"mixer_dtype": "fp4"}, "mixer_dtype='fp4' must be one of bf16, fp16, fp8, int8"),
    ({"head_dtype": "bf16"}, "head_dtype='bf16' must be one of fp8, int8, fp4, int4"),
    ({"mixer_dtype": "fp8", "attention_16bit": True}, "beside attention_16bit is the recurrent mixers' format"),
])
def test_a_profile_mixer_dtype_is_checked(extra, message):
    profile = {"name": "x", "num_layers": 2, "hidden_size": 64, "num_heads": 4, "num_kv_heads": 4,
               "intermediate_size": 128, "vocab_size": 100} | extra
    with pytest.raises(RooflineError, match=message):
        model_from_dict(profile)
    fixed = model_from_dict(profile | {"mixer_dtype": "int8", "attention_16bit": False, "head_dtype": "int4"})
    assert (fixed.mixer_dtype, fixed.head_dtype) == ("int8", "int4")
