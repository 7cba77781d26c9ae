"""Hypothesis builders shared by the property tests: synthetic chips, models and workloads."""

from __future__ import annotations

from hypothesis import strategies as st

from roofline.chip import Chip
from roofline.model import Model
from roofline.workload import Workload


@st.composite
def chips(draw, memory_bytes: float | None = None) -> Chip:
    bf16 = draw(st.floats(50e12, 3000e12))
    return Chip(
        name="synthetic",
        family=draw(st.sampled_from(["hopper", "ampere", "default"])),
        peak_flops_per_s=(("bf16", bf16), ("fp16", bf16), ("fp8", 2 * bf16)),
        hbm_bytes=memory_bytes or draw(st.floats(16e9, 300e9)),
        hbm_bytes_per_s=draw(st.floats(0.5e12, 10e12)),
        scale_up_bytes_per_s=draw(st.floats(25e9, 1000e9)),
        scale_up_domain=draw(st.sampled_from([1, 2, 4, 8, 16, 72])),
        scale_out_bytes_per_s=draw(st.floats(5e9, 100e9)),
        scale_up_name=draw(st.sampled_from(["NVLink", "PCIe Gen5"])),
    )


@st.composite
def models(draw) -> Model:
    head_dim = draw(st.sampled_from([64, 128]))
    kv = draw(st.sampled_from([1, 2, 4, 8]))
    group = draw(st.sampled_from([1, 2, 4, 8]))
    heads = kv * group
    return Model(
        name="synthetic",
        num_layers=draw(st.integers(1, 96)),
        hidden_size=heads * head_dim,
        num_heads=heads,
        num_kv_heads=kv,
        head_dim=head_dim,
        intermediate_size=draw(st.integers(1, 64)) * 256,
        vocab_size=draw(st.integers(1000, 200_000)),
        gated_mlp=draw(st.booleans()),
        norm=draw(st.sampled_from(["rms", "layer"])),
        tie_word_embeddings=draw(st.booleans()),
        sliding_window=draw(st.sampled_from([0, 0, 0, 512, 4096])),
    )


@st.composite
def workloads(draw, tp: int | None = 1) -> Workload:
    return Workload(
        batch=draw(st.integers(1, 512)),
        input_len=draw(st.integers(1, 32_768)),
        output_len=draw(st.integers(1, 4096)),
        tp=tp,
        pp=draw(st.sampled_from([1, 1, 2, 4])),
        weight_dtype=draw(st.sampled_from(["bf16", "fp16", "fp8", "int8", "int4"])),
        kv_dtype=draw(st.sampled_from([None, "fp8", "bf16"])),
    )
