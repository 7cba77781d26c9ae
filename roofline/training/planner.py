"""The parallel-layout planner: every valid training layout priced, the fastest that fits returned.

Candidates (choices the caller fixes are kept fixed):

* TP within the scale-up domain, dividing the attention heads (and tiling the KV heads);
* CP 1, or powers of two for long sequences (``seq_len / cp >= CP_MIN_TOKENS`` and 2·cp dividing it);
* PP dividing the layers, or one of :data:`UNEVEN_STAGE_COUNTS` with uneven stages
  (:func:`roofline.stages.stage_split`: the first and last hold fewer), with tp x pp x cp dividing the
  chips; DP fills the rest;
* micro-batches of :data:`MICRO_BATCHES` sequences dividing the global batch per DP rank;
* recompute none / selective / full; ZeRO 0-3; virtual stages dividing the layers per stage (uneven
  stages: the middle stages'; pp > 1, micro-batches a multiple of pp).

All candidates are packed into one (n x T_SIZE) float64 array. Up to :data:`PLAIN_MAX_LAYOUTS` of them are
searched in plain Python, pricing only the layouts that can be among the fastest (:func:`fastest_plain`);
larger searches, or any with ``use_numba=True``, price every layout with the ``price_layouts`` kernel,
numba-compiled when numba is importable (both give the same numbers and the same plan). Ranking:
step time (one global batch for every layout: the given one or ``TrainingWorkload.default_batch``), then memory;
layouts identical in every estimated figure (e.g. a recompute mode that changes nothing) are listed once.
"""

from __future__ import annotations

import bisect
import itertools
import time

import attrs
import numpy as np

from roofline._jit import choose
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.kernels import layout as L
from roofline.kernels.training import price_layouts
from roofline.model import Model
from roofline.pack import pack_layout_choices
from roofline.results.training import Plan, TrainingEstimate
from roofline.stages import chunks_of
from roofline.training.estimate import (
    TrainingContext, estimate_from_result, estimate_training, layout_memory, price_layout, with_days,
)
from roofline.workload import (
    EP_SIZES, RECOMPUTE_MODES, TrainingWorkload, check_training, cp_heads_split, training_ep_problem, valid_tp_sizes,
)

MICRO_BATCHES = (1, 2, 4, 8, 16, 32)

#: Stage counts offered besides the divisors of the layer count (split unevenly by
#: :func:`roofline.stages.stage_split`): the powers of two that pair with power-of-two node counts, as
#: frontier runs use them (Llama 3 405B: 16 stages for 126 layers). Every count would triple the
#: candidates of a single estimate's plain-Python search for a few layouts nobody runs.
UNEVEN_STAGE_COUNTS = (2, 4, 8, 16, 32)

#: Searches of at most this many layouts run as plain Python (:func:`fastest_plain`, pricing only what can
#: be among the fastest) unless numba is asked for: loading numba and the compiled kernel from its cache
#: takes about 1.2 s on a 2-core machine, more than such a search (measured in-process on 2 cores: 405B on
#: 16,384 H100, 1,548 layouts, 0.09 s; Mixtral-8x7B on 512 H100, 7,140 layouts, 0.34 s; DeepSeek-V3 on
#: 2,048 B200, 11,352 layouts, 0.49 s; Qwen3-235B-A22B on 1,024 H100, 19,128 layouts, 0.94 s, against
#: 0.11 s compiled once numba is loaded).
PLAIN_MAX_LAYOUTS = 12_000

#: Context parallelism is offered only while each chip keeps at least this many tokens per sequence.
CP_MIN_TOKENS = 8192


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


#: The fields of a layout the planner chooses, in the order of :func:`candidate_fields`' tuples.
FIELDS = ("tp", "cp", "pp", "dp", "micro_batch", "global_batch", "recompute", "zero", "virtual_pp", "ep")


def candidate_layouts(chip: Chip, model: Model, wl: TrainingWorkload) -> list[TrainingWorkload]:
    """Every complete, valid workload that keeps the fixed fields of ``wl``."""
    return [layout_of(wl, f) for f in candidate_fields(chip, model, wl)]


def layout_of(wl: TrainingWorkload, fields: tuple) -> TrainingWorkload:
    """``wl`` with the planner's choices ``fields`` (a :func:`candidate_fields` tuple)."""
    return attrs.evolve(wl, **dict(zip(FIELDS, fields)))


