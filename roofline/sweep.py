"""Sweeps: every combination of chips, models, batches, lengths, layouts and formats, priced at once.

    >>> from roofline import sweep
    >>> s = sweep(["H20", "H100"], ["8B", "70B"], batch="1:256:x2", input_len="1k,8k", tp=[1, 2, 4, 8])
    >>> s["tpot_s"], s["output_tokens_per_s_per_chip"]      # doctest: +SKIP
    >>> best = sweep("H20,H100", "70B", batch="1:512", reduce="best", max_tpot_s=0.05)  # doctest: +SKIP

A result maps column names to numpy arrays, one row per configuration (``pandas.DataFrame(s)`` works,
pandas is not needed). Each configuration is priced by the same scalar kernels as
``roofline estimate`` (:mod:`roofline.kernels.sweep` loops over them), compiled with numba when it is
installed and spread over the cores when the sweep is large; ``use_numba=False`` runs the very same
kernel as plain Python. ``reduce="best"`` keeps, per chip and model, the feasible configuration with
the highest output tokens/s per chip; ``reduce="pareto"`` keeps the front of tokens/s per chip against
tokens/s per user. Both run inside the kernel, so memory does not grow with the number of
configurations. A configuration is feasible when it fits and meets ``max_tpot_s`` and ``max_ttft_s``.

``engine=None`` prices a static batch as ``roofline estimate`` does (TTFT: the prefill of the whole
batch; TPOT: the decode step at the mean context); an engine name (``generic``, ``vllm``, ``sglang``,
``trtllm``) prices ``batch`` requests in flight on an in-flight-batching replica as
``roofline estimate --concurrency`` does.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping

import attrs
import numpy as np

from roofline.axes import parse_axis, parse_names
from roofline.chip import Chip, load_chip
from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES, check
from roofline.errors import RooflineError
from roofline.inference import Packed
from roofline.kernels import layout as L
from roofline.kernels import sweep as KS
from roofline.model import Model, load_model
from roofline.workload import Workload, check_layout, pack_workload, valid_tp_sizes

REDUCTIONS = ("best", "pareto")
#: Below this many configurations a sweep runs on one thread (threads cost more than they save).
PARALLEL_MIN_CONFIGS = 1 << 15
#: Configurations per kernel call: enough to amortise the call, few enough for a live progress bar.
CHUNK_CONFIGS = 1 << 20
#: Configurations whose figures a sweep keeps in memory (24-40 bytes each); reductions have no limit.
MAX_KEPT_CONFIGS = 200_000_000

AXIS_COLUMNS = ("chip", "model", "tp", "pp", "ep", "weight_dtype", "kv_dtype", "batch", "input_len", "output_len",
                "chips")
STATIC_COLUMNS = ("ttft_s", "tpot_s", "memory_bytes_per_chip", "usable_bytes_per_chip", "fits",
                  "output_tokens_per_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user")
DECODE_COLUMNS = ("tpot_s", "output_tokens_per_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user")
SERVING_COLUMNS = ("ttft_s", "tpot_s", "requests_per_s", "kv_capacity", "fits", "prefill_bound",
                   "output_tokens_per_s", "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user")


# ---- the grid of groups ----------------------------------------------------------------------------------


@attrs.frozen
class Grid:
    """Packed groups (chip x model x layout x formats) and the numeric axes: what the kernels read.

    ``g_*`` arrays describe each group (its chip and model positions, layout, formats, chips per
    replica and usable bytes per chip); the ``G_KEY`` column of ``groups`` is its reduction key.
    """

    chips: tuple[Chip, ...]
    models: tuple[Model, ...]
    ms: np.ndarray
    hws: np.ndarray
    ws: np.ndarray
    groups: np.ndarray
    wbatch: np.ndarray
    batches: np.ndarray
    inputs: np.ndarray
    outputs: np.ndarray
    g_chip: np.ndarray
    g_model: np.ndarray
    g_tp: np.ndarray
    g_pp: np.ndarray
    g_ep: np.ndarray
    g_weight: np.ndarray
    g_kv: np.ndarray
    g_chips: np.ndarray
    g_usable: np.ndarray
    skipped: tuple[str, ...]

    @property
    def n_groups(self) -> int:
        return len(self.groups)

    @property
    def n_rows(self) -> int:
        return self.n_groups * len(self.batches)

    @property
    def n_configs(self) -> int:
        return self.n_rows * len(self.inputs) * len(self.outputs)

    def unravel(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(group, batch, input, output) positions of configuration indices."""
        return np.unravel_index(index, (self.n_groups, len(self.batches), len(self.inputs), len(self.outputs)))


