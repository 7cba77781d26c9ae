"""What a chip achieves in practice: the frozen ``Efficiency`` value and the ideal one.

The *expected* estimate prices ops at the achievable fractions of ``profiles/efficiency.toml`` (GEMM
throughput per dtype, HBM bandwidth, link bandwidth) with NCCL's latency model for collectives; the
*ideal* estimate uses 100 % of every peak and no latency. Both come from the same kernels, so the
expected value can never beat the ideal one. :func:`roofline.loaders.efficiency.efficiency_for` builds
the expected value of a chip from the profile table and the chip's own overrides.
"""

from __future__ import annotations

import attrs

FRACTIONS = ("gemm_fraction", "hbm_fraction", "scale_up_fraction", "scale_out_fraction")


@attrs.frozen
class Efficiency:
    """What a chip achieves in practice. Fractions lie in [MIN_FRACTION, 1]; latencies in seconds."""

    gemm_fraction: float
    hbm_fraction: float
    scale_up_fraction: float
    scale_out_fraction: float
    collective_base_latency_s: float
    scale_up_hop_latency_s: float
    scale_out_hop_latency_s: float
    usable_memory_fraction: float
    max_tokens_per_pass: int
    step_overhead_s: float = 0.0
    kernel_overhead_s: float = 0.0  # per op occurrence: launch and tail of one kernel
    family: str = "default"
    training_attention_fraction: float = 1.0  # fused (flash) attention kernel, fraction of the 16-bit peak
    training_sustained_fraction: float = 1.0  # share of kernel throughput sustained over training steps
    serving_sustained_fraction: float = 1.0  # share of the GEMM throughput the dense GEMMs of serving steps sustain
    serving_attention_fraction: float = 1.0  # fused attention in serving steps, fraction of the 16-bit peak
    serving_expert_fraction: float = 1.0  # routed experts' grouped GEMMs, relative to dense GEMMs (and HBM)
    training_step_overhead_s: float = 0.0  # fixed seconds per optimizer step
    training_usable_fraction: float = 0.95  # share of HBM a training step may fill
    #: NCCL LL128 and Simple protocols: (base, scale-up hop, scale-out hop) seconds; the fields above
    #: ``collective_base_latency_s`` / ``*_hop_latency_s`` are the LL protocol's.
    ll128_latency_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    simple_latency_s: tuple[float, float, float] = (0.0, 0.0, 0.0)


#: Smallest achievable fraction of a peak taken (0.1 %): a smaller one is a typo (0.8e-3 for 0.8), and a
#: vanishing one (a denormal such as 1e-313) would turn times into inf and NaN.
MIN_FRACTION = 1e-3
#: Fixed costs that may legitimately be zero.
ZERO_OK = ("kernel_overhead_s", "step_overhead_s", "training_step_overhead_s")
#: Keys a chip's ``[efficiency]`` table may override (anything else is a typo and is refused at load).
OVERRIDE_KEYS = (*FRACTIONS, *(f"gemm_fraction_{d}" for d in ("bf16", "fp16", "fp8", "int8", "fp4")),
                 "usable_memory_fraction", "training_usable_fraction", "training_attention_fraction",
                 "training_sustained_fraction",
                 "serving_sustained_fraction", "serving_attention_fraction", "serving_expert_fraction", *ZERO_OK,
                 "collective_base_latency_s", "scale_up_hop_latency_s", "scale_out_hop_latency_s",
                 "max_tokens_per_pass")


def ideal(eff: Efficiency) -> Efficiency:
    """The same chip at 100 % of every peak, with no latency and no per-step overhead."""
    return attrs.evolve(eff, gemm_fraction=1.0, hbm_fraction=1.0, scale_up_fraction=1.0, scale_out_fraction=1.0,
                        collective_base_latency_s=0.0, scale_up_hop_latency_s=0.0, scale_out_hop_latency_s=0.0,
                        step_overhead_s=0.0, kernel_overhead_s=0.0, training_attention_fraction=1.0,
                        training_sustained_fraction=1.0, serving_sustained_fraction=1.0, serving_attention_fraction=1.0,
                        serving_expert_fraction=1.0, training_step_overhead_s=0.0,
                        ll128_latency_s=(0.0, 0.0, 0.0), simple_latency_s=(0.0, 0.0, 0.0))
