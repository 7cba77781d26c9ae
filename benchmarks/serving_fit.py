"""The serving part of the calibration: measured serving runs as cases, their simulated schedules as
linear features, and the joint fit of the engines' costs and the chip families' serving fractions.

Why a fit over features is exact. A closed-loop benchmark's schedule (which step carries which tokens of
which request) depends on token counts and the KV capacity only, never on how long a step takes: a
finished request is replaced in the same step whatever its duration. So one simulation of a case gives,
for every request, the sums over the steps between its send, first token and finish of: seconds of
compute-bound GEMMs (they scale as 1 / ``serving_sustained_fraction``), of compute-bound attention
(1 / ``serving_attention_fraction``), of the routed experts' ops (1 / ``serving_expert_fraction``, and the
sustained fraction too when compute-bound), of HBM-bound ops and link-bound ops (fixed), and the counts of
steps, sequences carried and kernels launched that the engine's costs multiply
(``roofline.kernels.simulate`` records them as running sums). A run's mean TTFT and TPOT at any engine
costs and fractions are then a linear function of those sums: exactly what the simulator gives. The one
approximation is an op that changes bound (compute to HBM) when a fraction moves, so the fit is iterated:
simulate at the current fractions, fit, simulate again at the fitted ones, until the fractions repeat.
"""

from __future__ import annotations

import sys
from pathlib import Path

import attrs
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from roofline.chip import Chip  # noqa: E402
from roofline.errors import RooflineError  # noqa: E402
from roofline.kernels import layout as L  # noqa: E402
from roofline.loaders.chips import load_chip  # noqa: E402
from roofline.loaders.engines import ENGINES  # noqa: E402
from roofline.passes import Packed  # noqa: E402
from roofline.serving.simulate import Client, run  # noqa: E402
from roofline.validate.predict import serving_case  # noqa: E402
from roofline.validate.schema import RowError, cell, model_for_row, read_rows, value_cell  # noqa: E402

SERVING_CSV = ROOT / "profiles" / "measurements" / "serving.csv"
#: The fitted engines (``generic`` takes their mean) and their four costs.
ENGINE_NAMES = ("vllm", "sglang", "trtllm")
COSTS = ("step_overhead_s", "seq_overhead_s", "kernel_overhead_s", "request_overhead_s")
#: The costs the fit sets; the others stay 0. Host work per step (scheduling the next batch, launching it)
#: runs beside the GPU's step in all three engines: TensorRT-LLM's overlap scheduler (on by default),
#: SGLang's overlap ("zero-overhead") scheduler since v0.4, vLLM V1's engine-core loop apart from its
#: API-server process. What remains of it cannot be told apart in serving.csv from the per-kernel cost:
#: every step launches about the same kernels per layer, so a cost per step trades against one per kernel
#: (the leave-one-model-out folds of a fit with both put vLLM's per-step cost anywhere from 0 to 4.75 ms, and
#: vLLM's per-kernel cost from 0.25 to 6.75 us). Unidentified, it is left out. The per-sequence cost stays:
#: without it the offline TensorRT-LLM runs of inference.csv (1,000+ sequences per step; nothing is fitted
#: on them) come out 10-16 % too fast.
FITTED_COSTS = ("seq_overhead_s", "kernel_overhead_s", "request_overhead_s")
UNFITTED_COSTS = tuple(k for k in COSTS if k not in FITTED_COSTS)
#: The three fitted fractions of each chip family.
FRACTIONS = ("serving_sustained_fraction", "serving_attention_fraction", "serving_expert_fraction")
#: Rows at this concurrency or below form the small-batch check.
SMALL_CONCURRENCY = 4

#: Search grids: each fraction in steps of 0.01; each cost on a grid of its own scale.
FRACTION_GRID = np.round(np.arange(0.05, 1.0001, 0.01), 2)
COST_GRIDS = (np.round(np.arange(0.0, 20.0001, 0.25), 2) * 1e-3,    # per step: 0-20 ms by 0.25 ms
              np.round(np.arange(0.0, 200.0001, 2.0), 1) * 1e-6,    # per sequence per step: 0-200 us by 2 us
              np.round(np.arange(0.0, 20.0001, 0.25), 2) * 1e-6,    # per kernel: 0-20 us by 0.25 us
              np.round(np.arange(0.0, 500.0001, 2.0), 1) * 1e-3)    # per request: 0-500 ms by 2 ms


