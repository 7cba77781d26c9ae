"""The verdict's values: one phase on both chips, and what the chip suits (the rule is
:mod:`roofline.verdict`)."""

from __future__ import annotations

import attrs

#: Minimum speed-up over the reference (per chip) for a phase to suit the chip.
SUITS_THRESHOLD = 0.8


@attrs.frozen
class PhaseRatio:
    """One phase on both chips: this chip ÷ reference per chip, and the limit that binds on each.

    ``share`` is the part of the time the binding limit takes (training: the dominant step part).
    """

    speedup: float
    bound: str  # "compute", "memory" or "network" on this chip
    reference_bound: str
    share: float | None = None

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen
class Verdict:
    """What the chip suits relative to ``reference_chip``, and why (see the module docstring)."""

    reference_chip: str
    decode_speedup: float | None
    prefill_speedup: float | None
    training_speedup: float | None
    suits: str
    reason: str
    threshold: float = SUITS_THRESHOLD
    decode: PhaseRatio | None = None
    prefill: PhaseRatio | None = None
    training: PhaseRatio | None = None
    resource_ratios: tuple[tuple[str, float], ...] = ()  # ("compute" | "memory" | "network", this ÷ reference)
    notes: tuple[str, ...] = ()  # how the reference was run when it could not mirror the estimate

    def to_dict(self) -> dict:
        return {
            "reference_chip": self.reference_chip,
            "decode_speedup": self.decode_speedup,
            "prefill_speedup": self.prefill_speedup,
            "training_speedup": self.training_speedup,
            "suits": self.suits,
            "reason": self.reason,
            "threshold": self.threshold,
            "bounds": {k: (None if p is None else {"this": p.bound, "reference": p.reference_bound})
                       for k, p in (("decode", self.decode), ("prefill", self.prefill), ("training", self.training))},
            "resource_ratios": dict(self.resource_ratios),
            "notes": list(self.notes),
        }
