"""Accelerators: the frozen ``Chip`` value, in SI units, and the plausible range of each figure.

Chips come from ``profiles/chips/*.toml`` or a user's file through :mod:`roofline.loaders.chips`.
"""

from __future__ import annotations

import attrs

from roofline.errors import RooflineError
from roofline.quantity import show


@attrs.frozen
class Chip:
    """One accelerator, in SI units. All peaks are dense (no 2:4 sparsity)."""

    name: str
    peak_flops_per_s: tuple[tuple[str, float], ...]  # (dtype, dense FLOP/s) pairs; absent dtype = unsupported
    hbm_bytes: float
    hbm_bytes_per_s: float
    scale_up_bytes_per_s: float  # per direction per chip
    scale_up_domain: int  # chips reachable over the scale-up link
    scale_out_bytes_per_s: float  # per direction per chip
    family: str = "default"
    full_name: str = ""
    vendor: str = ""
    scale_up_name: str = ""
    scale_out_name: str = ""
    tdp_w: float | None = None
    confidence: str = ""
    aliases: tuple[str, ...] = ()
    sources: tuple[tuple[str, str], ...] = ()  # (figure, source) pairs
    efficiency_overrides: tuple[tuple[str, float], ...] = ()  # from a user's [efficiency] table
    die_area_mm2: float | None = None  # [die] area_mm2: the die area export rules divide TPP by
    price_usd_per_hour: float | None = None  # [price] usd_per_hour: a dated reference rental price per chip
    price_date: str = ""  # when that price was quoted, "YYYY-MM" or "YYYY-MM-DD"
    price_market: str = ""  # where it was quoted: "global" or "china" (roofline.loaders.chips.MARKETS)

    @property
    def dtypes(self) -> tuple[str, ...]:
        return tuple(d for d, _ in self.peak_flops_per_s)

    def has(self, dtype: str) -> bool:
        return dtype in self.dtypes

    def peak(self, dtype: str) -> float:
        """Dense peak FLOP/s for ``dtype``; a clear error when the chip lacks it."""
        for d, v in self.peak_flops_per_s:
            if d == dtype:
                return v
        raise RooflineError(
            f"dtype={dtype!r}: chip {self.name} has no {dtype} compute (it has {', '.join(self.dtypes)}); "
            f"pick one of those"
        )

    @property
    def scale_up_label(self) -> str:
        """The scale-up link's short name for labels ("NVLink", "HCCS", "Infinity Fabric", "PCIe Gen5"):
        the first words of ``scale_up_name`` before a number or a parenthesis."""
        words = []
        for word in self.scale_up_name.split()[:2]:
            if word[0].isdigit() or word.startswith("("):
                break
            words.append(word)
        return " ".join(words) or "scale-up link"

    @property
    def half_dtype(self) -> str:
        """The chip's 16-bit format: bf16 where it has it, else fp16 (training and attention run in it)."""
        return "bf16" if self.has("bf16") else "fp16"

    def critical_intensity(self, dtype: str) -> float:
        """Peak FLOP/s ÷ HBM bytes/s: the FLOP per byte above which a kernel is compute-bound."""
        return self.peak(dtype) / self.hbm_bytes_per_s


#: Plausible range (low, high, unit and example) of each figure, SI units. Far wider than any chip (an
#: H100 has 989e12 FLOP/s and 80e9 bytes at 3.35e12 bytes/s); a figure outside is a unit slip (80 for
#: 80 GB, 989 for 989 TFLOP/s) and is refused, which also keeps every estimate finite.
RANGES = {
    "peak_flops_per_s": (1e9, 1e19, "dense FLOP/s, e.g. 989e12"),
    "hbm.bytes": (1e6, 1e15, "bytes, e.g. 80e9"),
    "hbm.bytes_per_s": (1e6, 1e18, "bytes/s, e.g. 3.35e12"),
    "scale_up.bytes_per_s": (1e6, 1e16, "bytes/s per direction, e.g. 450e9"),
    "scale_out.bytes_per_s": (1e6, 1e16, "bytes/s per direction, e.g. 50e9"),
    "power.tdp_w": (1.0, 1e6, "watts, e.g. 700"),
    "die.area_mm2": (1.0, 1e6, "mm2, e.g. 814"),
    "price.usd_per_hour": (1e-6, 1e6, "dollars per chip-hour, e.g. 2.5"),
}


def check_price(price) -> float:
    """A price in dollars per chip-hour within the plausible range of a chip profile's price."""
    low, high, _ = RANGES["price.usd_per_hour"]
    if isinstance(price, bool) or not isinstance(price, (int, float)) or not low <= price <= high:
        raise RooflineError(f"price_per_hour={show(price)} must be a positive number of dollars per chip-hour "
                            f"(from {low:g} to {high:g}), e.g. 2.5")
    return float(price)