@attrs.frozen
class Case:
    """One measured configuration (chip, model, layout, engine, concurrency) and its measured rows."""

    key: tuple
    chip: Chip = attrs.field(eq=False)
    model: object = attrs.field(eq=False)
    wl: object = attrs.field(eq=False)
    engine: str
    users: int
    family: str
    model_ref: str
    rows: tuple  # (row_id, metric, measured)


def load_cases(path: Path = SERVING_CSV) -> tuple[list[Case], list[tuple[str, str]]]:
    """The usable aggregated runs of ``path`` as cases (in file order), and the (row_id, reason) of every
    usable aggregated row this estimator cannot express."""
    _, rows = read_rows(path)
    cases: dict[tuple, dict] = {}
    skipped = []
    chips: dict[str, Chip] = {}
    for row in rows:
        if cell(row, "usable") != "yes" or cell(row, "serving_mode") != "agg":
            continue
        try:
            name = cell(row, "chip_profile")
            if name not in chips:
                chips[name] = load_chip(name)
            chip = chips[name]
            model = model_for_row(row)
            wl, engine, users = serving_case(row, chip, model)
            measured = value_cell(row)
        except (RowError, RooflineError) as exc:
            skipped.append((cell(row, "row_id"), str(exc)))
            continue
        key = (chip.name, model.name, wl, engine.name, users)
        entry = cases.setdefault(key, dict(chip=chip, model=model, wl=wl, engine=engine.name, users=users,
                                           family=chip.family, model_ref=cell(row, "model_ref"), rows=[]))
        entry["rows"].append((cell(row, "row_id"), cell(row, "metric_std"), measured))
    return [Case(key=k, rows=tuple(v.pop("rows")), **v) for k, v in cases.items()], skipped


def bare(name: str):
    """The engine preset without its costs (the schedule and the features do not depend on them)."""
    return attrs.evolve(ENGINES[name], step_overhead_s=0.0, seq_overhead_s=0.0, kernel_overhead_s=0.0,
                        request_overhead_s=0.0)


def with_fractions(chip: Chip, fractions: dict[str, float]) -> Chip:
    """``chip`` with its serving fractions set (and no family-level fixed costs: the engines carry them)."""
    over = {**dict(chip.efficiency_overrides), **{k: float(v) for k, v in fractions.items()},
            "step_overhead_s": 0.0, "kernel_overhead_s": 0.0}
    return attrs.evolve(chip, efficiency_overrides=tuple(over.items()))


