"""Results of ``roofline compare``: per chip, serving, training, scaling, cost and export figures, with
ratios against the reference and a verdict."""

from __future__ import annotations

import attrs

from roofline.chip import Chip
from roofline.model import Model
from roofline.results.inference import ServingEstimate
from roofline.results.serving_plan import OperatingPoint
from roofline.results.training import TrainingEstimate
from roofline.results.verdict import Verdict


@attrs.frozen
class ServingSummary:
    tp: int
    pp: int
    ttft_s: float  # batch 1
    tpot_s: float  # batch 1
    prefill_tokens_per_s_per_chip: float
    decode_tokens_per_s_per_chip: float
    prefill_bound: str
    decode_bound: str
    prefill_intensity: float  # FLOP per HBM byte
    decode_intensity: float
    max_batch: int
    point: OperatingPoint | None  # the most tokens/s per chip within the latency targets (in-flight engine)
    point_note: str  # why there is no point
    at_concurrency: ServingEstimate | None  # --concurrency: the batch-1 layout with that many users (closed form)
    compute_bound_batch: int | None  # at ``tp``; may exceed max_batch
    critical_intensity: float  # peak FLOP/s of the compute dtype ÷ HBM bytes/s


@attrs.frozen
class TrainingSummary:
    estimate: TrainingEstimate
    dominant: str  # the largest step part
    dominant_share: float
    fewest_chips: int | None


@attrs.frozen
class ScalingPoint:
    tp: int
    tpot_s: float
    tokens_per_s_per_chip: float
    efficiency: float  # per-chip rate ÷ the TP-1 rate
    fits: bool


@attrs.frozen
class LinkHalving:
    """What half the scale-up bandwidth costs: per-chip rates with the full link and with half of it."""

    tp: int
    decode_batch1: tuple[float, float]
    decode_batch: int
    decode_full_batch: tuple[float, float]
    training: tuple[float, float] | None

    def loss(self, pair: tuple[float, float] | None) -> float | None:
        return None if pair is None else 1.0 - pair[1] / pair[0]


@attrs.frozen
class CostFigures:
    tdp_w: float | None
    decode_tokens_per_joule: float | None
    training_tokens_per_joule: float | None
    price_usd_per_hour: float | None
    price_source: str
    usd_per_million_output_tokens: float | None
    usd_per_training_run: float | None


@attrs.frozen
class ExportFigures:
    tpp: float
    tpp_dtype: str
    die_area_mm2: float | None
    performance_density: float | None
    band: str


@attrs.frozen
class ChipRow:
    chip: Chip
    dtype: str
    serving: ServingSummary | None
    serving_note: str
    training: TrainingSummary | None
    training_note: str
    scaling: tuple[ScalingPoint, ...]
    link: LinkHalving | None
    cost: CostFigures
    export: ExportFigures
    ratios: tuple[tuple[str, float | None], ...] = ()  # this ÷ reference, per chip
    verdict: Verdict | None = None

    def to_dict(self) -> dict:
        """One chip of the ``roofline compare --format json`` output."""
        r = self
        c = r.chip
        out = {"chip": c.name, "full_name": c.full_name, "compute_dtype": r.dtype,
               "peak_flops_per_s": c.peak(r.dtype), "hbm_bytes_per_s": c.hbm_bytes_per_s,
               "scale_up_bytes_per_s": c.scale_up_bytes_per_s, "scale_up_domain": c.scale_up_domain,
               "critical_intensity_flops_per_byte": c.critical_intensity(r.dtype)}
        s = r.serving
        out["serving"] = None if s is None else {
            **{k: v for k, v in attrs.asdict(s, recurse=False).items()
               if k not in ("point", "point_note", "at_concurrency")},
            "within_targets": None if s.point is None else s.point.to_dict(),
            "within_targets_note": s.point_note or None,
            "at_concurrency": None if s.at_concurrency is None else s.at_concurrency.to_dict()}
        if r.serving_note:
            out["serving_note"] = r.serving_note
        t = r.training
        if t is None:
            out["training"] = None
            out["training_note"] = r.training_note
        else:
            e, w = t.estimate, t.estimate.workload
            out["training"] = {
                "num_chips": w.num_chips, "tokens_per_s_per_chip": e.tokens_per_s_per_chip, "mfu": e.mfu,
                "time_to_train_s": e.time_to_train_s, "train_tokens": w.tokens, "step_time_s": e.step_time_s,
                "layout": {"tp": w.tp, "pp": w.pp, "dp": w.dp, "cp": w.cp, "micro_batch": w.micro_batch,
                           "recompute": w.recompute, "zero": w.zero, "virtual_pp": w.virtual_pp, "dtype": w.dtype},
                "dominant_part": t.dominant, "dominant_share": t.dominant_share, "fewest_chips": t.fewest_chips}
        out["nvlink_scaling"] = [attrs.asdict(p) for p in r.scaling]
        out["half_link"] = None if r.link is None else {
            "tp": r.link.tp, "decode_batch1_tokens_per_s_per_chip": _pair(r.link.decode_batch1),
            "decode_batch": r.link.decode_batch, "decode_tokens_per_s_per_chip": _pair(r.link.decode_full_batch),
            "training_tokens_per_s_per_chip": _pair(r.link.training)}
        out["efficiency_and_cost"] = attrs.asdict(r.cost)
        out["export_control"] = attrs.asdict(r.export)
        out["ratios"] = dict(r.ratios)
        out["verdict"] = None if r.verdict is None else r.verdict.to_dict()
        return out


@attrs.frozen
class Comparison:
    model: Model
    reference: str
    rows: tuple[ChipRow, ...]
    settings: tuple[tuple[str, object], ...]
    mixed: object = None  # a DisaggPlan: prefill on one chip, decode on another (compare --mixed)

    def to_dict(self) -> dict:
        out = {"model": self.model.name, "reference_chip": self.reference, "settings": dict(self.settings),
               "chips": [r.to_dict() for r in self.rows]}
        if self.mixed is not None:
            out["mixed"] = self.mixed.to_dict()
        return out


def _pair(p: tuple[float, float] | None) -> dict | None:
    return None if p is None else {"full_link": p[0], "half_link": p[1], "loss": 1.0 - p[1] / p[0]}
