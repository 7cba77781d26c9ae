"""Results of a training estimate and of the layout planner."""

from __future__ import annotations

import attrs

from roofline.chip import Chip
from roofline.efficiency import Efficiency
from roofline.model import Model
from roofline.results.figures import ChipFigures, ModelFigures
from roofline.workload import TrainingWorkload, Workload

#: The parts of a training step, in the order of ``TrainingEstimate.breakdown``.
BREAKDOWN = ("compute", "tp_comm", "pp_bubble", "pp_comm", "dp_comm", "cp_comm", "optimizer")


@attrs.frozen
class TrainingEstimate:
    """One layout priced: step time (s), its breakdown (s per step), memory (bytes per chip), FLOPs."""

    workload: TrainingWorkload  # complete, global_batch resolved
    efficiency: Efficiency
    peak_flops_per_s: float  # dense peak of the matmul dtype
    step_time_s: float
    breakdown: tuple[tuple[str, float], ...]
    memory_per_chip_bytes: float
    activation_bytes_per_chip: float
    state_bytes_per_chip: float
    usable_bytes_per_chip: float
    model_flops_per_chip: float  # per step
    hardware_flops_per_chip: float  # per step, recompute included
    chips_needed: int | None = None
    days: float | None = None
    #: layers of the (first, each middle, last) pipeline stage (``roofline.stages.stage_split``)
    stages: tuple[int, int, int] = ()

    @property
    def fits(self) -> bool:
        return self.memory_per_chip_bytes <= self.usable_bytes_per_chip

    @property
    def tokens_per_s(self) -> float:
        return self.workload.batch() * self.workload.seq_len / self.step_time_s

    @property
    def tokens_per_s_per_chip(self) -> float:
        return self.tokens_per_s / self.workload.num_chips

    @property
    def mfu(self) -> float:
        return self.model_flops_per_chip / self.step_time_s / self.peak_flops_per_s

    @property
    def hfu(self) -> float:
        return self.hardware_flops_per_chip / self.step_time_s / self.peak_flops_per_s

    @property
    def time_to_train_s(self) -> float:
        return self.workload.tokens / self.tokens_per_s

    def to_dict(self) -> dict:
        wl = self.workload
        out = {
            "num_chips": wl.num_chips, "tp": wl.tp, "pp": wl.pp, "dp": wl.dp, "cp": wl.cp,
            "cp_comm_type": wl.cp_comm_type,
            "ep": wl.ep or 1, "micro_batch": wl.micro_batch, "global_batch": wl.batch(), "seq_len": wl.seq_len,
            "recompute": wl.recompute, "zero": wl.zero, "dtype": wl.dtype, "kernels": wl.kernels,
            "virtual_pp": wl.virtual_pp,
            "first_stage_layers": self.stages[0] if self.stages else None,
            "middle_stage_layers": self.stages[1] if self.stages else None,
            "last_stage_layers": self.stages[2] if self.stages else None, "fits": self.fits,
            "memory_per_chip_bytes": self.memory_per_chip_bytes, "step_time_s": self.step_time_s,
            "tokens_per_s": self.tokens_per_s, "tokens_per_s_per_chip": self.tokens_per_s_per_chip,
            "mfu": self.mfu, "hfu": self.hfu,
            "model_tflops_per_chip": self.model_flops_per_chip / self.step_time_s / 1e12,
            "train_tokens": wl.tokens, "time_to_train_s": self.time_to_train_s,
            "breakdown": dict(self.breakdown),
        }
        if self.chips_needed is not None:
            out["chips_needed"] = self.chips_needed
        return out


@attrs.frozen
class Plan:
    """The planner's answer: the fastest fitting layout, the top list, and how the search went."""

    chip: Chip
    model: Model
    best: TrainingEstimate
    top: tuple[TrainingEstimate, ...]
    candidates: int
    fitting: int
    search_s: float
    compiled: bool

    def to_dict(self) -> dict:
        """The JSON of ``roofline plan``: the search, the top layouts (fastest first) and the best one."""
        return {
            "chip": ChipFigures(self.chip, self.best.workload.dtype).to_dict(),
            "model": ModelFigures(self.model, Workload().kv).to_dict(),
            "plan": {
                "candidates": self.candidates,
                "fitting": self.fitting,
                "search_s": self.search_s,
                "compiled": self.compiled,
                "layouts": [t.to_dict() for t in self.top],
            },
            "training": self.best.to_dict(),
        }
