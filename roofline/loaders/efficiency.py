"""The expected efficiency of a chip: ``profiles/efficiency.toml`` (per chip family, with its sources)
and the chip's own ``[efficiency]`` overrides, checked into an :class:`roofline.efficiency.Efficiency`."""

from __future__ import annotations

import functools

from roofline.chip import Chip
from roofline.efficiency import FRACTIONS, MIN_FRACTION, ZERO_OK, Efficiency
from roofline.errors import RooflineError
from roofline.loaders.files import figure, profiles_dir, read_toml


@functools.cache
def _table() -> dict:
    return read_toml(profiles_dir() / "efficiency.toml", "efficiency profile")


def _value(tbl: dict, key: str, where: str) -> float:
    value, _ = figure(tbl, key, where, zero_ok=key in ZERO_OK)
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
        serving_attention_fraction=pick("serving_attention_fraction"),
        serving_expert_fraction=pick("serving_expert_fraction"),
        training_step_overhead_s=pick("training_step_overhead_s"),
        ll128_latency_s=_protocol(links, "ll128", "pcie" if "pcie" in hop_up else "nvlink"),
        simple_latency_s=_protocol(links, "simple", "pcie" if "pcie" in hop_up else "nvlink"),
    )
    for key in (*FRACTIONS, "usable_memory_fraction", "training_attention_fraction", "training_sustained_fraction",
                "serving_sustained_fraction", "serving_attention_fraction", "serving_expert_fraction"):
        v = getattr(eff, key)
        if not MIN_FRACTION <= v <= 1.0:
            raise RooflineError(f"efficiency.{key}={v} must lie in [{MIN_FRACTION:g}, 1]; fix the chip's "
                                f"[efficiency] table")
    for key in (*ZERO_OK, "collective_base_latency_s", "scale_up_hop_latency_s", "scale_out_hop_latency_s"):
        v = getattr(eff, key)
        if not (v >= 0.0 and v < 1e3):
            raise RooflineError(f"efficiency.{key}={v} must be a number of seconds, at least 0; fix the chip's "
                                f"[efficiency] table")
    return eff