def build_grid(chips, models, *, batch=1, input_len=2048, output_len=256, tp=None, pp=1, ep=1,
               weight_dtype="bf16", kv_dtype=None, key: str = "chip_model", max_chips: int | None = None) -> Grid:
    """Load, validate and pack every group of the sweep.

    A group the chip and model cannot run (a TP that does not divide the heads, a dtype the chip lacks,
    more stages than layers, an EP the model has no experts for) is left out with the reason in
    ``skipped``; TP sizes of the default (every valid size within the scale-up domain) are left out
    silently, as are layouts of more than ``max_chips`` chips. ``key``: ``"chip_model"`` (reductions per
    chip and model) or ``"group"`` (one key per group).
    """
    chip_list = [c if isinstance(c, Chip) else load_chip(c) for c in parse_names(chips, "chips")]
    model_list = [m if isinstance(m, Model) else load_model(m) for m in parse_names(models, "models")]
    batches = parse_axis(batch, "batch")
    inputs = parse_axis(input_len, "input_len")
    outputs = parse_axis(output_len, "output_len")
    pps = parse_axis(pp, "pp")
    eps = parse_axis(ep, "ep")
    tps = None if tp is None else parse_axis(tp, "tp")
    wdts = [check("weight_dtype", d, WEIGHT_DTYPES) for d in parse_names(weight_dtype, "weight_dtype")]
    kvs = [None if d is None else check("kv_dtype", d, KV_DTYPES) for d in parse_names(kv_dtype, "kv_dtype")]
    # the largest value of each axis through the workload's own checks (the kernels see the others only)
    Workload(batch=max(batches), input_len=max(inputs), output_len=max(outputs), tp=max(tps) if tps else None,
             pp=max(pps), ep=max(eps))
    ms, hws, ws, groups, meta, skipped = [], [], [], [], [], []
    for ci, chip in enumerate(chip_list):
        for mi, model in enumerate(model_list):
            m_row = hw_row = None
            for wd in wdts:
                for kv in kvs:
                    base = Workload(input_len=inputs[0], output_len=outputs[0], weight_dtype=wd, kv_dtype=kv)
                    try:
                        check_layout(chip, model, base)
                    except RooflineError as exc:
                        skipped.append(f"{chip.name} {model.name} {wd}: {exc}")
                        continue
                    p = Packed(chip, model, base)
                    if m_row is None:
                        ms.append(p.m)
                        m_row = len(ms) - 1
                    hws.append(p.hw)
                    hw_row = len(hws) - 1
                    tp_list = tps or valid_tp_sizes(model, limit=chip.scale_up_domain)
                    for t in tp_list:
                        for s in pps:
                            for e in eps:
                                wl = attrs.evolve(base, tp=t, pp=s, ep=e)
                                try:
                                    check_layout(chip, model, wl)
                                except RooflineError as exc:
                                    if tps is not None or e > 1 or s > 1:
                                        skipped.append(f"{chip.name} {model.name} tp={t} pp={s} ep={e}: {exc}")
                                    continue
                                if max_chips is not None and wl.num_chips > max_chips:
                                    continue
                                ws.append(pack_workload(wl, p.eff.max_tokens_per_pass, 1))
                                key_value = ci * len(model_list) + mi if key == "chip_model" else len(groups)
                                groups.append((m_row, hw_row, key_value, wl.num_chips, wl.attn_dp))
                                meta.append((ci, mi, t, s, e, wd, wl.kv, wl.num_chips, p.usable(), wl))
    if not groups:
        raise RooflineError(f"sweep: no combination can run; {skipped[0] if skipped else 'check the axes'}")
    # W_BATCH of each replica batch, as pack_workload gives it: the sequences of one data-parallel
    # attention group, so it depends on the group only through attn_dp (packed once per value)
    wbatch = np.empty((len(groups), len(batches)))
    per_dp: dict[int, np.ndarray] = {}
    for g, (*_, wl) in enumerate(meta):
        if wl.attn_dp not in per_dp:
            per_dp[wl.attn_dp] = np.array([pack_workload(wl, 1, b)[L.W_BATCH] for b in batches])
        wbatch[g] = per_dp[wl.attn_dp]
    cols = list(zip(*meta))
    return Grid(
        chips=tuple(chip_list), models=tuple(model_list), ms=np.array(ms), hws=np.array(hws), ws=np.array(ws),
        groups=np.array(groups, dtype=np.float64), wbatch=wbatch,
        batches=np.array(batches, dtype=np.float64), inputs=np.array(inputs, dtype=np.float64),
        outputs=np.array(outputs, dtype=np.float64),
        g_chip=np.array(cols[0], dtype=np.int64), g_model=np.array(cols[1], dtype=np.int64),
        g_tp=np.array(cols[2], dtype=np.int64), g_pp=np.array(cols[3], dtype=np.int64),
        g_ep=np.array(cols[4], dtype=np.int64), g_weight=np.array(cols[5]), g_kv=np.array(cols[6]),
        g_chips=np.array(cols[7], dtype=np.int64), g_usable=np.array(cols[8], dtype=np.float64),
        skipped=tuple(skipped),
    )


