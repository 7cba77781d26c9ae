"""Results of ``roofline validate``: every row compared, every row left out with its reason."""

from __future__ import annotations

import statistics

import attrs


@attrs.frozen
class RowResult:
    row_id: str
    source: str
    chip_profile: str
    metric_std: str
    kind: str  # "training" or "inference"
    measured: float
    predicted: float
    step_time_s: float | None = None  # training rows: the estimated step (calibration rescales it)
    fits: bool | None = None  # training rows: whether the memory model says the measured layout fits

    @property
    def error_pct(self) -> float:
        return 100.0 * (self.predicted - self.measured) / self.measured

    def to_dict(self) -> dict:
        return {"row_id": self.row_id, "source": self.source, "chip_profile": self.chip_profile,
                "metric_std": self.metric_std, "measured": self.measured, "predicted": self.predicted,
                "error_pct": self.error_pct, "fits": self.fits}


@attrs.frozen
class Skipped:
    row_id: str
    reason: str

    def to_dict(self) -> dict:
        return {"row_id": self.row_id, "reason": self.reason}


def _stats(errors: list[float]) -> dict:
    absolute = [abs(e) for e in errors]
    return {"rows": len(errors), "median_abs_error_pct": statistics.median(absolute) if errors else None,
            "mean_abs_error_pct": statistics.fmean(absolute) if errors else None,
            "bias_pct": statistics.median(errors) if errors else None}


@attrs.frozen
class Validation:
    """Every row compared (``rows``) and every row left out with its reason (``skipped``)."""

    rows: tuple[RowResult, ...]
    skipped: tuple[Skipped, ...]
    files: tuple[str, ...]

    def summary(self, key=lambda r: r.kind) -> dict[str, dict]:
        groups: dict[str, list[float]] = {}
        for r in self.rows:
            groups.setdefault(key(r), []).append(r.error_pct)
        return {k: _stats(v) for k, v in sorted(groups.items())}

    def to_dict(self) -> dict:
        summary = {kind: _stats([r.error_pct for r in self.rows if r.kind == kind])
                   for kind in ("training", "inference", "serving")}
        summary["training"]["predicted_not_to_fit"] = sum(1 for r in self.rows if r.fits is False)
        return {"rows": [r.to_dict() for r in self.rows], "skipped": [s.to_dict() for s in self.skipped],
                "summary": summary, "by_chip": self.summary(lambda r: r.chip_profile),
                "by_source": self.summary(lambda r: source_name(r.source)), "files": list(self.files)}


def source_name(source: str) -> str:
    """A short name for a row's source citation."""
    s = source.lower()
    if "narayanan" in s:
        return "Megatron-LM (Narayanan 2021)"
    if "mosaic" in s or "llm-foundry" in s:
        return "MosaicML llm-foundry"
    if "fsdp" in s:
        return "PyTorch FSDP (IBM/Meta 2024)"
    if "tensorrt-llm" in s and "perf-overview" in s:
        return "TensorRT-LLM perf-overview"
    if "azure" in s:
        return "Azure TensorRT-LLM"
    if "sglang" in s or "lmsys" in s:
        return "SGLang"
    return source.split(",")[0][:40] or "unknown"
