"""Results of disaggregated serving: the two pools' layouts and the deployment's latencies and throughput."""

from __future__ import annotations

import attrs


@attrs.frozen
class PoolLayout:
    """One pool of a disaggregated deployment: ``workers`` replicas of ``chips_per_worker`` chips."""

    role: str  # "prefill" or "decode"
    chip: str
    tp: int
    pp: int
    ep: int
    attn_dp: int
    workers: int
    chips_per_worker: int
    batch: int  # prefill: prompts per attention group per pass; decode: sequences per attention group at most
    capacity_requests_per_s: float  # what the pool serves flat out (closed form, see roofline.serving.disagg)
    link: str = ""  # prefill: the link its KV caches cross to the decode pool
    limit: str = "batch"  # what sets ``batch``: "batch" (given or the engine's budget) or "kv_cache" (decode)
    weight_dtype: str = ""  # the format the pool's chip runs the weights in (roofline.checkpoint.on_chip)

    @property
    def num_chips(self) -> int:
        return self.workers * self.chips_per_worker

    @property
    def dp_attention(self) -> int:
        """The pool's ``Workload.dp_attention``: its attention groups unless they come from ep > tp."""
        return self.attn_dp if self.ep <= self.tp else 1

    def to_dict(self) -> dict:
        d = attrs.asdict(self)
        d["num_chips"] = self.num_chips
        return d


@attrs.frozen
class DisaggEstimate:
    """A disaggregated deployment simulated under a benchmark client (:mod:`roofline.serving.disagg`).

    ``bound`` is the pool whose capacity is smaller ("prefill" or "decode"): the deployment's throughput
    cannot exceed it. Latencies are means over every request, with percentiles.
    """

    engine: str
    prefill: PoolLayout
    decode: PoolLayout
    input_len: int
    output_len: int
    weight_dtype: str
    kv_dtype: str
    concurrency: int | None
    request_rate: float | None
    ttft_s: float
    tpot_s: float
    kv_transfer_s: float  # mean seconds from the end of a prompt's prefill to its KV cache at the decode pool
    prefill_s: float  # mean seconds from sending a request to the end of its prefill (waiting included)
    request_latency_s: float
    requests_per_s: float
    output_tokens_per_s: float
    ttft_p50_s: float
    ttft_p90_s: float
    ttft_p99_s: float
    tpot_p50_s: float
    tpot_p90_s: float
    tpot_p99_s: float
    prefill_utilization: float  # share of the prefill workers' time spent computing
    decode_utilization: float  # share of the decode workers' time spent stepping
    bound: str
    num_requests: int
    seed: int
    compiled: bool = False

    @property
    def num_chips(self) -> int:
        return self.prefill.num_chips + self.decode.num_chips

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        return self.output_tokens_per_s / self.num_chips

    @property
    def capacity_requests_per_s(self) -> float:
        """The smaller pool's capacity: the most requests/s the deployment serves."""
        return min(self.prefill.capacity_requests_per_s, self.decode.capacity_requests_per_s)

    def to_dict(self) -> dict:
        d = attrs.asdict(self, recurse=False)
        d["prefill"] = self.prefill.to_dict()
        d["decode"] = self.decode.to_dict()
        d["num_chips"] = self.num_chips
        d["output_tokens_per_s_per_chip"] = self.output_tokens_per_s_per_chip
        d["capacity_requests_per_s"] = self.capacity_requests_per_s
        return d


@attrs.frozen
class DisaggPoint:
    """A disaggregated deployment at its operating point (closed form, :mod:`roofline.serving.disagg_plan`)."""

    prefill: PoolLayout
    decode: PoolLayout
    concurrency: int  # requests in flight to run it at (Little's law)
    ttft_s: float
    tpot_s: float
    requests_per_s: float
    output_len: int
    output_tokens_per_dollar: float | None = None
    simulated: bool = False  # the figures are the simulation's (True) or the closed form's

    @property
    def num_chips(self) -> int:
        return self.prefill.num_chips + self.decode.num_chips

    @property
    def output_tokens_per_s(self) -> float:
        return self.requests_per_s * self.output_len

    @property
    def output_tokens_per_s_per_chip(self) -> float:
        return self.output_tokens_per_s / self.num_chips

    @property
    def bound(self) -> str:
        """The pool whose capacity is the smaller (as :attr:`DisaggEstimate.bound`): the decode pool's at the
        batch the targets allow, the prefill pool's flat out."""
        smaller = self.prefill.capacity_requests_per_s < self.decode.capacity_requests_per_s
        return "prefill" if smaller else "decode"

    def to_dict(self) -> dict:
        d = attrs.asdict(self, recurse=False)
        d.update(prefill=self.prefill.to_dict(), decode=self.decode.to_dict(), num_chips=self.num_chips,
                 output_tokens_per_s=self.output_tokens_per_s,
                 output_tokens_per_s_per_chip=self.output_tokens_per_s_per_chip, bound=self.bound)
        return d


@attrs.frozen
class DisaggPlan:
    """The disaggregated planner's answer, beside the best aggregated fleet of each chip involved."""

    best: DisaggPoint
    top: tuple[DisaggPoint, ...]
    model: str
    engine: str
    input_len: int
    output_len: int
    weight_dtype: str
    kv_dtype: str
    targets: object  # roofline.serving.target.Targets
    aggregated: tuple  # (chip name, ServingLayout or the reason it has none) pairs
    prices: tuple  # (chip name, dollars per chip-hour or None) pairs
    markets: tuple  # (chip name, where its price was quoted: "global", "china" or "given") pairs
    searched: int  # pool layout pairs priced
    search_s: float

    def aggregated_dollars(self, name: str) -> float | None:
        """Output tokens per dollar of the aggregated fleet of chip ``name`` (None without a price)."""
        layout, price = dict(self.aggregated).get(name), dict(self.prices).get(name)
        if isinstance(layout, str) or layout is None or not price:
            return None
        return layout.output_tokens_per_s_per_chip * 3600.0 / price

    def to_dict(self) -> dict:
        agg = {}
        for name, layout in self.aggregated:
            if isinstance(layout, str):
                agg[name] = {"error": layout}
            else:
                agg[name] = dict(layout.to_dict(), output_tokens_per_dollar=self.aggregated_dollars(name))
        return {"plan": {"mode": "inference", "disagg": True, "model": self.model, "engine": self.engine,
                         "input_len": self.input_len, "output_len": self.output_len,
                         "weight_dtype": self.weight_dtype, "kv_dtype": self.kv_dtype, "slo": self.targets.to_dict(),
                         "prices_usd_per_hour": dict(self.prices),
                         "price_markets": dict(self.markets), "layout_pairs_priced": self.searched,
                         "search_s": self.search_s, "layouts": [t.to_dict() for t in self.top]},
                "disagg": self.best.to_dict(), "aggregated": agg}