def candidate_fields(chip: Chip, model: Model, wl: TrainingWorkload) -> list[tuple]:
    """The choices (:data:`FIELDS`) of every complete, valid layout that keeps the fixed fields of ``wl``."""
    n = wl.num_chips
    tps = [wl.tp] if wl.tp else valid_tp_sizes(model, limit=chip.scale_up_domain)
    if wl.cp > 1 or wl.seq_len < 2 * CP_MIN_TOKENS or model.recurrent_layers:  # recurrent layers: no CP
        cps = [wl.cp]
    else:
        cps = [c for c in (1, 2, 4, 8, 16, 32, 64)
               if wl.seq_len % (2 * c) == 0 and wl.seq_len // c >= CP_MIN_TOKENS] or [1]
    ends_given = wl.first_stage_layers is not None or wl.last_stage_layers is not None
    pps = [wl.pp] if wl.pp else sorted(p for p in set(_divisors(model.num_layers)) | set(UNEVEN_STAGE_COUNTS)
                                       if p <= model.num_layers and (p > 1 or not ends_given))
    mbs = [wl.micro_batch] if wl.micro_batch else list(MICRO_BATCHES)
    recs = [wl.recompute] if wl.recompute else list(RECOMPUTE_MODES)
    zeros = [wl.zero] if wl.zero is not None else [0, 1, 2, 3]
    out = []
    for tp, cp, pp in itertools.product(tps, cps, pps):
        if n % (tp * pp * cp) or not cp_heads_split(model, tp, cp, wl.cp_comm_type):
            continue
        dp = n // (tp * pp * cp)
        if wl.dp and wl.dp != dp:
            continue
        for mb in mbs:
            gb = wl.global_batch or wl.default_batch()
            if gb % (dp * mb):
                continue
            micro = gb // (dp * mb)
            if wl.virtual_pp:
                vpps = [wl.virtual_pp]
            elif pp > 1 and micro % pp == 0:
                vpps = _divisors(chunks_of(model.num_layers, pp, wl.first_stage_layers, wl.last_stage_layers))
            else:
                vpps = [1]
            if model.is_moe:  # a given ep, else the powers of two, wherever check_training would take them
                eps = [e for e in ([wl.ep] if wl.ep is not None else EP_SIZES)
                       if training_ep_problem(model, e, tp, dp) is None]
            else:
                eps = [1]
            for v, e in itertools.product(vpps, eps):
                if v > 1 and (pp == 1 or micro % pp):
                    continue
                for rec, z in itertools.product(recs, zeros):
                    out.append((tp, cp, pp, dp, mb, gb, rec, z, v, e))
    return out


def sweep_layouts(ctx: TrainingContext, layouts: np.ndarray, use_numba: bool | None = None) -> tuple[np.ndarray, bool]:
    """Price packed layouts (n x T_SIZE); returns (n x R_SIZE results, whether numba ran)."""
    results = np.zeros((len(layouts), L.R_SIZE))
    fn, ran_compiled = choose(price_layouts, use_numba)
    fn(ctx.m, ctx.hw, ctx.x, np.ascontiguousarray(layouts, dtype=np.float64), len(layouts), results)
    return results, ran_compiled


#: Columns a layout's compute and tensor-parallel time do not depend on (ZeRO stage, virtual stages) or grow
#: with (the recompute mode): among layouts that differ only in these, the one with the least recompute has
#: the least compute + TP collectives, a lower bound on every one's step time.
_BOUND_FREE = (L.T_ZERO, L.T_VPP, L.T_RECOMPUTE)
#: The result fields the memory kernel alone fills.
_MEMORY = [L.R_STATE, L.R_ACT, L.R_MEM, L.R_FITS]


def fastest_plain(ctx: TrainingContext, packed: np.ndarray, top: int = 1, every_memory: bool = False) -> np.ndarray:
    """Price ``packed`` layouts in plain Python as :func:`sweep_layouts` does, skipping those that cannot be
    among the ``top`` fastest that fit (layouts identical in every figure counted once, as the plan lists
    them). Layouts alike but for ZeRO stage and virtual stages share their compute and tensor-parallel
    time, and their pipeline bubble is ``(pp - 1) / vpp`` of the same stage passes: with the most virtual
    stages of the group, a lower bound on their step; across recompute modes that bound only grows with the
    recompute (it adds work). So one layout per group with the least recompute is priced, the groups are
    taken in order of that bound, each recompute mode's subgroup is priced only while its own bound does not
    exceed the ``top``-th fastest fitting step so far (and each layout only while its bound at its own virtual
    stages does not), and a group whose bound exceeds it ends the search.
    Within a group, a layout's memory is checked first (:func:`~roofline.training.estimate.layout_memory`)
    and a layout that does not fit keeps only its memory fields. Rows not priced get an infinite step and,
    unless ``every_memory`` (their memory fields and R_FITS as the full sweep gives them), R_FITS 0; the
    ``top`` fastest fitting layouts (and every layout as fast) are priced exactly as by the full sweep."""
    n = len(packed)
    res = np.zeros((n, L.R_SIZE))
    res[:, L.R_STEP] = np.inf
    keys = packed.copy()
    keys[:, _BOUND_FREE] = 0.0
    groups: dict[bytes, dict[float, list[int]]] = {}
    for i in range(n):
        groups.setdefault(keys[i].tobytes(), {}).setdefault(float(packed[i, L.T_RECOMPUTE]), []).append(i)
    members = [[rows for _, rows in sorted(sub.items())] for sub in groups.values()]
    priced = np.zeros(n, dtype=bool)
    known = np.zeros(n, dtype=bool)  # memory fields set (priced, or checked and found not to fit)
    layers: dict = {}  # priced layer tables, shared by the layouts alike in LAYER_FIELDS
    seen: set[tuple] = set()
    steps: list[float] = []  # the fitting steps priced so far, one per distinct result, ascending

    def price(i):
        res[i] = price_layout(ctx, packed[i], layers)
        priced[i] = known[i] = True
        figures = tuple(res[i].tolist())
        if res[i, L.R_FITS] > 0.5 and figures not in seen:
            seen.add(figures)
            bisect.insort(steps, float(res[i, L.R_STEP]))

    def bar():
        """The ``top``-th fastest distinct fitting step so far: a layout slower than it is not listed."""
        return steps[top - 1] if len(steps) >= top else np.inf

    def floor(i, vpp):
        """A lower bound on the step of a layout alike to priced layout ``i`` but for ZeRO stage and with
        ``vpp`` virtual stages: its compute, TP time and pipeline bubble, which is ``(pp - 1) / vpp`` stage
        passes whatever the ZeRO stage."""
        return res[i, L.R_COMPUTE] + res[i, L.R_TP] + res[i, L.R_BUBBLE] * packed[i, L.T_VPP] / vpp

    for subs in members:
        price(subs[0][0])
    bounds = np.array([floor(subs[0][0], max(packed[i, L.T_VPP] for rows in subs for i in rows)) for subs in members])
    for g in np.argsort(bounds, kind="stable"):
        if bounds[g] > bar():
            break
        for rows in members[g]:
            if not priced[rows[0]]:
                price(rows[0])
            if floor(rows[0], max(packed[i, L.T_VPP] for i in rows)) > bar():
                break
            for i in rows:
                if not priced[i]:
                    if floor(rows[0], packed[i, L.T_VPP]) > bar():
                        continue
                    memory = layout_memory(ctx, packed[i])  # a fifth of a step's pricing
                    if memory[L.R_FITS] < 0.5:
                        res[i, _MEMORY] = memory[_MEMORY]  # cannot be among the fastest that fit: left unpriced
                        known[i] = True
                        continue
                    price(i)
    if every_memory:
        for i in np.flatnonzero(~known):
            res[i, _MEMORY] = layout_memory(ctx, packed[i])[_MEMORY]
    return res


def plan_training(chip: Chip, model: Model, workload: TrainingWorkload | None = None, *, top: int = 10,
                  use_numba: bool | None = None, days: float | None = None, fastest_only: bool = False) -> Plan:
    """Search every valid layout for ``workload.num_chips`` chips (fields given in ``workload`` stay
    fixed) and return the fastest that fits, with the ``top`` fastest fitting layouts.

    ``use_numba`` None: plain Python (:func:`fastest_plain`, every layout's memory checked so that ``fitting``
    is exact) for up to :data:`PLAIN_MAX_LAYOUTS` layouts, else compiled; True: compiled; False: plain.
    ``fastest_only`` (plain Python, ``top`` 1): price only what can be the fastest, memory included;
    the best layout is the same, the plan's ``fitting`` counts the priced layouts that fit.
    Raises the project error when no layout is valid, or when none fits (with the memory the leanest
    layout needs and what a chip has).
    """
    wl = workload or TrainingWorkload()
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise RooflineError(f"top={top!r} must be a whole number of layouts, at least 1")
    check_training(chip, model, wl)
    start = time.perf_counter()
    cands = candidate_fields(chip, model, wl)
    if not cands:
        fixed_ep = wl.ep is not None and wl.ep > 1
        raise RooflineError(f"num_chips={wl.num_chips}: no valid layout for {model.name} (tp within "
                            f"{chip.scale_up_domain} dividing {model.num_heads} heads, pp up to "
                            f"{model.num_layers} layers, global batch divisible by dp x micro_batch"
                            + (f", ep={wl.ep} dividing dp" if fixed_ep else "") + "); change --num-chips or "
                            "--global-batch" + (" or --ep" if fixed_ep else ""))
    ctx = TrainingContext.build(chip, model, wl.dtype)
    packed = pack_layout_choices(wl, model.num_layers, cands, layout_of)
    quick = fastest_only and top == 1
    if not use_numba and (quick or use_numba is False or len(packed) <= PLAIN_MAX_LAYOUTS):
        res, ran_compiled = fastest_plain(ctx, packed, top=top, every_memory=not quick), False
    else:
        res, ran_compiled = sweep_layouts(ctx, packed, use_numba)
    fits = res[:, L.R_FITS] > 0.5
    if not fits.any():
        lean = int(np.argmin(res[:, L.R_MEM]))
        c = layout_of(wl, cands[lean])
        raise RooflineError(
            f"model {model.name} does not fit on {wl.num_chips} x {chip.name} under any layout: the leanest "
            f"(tp={c.tp}, pp={c.pp}, dp={c.dp}, cp={c.cp}, micro_batch={c.micro_batch}, recompute={c.recompute}, "
            f"zero={c.zero}) needs {res[lean, L.R_MEM] / 1e9:.1f} GB per chip, {ctx.usable_bytes() / 1e9:.1f} GB "
            f"usable; use more chips, a shorter --seq-len or a larger chip")
    tokens = packed[:, L.T_GB] * packed[:, L.T_SEQ] / res[:, L.R_STEP]
    idx = np.flatnonzero(fits)
    order = idx[np.lexsort((res[idx, L.R_MEM], -tokens[idx]))]
    shown, seen = [], set()
    for i in order:  # layouts identical in every estimated figure (a recompute mode that changes nothing) once
        figures = tuple(res[i].tolist())
        if figures not in seen:
            seen.add(figures)
            shown.append(i)
        if len(shown) == top:
            break
    chosen = tuple(estimate_from_result(ctx, layout_of(wl, cands[i]), res[i]) for i in shown)
    elapsed = time.perf_counter() - start
    best = with_days(chosen[0], days)
    return Plan(chip=chip, model=model, best=best, top=chosen, candidates=len(cands), fitting=int(fits.sum()),
                search_s=elapsed, compiled=ran_compiled)


def training_estimate(chip: Chip, model: Model, workload: TrainingWorkload, *, days: float | None = None,
                      use_numba: bool | None = False) -> TrainingEstimate:
    """One training estimate: the layout priced when every choice is given, else the planner's fastest
    layout that keeps the given choices (plain Python unless ``use_numba``, so that a single estimate
    never compiles)."""
    check_training(chip, model, workload)
    wl = workload if model.is_moe or workload.ep is not None else attrs.evolve(workload, ep=1)
    if wl.complete and wl.ep is not None:
        return estimate_training(chip, model, wl, days=days)
    return plan_training(chip, model, wl, top=1, use_numba=use_numba, days=days, fastest_only=True).best


def chips_needed(chip: Chip, model: Model, days: float, workload: TrainingWorkload | None = None) -> int:
    """Chips to train ``workload.tokens`` within ``days``: the layout given, or the planner's best at
    ``workload.num_chips``, scaled in whole replicas at its tokens/s per chip (see ``with_days``)."""
    est = training_estimate(chip, model, workload or TrainingWorkload(), use_numba=None)
    return with_days(est, days).chips_needed
