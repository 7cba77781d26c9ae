"""Achievable fractions of peak per chip family, and the hardware vectors kernels read.

The *expected* estimate prices ops at the achievable fractions of ``profiles/efficiency.toml`` (GEMM
throughput per dtype, HBM bandwidth, link bandwidth) with NCCL's latency model for collectives; the
*ideal* estimate uses 100 % of every peak and no latency. Both come from the same kernels, so the
expected value can never beat the ideal one.
"""

from __future__ import annotations

import functools

import attrs
import numpy as np

from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.registry import figure, profiles_dir, read_toml

_FRACTIONS = ("gemm_fraction", "hbm_fraction", "scale_up_fraction", "scale_out_fraction")


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
    serving_sustained_fraction: float = 1.0  # share of GEMM and HBM throughput sustained by serving steps
    training_step_overhead_s: float = 0.0  # fixed seconds per optimizer step
    #: NCCL LL128 and Simple protocols: (base, scale-up hop, scale-out hop) seconds; the fields above
    #: ``collective_base_latency_s`` / ``*_hop_latency_s`` are the LL protocol's.
    ll128_latency_s: tuple[float, float, float] = (0.0, 0.0, 0.0)
    simple_latency_s: tuple[float, float, float] = (0.0, 0.0, 0.0)


@functools.cache
def _table() -> dict:
    return read_toml(profiles_dir() / "efficiency.toml", "efficiency profile")


#: Smallest achievable fraction of a peak taken (0.1 %): a smaller one is a typo (0.8e-3 for 0.8), and a
#: vanishing one (a denormal such as 1e-313) would turn times into inf and NaN.
MIN_FRACTION = 1e-3
#: Fixed costs that may legitimately be zero.
_ZERO_OK = ("kernel_overhead_s", "step_overhead_s", "training_step_overhead_s")
#: Keys a chip's ``[efficiency]`` table may override (anything else is a typo and is refused at load).
OVERRIDE_KEYS = (*_FRACTIONS, *(f"gemm_fraction_{d}" for d in ("bf16", "fp16", "fp8", "int8", "fp4")),
                 "usable_memory_fraction", "training_attention_fraction", "training_sustained_fraction",
                 "serving_sustained_fraction", *_ZERO_OK, "collective_base_latency_s", "scale_up_hop_latency_s",
                 "scale_out_hop_latency_s", "max_tokens_per_pass")


def _value(tbl: dict, key: str, where: str) -> float:
    value, _ = figure(tbl, key, where, zero_ok=key in _ZERO_OK)
    return value


def _protocol(links: dict, proto: str, up: str) -> tuple[float, float, float]:
    return (_value(links, f"{proto}_base_latency_s", "links"), _value(links, f"{proto}_{up}_hop_latency_s", "links"),
            _value(links, f"{proto}_network_hop_latency_s", "links"))