# ---- running the kernels ---------------------------------------------------------------------------------


#: Kernels compiled with their callees inlined: the static sweep runs about three times faster that way
#: (its first compile takes about half a minute, then the disk cache loads it). The serving kernel, with
#: three engine steps per configuration, would take minutes to compile inline and gains only two-fold.
_INLINE = {"sweep_static": True, "sweep_serving": False}


def _kernel(fn, use_numba: bool | None):
    """The compiled kernel when numba is there and wanted, else the plain one."""
    if use_numba is False:
        return fn, False
    try:
        from roofline._jit import compiled

        return compiled(fn, inline=_INLINE[fn.__name__]), True
    except ImportError:
        if use_numba:
            raise
        return fn, False


def _threads(requested: int | None) -> int:
    if requested is not None:
        return max(1, int(requested))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def pareto_mask(x: np.ndarray, y: np.ndarray, index: np.ndarray) -> np.ndarray:
    """True for the points no other beats on both x and y (>= on both, > on one); of identical points
    the lowest index is kept. Non-finite points are never kept."""
    order = np.lexsort((index, -y, -x))
    keep = np.zeros(len(x), dtype=bool)
    top = -np.inf
    for k in order:
        if np.isfinite(x[k]) and np.isfinite(y[k]) and y[k] > top:
            keep[k] = True
            top = y[k]
    return keep


def _merge_best(parts: list[np.ndarray]) -> np.ndarray:
    best = parts[0].copy()
    for part in parts[1:]:
        for k in range(len(best)):
            if part[k, KS.REC_INDEX] < 0:
                continue
            if (best[k, KS.REC_INDEX] < 0 or part[k, KS.REC_X] > best[k, KS.REC_X]
                    or (part[k, KS.REC_X] == best[k, KS.REC_X] and part[k, KS.REC_INDEX] < best[k, KS.REC_INDEX])):
                best[k] = part[k]
    return best


def _merge_fronts(parts: list[tuple[np.ndarray, np.ndarray]], n_keys: int) -> list[np.ndarray]:
    fronts = []
    for k in range(n_keys):
        recs = np.concatenate([front[k, :count[k]] for front, count in parts])
        if len(recs) and len(parts) > 1:
            recs = recs[pareto_mask(recs[:, KS.REC_X], recs[:, KS.REC_Y], recs[:, KS.REC_INDEX])]
        fronts.append(recs[np.argsort(recs[:, KS.REC_X], kind="stable")])
    return fronts


