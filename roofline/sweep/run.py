"""Running a sweep: the grid priced by the compiled kernels over the cores, the reductions merged, and the
public :func:`sweep`."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable

import numpy as np

from roofline._jit import choose
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.serving import engine_kv_capacity
from roofline.kernels.sweep import INLINE, front_insert, keep_best, sweep_serving, sweep_static
from roofline.loaders.engines import ENGINES
from roofline.pack import pack_engine, pack_limits
from roofline.sweep.grid import Grid, build_grid
from roofline.sweep.result import SweepResult

REDUCTIONS = ("best", "pareto")
#: Below this many configurations a sweep runs on one thread (threads cost more than they save).
PARALLEL_MIN_CONFIGS = 1 << 15
#: Configurations per kernel call: enough to amortise the call, few enough for a live progress bar.
CHUNK_CONFIGS = 1 << 20
#: Configurations whose figures a sweep keeps in memory (24-40 bytes each); reductions have no limit.
MAX_KEPT_CONFIGS = 200_000_000
#: Up to this many configurations a sweep runs as plain Python unless numba is asked for (``use_numba=True``):
#: a second or two on a 2-core machine (the README's sweeps, 1,584 to 8,192 configurations, take 0.3-2.3 s),
#: about what importing numba and loading a compiled kernel from the cache costs, and far less than compiling
#: it the first time (``_jit.COMPILE_SECONDS``).
PLAIN_MAX_CONFIGS = {"sweep_static": 20_000, "sweep_serving": 10_000}


def _threads(requested: int | None) -> int:
    if requested is not None:
        return max(1, int(requested))
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1



def _merge_best(parts: list[np.ndarray]) -> np.ndarray:
    """The best records of parts priced in index order, merged by the kernel's own rule (ties: the
    lower configuration index, which is the earlier part)."""
    best = parts[0].copy()
    for part in parts[1:]:
        for key in range(len(best)):
            if part[key, L.REC_INDEX] >= 0:
                keep_best(best, key, part[key, L.REC_X], part[key, L.REC_Y], part[key, L.REC_INDEX],
                             part[key, L.REC_FIGURES:])
    return best


def _merge_fronts(parts: list[tuple[np.ndarray, np.ndarray]], n_keys: int) -> list[np.ndarray]:
    """The Pareto front of each key over the parts' fronts: their records inserted in configuration-index
    order by the kernel's own :func:`~roofline.kernels.sweep.front_insert` (so of identical points the
    lowest index stays), sorted by x ascending as the kernel keeps them."""
    fronts = []
    for k in range(n_keys):
        recs = np.concatenate([front[k, :count[k]] for front, count in parts])
        if len(parts) > 1 and len(recs):
            merged = np.zeros((1, len(recs), recs.shape[1]))
            count = np.zeros(1, dtype=np.int64)
            for rec in recs[np.argsort(recs[:, L.REC_INDEX], kind="stable")]:
                merged = front_insert(merged, count, 0, rec[L.REC_X], rec[L.REC_Y], rec[L.REC_INDEX],
                                         rec[L.REC_FIGURES:])
            recs = merged[0, :count[0]]
        fronts.append(recs[np.argsort(recs[:, L.REC_X], kind="stable")])
    return fronts


def _policies(grid: Grid, engine: str, max_num_tokens: int | None) -> np.ndarray:
    """The packed engine policy of each hardware row (an engine's defaults may depend on the chip:
    ``Engine.on``)."""
    return np.array([pack_engine(ENGINES[engine].on(grid.chips[c]), max_num_tokens) for c in grid.hw_chip])


def kv_capacities(grid: Grid, engine: str, max_num_tokens: int | None = None) -> np.ndarray:
    """Per group: the requests in flight one replica holds under ``engine`` at the grid's first input and
    output lengths, the ``V_CAP`` figure the serving sweep reports for every concurrency of the group
    (:func:`~roofline.kernels.serving.engine_kv_capacity` times its attention groups), in plain Python.
    The grid's workload rows are packed with one request at those lengths (:func:`build_grid`), as the
    serving sweep sets them (tested against it)."""
    policy = _policies(grid, engine, max_num_tokens)
    caps = np.zeros(grid.n_groups)
    for g in range(grid.n_groups):
        hw = int(grid.groups[g, L.G_HW])
        caps[g] = engine_kv_capacity(grid.ms[int(grid.groups[g, L.G_MODEL])], grid.ws[g], grid.hws[hw], policy[hw],
                                     np.zeros(L.W_SIZE)) * grid.groups[g, L.G_ATTN_DP]
    return caps


def run_grid(grid: Grid, *, engine: str | None = None, max_num_tokens: int | None = None, decode_only: bool = False,
             reduce: str | None = None, max_tpot_s: float | None = None, max_ttft_s: float | None = None,
             keep: bool = True, use_numba: bool | None = None, threads: int | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Run the sweep kernel over ``grid``; returns the raw figures and reductions (see :func:`sweep`)."""
    serving = engine is not None
    n_keys = int(grid.groups[:, L.G_KEY].max()) + 1
    size = L.V_SIZE if serving else (1 if decode_only else L.S_SIZE)
    rec = L.REC_FIGURES + size
    n = grid.n_configs
    keep = keep and reduce is None
    if keep and n > MAX_KEPT_CONFIGS:
        raise RooflineError(f"sweep: {n:,} configurations are too many to keep every row (at most "
                            f"{MAX_KEPT_CONFIGS:,}); ask for reduce='best' or 'pareto' (--best, --pareto) or "
                            f"shorten an axis")
    limits = pack_limits(max_tpot_s, max_ttft_s, reduce)
    out = np.empty((size, n if keep else 0))  # every figure of every configuration (static TTFT: per input length)
    kernel = sweep_serving if serving else sweep_static
    if use_numba is None and n <= PLAIN_MAX_CONFIGS[kernel.__name__]:
        use_numba = False
    fn, ran_compiled = choose(kernel, use_numba, inline=INLINE[kernel.__name__])
    if serving:
        policy = _policies(grid, engine, max_num_tokens)
    n_threads = _threads(threads) if ran_compiled and n >= PARALLEL_MIN_CONFIGS else 1
    rows = grid.n_rows
    per_row = n // rows
    chunks = max(math.ceil(n / CHUNK_CONFIGS), 4 * n_threads if n_threads > 1 else 1)
    chunks = min(chunks, rows)
    bounds = np.linspace(0, rows, chunks + 1).astype(np.int64)

    tables = (grid.ms, grid.hws, grid.ws, grid.groups, grid.wbatch)
    axes = (grid.batches, grid.inputs, grid.outputs)

    def run(lo: int, hi: int):
        best = np.full((n_keys, rec), np.nan)
        best[:, L.REC_INDEX] = -1.0
        front = np.zeros((n_keys, 8 if reduce == "pareto" else 1, rec))
        count = np.zeros(n_keys, dtype=np.int64)
        scratch = (np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros(L.W_SIZE), np.zeros(size))
        if serving:
            front = fn(tables, axes, lo, hi, policy, limits, out, (best, front, count),
                       scratch + (np.zeros(L.W_SIZE), np.zeros(L.C_SIZE)))
        else:
            front = fn(tables, axes, lo, hi, decode_only, limits, out, (best, front, count),
                       scratch + (np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2)), np.zeros(L.DP_SIZE),
                                  np.zeros((2, len(grid.outputs)))))
        return lo, hi, best, front, count

    start = time.perf_counter()
    parts = []
    done = 0
    if n_threads > 1:
        from concurrent.futures import ThreadPoolExecutor, as_completed  # not on a single estimate's start-up

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


