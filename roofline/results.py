"""Frozen result values. ``to_dict()`` gives exactly the JSON the CLI prints."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from roofline.chip import Chip
from roofline.dtypes import BYTES
from roofline.efficiency import Efficiency
from roofline.model import Model
from roofline.workload import Workload

if TYPE_CHECKING:
    from roofline.planner import Plan
    from roofline.serving import ServingEstimate
    from roofline.training import TrainingEstimate
    from roofline.verdict import Verdict


@attrs.frozen
class OpCost:
    """One op of a pass on one chip, all its occurrences (``count``) together."""

    name: str
    count: int
    flops: float  # per chip, all occurrences
    hbm_bytes: float
    link_bytes: float
    time_s: float
    bound: str  # "compute", "memory" or "network"

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen
class Phase:
    """A priced pass: its time, the limit that bound most of it, and the op table."""

    time_s: float
    bound: str
    ops: tuple[OpCost, ...]

    @property
    def flops(self) -> float:
        return sum(o.flops for o in self.ops)

    @property
    def hbm_bytes(self) -> float:
        return sum(o.hbm_bytes for o in self.ops)

    @property
    def arithmetic_intensity(self) -> float:
        """FLOPs per HBM byte of the whole pass."""
        return self.flops / self.hbm_bytes if self.hbm_bytes else float("inf")


@attrs.frozen
class BatchPoint:
    batch: int
    ttft_s: float
    tpot_s: float
    output_tokens_per_s: float
    fits: bool

    def to_dict(self) -> dict:
        return attrs.asdict(self)


@attrs.frozen
class InferenceEstimate:
    """Serving estimate for one replica (``tp x pp`` chips)."""

    workload: Workload  # with tp resolved
    efficiency: Efficiency
    fits: bool
    weights_bytes_per_chip: float
    kv_bytes_per_chip: float
    workspace_bytes_per_chip: float
    usable_bytes_per_chip: float
    max_batch: int
    prefill: Phase
    decode: Phase
    decode_context_tokens: float
    ideal_ttft_s: float
    ideal_tpot_s: float
    batch_table: tuple[BatchPoint, ...]

    @property
    def memory_per_chip_bytes(self) -> float:
        return self.weights_bytes_per_chip + self.kv_bytes_per_chip + self.workspace_bytes_per_chip

    @property
    def num_chips(self) -> int:
        return self.workload.num_chips

    @property
    def ttft_s(self) -> float:
        return self.prefill.time_s

    @property
    def tpot_s(self) -> float:
        return self.decode.time_s

    @property
    def output_tokens_per_s(self) -> float:
        return self.workload.batch / self.tpot_s

    def to_dict(self) -> dict:
        wl, eff = self.workload, self.efficiency
        return {
            "tp": wl.tp,
            "pp": wl.pp,
            "ep": wl.ep,
            "attn_dp": wl.attn_dp,
            "num_chips": self.num_chips,
            "batch": wl.batch,
            "draft_tokens": wl.draft_tokens,
            "accepted_tokens": wl.accept,
            "input_len": wl.input_len,
            "output_len": wl.output_len,
            "weight_dtype": wl.weight_dtype,
            "kv_dtype": wl.kv,
            "compute_dtype": wl.compute_dtype,
            "fits": self.fits,
            "memory_per_chip_bytes": self.memory_per_chip_bytes,
            "memory_breakdown_bytes": {
                "weights": self.weights_bytes_per_chip,
                "kv_cache": self.kv_bytes_per_chip,
                "workspace": self.workspace_bytes_per_chip,
                "usable": self.usable_bytes_per_chip,
            },
            "max_batch": self.max_batch,
            "ttft_s": self.ttft_s,
            "tpot_s": self.tpot_s,
            "output_tokens_per_s": self.output_tokens_per_s,
            "output_tokens_per_s_per_chip": self.output_tokens_per_s / self.num_chips,
            "prefill_bound": self.prefill.bound,
            "decode_bound": self.decode.bound,
            "decode_context_tokens": self.decode_context_tokens,
            "prefill_arithmetic_intensity": self.prefill.arithmetic_intensity,
            "decode_arithmetic_intensity": self.decode.arithmetic_intensity,
            "ideal": {
                "ttft_s": self.ideal_ttft_s,
                "tpot_s": self.ideal_tpot_s,
                "output_tokens_per_s": wl.batch / self.ideal_tpot_s,
            },
            "efficiency": attrs.asdict(eff),
            "batch_table": [p.to_dict() for p in self.batch_table],
            "prefill_ops": [o.to_dict() for o in self.prefill.ops],
            "decode_ops": [o.to_dict() for o in self.decode.ops],
        }


def chip_dict(chip: Chip, compute_dtype: str) -> dict:
    return {
        "name": chip.name,
        "full_name": chip.full_name,
        "family": chip.family,
        "compute_dtype": compute_dtype,
        "peak_flops_per_s": chip.peak(compute_dtype),
        "peak_flops_per_s_by_dtype": dict(chip.peak_flops_per_s),
        "hbm_bytes": chip.hbm_bytes,
        "hbm_bytes_per_s": chip.hbm_bytes_per_s,
        "critical_intensity_flops_per_byte": chip.critical_intensity(compute_dtype),
        "scale_up_name": chip.scale_up_name,
        "scale_up_bytes_per_s": chip.scale_up_bytes_per_s,
        "scale_up_domain": chip.scale_up_domain,
        "scale_out_bytes_per_s": chip.scale_out_bytes_per_s,
        "tdp_w": chip.tdp_w,
        "confidence": chip.confidence,
    }


def model_dict(model: Model, kv_dtype: str) -> dict:
    """The model block of the JSON. MoE/MLA fields are always present (0 for a dense / non-MLA model)."""
    return {
        "name": model.name,
        "family": model.family,
        "params_total": model.param_count(),
        "params_active": model.active_param_count(),
        "num_layers": model.num_layers,
        "hidden_size": model.hidden_size,
        "num_heads": model.num_heads,
        "num_kv_heads": model.num_kv_heads,
        "head_dim": model.head_dim,
        "intermediate_size": model.intermediate_size,
        "vocab_size": model.vocab_size,
        "sliding_window": model.sliding_window,
        "kv_dtype": kv_dtype,
        "kv_bytes_per_token": model.kv_bytes_per_token(BYTES[kv_dtype]),
        "num_experts": model.num_experts,
        "experts_per_token": model.experts_per_token,
        "shared_experts": model.shared_experts,
        "moe_intermediate_size": model.moe_intermediate_size,
        "moe_layers": model.moe_layers,
        "dense_layers": model.dense_layers,
        "q_lora_rank": model.q_lora_rank,
        "kv_lora_rank": model.kv_lora_rank,
        "qk_nope_head_dim": model.qk_nope_head_dim,
        "qk_rope_head_dim": model.qk_rope_head_dim,
        "v_head_dim": model.v_head_dim,
    }


@attrs.frozen
class Estimate:
    """Everything ``roofline estimate`` reports for one chip and model.

    ``training_note`` says why a training estimate that was not asked for explicitly (default
    workload in mode "both") is missing, e.g. a model that fits no layout on the default chip count.
    """

    chip: Chip
    model: Model
    inference: InferenceEstimate | None = None
    serving: ServingEstimate | None = None
    training: TrainingEstimate | None = None
    training_note: str | None = None
    verdict: Verdict | None = None  # this chip against a reference chip (roofline.verdict)

    @property
    def compute_dtype(self) -> str:
        """The dtype whose peak the chip summary quotes: inference's compute dtype, else training's."""
        if self.inference is not None:
            return self.inference.workload.compute_dtype
        if self.training is not None:
            return self.training.workload.dtype
        return Workload().compute_dtype

    def to_dict(self) -> dict:
        kv = self.inference.workload.kv if self.inference else Workload().kv
        out = {"chip": chip_dict(self.chip, self.compute_dtype), "model": model_dict(self.model, kv)}
        if self.inference is not None:
            out["inference"] = self.inference.to_dict()
            if self.serving is not None:
                out["inference"]["serving"] = self.serving.to_dict()
        if self.training is not None:
            out["training"] = self.training.to_dict()
        if self.training_note is not None:
            out["training_note"] = self.training_note
        if self.verdict is not None:
            out["verdict"] = self.verdict.to_dict()
        return out


def plan_dict(chip: Chip, model: Model, plan: Plan) -> dict:
    """The JSON of ``roofline plan``: the search, the top layouts (fastest first) and the best one."""
    return {
        "chip": chip_dict(chip, plan.best.workload.dtype),
        "model": model_dict(model, Workload().kv),
        "plan": {
            "candidates": plan.candidates,
            "fitting": plan.fitting,
            "search_s": plan.search_s,
            "compiled": plan.compiled,
            "layouts": [t.to_dict() for t in plan.top],
        },
        "training": plan.best.to_dict(),
    }
