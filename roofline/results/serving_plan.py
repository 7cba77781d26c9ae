"""Results of the serving planner: replica layouts at their best concurrency, and the plan."""

from __future__ import annotations

import attrs

from roofline.chip import Chip
from roofline.dtypes import WEIGHT_COMPUTE
from roofline.model import Model
from roofline.results.figures import ChipFigures, ModelFigures


@attrs.frozen
class ServingLayout:
    """One replica layout at its best concurrency, and the fleet it makes."""

    tp: int
    pp: int
    ep: int
    concurrency: int  # requests in flight per replica
    replicas: int
    chips_per_replica: int
    num_chips: int  # the fleet, idle chips included
    ttft_s: float
    tpot_s: float
    requests_per_s_per_replica: float
    kv_capacity: int  # sequences one replica's KV cache holds
    prefill_bound: bool
    output_len: int
    attn_dp: int = 1  # Workload.dp_attention: attention groups of tp chips sharing split experts

    @property
    def output_tokens_per_s(self) -> float:
        """The whole fleet's output tokens/s."""
        return self.replicas * self.requests_per_s_per_replica * self.output_len

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        return self.output_tokens_per_s / self.num_chips

    @property
    def output_tokens_per_s_per_user(self) -> float:
        return 1.0 / self.tpot_s

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d.update(idle_chips=self.num_chips - self.replicas * self.chips_per_replica,
                 output_tokens_per_s=self.output_tokens_per_s,
                 output_tokens_per_s_per_chip=self.output_tokens_per_s_per_chip,
                 output_tokens_per_s_per_user=self.output_tokens_per_s_per_user)
        return d


@attrs.frozen
class OperatingPoint:
    """A chip at its serving operating point within latency targets: the layout at its best concurrency,
    and the limit that takes most of the time per generated token there."""

    layout: ServingLayout
    bound: str  # "compute", "memory", "scale-up" or "network"

    def to_dict(self) -> dict:
        return dict(self.layout.to_dict(), bound=self.bound)


@attrs.frozen
class ServingPlan:
    """The planner's answer: the best layout, the top list, the request and how the search went."""

    best: ServingLayout
    top: tuple[ServingLayout, ...]
    chip: Chip
    model: Model
    engine: str
    input_len: int
    output_len: int
    weight_dtype: str
    kv_dtype: str
    max_tpot_s: float | None
    max_ttft_s: float | None
    layouts: int  # layouts priced
    feasible: int  # layouts meeting the targets at some concurrency
    candidates: int  # configurations priced (layouts x concurrencies)
    search_s: float
    compiled: bool

    def to_dict(self) -> dict:
        """The JSON of ``roofline plan --mode inference``: chip, model, the search and the best layout."""
        return {"chip": ChipFigures(self.chip, WEIGHT_COMPUTE[self.weight_dtype]).to_dict(),
                "model": ModelFigures(self.model, self.kv_dtype).to_dict(), "plan": self.search_dict(),
                "inference": self.best.to_dict()}

    def search_dict(self) -> dict:
        """How the search went and the top layouts."""
        return {
            "mode": "inference",
            "engine": self.engine,
            "num_chips": self.best.num_chips,
            "input_len": self.input_len,
            "output_len": self.output_len,
            "weight_dtype": self.weight_dtype,
            "kv_dtype": self.kv_dtype,
            "max_tpot_s": self.max_tpot_s,
            "max_ttft_s": self.max_ttft_s,
            "layouts_priced": self.layouts,
            "layouts_feasible": self.feasible,
            "candidates": self.candidates,
            "search_s": self.search_s,
            "compiled": self.compiled,
            "layouts": [t.to_dict() for t in self.top],
        }
