"""The verdict's values: one phase on both chips, and what the chip suits (the rule is
:mod:`roofline.verdict`)."""

from __future__ import annotations

import attrs

#: Minimum speed-up over the reference (per chip, or per dollar when both prices are known) for a phase to
#: suit the chip.
SUITS_THRESHOLD = 0.8


@attrs.frozen
class PhaseRatio:
    """One phase on both chips: this chip ÷ reference per chip, and the limit that binds on each.

    ``share`` is the part of the time the binding limit takes (training: the dominant step part).
    """

    speedup: float
    bound: str  # "compute", "memory", "scale-up" or "network" on this chip ("none": no serving point)
    reference_bound: str
    share: float | None = None

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen
class Verdict:
    """What the chip suits relative to ``reference_chip``, and why (see :mod:`roofline.verdict`).

    ``suits`` is ``None`` when a phase that votes has no ratio (the reference, or neither chip, could not
    run it); ``reason`` then says why.
    """

    reference_chip: str
    chip: str
    decode_speedup: float | None
    prefill_speedup: float | None
    training_speedup: float | None
    suits: str | None
    reason: str
    threshold: float
    serving_speedup: float | None = None
    decode: PhaseRatio | None = None
    prefill: PhaseRatio | None = None
    training: PhaseRatio | None = None
    serving: PhaseRatio | None = None
    resource_ratios: tuple[tuple[str, float], ...] = ()  # (limit, this ÷ reference) for the serving dtype
    training_compute_ratio: float | None = None  # dense FLOP/s of the training dtype, this ÷ reference
    slo: tuple[tuple[str, float], ...] = ()  # ("max_tpot_s", s), ("max_ttft_s", s) of the serving speed-up
    per_dollar: tuple[tuple[str, object], ...] | None = None  # the ratios ÷ the price ratio, and the prices
    basis: str = "per chip"  # what voted: "per chip", or "per dollar" when both prices are known
    confidence: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = ()  # per chip name: level, profile, efficiency
    serving_points: tuple[tuple[str, dict | None], ...] = ()  # ("this" | "reference", the operating point)
    notes: tuple[str, ...] = ()  # how the reference was run, and why a ratio is missing

    @property
    def serving_over_training(self) -> float | None:
        """How many times more of the reference's speed serving keeps than training does."""
        if self.serving_speedup is None or not self.training_speedup:
            return None
        return self.serving_speedup / self.training_speedup

    def to_dict(self) -> dict:
        phases = (("decode", self.decode), ("prefill", self.prefill), ("training", self.training),
                  ("serving", self.serving))
        return {
            "chip": self.chip,
            "reference_chip": self.reference_chip,
            "decode_speedup": self.decode_speedup,
            "prefill_speedup": self.prefill_speedup,
            "training_speedup": self.training_speedup,
            "serving_speedup": self.serving_speedup,
            "serving_over_training": self.serving_over_training,
            "suits": self.suits,
            "basis": self.basis,
            "reason": self.reason,
            "threshold": self.threshold,
            "slo": dict(self.slo) or None,
            "per_dollar": dict(self.per_dollar) if self.per_dollar is not None else None,
            "confidence": {name: dict(c) for name, c in self.confidence},
            "serving_points": dict(self.serving_points),
            "bounds": {k: (None if p is None else {"this": p.bound, "reference": p.reference_bound})
                       for k, p in phases},
            "resource_ratios": dict(self.resource_ratios),
            "training_compute_ratio": self.training_compute_ratio,
            "notes": list(self.notes),
        }
