"""The serving planner: the layout and load that serve the most output tokens/s per chip within targets.

A fleet of ``num_chips`` chips runs identical replicas of ``tp x pp`` chips (``max(tp, ep) x pp`` with
expert parallelism beyond TP); chips left over by the last whole replica stay idle and count in the
per-chip figure. Each replica is an in-flight-batching engine (``roofline estimate --concurrency``)
with C requests in flight. The planner prices every layout (TP dividing the heads within the scale-up
domain, PP up to :data:`MAX_PP` stages, EP for mixture-of-experts models, and for them too data-parallel
attention over split experts, ``Workload.dp_attention``, in powers of two of groups up to the scale-up
domain) at every concurrency of :func:`concurrency_grid` with the compiled serving sweep, keeps per layout the
concurrency with the highest tokens/s that meets the TPOT and TTFT targets without queueing (C within the
engine's KV capacity), and ranks the layouts by the fleet's output tokens/s per chip.
"""

from __future__ import annotations

import time

import numpy as np

from roofline.checkpoint import as_run, checkpoint_weight_dtype
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.model import Model
from roofline.results.serving_plan import ServingLayout, ServingPlan
from roofline.workload import EP_SIZES, valid_tp_sizes

#: Pipeline stages searched at most (every count from 1).
MAX_PP = 64

#: Requests in flight per replica searched at most.
MAX_CONCURRENCY = 16384


def attention_groups(chip: Chip, model: Model, fixed: bool) -> list[int]:
    """Counts of data-parallel attention groups over split experts (``Workload.dp_attention``) a planner
    searches: 1, and for a mixture-of-experts model whose TP and EP the user left open (``fixed`` False)
    the powers of two of :data:`roofline.workload.EP_SIZES` within the scale-up domain."""
    if not model.is_moe or fixed:
        return [1]
    return [d for d in EP_SIZES if d <= chip.scale_up_domain]