def sweep(chips, models, *, batch=1, input_len=2048, output_len=256, tp=None, pp=1, ep=1, attn_dp=1,
          weight_dtype=None,
          kv_dtype=None, engine: str | None = None, max_num_tokens: int | None = None, decode_only: bool = False,
          reduce: str | None = None, max_tpot_s: float | None = None, max_ttft_s: float | None = None,
          use_numba: bool | None = None, threads: int | None = None,
          progress: Callable[[int, int], None] | None = None) -> SweepResult:
    """Price the cross product of the axes; every axis takes one value or many.

    Parameters
    ----------
    chips, models
        Names, aliases, profile files or loaded values; a string may list several, comma-separated.
    batch, input_len, output_len, tp, pp, ep, attn_dp
        Whole numbers: an int, a sequence, or a string such as ``"1,8,64"``, ``"1:64"``,
        ``"1:1024:x2"`` or ``"1k,8k,32k"`` (k = 1024). ``tp=None``: every TP size that divides the
        attention heads within the chip's scale-up domain. ``batch`` is sequences per replica (with an
        engine: requests in flight). ``attn_dp``: ``Workload.dp_attention`` (MoE models, ep 1).
    weight_dtype, kv_dtype
        Formats (one or several); ``weight_dtype=None`` is each model's checkpoint format (else bf16),
        ``kv_dtype=None`` keeps the cache in the activations' 16-bit format.
    engine, max_num_tokens
        ``None``: static batches, as ``roofline estimate``. An engine name: in-flight batching, as
        ``roofline estimate --concurrency``, with its token budget unless ``max_num_tokens`` is given.
    decode_only
        Price only the decode step (static sweeps): no TTFT, memory or reductions.
    reduce, max_tpot_s, max_ttft_s
        ``"best"`` or ``"pareto"`` (per chip and model, feasible configurations only), with the
        latency limits in seconds.
    use_numba
        ``None``: compiled when numba is installed and the sweep has more than ``PLAIN_MAX_CONFIGS``
        configurations, else plain Python; ``True``: compiled; ``False``: the same kernel as plain Python.
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
        if engine not in ENGINES:
            raise RooflineError(f"engine={engine!r} is not known; use one of {', '.join(ENGINES)} (or none for "
                                f"static batches)")
    if max_num_tokens is not None and (engine is None or int(max_num_tokens) < 1):
        raise RooflineError(f"max_num_tokens={max_num_tokens!r} needs an engine and must be at least 1")
    start = time.perf_counter()
    grid = build_grid(chips, models, batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp, ep=ep,
                      attn_dp=attn_dp, weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=engine)
    raw = run_grid(grid, engine=engine, max_num_tokens=max_num_tokens, decode_only=decode_only, reduce=reduce,
                   max_tpot_s=max_tpot_s, max_ttft_s=max_ttft_s, use_numba=use_numba, threads=threads,
                   progress=progress)
    kind = "serving" if engine is not None else ("decode" if decode_only else "static")
    index, figures, unmet = None, raw["out"], ()
    if reduce is not None:
        records = [raw["best"][raw["best"][:, L.REC_INDEX] >= 0]] if reduce == "best" else raw["fronts"]
        records = np.concatenate(records) if records else np.zeros((0, L.REC_FIGURES + raw["size"]))
        index = records[:, L.REC_INDEX].astype(np.int64)
        figures = records[:, L.REC_FIGURES:].T.copy()
        met = set(np.unique(grid.g_chip[grid.unravel(index)[0]] * len(grid.models)
                            + grid.g_model[grid.unravel(index)[0]]).tolist()) if len(index) else set()
        unmet = tuple((c.name, m.name) for ci, c in enumerate(grid.chips) for mi, m in enumerate(grid.models)
                      if ci * len(grid.models) + mi not in met)
    return SweepResult(grid, kind, index, figures, reduce=reduce, seconds=time.perf_counter() - start,
                       compiled=raw["compiled"], threads=raw["threads"], engine=engine, unmet=unmet)