def run_grid(grid: Grid, *, engine: str | None = None, max_num_tokens: int | None = None, decode_only: bool = False,
             reduce: str | None = None, max_tpot_s: float | None = None, max_ttft_s: float | None = None,
             keep: bool = True, use_numba: bool | None = None, threads: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Run the sweep kernel over ``grid``; returns the raw figures and reductions (see :func:`sweep`)."""
    serving = engine is not None
    n_keys = int(grid.groups[:, KS.G_KEY].max()) + 1
    size = KS.V_SIZE if serving else (1 if decode_only else KS.S_SIZE)
    rec = KS.REC_FIGURES + size
    n = grid.n_configs
    keep = keep and reduce is None
    if keep and n > MAX_KEPT_CONFIGS:
        raise RooflineError(f"sweep: {n:,} configurations are too many to keep every row (at most "
                            f"{MAX_KEPT_CONFIGS:,}); ask for reduce='best' or 'pareto' (--best, --pareto) or "
                            f"shorten an axis")
    limits = np.zeros(KS.L_SIZE)
    limits[KS.L_MAX_TPOT] = np.inf if max_tpot_s is None else max_tpot_s
    limits[KS.L_MAX_TTFT] = np.inf if max_ttft_s is None else max_ttft_s
    limits[KS.L_BEST] = 1.0 if reduce == "best" else 0.0
    limits[KS.L_PARETO] = 1.0 if reduce == "pareto" else 0.0
    out = np.full((size, n if keep else 0), np.nan)
    fn, ran_compiled = _kernel(KS.sweep_serving if serving else KS.sweep_static, use_numba)
    if serving:
        from roofline.serving import ENGINES

        policy = ENGINES[engine].vector(max_num_tokens)
    n_threads = _threads(threads) if ran_compiled and n >= PARALLEL_MIN_CONFIGS else 1
    rows = grid.n_rows
    per_row = n // rows
    chunks = max(math.ceil(n / CHUNK_CONFIGS), 4 * n_threads if n_threads > 1 else 1)
    chunks = min(chunks, rows)
    bounds = np.linspace(0, rows, chunks + 1).astype(np.int64)

    def run(lo: int, hi: int):
        best = np.full((n_keys, rec), np.nan)
        best[:, KS.REC_INDEX] = -1.0
        front = np.zeros((n_keys, 8 if reduce == "pareto" else 1, rec))
        count = np.zeros(n_keys, dtype=np.int64)
        common = (grid.ms, grid.hws, grid.ws, grid.groups, grid.batches)
        scratch = (np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros(grid.ws.shape[1]), np.zeros(size))
        if serving:
            front = fn(*common, grid.inputs, grid.outputs, lo, hi, policy, limits, out, best, front, count, *scratch,
                       np.zeros(grid.ws.shape[1]), np.zeros(5))
        else:
            front = fn(*common, grid.wbatch, grid.inputs, grid.outputs, lo, hi, decode_only, limits, out, best,
                       front, count, *scratch)
        return lo, hi, best, front, count

    start = time.perf_counter()
    parts = []
    done = 0
    if n_threads > 1:
        from concurrent.futures import ThreadPoolExecutor, as_completed

        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            futures = [pool.submit(run, int(bounds[i]), int(bounds[i + 1])) for i in range(chunks)]
            for fut in as_completed(futures):
                part = fut.result()
                parts.append(part)
                done += (part[1] - part[0]) * per_row
                if progress:
                    progress(done, n)
    else:
        for i in range(chunks):
            part = run(int(bounds[i]), int(bounds[i + 1]))
            parts.append(part)
            done += (part[1] - part[0]) * per_row
            if progress:
                progress(done, n)
    parts.sort(key=lambda p: p[0])
    result = {"out": out, "seconds": time.perf_counter() - start, "compiled": ran_compiled, "threads": n_threads,
              "size": size}
    if reduce == "best":
        result["best"] = _merge_best([p[2] for p in parts])
    elif reduce == "pareto":
        result["fronts"] = _merge_fronts([(p[3], p[4]) for p in parts], n_keys)
    return result


# ---- the result ----------------------------------------------------------------------------------------------


class SweepResult(Mapping):
    """Named columns of a sweep, one numpy array per column and one row per configuration.

    Columns are built on first access (a sweep of 10^7 rows does not spend memory on columns nobody
    reads). Axis columns: ``chip``, ``model``, ``tp``, ``pp``, ``ep``, ``weight_dtype``, ``kv_dtype``,
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
            "weight_dtype": lambda: grid.g_weight[g], "kv_dtype": lambda: grid.g_kv[g],
            "batch": lambda: grid.batches[b].astype(np.int64), "input_len": lambda: grid.inputs[i].astype(np.int64),
            "output_len": lambda: grid.outputs[o].astype(np.int64), "chips": lambda: grid.g_chips[g],
        }
        if name in axis:
            return axis[name]()
        batch = grid.batches[b]
        if self.kind == "serving":
            tpot, ttft, rps, cap = fig[KS.V_TPOT], fig[KS.V_TTFT], fig[KS.V_RPS], fig[KS.V_CAP]
            tokens = rps * grid.outputs[o]
            values = {"ttft_s": ttft, "tpot_s": tpot, "requests_per_s": rps, "kv_capacity": cap,
                      "fits": batch <= cap, "prefill_bound": fig[KS.V_PREFILL_BOUND] > 0.5}
        else:
            tpot = fig[KS.S_TPOT]
            tokens = batch / tpot
            values = {"tpot_s": tpot}
            if self.kind == "static":
                values.update(ttft_s=fig[KS.S_TTFT], memory_bytes_per_chip=fig[KS.S_MEM],
                              usable_bytes_per_chip=grid.g_usable[g], fits=fig[KS.S_MEM] <= grid.g_usable[g])
        values.update(output_tokens_per_s=tokens, output_tokens_per_s_per_chip=tokens / grid.g_chips[g],
                      output_tokens_per_s_per_user=1.0 / tpot)
        return values[name]


