"""Sweeps and the serving planner: the compiled kernels against the plain-Python single estimate, the
in-kernel reductions against brute force, axis parsing, the CLI and its errors. No timing is asserted."""

import csv
import io
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner

from roofline import Workload, estimate_inference, load_chip, load_model
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.kernels import inference as K
from roofline.kernels import layout as KL
from roofline.kernels import sweep as KS
from roofline.loaders.engines import ENGINES
from roofline.passes import Packed
from roofline.render.sweep import ProgressBar
from roofline.serving.inflight import closed_form_serving
from roofline.serving.planner import concurrency_grid, plan_serving
from roofline.sweep import run as sweep_run
from roofline.sweep.axes import parse_axis
from roofline.sweep.result import DECODE_COLUMNS, SweepResult
from roofline.sweep.run import sweep
from roofline.workload import decode_context

numba = pytest.importorskip("numba")

RTOL = 1e-9


def close(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= RTOL * max(abs(a), abs(b))


def workload_of(s: SweepResult, k: int) -> Workload:
    kv = str(s["kv_dtype"][k])
    return Workload(batch=int(s["batch"][k]), input_len=int(s["input_len"][k]), output_len=int(s["output_len"][k]),
                    tp=int(s["tp"][k]), pp=int(s["pp"][k]), ep=int(s["ep"][k]),
                    weight_dtype=str(s["weight_dtype"][k]), kv_dtype=kv)


#: Random grids: chips with and without fp8, dense, GQA/MHA, sliding-window, MoE and MLA models.
GRIDS = [
    dict(chips="H20,A100,L40S", models="8B,Mistral-7B,Qwen2.5-7B", tp="1,2,4,8", pp="1,2,3",
         weight_dtype="bf16,fp8,int4", kv_dtype="fp8,bf16"),
    dict(chips="H200,MI300X", models="Qwen3-30B-A3B,Mixtral-8x7B,DeepSeek-V3", tp="1,2,8", pp="1,2", ep="1,2,4,16",
         weight_dtype="fp8,bf16"),
    dict(chips="H100,910B,TPU-v5e", models="70B,Llama-2-7B,GPT-3-175B", tp="1,8,16", pp="1,4",
         weight_dtype="bf16,int8"),
]


@pytest.mark.parametrize("seed", range(len(GRIDS)))
def test_compiled_sweep_equals_single_estimate(seed):
    """Thousands of random configurations: every figure equals the plain-Python kernels of a single
    estimate (``Packed``, the object ``estimate_inference`` prices with) to 1e-9 relative."""
    rng = np.random.default_rng(seed)
    axes = dict(GRIDS[seed])
    axes.update(batch=sorted(rng.integers(1, 600, 4).tolist()), input_len=sorted(rng.integers(1, 40000, 3).tolist()),
                output_len=sorted(rng.integers(1, 3000, 2).tolist()))
    s = sweep(**axes, use_numba=True)
    assert s.compiled and s.n_rows == s.configurations >= 1000
    chips = {c.name: c for c in s.grid.chips}
    models = {m.name: m for m in s.grid.models}
    for k in rng.choice(s.n_rows, size=700, replace=False):
        wl = workload_of(s, k)
        p = Packed(chips[s["chip"][k]], models[s["model"][k]], wl)
        assert close(s["ttft_s"][k], p.ttft(wl.batch)), (k, wl)
        assert close(s["tpot_s"][k], p.tpot(wl.batch)), (k, wl)
        assert close(s["memory_bytes_per_chip"][k], K.memory_per_chip(p.m, p.w(wl.batch))), (k, wl)
        assert bool(s["fits"][k]) == p.fits(wl.batch)
        assert close(s["output_tokens_per_s_per_chip"][k], wl.batch / p.tpot(wl.batch) / wl.num_chips)


def test_sweep_equals_the_front_door_estimate():
    s = sweep("H20,H100", "8B,70B", batch="1,16", input_len="1k,8k", output_len=300, tp="4,8")
    for k in range(s.n_rows):
        e = estimate_inference(load_chip(str(s["chip"][k])), load_model(str(s["model"][k])), workload_of(s, k))
        assert close(s["ttft_s"][k], e.ttft_s) and close(s["tpot_s"][k], e.tpot_s)
        assert close(s["memory_bytes_per_chip"][k], e.memory_per_chip_bytes) and bool(s["fits"][k]) == e.fits
        assert close(s["output_tokens_per_s"][k], e.output_tokens_per_s)
        assert e.decode_context_tokens == KS.mean_decode_context(float(s["input_len"][k]), float(s["output_len"][k]))


@pytest.mark.parametrize("chip, model, wl", [
    ("H100", "70B", Workload(batch=32, input_len=1000, output_len=200, tp=4)),
    ("H20", "DeepSeek-V3", Workload(batch=64, input_len=4000, output_len=500, tp=8, ep=8, weight_dtype="fp8")),
    ("H200", "Qwen3-30B-A3B", Workload(batch=7, input_len=300, output_len=90, tp=2, pp=3)),
    ("A100", "Mistral-7B", Workload(batch=5, input_len=9000, output_len=40, tp=1)),
    ("B200", "gpt-oss-120b", Workload(batch=16, input_len=2000, output_len=100, tp=2)),
])
def test_only_the_attention_row_of_a_decode_step_depends_on_the_context(chip, model, wl):
    """The static sweep prices every other row of a decode step once per batch (``decode_other_ops``) and
    the attention row per context; that is exact only while no other row moves with the context."""
    p = Packed(load_chip(chip), load_model(model), wl)
    w = p.w(wl.batch)
    ops, priced = np.zeros((KL.N_OPS, KL.OP_COLS)), np.zeros((KL.N_OPS, 2))
    others = K.decode_other_ops(p.m, w, p.hw, 1.0, ops, priced)
    table = np.delete(ops, KL.OP_ATTN, axis=0)
    steps = []
    for c0 in (1.0, 2.0, 517.5, 8191.0, 130000.0):
        assert K.decode_other_ops(p.m, w, p.hw, c0, ops, priced) == others
        assert np.array_equal(np.delete(ops, KL.OP_ATTN, axis=0), table)
        steps.append(K.decode_step_at(p.m, w, p.hw, c0, others, ops, priced))
        assert steps[-1] == K.decode_step_time(p.m, w, p.hw, c0, ops, priced)
    assert steps == sorted(steps) and steps[-1] > steps[0]  # a longer context never decodes faster


def test_a_small_sweep_runs_as_plain_python_and_a_large_one_compiled(monkeypatch):
    assert not sweep("H20", "8B", batch="1:8").compiled
    assert not sweep("H20", "8B", batch="1:8", engine="vllm").compiled
    monkeypatch.setattr(sweep_run, "PLAIN_MAX_CONFIGS", {"sweep_static": 7, "sweep_serving": 7})
    assert sweep("H20", "8B", batch="1:8").compiled
    assert sweep("H20", "8B", batch="1:8", engine="vllm").compiled


def test_plain_python_static_sweep_equals_the_single_estimate_exactly():
    """The hoisted sweep loop and the single estimate's kernels give the same bits (plain Python both)."""
    s = sweep("H100,H20", "8B,Qwen3-30B-A3B", batch="1,24", input_len="100,3000", output_len="1,64,700", tp="1,2",
              pp="1,2", use_numba=False)
    chips = {c.name: c for c in s.grid.chips}
    models = {m.name: m for m in s.grid.models}
    for k in range(s.n_rows):
        wl = workload_of(s, k)
        p = Packed(chips[s["chip"][k]], models[s["model"][k]], wl)
        assert s["tpot_s"][k] == p.tpot(wl.batch) and s["ttft_s"][k] == p.ttft(wl.batch), (k, wl)
        assert s["memory_bytes_per_chip"][k] == K.memory_per_chip(p.m, p.w(wl.batch)), (k, wl)


@pytest.mark.parametrize("model", ["Llama-3.1-8B", "DeepSeek-V3", "DeepSeek-V3.2", "Mistral-7B", "gpt-oss-120b",
                                   "Qwen3.5-397B-A17B", "Llama-4-Maverick"])
def test_the_decode_attention_plan_prices_every_context_as_the_step_does(model):
    """``decode_seconds`` from the plan (full, MLA, sparse or sliding attention, and mixes of them with
    recurrent layers) equals ``decode_step_at`` bit for bit at every context, across the window, and with
    draft tokens."""
    for wl in (Workload(batch=24, input_len=3000, output_len=200, tp=8),
               Workload(batch=5, input_len=3000, output_len=200, tp=8, pp=2, draft_tokens=3, accepted_tokens=2.2)):
        p = Packed(load_chip("H200"), load_model(model), wl)
        w = p.w(wl.batch)
        ops, priced, plan = np.zeros((KL.N_OPS, KL.OP_COLS)), np.zeros((KL.N_OPS, 2)), np.zeros(KL.DP_SIZE)
        others = K.decode_other_ops(p.m, w, p.hw, 1.0, ops, priced)
        K.decode_attention_plan(p.m, w, p.hw, ops, plan)
        for c0 in (1.0, 100.5, 127.0, 129.0, 4095.0, 4097.0, 8193.0, 130000.0):
            assert K.decode_seconds(c0, others, *plan) == K.decode_step_at(p.m, w, p.hw, c0, others, ops, priced)


@pytest.mark.parametrize(("model", "inputs"), [("DeepSeek-V3", "100,5000"), ("DeepSeek-V3.2", "100,5000"),
                                             ("Mistral-7B", "100,5000"), ("gpt-oss-120b", "100,5000"),
                                             ("Qwen3.5-397B-A17B", "100,5000"), ("Llama-4-Maverick", "100,12000")])
def test_every_attention_kind_sweeps_to_the_single_estimate_exactly(model, inputs):
    """The decode attention planned once per row (``decode_attention_plan``: MLA's latent, a sparse indexer, a
    sliding window, a mix of kinds: full + SWA, full + GDN, full + chunked past the first chunk): the same bits
    plain and compiled, and as the single estimate."""
    axes = dict(chips="H200", models=model, batch="1,40", input_len=inputs, output_len="1,64,3000", tp="8",
                pp="1,2", weight_dtype="fp8")
    slow = sweep(**axes, use_numba=False)
    chip, m = slow.grid.chips[0], slow.grid.models[0]
    for k in range(slow.n_rows):
        wl = workload_of(slow, k)
        p = Packed(chip, m, wl)
        assert slow["tpot_s"][k] == p.tpot(wl.batch) and slow["ttft_s"][k] == p.ttft(wl.batch), (k, wl)
    for extra in ({}, {"decode_only": True}):
        fast, plain = sweep(**axes, **extra, use_numba=True), sweep(**axes, **extra, use_numba=False)
        assert np.array_equal(fast["tpot_s"], plain["tpot_s"])


@pytest.mark.parametrize("engine, chips", [("generic", "H100,H200"), ("trtllm", "H100,H200"), ("vllm", "A100,H100")])
def test_serving_sweep_equals_the_closed_form(engine, chips):
    """Row by row; vLLM on an A100 and an H100 takes each chip's own defaults (256 vs 1,024 sequences)."""
    s = sweep(chips, "8B,70B,Qwen3-30B-A3B", batch="1,9,200,5000", input_len="500,4k", output_len="1,300",
              tp="1,4", ep="1,8", engine=engine, use_numba=True)
    chips = {c.name: c for c in s.grid.chips}
    models = {m.name: m for m in s.grid.models}
    checked = 0
    for k in range(s.n_rows):
        wl = workload_of(s, k)
        try:
            e = closed_form_serving(chips[s["chip"][k]], models[s["model"][k]], wl, engine=engine,
                                    concurrency=wl.batch)
        except RooflineError:
            assert not s["kv_capacity"][k] >= 1 and np.isnan(s["tpot_s"][k])
            continue
        assert s["kv_capacity"][k] == e.kv_capacity_sequences
        assert close(s["ttft_s"][k], e.ttft_s) and close(s["tpot_s"][k], e.tpot_s)
        assert close(s["requests_per_s"][k], e.requests_per_s)
        assert close(s["output_tokens_per_s"][k], e.output_tokens_per_s)
        assert bool(s["prefill_bound"][k]) == e.prefill_bound
        checked += 1
    assert checked > 100


def test_plain_python_kernel_equals_compiled():
    axes = dict(chips="H20", models="8B,Qwen3-30B-A3B", batch="1,33", input_len="100,3k", output_len="7,64",
                tp="1,2", pp="1,2", ep="1,2")
    for extra in ({}, {"engine": "vllm"}, {"reduce": "pareto", "max_tpot_s": 0.02}, {"decode_only": True}):
        fast, slow = sweep(**axes, **extra, use_numba=True), sweep(**axes, **extra, use_numba=False)
        assert fast.compiled and not slow.compiled
        assert list(fast) == list(slow) and fast.n_rows == slow.n_rows
        for name in fast:
            a, b = fast[name], slow[name]
            assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


# ---- reductions against brute force ------------------------------------------------------------------


def brute_pareto(x, y, index):
    """O(n^2): not beaten on both by another point, lowest index among identical points."""
    keep = []
    for j in range(len(x)):
        beaten = ((x >= x[j]) & (y >= y[j]) & ((x > x[j]) | (y > y[j]))).any()
        twin = ((x == x[j]) & (y == y[j]) & (index < index[j])).any()
        if not beaten and not twin:
            keep.append(index[j])
    return set(keep)


def feasible(s: SweepResult, max_tpot, max_ttft):
    x, y = s["output_tokens_per_s_per_chip"], s["output_tokens_per_s_per_user"]
    ok = s["fits"] & np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if max_tpot:
        ok &= s["tpot_s"] <= max_tpot
    if max_ttft:
        ok &= s["ttft_s"] <= max_ttft
    return ok


@pytest.fixture(params=[1, 2])
def many_chunks(request, monkeypatch):
    """Split even small sweeps over several kernel calls (and threads), so that merges are exercised."""
    monkeypatch.setattr(sweep_run, "CHUNK_CONFIGS", 97)
    monkeypatch.setattr(sweep_run, "PARALLEL_MIN_CONFIGS", 1 if request.param == 2 else 10 ** 12)
    return request.param


@pytest.mark.parametrize("engine", [None, "sglang"])
@pytest.mark.parametrize("limits", [(None, None), (0.03, None), (0.05, 2.0)])
def test_best_and_pareto_equal_brute_force(engine, limits, many_chunks):
    axes = dict(chips="H20,H100", models="8B,70B", batch="1:300:7", input_len="512,2k,9k", output_len="128,1k",
                tp="1,4,8", engine=engine, threads=many_chunks, use_numba=True)
    everything = sweep(**axes)
    ok = feasible(everything, *limits)
    key = everything.grid.g_chip[everything.grid.unravel(np.arange(everything.n_rows))[0]] * 2 + \
        everything.grid.g_model[everything.grid.unravel(np.arange(everything.n_rows))[0]]
    x, y = everything["output_tokens_per_s_per_chip"], everything["output_tokens_per_s_per_user"]
    index = np.arange(everything.n_rows)
    best = sweep(**axes, reduce="best", max_tpot_s=limits[0], max_ttft_s=limits[1])
    front = sweep(**axes, reduce="pareto", max_tpot_s=limits[0], max_ttft_s=limits[1])
    expect_best, expect_front = set(), set()
    for k in range(4):
        sel = ok & (key == k)
        if not sel.any():
            continue
        top = x[sel].max()
        expect_best.add(int(index[sel][x[sel] == top].min()))
        expect_front |= brute_pareto(x[sel], y[sel], index[sel])
    assert set(best._index.tolist()) == expect_best
    assert set(front._index.tolist()) == expect_front
    assert len(best.unmet) == 4 - len(expect_best)
    for name in best:  # reduced rows carry the same figures as the full sweep
        a, b = best[name], everything[name][best._index]
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name


def test_front_insert_equals_the_brute_force_front_with_ties():
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(1, 200))
        x = rng.integers(0, 12, n).astype(float)
        y = rng.integers(0, 12, n).astype(float)
        front = np.zeros((1, 1, KS.REC_FIGURES + 1))
        count = np.zeros(1, dtype=np.int64)
        for k in range(n):
            front = KS.front_insert(front, count, 0, x[k], y[k], float(k), np.zeros(1))
        got = set(front[0, :count[0], KS.REC_INDEX].astype(int).tolist())
        assert got == brute_pareto(x, y, np.arange(n))
        xs = front[0, :count[0], KS.REC_X]
        assert (np.diff(xs) > 0).all() and (np.diff(front[0, :count[0], KS.REC_Y]) < 0).all()


