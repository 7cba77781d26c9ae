"""One replica's passes priced: a chip, model and serving workload packed once, then any batch priced.

:class:`Packed` holds the packed vectors (:mod:`roofline.pack`) and the efficiency they came from; its
methods call the kernels and return values: a time in seconds, whether a batch fits, or a whole priced
:class:`~roofline.results.inference.Phase` with its op table and the limit that bound it. Nothing is kept
between calls.
"""

from __future__ import annotations

import numpy as np

from roofline.chip import Chip
from roofline.efficiency import ideal
from roofline.engines import Engine
from roofline.kernels import inference
from roofline.kernels import layout as L
from roofline.kernels import shapes
from roofline.loaders.efficiency import efficiency_for
from roofline.loaders.engines import ENGINES
from roofline.model import Model
from roofline.pack import pack_hardware, pack_model, pack_workload
from roofline.results.inference import OpCost, Phase
from roofline.workload import Workload, decode_context


#: The limits an op's time can be bound by: a collective within the scale-up domain (NVLink and the like)
#: is "scale-up", one that crosses the scale-out network "network".
LIMITS = ("compute", "memory", "scale-up", "network")


def priced_phase(ops: np.ndarray, priced: np.ndarray, total_s: float) -> Phase:
    """The ``Phase`` of a priced op table: its ops (an op with nothing to do, such as a collective over
    one chip, is left out), their totals, and the limit that bound most of the time."""
    costs = []
    by_bound = dict.fromkeys(LIMITS, 0.0)
    for i, name in enumerate(L.OPS):
        count = ops[i, L.OP_COUNT]
        if count <= 0:
            continue
        t, b = float(priced[i, 0]), int(priced[i, 1])
        if ops[i, L.OP_FLOPS] == 0 and ops[i, L.OP_HBM] == 0 and ops[i, L.OP_STEPS] == 0:
            continue  # a collective over one chip: nothing to do
        limit = L.BOUNDS[b]
        if b == L.BOUND_NETWORK and ops[i, L.OP_SCALE_OUT] <= 0.0:
            limit = "scale-up"
        by_bound[limit] += t
        costs.append(OpCost(name=name, count=int(count), flops=float(ops[i, L.OP_FLOPS] * count),
                            hbm_bytes=float(ops[i, L.OP_HBM] * count), link_bytes=float(ops[i, L.OP_LINK] * count),
                            time_s=t, bound=limit))
    bound = max(by_bound, key=by_bound.get)
    return Phase(time_s=float(total_s), bound=bound, ops=tuple(costs))


def attention_dtype(chip: Chip, model: Model, wl: Workload, engine: Engine) -> str | None:
    """The format attention computes in when it is not the 16-bit one: fp8 for latent attention (MLA) over
    an fp8 KV cache with an engine that runs it so (``Engine.fp8_mla_attention``) on a chip with fp8."""
    if engine.fp8_mla_attention and model.kv_lora_rank > 0 and wl.kv == "fp8" and chip.has("fp8"):
        return "fp8"
    return None


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """A fresh op table and its priced (seconds, bound) table."""
    return np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2))


class Packed:
    """``chip``, ``model`` and serving workload ``wl`` packed once for repeated kernel calls.

    ``hw`` prices at the expected efficiency of serving steps (``Efficiency.serving_*``) with the fixed
    costs of the serving ``engine`` (default: the generic one), ``hw_ideal`` at 100 % of every peak with
    no latency and no engine costs; attention at the peak of :func:`attention_dtype`'s format.
    """

    __slots__ = ("chip", "model", "wl", "engine", "eff", "m", "hw", "hw_ideal")

    def __init__(self, chip: Chip, model: Model, wl: Workload, engine: Engine | None = None):
        self.chip, self.model, self.wl = chip, model, wl
        self.engine = (engine or ENGINES["generic"]).on(chip)
        self.eff = efficiency_for(chip, wl.compute_dtype)
        attention = attention_dtype(chip, model, wl, self.engine)
        self.hw = pack_hardware(chip, wl.compute_dtype, self.eff, serving=True, engine=self.engine,
                                attention_dtype=attention)
        self.hw_ideal = pack_hardware(chip, wl.compute_dtype, ideal(self.eff), serving=True, attention_dtype=attention)
        self.m = pack_model(model)

    def w(self, batch: int | None = None) -> np.ndarray:
        """The workload vector for ``batch`` sequences on the replica (default: the workload's batch)."""
        return pack_workload(self.wl, self.eff.max_tokens_per_pass, batch)

    def usable(self) -> float:
        """Bytes per chip that weights, KV cache and workspace may use."""
        return self.hw[L.H_HBM_BYTES] * self.hw[L.H_MEM_FRACTION]

    def memory(self, batch: int | None = None) -> tuple[float, float, float]:
        """(weights, KV cache at the final context, workspace) bytes per chip."""
        w = self.w(batch)
        return (float(shapes.weight_bytes_per_chip(self.m, w)),
                float(shapes.kv_bytes_per_chip(self.m, w, self.wl.input_len + self.wl.output_len)),
                float(shapes.workspace_bytes_per_chip(self.m, w)))

    def fits(self, batch: int) -> bool:
        return bool(inference.memory_per_chip(self.m, self.w(batch)) <= self.usable())

    def memory_needed(self, batch: int) -> float:
        """Bytes per chip of ``batch`` sequences: weights, KV cache and workspace."""
        return float(inference.memory_per_chip(self.m, self.w(batch)))

    def max_batch(self) -> int:
        """The most sequences that fit on the replica (0 when not one does)."""
        return int(inference.max_batch(self.m, self.w(), self.hw)) * self.wl.attn_dp

    def ttft(self, batch: int, hw: np.ndarray | None = None) -> float:
        """Seconds to prefill ``batch`` prompts in one pass (``hw``: another hardware vector, e.g. ideal)."""
        return inference.prefill_time(self.m, self.w(batch), self.hw if hw is None else hw, *_tables())

    def tpot(self, batch: int, hw: np.ndarray | None = None) -> float:
        """Seconds per output token of ``batch`` sequences: the decode step at the mean context."""
        return inference.decode_step_time(self.m, self.w(batch), self.hw if hw is None else hw, decode_context(self.wl),
                                  *_tables())

    def prefill(self, batch: int) -> Phase:
        """The prefill pass of ``batch`` prompts, priced op by op (the engine's time per request outside its
        steps, which TTFT includes, is not part of the pass)."""
        ops, priced = _tables()
        t = inference.prefill_time(self.m, self.w(batch), self.hw, ops, priced)
        return priced_phase(ops, priced, t - self.hw[L.H_REQUEST_OVERHEAD])

    def decode(self, batch: int) -> Phase:
        """The mean decode step of ``batch`` sequences, priced op by op."""
        ops, priced = _tables()
        t = inference.decode_step_time(self.m, self.w(batch), self.hw, decode_context(self.wl), ops, priced)
        return priced_phase(ops, priced, t)