def efficiency_for(chip: Chip, compute_dtype: str) -> Efficiency:
    """The expected-case efficiency of ``chip`` when its GEMMs run in ``compute_dtype``."""
    data = _table()
    fam = data.get(chip.family, data["default"])
    base = data["default"]
    overrides = dict(chip.efficiency_overrides)

    def pick(key: str) -> float:
        if key in overrides:
            return overrides[key]
        if key in fam:
            return _value(fam, key, chip.family)
        return _value(base, key, "default")

    gemm_key = f"gemm_fraction_{compute_dtype}"
    gemm = pick(gemm_key) if (gemm_key in overrides or gemm_key in fam or gemm_key in base) else pick("gemm_fraction")
    links = data["links"]
    hop_up = "pcie_hop_latency_s" if "pcie" in chip.scale_up_name.lower() else "nvlink_hop_latency_s"
    mem = data["memory"]
    eff = Efficiency(
        gemm_fraction=gemm,
        hbm_fraction=pick("hbm_fraction"),
        scale_up_fraction=pick("scale_up_fraction"),
        scale_out_fraction=pick("scale_out_fraction"),
        collective_base_latency_s=overrides.get("collective_base_latency_s",
                                                _value(links, "collective_base_latency_s", "links")),
        scale_up_hop_latency_s=overrides.get("scale_up_hop_latency_s", _value(links, hop_up, "links")),
        scale_out_hop_latency_s=overrides.get("scale_out_hop_latency_s",
                                              _value(links, "network_hop_latency_s", "links")),
        usable_memory_fraction=overrides.get("usable_memory_fraction", _value(mem, "usable_fraction", "memory")),
        max_tokens_per_pass=int(overrides.get("max_tokens_per_pass", _value(mem, "max_tokens_per_pass", "memory"))),
        step_overhead_s=pick("step_overhead_s"),
        kernel_overhead_s=pick("kernel_overhead_s"),
        family=chip.family if chip.family in data else "default",
        training_attention_fraction=pick("training_attention_fraction"),
        training_sustained_fraction=pick("training_sustained_fraction"),
        serving_sustained_fraction=pick("serving_sustained_fraction"),
        training_step_overhead_s=pick("training_step_overhead_s"),
        ll128_latency_s=_protocol(links, "ll128", "pcie" if "pcie" in hop_up else "nvlink"),
        simple_latency_s=_protocol(links, "simple", "pcie" if "pcie" in hop_up else "nvlink"),
    )
    for key in (*_FRACTIONS, "usable_memory_fraction", "training_attention_fraction", "training_sustained_fraction",
                "serving_sustained_fraction"):
        v = getattr(eff, key)
        if not MIN_FRACTION <= v <= 1.0:
            raise RooflineError(f"efficiency.{key}={v} must lie in [{MIN_FRACTION:g}, 1]; fix the chip's "
                                f"[efficiency] table")
    for key in (*_ZERO_OK, "collective_base_latency_s", "scale_up_hop_latency_s", "scale_out_hop_latency_s"):
        v = getattr(eff, key)
        if not (v >= 0.0 and v < 1e3):
            raise RooflineError(f"efficiency.{key}={v} must be a number of seconds, at least 0; fix the chip's "
                                f"[efficiency] table")
    return eff


def ideal(eff: Efficiency) -> Efficiency:
    """The same chip at 100 % of every peak, with no latency and no per-step overhead."""
    return attrs.evolve(eff, gemm_fraction=1.0, hbm_fraction=1.0, scale_up_fraction=1.0, scale_out_fraction=1.0,
                        collective_base_latency_s=0.0, scale_up_hop_latency_s=0.0, scale_out_hop_latency_s=0.0,
                        step_overhead_s=0.0, kernel_overhead_s=0.0, training_attention_fraction=1.0, training_sustained_fraction=1.0,
                        serving_sustained_fraction=1.0,
                        training_step_overhead_s=0.0, ll128_latency_s=(0.0, 0.0, 0.0),
                        simple_latency_s=(0.0, 0.0, 0.0))


def hardware_vector(chip: Chip, compute_dtype: str, eff: Efficiency, sustained: float = 1.0) -> np.ndarray:
    """Pack chip peaks and efficiency into the ``H_*`` vector the kernels read; ``sustained`` scales the
    GEMM and HBM fractions (serving passes ``eff.serving_sustained_fraction``)."""
    hw = np.zeros(L.H_SIZE)
    hw[L.H_PEAK_FLOPS] = chip.peak(compute_dtype)
    hw[L.H_HBM_BW] = chip.hbm_bytes_per_s
    hw[L.H_HBM_BYTES] = chip.hbm_bytes
    hw[L.H_UP_BW] = chip.scale_up_bytes_per_s
    hw[L.H_UP_DOMAIN] = chip.scale_up_domain
    hw[L.H_OUT_BW] = chip.scale_out_bytes_per_s
    hw[L.H_EFF_COMPUTE] = eff.gemm_fraction * sustained
    hw[L.H_EFF_HBM] = eff.hbm_fraction * sustained
    hw[L.H_EFF_UP] = eff.scale_up_fraction
    hw[L.H_EFF_OUT] = eff.scale_out_fraction
    hw[L.H_LAT_BASE] = eff.collective_base_latency_s
    hw[L.H_LAT_UP] = eff.scale_up_hop_latency_s
    hw[L.H_LAT_OUT] = eff.scale_out_hop_latency_s
    hw[L.H_MEM_FRACTION] = eff.usable_memory_fraction
    hw[L.H_STEP_OVERHEAD] = eff.step_overhead_s
    hw[L.H_KERNEL_OVERHEAD] = eff.kernel_overhead_s
    hw[L.H_LL128_BASE], hw[L.H_LL128_UP], hw[L.H_LL128_OUT] = eff.ll128_latency_s
    hw[L.H_SIMPLE_BASE], hw[L.H_SIMPLE_UP], hw[L.H_SIMPLE_OUT] = eff.simple_latency_s
    return hw