# ---- axes, API errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec, values", [
    ("1:1024:x2", [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]),
    ("1k,8k,32k", [1024, 8192, 32768]),
    ("1:4", [1, 2, 3, 4]),
    ("256:1k:256", [256, 512, 768, 1024]),
    ("3:20:x3", [3, 9]),
    (" 8 , 1,8 ", [8, 1]),
    ("1:3,2:5", [1, 2, 3, 4, 5]),
    (7, [7]),
    ([1, "4:5", 2], [1, 4, 5, 2]),
])
def test_parse_axis(spec, values):
    assert parse_axis(spec, "batch") == values


@pytest.mark.parametrize("spec, needle", [
    ("0", "at least 1"), ("a", "not a whole number"), ("4:1", "runs backwards"), ("1:8:x1", "factor"),
    ("1:2:3:4", "too many colons"), ("", "empty"), ("1:8:0", "step"), (-1, "at least 1"), (1.5, "not a"),
    (True, "not a"), ("2m", "not a whole number"), ([], "no values"),
])
def test_parse_axis_rejects(spec, needle):
    with pytest.raises(RooflineError, match=needle) as err:
        parse_axis(spec, "input_len")
    assert "input_len=" in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("kwargs, needle", [
    (dict(chips="H20,,H100"), "empty name"),
    (dict(chips="H2O"), "unknown name"),
    (dict(tp="3"), "tp=3 does not divide"),
    (dict(weight_dtype="fp9"), "weight_dtype"),
    (dict(reduce="fastest"), "reduce="),
    (dict(max_tpot_s=0), "max_tpot_s"),
    (dict(engine="triton"), "engine="),
    (dict(decode_only=True, reduce="best"), "decode_only"),
    (dict(max_num_tokens=512), "max_num_tokens"),
])
def test_sweep_rejects_bad_input(kwargs, needle):
    args = dict(chips="H20", models="8B")
    args.update(kwargs)
    with pytest.raises(RooflineError, match=needle):
        sweep(args.pop("chips"), args.pop("models"), **args)