def sweep(chips, models, *, batch=1, input_len=2048, output_len=256, tp=None, pp=1, ep=1, weight_dtype="bf16",
          kv_dtype=None, engine: str | None = None, max_num_tokens: int | None = None, decode_only: bool = False,
          reduce: str | None = None, max_tpot_s: float | None = None, max_ttft_s: float | None = None,
          use_numba: bool | None = None, threads: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Price the cross product of the axes; every axis takes one value or many.

    Parameters
    ----------
    chips, models
        Names, aliases, profile files or loaded values; a string may list several, comma-separated.
    batch, input_len, output_len, tp, pp, ep
        Whole numbers: an int, a sequence, or a string such as ``"1,8,64"``, ``"1:64"``,
        ``"1:1024:x2"`` or ``"1k,8k,32k"`` (k = 1024). ``tp=None``: every TP size that divides the
        attention heads within the chip's scale-up domain. ``batch`` is sequences per replica (with an
        engine: requests in flight).
    weight_dtype, kv_dtype
        Formats (one or several); ``kv_dtype=None`` keeps the cache in the activations' 16-bit format.
    engine, max_num_tokens
        ``None``: static batches, as ``roofline estimate``. An engine name: in-flight batching, as
        ``roofline estimate --concurrency``, with its token budget unless ``max_num_tokens`` is given.
    decode_only
        Price only the decode step (static sweeps): no TTFT, memory or reductions.
    reduce, max_tpot_s, max_ttft_s
        ``"best"`` or ``"pareto"`` (per chip and model, feasible configurations only), with the
        latency limits in seconds.
    use_numba
        ``None``: compiled when numba is installed; ``False``: the same kernel as plain Python.
    threads, progress
        Threads for a large sweep (default: the cores available); ``progress(done, total)`` is called
        as parts of the sweep finish.

    Returns
    -------
    SweepResult
        A mapping of column name to numpy array (see :class:`SweepResult`).
    """
    if reduce is not None and reduce not in REDUCTIONS:
        raise RooflineError(f"reduce={reduce!r} is not one of {', '.join(REDUCTIONS)}; use one of those or None")
    if decode_only and (reduce is not None or engine is not None):
        raise RooflineError("decode_only prices the decode step alone; it takes no reduce and no engine (drop "
                            "--decode-only, or the reduction and engine)")
    for name, limit in (("max_tpot_s", max_tpot_s), ("max_ttft_s", max_ttft_s)):
        if limit is not None and not (isinstance(limit, (int, float)) and limit > 0):
            raise RooflineError(f"{name}={limit!r} must be a positive number of seconds")
    if engine is not None:
        from roofline.serving import ENGINES

        if engine not in ENGINES:
            raise RooflineError(f"engine={engine!r} is not known; use one of {', '.join(ENGINES)} (or none for "
                                f"static batches)")
    if max_num_tokens is not None and (engine is None or int(max_num_tokens) < 1):
        raise RooflineError(f"max_num_tokens={max_num_tokens!r} needs an engine and must be at least 1")
    start = time.perf_counter()
    grid = build_grid(chips, models, batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp, ep=ep,
                      weight_dtype=weight_dtype, kv_dtype=kv_dtype)
    raw = run_grid(grid, engine=engine, max_num_tokens=max_num_tokens, decode_only=decode_only, reduce=reduce,
                   max_tpot_s=max_tpot_s, max_ttft_s=max_ttft_s, use_numba=use_numba, threads=threads,
                   progress=progress)
    kind = "serving" if engine is not None else ("decode" if decode_only else "static")
    index, figures, unmet = None, raw["out"], ()
    if reduce is not None:
        records = [raw["best"][raw["best"][:, KS.REC_INDEX] >= 0]] if reduce == "best" else raw["fronts"]
        records = np.concatenate(records) if records else np.zeros((0, KS.REC_FIGURES + raw["size"]))
        index = records[:, KS.REC_INDEX].astype(np.int64)
        figures = records[:, KS.REC_FIGURES:].T.copy()
        met = set(np.unique(grid.g_chip[grid.unravel(index)[0]] * len(grid.models)
                            + grid.g_model[grid.unravel(index)[0]]).tolist()) if len(index) else set()
        unmet = tuple((c.name, m.name) for ci, c in enumerate(grid.chips) for mi, m in enumerate(grid.models)
                      if ci * len(grid.models) + mi not in met)
    return SweepResult(grid, kind, index, figures, reduce=reduce, seconds=time.perf_counter() - start,
                       compiled=raw["compiled"], threads=raw["threads"], engine=engine, unmet=unmet)


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


# ---- output --------------------------------------------------------------------------------------------------

#: Rows formatted at a time when writing.
WRITE_BLOCK = 1 << 16


def _cells(values: np.ndarray) -> list[str]:
    """One column block as CSV cells: floats round-trip (``repr``), NaN/inf empty, booleans true/false."""
    if values.dtype == bool:
        return ["true" if v else "false" for v in values.tolist()]
    if values.dtype.kind == "f":
        return [repr(v) if math.isfinite(v) else "" for v in values.tolist()]
    return [str(v) for v in values.tolist()]


def write_csv(result: SweepResult, fh) -> None:
    """Write the rows as CSV with a header of column names."""
    names = list(result)
    fh.write(",".join(names) + "\n")
    for lo in range(0, result.n_rows, WRITE_BLOCK):
        hi = min(lo + WRITE_BLOCK, result.n_rows)
        cols = [_cells(result.column(name, lo, hi)) for name in names]
        fh.write("".join(",".join(row) + "\n" for row in zip(*cols)))


def write_json(result: SweepResult, fh) -> None:
    """Write one JSON object: how the sweep ran (``configurations``, ``seconds``, ``compiled``,
    ``threads``, ``reduce``, ``engine``, ``skipped``, ``unmet``) and ``rows``, one object per row."""
    import json

    head = {"kind": result.kind, "engine": result.engine, "reduce": result.reduce,
            "configurations": result.configurations, "rows_count": result.n_rows, "seconds": result.seconds,
            "compiled": result.compiled, "threads": result.threads, "skipped": list(result.skipped),
            "unmet": [{"chip": c, "model": m} for c, m in result.unmet]}
    text = json.dumps(head, indent=2)
    fh.write(text[:-2] + ',\n  "rows": [')
    first = True
    for lo in range(0, result.n_rows, WRITE_BLOCK):
        hi = min(lo + WRITE_BLOCK, result.n_rows)
        for row in rows_as_records(result, lo, hi):
            fh.write(("\n    " if first else ",\n    ") + json.dumps(row, allow_nan=False))
            first = False
    fh.write("\n  ]\n}\n" if not first else "]\n}\n")


def save(result: SweepResult, path: str | os.PathLike, fmt: str = "csv") -> None:
    """Write ``result`` to ``path`` atomically: into a temporary file beside it, then renamed over it, so
    that a reader never sees half a file and an interrupted write leaves the old file in place."""
    import tempfile

    writer = {"csv": write_csv, "json": write_json}[fmt]
    target = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        raise RooflineError(f"output={os.fspath(path)!r}: folder {folder!r} does not exist; create it or write "
                            f"elsewhere")
    fd, tmp = tempfile.mkstemp(prefix=".roofline-sweep-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer(result, fh)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class ProgressBar:
    """``progress`` callback drawing a bar on ``stream`` once a sweep has run for ``delay_s`` seconds."""

    def __init__(self, stream, delay_s: float = 1.0, width: int = 30, clock=time.perf_counter):
        self.stream = stream
        self.delay_s = delay_s
        self.width = width
        self.clock = clock
        self.start = clock()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        elapsed = self.clock() - self.start
        if elapsed < self.delay_s and not self.shown:
            return
        self.shown = True
        filled = int(self.width * done / total) if total else self.width
        self.stream.write(f"\rsweep [{'#' * filled}{'.' * (self.width - filled)}] {done / max(total, 1):4.0%} "
                          f"{done:,}/{total:,} configurations, {elapsed:.1f} s")
        self.stream.flush()

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
