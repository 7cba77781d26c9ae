"""The result of a sweep: named columns over the priced configurations, built on first access."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from roofline.kernels import layout as L
from roofline.sweep.grid import Grid

AXIS_COLUMNS = ("chip", "model", "tp", "pp", "ep", "attn_dp", "weight_dtype", "kv_dtype", "batch", "input_len",
                "output_len", "chips")

STATIC_COLUMNS = ("ttft_s", "tpot_s", "memory_bytes_per_chip", "usable_bytes_per_chip", "fits",
                  "output_tokens_per_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user")

DECODE_COLUMNS = ("tpot_s", "output_tokens_per_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user")

SERVING_COLUMNS = ("ttft_s", "tpot_s", "requests_per_s", "kv_capacity", "fits", "prefill_bound",
                   "output_tokens_per_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user")


class SweepResult(Mapping):
    """Named columns of a sweep, one numpy array per column and one row per configuration.

    Columns are built on first access (a sweep of 10^7 rows does not spend memory on columns nobody
    reads). Axis columns: ``chip``, ``model``, ``tp``, ``pp``, ``ep``, ``attn_dp``, ``weight_dtype``, ``kv_dtype``,
    ``batch``, ``input_len``, ``output_len``, ``chips`` (of one replica); then the figures of the kind
    of sweep (``STATIC_COLUMNS``, ``DECODE_COLUMNS`` or ``SERVING_COLUMNS``), SI units in the names.
    ``unmet`` lists the (chip, model) pairs of a reduction with no feasible configuration.
    """

    def __init__(self, grid: Grid, kind: str, index: np.ndarray | None, figures: np.ndarray, *, reduce: str | None,
                 seconds: float, compiled: bool, threads: int, engine: str | None, unmet: tuple = ()):
        self.grid = grid
        self.kind = kind
        self.reduce = reduce
        self.seconds = seconds
        self.compiled = compiled
        self.threads = threads
        self.engine = engine
        self.unmet = unmet
        self._index = index
        self._figures = figures
        self._cache: dict[str, np.ndarray] = {}
        figure_cols = {"static": STATIC_COLUMNS, "decode": DECODE_COLUMNS, "serving": SERVING_COLUMNS}[kind]
        self._columns = AXIS_COLUMNS + figure_cols

    @property
    def configurations(self) -> int:
        """Configurations priced (the full cross product of the runnable groups)."""
        return self.grid.n_configs

    @property
    def skipped(self) -> tuple[str, ...]:
        return self.grid.skipped

    @property
    def n_rows(self) -> int:
        return self.grid.n_configs if self._index is None else len(self._index)

    def __len__(self) -> int:
        return len(self._columns)

    def __iter__(self):
        return iter(self._columns)

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self._columns:
            raise KeyError(name)
        if name not in self._cache:
            self._cache[name] = self.column(name, 0, self.n_rows)
        return self._cache[name]

    def column(self, name: str, lo: int, hi: int) -> np.ndarray:
        """Rows ``[lo, hi)`` of column ``name``."""
        if name in self._cache:
            return self._cache[name][lo:hi]
        grid = self.grid
        index = np.arange(lo, hi, dtype=np.int64) if self._index is None else self._index[lo:hi]
        g, b, i, o = grid.unravel(index)
        fig = self._figures[:, lo:hi]
        axis = {
            "chip": lambda: np.array([c.name for c in grid.chips])[grid.g_chip[g]],
            "model": lambda: np.array([m.name for m in grid.models])[grid.g_model[g]],
            "tp": lambda: grid.g_tp[g], "pp": lambda: grid.g_pp[g], "ep": lambda: grid.g_ep[g],
            "attn_dp": lambda: grid.g_dp[g],
            "weight_dtype": lambda: grid.g_weight[g], "kv_dtype": lambda: grid.g_kv[g],
            "batch": lambda: grid.batches[b].astype(np.int64), "input_len": lambda: grid.inputs[i].astype(np.int64),
            "output_len": lambda: grid.outputs[o].astype(np.int64), "chips": lambda: grid.g_chips[g],
        }
        if name in axis:
            return axis[name]()
        batch = grid.batches[b]
        if self.kind == "serving":
            tpot, ttft, rps, cap = fig[L.V_TPOT], fig[L.V_TTFT], fig[L.V_RPS], fig[L.V_CAP]
            tokens = rps * grid.outputs[o]
            values = {"ttft_s": ttft, "tpot_s": tpot, "requests_per_s": rps, "kv_capacity": cap,
                      "fits": batch <= cap, "prefill_bound": fig[L.V_PREFILL_BOUND] > 0.5}
        else:
            tpot = fig[L.S_TPOT]
            tokens = batch / tpot
            values = {"tpot_s": tpot}
            if self.kind == "static":
                # the kernel keeps one TTFT per (group, batch, input length) (kernels.sweep.sweep_static)
                ttft = fig[L.S_TTFT] if self._index is not None else self._figures[L.S_TTFT, index // len(grid.outputs)]
                values.update(ttft_s=ttft, memory_bytes_per_chip=fig[L.S_MEM],
                              usable_bytes_per_chip=grid.g_usable[g], fits=fig[L.S_MEM] <= grid.g_usable[g])
        values.update(output_tokens_per_s=tokens, output_tokens_per_s_per_chip=tokens / grid.g_chips[g],
                      output_tokens_per_s_per_user=1.0 / tpot)
        return values[name]


def rows_as_records(result: SweepResult, lo: int, hi: int) -> Iterable[dict]:
    """Rows ``[lo, hi)`` as dicts of plain Python values (NaN and inf as None), for JSON."""
    cols = {name: result.column(name, lo, hi) for name in result}
    for k in range(hi - lo):
        row = {}
        for name, values in cols.items():
            v = values[k].item() if hasattr(values[k], "item") else values[k]
            if isinstance(v, float) and not math.isfinite(v):
                v = None
            row[name] = v
        yield row