def concurrency_grid(limit: int) -> list[int]:
    """Every concurrency up to 64, then steps of 1/64 of the value (about 1.6 %), up to ``limit``."""
    out = []
    c = 1
    while c <= limit:
        out.append(c)
        c += max(1, c // 64)
    return out


def plan_serving(chip: Chip, model: Model, *, num_chips: int, max_tpot_s: float | None = None,
                 max_ttft_s: float | None = None, input_len: int = 2048, output_len: int = 256,
                 weight_dtype: str | None = None, kv_dtype: str | None = None, engine: str = "generic",
                 max_num_tokens: int | None = None, tp: int | None = None, pp: int | None = None,
                 ep: int | None = None, top: int = 10, use_numba: bool | None = None) -> ServingPlan:
    """Search the serving layouts of ``num_chips`` chips; ``tp``, ``pp`` and ``ep`` given stay fixed;
    ``weight_dtype`` None is the checkpoint's (:func:`roofline.checkpoint.checkpoint_weight_dtype`).

    Raises the project error when no layout fits on ``num_chips`` chips, or when none meets the targets
    (with the lowest TPOT any layout reaches, and its TTFT).
    """
    from roofline.sweep.grid import build_grid  # the sweep machinery loads when a plan is asked for
    from roofline.sweep.run import kv_capacities, run_grid

    if isinstance(num_chips, bool) or not isinstance(num_chips, (int, np.integer)) or num_chips < 1:
        raise RooflineError(f"num_chips={num_chips!r} must be a positive whole number")
    if not isinstance(top, (int, np.integer)) or top < 1:
        raise RooflineError(f"top={top!r} must be a positive whole number")
    start = time.perf_counter()
    weight_dtype = as_run(model, weight_dtype or checkpoint_weight_dtype(model), chip)
    tps = [tp] if tp else [t for t in valid_tp_sizes(model, limit=chip.scale_up_domain) if t <= num_chips]
    pps = [pp] if pp else list(range(1, min(model.num_layers, MAX_PP, num_chips) + 1))
    eps = [ep] if ep else ([e for e in EP_SIZES if e <= min(model.num_experts, num_chips)] if model.is_moe else [1])
    dps = [d for d in attention_groups(chip, model, bool(tp or ep)) if d <= num_chips]
    where = f"{model.name} on {num_chips:,} x {chip.name}"
    if not tps:
        raise RooflineError(f"num_chips={num_chips}: no tensor-parallel size of {model.name} fits in {num_chips} "
                            f"chips; give more chips")
    common = dict(input_len=input_len, output_len=output_len, tp=tps, pp=pps, ep=eps, attn_dp=dps,
                  weight_dtype=weight_dtype,
                  kv_dtype=kv_dtype, key="group", max_chips=num_chips,
                  engine=engine)
    try:
        probe = build_grid(chip, model, batch=1, **common)
    except RooflineError as exc:
        raise RooflineError(f"{where}: no layout can run ({exc})") from exc
    caps = kv_capacities(probe, engine, max_num_tokens)  # each layout's KV capacity: its concurrency axis
    if not (caps >= 1).any():
        raise RooflineError(f"model {model.name} does not fit on {num_chips:,} x {chip.name}: no layout leaves room "
                            f"for the KV cache of one {input_len}+{output_len}-token request; use more chips, "
                            f"a smaller --weight-dtype or shorter requests")
    grid = build_grid(chip, model, batch=concurrency_grid(int(min(caps.max(), MAX_CONCURRENCY))), **common)
    raw = run_grid(grid, engine=engine, max_num_tokens=max_num_tokens, reduce="best", max_tpot_s=max_tpot_s,
                   max_ttft_s=max_ttft_s, keep=False, use_numba=use_numba)
    best = raw["best"]
    found = np.flatnonzero(best[:, L.REC_INDEX] >= 0)
    if not len(found):
        raise _unmet(grid, engine, max_num_tokens, max_tpot_s, max_ttft_s, where, use_numba)
    layouts = [_layout(grid, best[g], num_chips, output_len) for g in found]
    layouts.sort(key=lambda s: (-s.output_tokens_per_s_per_chip, s.chips_per_replica, s.tp, s.pp, s.ep, s.attn_dp))
    return ServingPlan(best=layouts[0], top=tuple(layouts[:top]), chip=chip, model=model, engine=engine,
                       input_len=input_len, output_len=output_len, weight_dtype=weight_dtype,
                       kv_dtype=str(grid.g_kv[0]), max_tpot_s=max_tpot_s, max_ttft_s=max_ttft_s,
                       layouts=grid.n_groups, feasible=len(found), candidates=grid.n_configs,
                       search_s=time.perf_counter() - start, compiled=raw["compiled"])


def _layout(grid, record: np.ndarray, num_chips: int, output_len: int) -> ServingLayout:
    g, b, _, _ = grid.unravel(np.array([int(record[L.REC_INDEX])]))
    g, b = int(g[0]), int(b[0])
    fig = record[L.REC_FIGURES:]
    return layout_from_figures(int(grid.g_tp[g]), int(grid.g_pp[g]), int(grid.g_ep[g]), int(grid.batches[b]),
                               int(grid.g_chips[g]), num_chips, fig, output_len, attn_dp=int(grid.g_dp[g]))


def layout_from_figures(tp: int, pp: int, ep: int, concurrency: int, chips_per_replica: int, num_chips: int,
                        fig: np.ndarray, output_len: int, attn_dp: int = 1) -> ServingLayout:
    """A replica layout of a ``num_chips`` fleet at ``concurrency``, from its ``V_*`` serving figures."""
    return ServingLayout(
        tp=tp, pp=pp, ep=ep, concurrency=concurrency, replicas=num_chips // chips_per_replica,
        chips_per_replica=chips_per_replica, num_chips=num_chips, ttft_s=float(fig[L.V_TTFT]),
        tpot_s=float(fig[L.V_TPOT]), requests_per_s_per_replica=float(fig[L.V_RPS]),
        kv_capacity=int(fig[L.V_CAP]), prefill_bound=bool(fig[L.V_PREFILL_BOUND] > 0.5), output_len=output_len,
        attn_dp=attn_dp)


def _unmet(grid, engine, max_num_tokens, max_tpot_s, max_ttft_s, where, use_numba) -> RooflineError:
    """The error for targets no layout meets, with the lowest TPOT any layout reaches."""
    from roofline.sweep.run import run_grid

    raw = run_grid(grid, engine=engine, max_num_tokens=max_num_tokens, reduce="pareto", keep=False,
                   use_numba=use_numba)
    recs = [f for f in raw["fronts"] if len(f)]
    targets = " and ".join(f"{name} <= {limit * 1e3:g} ms" for name, limit in (("TPOT", max_tpot_s),
                                                                              ("TTFT", max_ttft_s)) if limit)
    if not recs:
        return RooflineError(f"{where}: no layout meets {targets}; use more chips")
    fastest = max((f[0] for f in recs), key=lambda r: r[L.REC_Y])  # fronts run from the most tokens/s per user
    g, b, _, _ = grid.unravel(np.array([int(fastest[L.REC_INDEX])]))
    fig = fastest[L.REC_FIGURES:]
    return RooflineError(
        f"{where}: no layout meets {targets}; the lowest TPOT is {fig[L.V_TPOT] * 1e3:.2f} ms with TTFT "
        f"{fig[L.V_TTFT] * 1e3:.1f} ms (tp={grid.g_tp[g[0]]}, pp={grid.g_pp[g[0]]}, concurrency "
        f"{int(grid.batches[b[0]])}); relax --max-tpot-ms / --max-ttft-ms or serve shorter requests")