def test_skipped_groups_are_named_and_columns_work_without_pandas():
    s = sweep("A100,H20", "8B", weight_dtype="fp8,bf16", tp="1,3", batch="1,2")
    assert any("A100" in line and "fp8" in line for line in s.skipped)
    assert any("tp=3" in line for line in s.skipped)
    assert set(s["chip"]) == {"A100-SXM-80GB", "H20"} and set(s["tp"]) == {1}
    assert len({len(v) for v in s.values()}) == 1 and dict(s).keys() == set(s)


def test_decode_only_columns():
    s = sweep("H20", "70B", batch="1:64:x2", input_len="1k,32k", tp=8, decode_only=True)
    full = sweep("H20", "70B", batch="1:64:x2", input_len="1k,32k", tp=8)
    assert "ttft_s" not in s and list(s)[-4:] == list(DECODE_COLUMNS)
    assert np.array_equal(s["tpot_s"], full["tpot_s"])


# ---- the serving planner -------------------------------------------------------------------------------------


def test_concurrency_grid():
    grid = concurrency_grid(5000)
    assert grid[:64] == list(range(1, 65)) and grid[-1] <= 5000 and grid == sorted(set(grid))
    assert all(b - a <= max(1, a // 64) for a, b in zip(grid, grid[1:]))


def test_serving_plan_is_the_best_feasible_layout():
    chip, model = load_chip("H20"), load_model("70B")
    p = plan_serving(chip, model, num_chips=16, max_tpot_s=0.05, max_ttft_s=1.0)
    b = p.best
    assert b.tpot_s <= 0.05 and b.ttft_s <= 1.0 and b.concurrency <= b.kv_capacity
    assert b.replicas == 16 // b.chips_per_replica and p.top[0] == b
    assert [t.output_tokens_per_s_per_chip for t in p.top] == sorted((t.output_tokens_per_s_per_chip for t in p.top),
                                                                    reverse=True)
    e = closed_form_serving(chip, model, Workload(tp=b.tp, pp=b.pp, ep=b.ep), engine="generic",
                            concurrency=b.concurrency)
    assert close(e.tpot_s, b.tpot_s) and close(e.ttft_s, b.ttft_s)
    assert close(e.requests_per_s, b.requests_per_s_per_replica)
    # brute force over the same layouts and concurrencies: nothing feasible beats the plan per chip
    s = sweep(chip, model, batch=concurrency_grid(int(max(t.kv_capacity for t in p.top))), tp="1,2,4,8",
              pp=list(range(1, 17)), engine="generic")
    ok = (s["fits"] & (s["tpot_s"] <= 0.05) & (s["ttft_s"] <= 1.0) & (s["chips"] <= 16))
    fleet = s["output_tokens_per_s"] * (16 // s["chips"]) / 16
    assert fleet[ok].max() <= b.output_tokens_per_s_per_chip * (1 + RTOL)


def test_serving_plan_errors_say_what_is_reachable():
    with pytest.raises(RooflineError, match=r"lowest TPOT is [\d.]+ ms"):
        plan_serving(load_chip("H20"), load_model("70B"), num_chips=8, max_tpot_s=0.001)
    with pytest.raises(RooflineError, match="does not fit"):
        plan_serving(load_chip("L40S"), load_model("405B"), num_chips=2)


# ---- the command line --------------------------------------------------------------------------------------------


def run_cli(*args):
    return CliRunner().invoke(main, list(args))


def test_cli_sweep_csv_equals_the_api():
    r = run_cli("sweep", "--chips", "H20,H100", "--model", "8B", "--batch", "1:16:x4", "--input-len", "1k,8k",
                "--tp", "1,2")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    s = sweep("H20,H100", "8B", batch="1:16:x4", input_len="1k,8k", tp="1,2")
    assert len(rows) == s.n_rows == 24 and list(rows[0]) == list(s)
    for k, row in enumerate(rows):
        assert float(row["tpot_s"]) == s["tpot_s"][k] and int(row["batch"]) == s["batch"][k]
        assert row["fits"] == ("true" if s["fits"][k] else "false") and row["chip"] == s["chip"][k]


def test_cli_sweep_json_best_to_a_file(tmp_path):
    out = tmp_path / "best.json"
    r = run_cli("sweep", "--chips", "H20,H100", "--models", "8B,70B", "--batch", "1:512:x2", "--input-len", "2k",
                "--best", "--max-tpot-ms", "30", "--format", "json", "-o", str(out))
    assert r.exit_code == 0, r.output
    assert [p.name for p in tmp_path.iterdir()] == ["best.json"]  # no temporary file left behind
    d = json.loads(out.read_text())
    assert d["reduce"] == "best" and d["configurations"] == 2 * 2 * 10 * 4 and len(d["rows"]) == 4
    assert all(row["tpot_s"] <= 0.03 and row["fits"] for row in d["rows"])


def test_cli_sweep_pareto_and_serving():
    r = run_cli("sweep", "--chips", "H200", "--model", "70B", "--batch", "1:256", "--tp", "4,8", "--engine", "vllm",
                "--pareto", "--max-ttft-ms", "500")
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows and all(float(row["ttft_s"]) <= 0.5 for row in rows) and "requests_per_s" in rows[0]


@pytest.mark.parametrize("args, needle", [
    (["--batch", "0"], "batch='0'"),
    (["--input-len", "1:x"], "input_len="),
    (["--chips", "H2O"], "H20"),
    (["--tp", "3"], "tp=3"),
    (["--weight-dtype", "fp9"], "weight_dtype="),
    (["--best", "--pareto"], "not both"),
    (["--max-tpot-ms", "5"], "--best or --pareto"),
    (["--best", "--max-tpot-ms", "-5"], "--max-tpot-ms"),
    (["--format", "xml"], "--format"),
    (["-o", "/nonexistent-folder/x.csv"], "does not exist"),
])
def test_cli_sweep_bad_input_is_one_line_exit_2(args, needle):
    r = run_cli("sweep", "--chips", "H20", "--model", "8B", *args)  # a repeated option: the last one counts
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("roofline: error:") and needle in lines[0], r.stderr


def test_cli_plan_inference():
    r = run_cli("plan", "--mode", "inference", "--chip", "H20", "--model", "70B", "--num-chips", "32",
                "--max-tpot-ms", "50", "--max-ttft-ms", "1000", "--format", "json", "--top", "3")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["plan"]["mode"] == "inference" and len(d["plan"]["layouts"]) == 3
    best = d["inference"]
    assert {"tp", "pp", "ep", "concurrency", "replicas", "chips_per_replica", "ttft_s", "tpot_s",
            "output_tokens_per_s_per_chip", "output_tokens_per_s_per_user"} <= set(best)
    assert best["tpot_s"] <= 0.05 and best["ttft_s"] <= 1.0 and best == d["plan"]["layouts"][0]
    text = run_cli("plan", "--mode", "inference", "--chip", "H20", "--model", "70B", "--num-chips", "32")
    assert text.exit_code == 0 and "in flight" in text.stdout and "replicas" in text.stdout


@pytest.mark.parametrize("args, needle", [
    (["--mode", "inference", "--seq-len", "100"], "--seq-len applies to --mode training only"),
    (["--max-tpot-ms", "50"], "--max-tpot-ms applies to --mode inference only"),
    (["--mode", "inference", "--num-chips", "8", "--max-tpot-ms", "1"], "lowest TPOT"),
    (["--mode", "inference", "--max-ttft-ms", "0"], "--max-ttft-ms"),
])
def test_cli_plan_inference_errors(args, needle):
    r = run_cli("plan", "--chip", "H20", "--model", "70B", *args)
    assert r.exit_code == 2, r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("roofline: error:") and needle in lines[0], r.stderr


def test_progress_bar_waits_one_second():
    now = [0.0]
    out = io.StringIO()
    bar = ProgressBar(out, clock=lambda: now[0])
    bar(10, 100)
    now[0] = 0.9
    bar(50, 100)
    assert out.getvalue() == ""
    now[0] = 1.5
    bar(60, 100)
    bar.close()
    assert "60%" in out.getvalue() and "60/100" in out.getvalue() and out.getvalue().endswith("\n")


def test_sweep_calls_progress_and_engines_exist():
    seen = []
    sweep("H20", "8B", batch="1:50", progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert set(ENGINES) <= {"generic", "vllm", "sglang", "trtllm"}
    assert decode_context(Workload(input_len=100, output_len=11)) == KS.mean_decode_context(100.0, 11.0)


def test_roofline_sweep_is_the_function_whatever_was_imported_first():
    """``roofline.sweep`` is the function even when a ``roofline.sweep.*`` module was imported before
    ``roofline`` itself (the package import would otherwise bind the subpackage under that name)."""
    import subprocess
    import sys

    code = "import roofline.sweep.grid, roofline; print(callable(roofline.sweep))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "True\n"


@pytest.mark.parametrize("chip, model, engine, max_num_tokens, weight_dtype", [
    ("H100", "405B", "generic", None, "bf16"),
    ("H20", "70B", "vllm", 4096, "bf16"),
    ("B200", "DeepSeek-R1", "sglang", None, "fp8"),
    ("H100", "Mixtral-8x7B", "trtllm", None, "fp8"),
])
def test_kv_capacities_are_the_serving_sweeps_capacity(chip, model, engine, max_num_tokens, weight_dtype):
    """The serving planner sizes its concurrency axis with kv_capacities, not a priced probe sweep: the
    same figure, V_CAP, layout by layout."""
    from roofline.sweep.grid import build_grid

    m = load_model(model)
    grid = build_grid(load_chip(chip), m, batch=1, input_len=2048, output_len=256, tp=[1, 2, 4, 8],
                      pp=[1, 2, 3, 4], ep=[1, 2, 4, 8] if m.is_moe else [1], weight_dtype=weight_dtype, key="group",
                      engine=engine)
    priced = sweep_run.run_grid(grid, engine=engine, max_num_tokens=max_num_tokens, use_numba=False)
    assert np.array_equal(sweep_run.kv_capacities(grid, engine, max_num_tokens), priced["out"][KL.V_CAP])
