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


#: The GEMM format class of a compute format (bf16 and fp16 run at one peak): the unit the serving fit's
#: ``serving_fraction_dtypes`` lists.
GEMM_CLASS = {"bf16": "16-bit", "fp16": "16-bit", "fp8": "fp8", "fp4": "fp4"}


def _fitted_formats(fam: dict) -> tuple[str, ...] | None:
    """The GEMM format classes a family's serving fractions were fitted on (``serving_fraction_dtypes``),
    or None when the family states none (its fractions then apply to every format)."""
    entry = fam.get("serving_fraction_dtypes")
    if entry is None:
        return None
    value = entry.get("value") if isinstance(entry, dict) else None
    if not isinstance(value, list) or not all(v in GEMM_CLASS.values() for v in value):
        raise RooflineError(f"efficiency: serving_fraction_dtypes={value!r} must be a list of "
                            f"{', '.join(sorted(set(GEMM_CLASS.values())))}; rerun benchmarks/calibrate.py --write")
    return tuple(value)


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

    fitted_for = _fitted_formats(fam)

    def serving_gemm(key: str) -> float:
        """A serving GEMM fraction: the chip's own override, else the family's where its fit covers this
        compute format, else 1 (no serving-specific share can be identified for it)."""
        if key in overrides or fitted_for is None or GEMM_CLASS.get(compute_dtype) in fitted_for:
            return pick(key)
        return 1.0

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
        training_usable_fraction=overrides.get("training_usable_fraction",
                                                _value(mem, "training_usable_fraction", "memory")),
        max_tokens_per_pass=int(overrides.get("max_tokens_per_pass", _value(mem, "max_tokens_per_pass", "memory"))),
        step_overhead_s=pick("step_overhead_s"),
        kernel_overhead_s=pick("kernel_overhead_s"),
        family=chip.family if chip.family in data else "default",
        training_attention_fraction=pick("training_attention_fraction"),
        training_sustained_fraction=pick("training_sustained_fraction"),
        serving_sustained_fraction=serving_gemm("serving_sustained_fraction"),
        serving_attention_fraction=pick("serving_attention_fraction"),
        serving_expert_fraction=serving_gemm("serving_expert_fraction"),
        training_step_overhead_s=pick("training_step_overhead_s"),
        ll128_latency_s=_protocol(links, "ll128", "pcie" if "pcie" in hop_up else "nvlink"),
        simple_latency_s=_protocol(links, "simple", "pcie" if "pcie" in hop_up else "nvlink"),
    )
    for key in (*FRACTIONS, "usable_memory_fraction", "training_usable_fraction", "training_attention_fraction",
                "training_sustained_fraction",
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
