"""Results of a serving estimate: priced passes and their ops, the static batch estimate, and the in-flight
engine's steady state."""

from __future__ import annotations

import attrs

from roofline.efficiency import Efficiency
from roofline.workload import Workload


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
    request_overhead_s: float = 0.0  # the engine's time per request outside its steps (TTFT includes it)
    context_tokens: int = 0  # the model's context (max_position_embeddings; 0: not stated)
    engine: str = "generic"  # the serving engine whose costs the steps carry
    kernel_overhead_s: float = 0.0  # seconds per kernel launched (the engine's and the family's)
    seq_overhead_s: float = 0.0  # the engine's seconds per sequence per step

    @property
    def memory_per_chip_bytes(self) -> float:
        return self.weights_bytes_per_chip + self.kv_bytes_per_chip + self.workspace_bytes_per_chip

    @property
    def num_chips(self) -> int:
        return self.workload.num_chips

    @property
    def ttft_s(self) -> float:
        """The prefill pass of the batch, and the engine's time per request outside its steps."""
        return self.prefill.time_s + self.request_overhead_s

    @property
    def tpot_s(self) -> float:
        return self.decode.time_s

    @property
    def context_exceeds_model(self) -> bool:
        """Input plus output tokens beyond the model's context (priced anyway: users probe long contexts)."""
        wl = self.workload
        return bool(self.context_tokens) and wl.input_len + wl.output_len > self.context_tokens

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
            "context_tokens": self.context_tokens,
            "context_exceeds_model": self.context_exceeds_model,
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
            "engine_costs": {"engine": self.engine, "kernel_overhead_s": self.kernel_overhead_s,
                             "seq_overhead_s": self.seq_overhead_s, "request_overhead_s": self.request_overhead_s},
            "batch_table": [p.to_dict() for p in self.batch_table],
            "prefill_ops": [o.to_dict() for o in self.prefill.ops],
            "decode_ops": [o.to_dict() for o in self.decode.ops],
        }


@attrs.frozen
class ServingEstimate:
    """One replica serving under load: latencies (means, and percentiles from the step-level simulation),
    throughput of the replica, and how the engine ran. Seconds and requests/s; per chip where named."""

    engine: str
    concurrency: int  # requested (closed loop) or mean in system (open loop)
    inflight: int  # sequences the engine actually runs at once
    kv_capacity_sequences: int
    ttft_s: float  # mean
    tpot_s: float  # mean
    request_latency_s: float  # mean end-to-end latency
    requests_per_s: float
    output_tokens_per_s: float
    num_chips: int
    prefill_bound: bool
    request_rate: float | None = None
    utilization: float | None = None
    capacity_requests_per_s: float | None = None
    ttft_p50_s: float | None = None
    ttft_p90_s: float | None = None
    ttft_p99_s: float | None = None
    tpot_p50_s: float | None = None
    tpot_p90_s: float | None = None
    tpot_p99_s: float | None = None
    itl_p99_s: float | None = None  # inter-token latency, every token of every request
    e2e_p50_s: float | None = None
    e2e_p99_s: float | None = None
    goodput_requests_per_s: float | None = None  # requests/s meeting the TTFT and TPOT targets
    num_requests: int | None = None
    seed: int | None = None
    preemptions: int | None = None  # sequences evicted when paged KV ran out, recomputed later
    compiled: bool | None = None  # the simulation ran numba-compiled
    capacity_limit: str | None = None  # what sets kv_capacity_sequences: "kv_cache" or "max_num_seqs"

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["output_tokens_per_s_per_chip"] = self.output_tokens_per_s / self.num_chips
        return d