def features(case: Case, fractions: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(TTFT, TPOT) features of a case simulated at ``fractions`` (its family's): the means over its
    requests of the parts (``P_*``) from send to first token, and from first token to finish per output
    token after the first, with every fraction-scaled part brought to a fraction of 1."""
    p = Packed(with_fractions(case.chip, fractions), case.model, case.wl, bare(case.engine))
    r = run(p, Client(concurrency=case.users), use_numba=True)
    at_send, at_first, at_finish = r.marks
    ttft = (at_first - at_send).mean(axis=0)
    decoded = r.output > 1
    per = (at_finish - at_first)[decoded] / (r.output[decoded] - 1.0)[:, None]
    tpot = per.mean(axis=0) if decoded.any() else np.zeros(L.P_SIZE)
    sc, sa, se = (fractions[k] for k in FRACTIONS)
    for f in (ttft, tpot):
        f[L.P_COMPUTE] *= sc
        f[L.P_ATTENTION] *= sa
        f[L.P_EXPERT_COMPUTE] *= sc * se
        f[L.P_EXPERT_MEMORY] *= se
    return ttft, tpot


@attrs.frozen
class Table:
    """The measured rows of a list of cases as arrays: one row per measurement."""

    x: np.ndarray  # (rows, P_SIZE) features of the row's metric
    measured: np.ndarray
    engine: np.ndarray  # index into ENGINE_NAMES
    family: np.ndarray  # index into families
    is_tpot: np.ndarray
    small: np.ndarray  # concurrency <= SMALL_CONCURRENCY
    case: np.ndarray  # index into the cases
    families: tuple


def table(cases: list[Case], feats: list[tuple[np.ndarray, np.ndarray]], families: tuple) -> Table:
    x, meas, eng, fam, tpot, small, idx = [], [], [], [], [], [], []
    for k, (c, (f_ttft, f_tpot)) in enumerate(zip(cases, feats)):
        for _, metric, measured in c.rows:
            x.append(f_tpot if metric == "tpot_s" else f_ttft)
            meas.append(measured)
            eng.append(ENGINE_NAMES.index(c.engine))
            fam.append(families.index(c.family))
            tpot.append(metric == "tpot_s")
            small.append(c.users <= SMALL_CONCURRENCY)
            idx.append(k)
    return Table(np.array(x).reshape(-1, L.P_SIZE), np.array(meas), np.array(eng, dtype=int),
                 np.array(fam, dtype=int), np.array(tpot, dtype=bool), np.array(small, dtype=bool),
                 np.array(idx, dtype=int), families)


def predict(t: Table, fractions: np.ndarray, costs: np.ndarray) -> np.ndarray:
    """Predicted values of every row at ``fractions`` ((families, 3): sustained, attention, expert) and
    ``costs`` ((engines, 4): per step, per sequence per step, per kernel, per request)."""
    f = fractions[t.family]
    c = costs[t.engine]
    x = t.x
    return (x[:, L.P_COMPUTE] / f[:, 0] + x[:, L.P_ATTENTION] / f[:, 1] + x[:, L.P_EXPERT_COMPUTE] / (f[:, 0] * f[:, 2])
            + x[:, L.P_EXPERT_MEMORY] / f[:, 2] + x[:, L.P_MEMORY] + x[:, L.P_KV] + x[:, L.P_FIXED]
            + c[:, 0] * x[:, L.P_STEPS]
            + c[:, 1] * x[:, L.P_SEQS] + c[:, 2] * x[:, L.P_LAUNCHES] + np.where(t.is_tpot, 0.0, c[:, 3]))


def loss(t: Table, mask: np.ndarray, fractions: np.ndarray, costs: np.ndarray) -> float:
    """The objective: the mean |ln(predicted / measured)| over the TPOT rows of ``mask`` and over its TTFT
    rows, the two means weighed equally."""
    err = np.abs(np.log(predict(t, fractions, costs) / t.measured))
    parts = [err[mask & sel].mean() for sel in (t.is_tpot, ~t.is_tpot) if (mask & sel).any()]
    return float(sum(parts) / len(parts))


def fit(t: Table, mask: np.ndarray, fractions: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate descent over the grids from (``fractions``, ``costs``): each parameter in turn takes the
    grid value of least loss over the rows of ``mask`` with the others held (ties to the smaller value),
    until a whole pass changes nothing. Parameters without rows in ``mask``, and the costs not in
    ``FITTED_COSTS``, keep their start value."""
    fractions, costs = fractions.copy(), costs.copy()
    fams = [f for f in range(len(t.families)) if (mask & (t.family == f)).any()]
    engines = [e for e in range(len(ENGINE_NAMES)) if (mask & (t.engine == e)).any()]
    slots = ([(fractions, (f, j), FRACTION_GRID) for f in fams for j in range(len(FRACTIONS))]
             + [(costs, (e, j), COST_GRIDS[j]) for e in engines for j, k in enumerate(COSTS) if k in FITTED_COSTS])
    for _ in range(200):
        changed = False
        for array, at, grid in slots:
            held = array[at]
            scores = []
            for v in grid:
                array[at] = v
                scores.append(loss(t, mask, fractions, costs))
            best = grid[int(np.argmin(scores))]
            array[at] = best
            changed |= bool(best != held)
        if not changed:
            break
    return fractions, costs


def errors_pct(pred: np.ndarray, measured: np.ndarray) -> np.ndarray:
    return 100.0 * (pred - measured) / measured


def stats(err: np.ndarray) -> dict:
    """Rows, median |error| and median signed error (bias), in percent, to 0.1."""
    if len(err) == 0:
        return {"rows": 0, "median_abs_error_pct": None, "bias_pct": None}
    return {"rows": int(len(err)), "median_abs_error_pct": round(float(np.median(np.abs(err))), 1),
            "bias_pct": round(float(np.median(err)), 1)}
