"""The README's speed table, written from the benchmark scripts' JSON in ``benchmarks/results/`` (never typed
by hand): ``benchmarks/readme_figures.py`` pastes it between the ``figures:speed`` markers and
tests/test_readme.py checks that the README matches what the stored JSON gives.

Each figure names the script that measured it; the machine's load beside each run is quoted, because a
shared 2-core machine slows every figure."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
#: The last axis of bench_cli's 1e7-configuration sweep.
SWEEP_1E7_OUTPUTS = "--output-len 16,64,128,256,512,1k,2k,4k,8k,16k"


def _load(name: str) -> dict:
    return json.loads((RESULTS / f"{name}.json").read_text())


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.0f} s"


def _rate(value: float) -> str:
    return f"{value:.3g}".replace("e+0", "e").replace("e+", "e") + " configs/s"


def _met(measured: str, met: bool | None) -> str:
    return measured if met is None or met else f"**{measured} (not met)**"


def speed_block() -> str:
    """The table and the sentence saying where each figure comes from."""
    sweep, cli, comp = _load("bench_sweep"), _load("bench_cli"), _load("bench_compile")
    tests = _load("bench_tests") if (RESULTS / "bench_tests.json").exists() else None
    rows = []
    largest = max(r["configurations"] for r in sweep["rows"])
    targets = sweep["targets"]
    for kind, key in (("decode-only", "decode_configs_per_s"), ("full", "full_configs_per_s")):
        target = targets[key]["target"]
        r = next(r for r in sweep["rows"] if r["kind"] == kind and r["configurations"] == largest)
        what = "decode-only sweep" if kind == "decode-only" else "full sweep (TTFT, TPOT, memory)"
        limit = f"; {r['fraction_of_limit']:.0%} of this machine's limit" if "fraction_of_limit" in r else ""
        rows.append((f"{what}, {largest:.0e} configurations, {r['threads']} threads".replace("e+0", "e"),
                     _rate(target), _met(_rate(r["configs_per_s"]), r["configs_per_s"] >= target) + limit))
        rows.append(("the same as plain Python (speed-up)", "1,000x",
                     f"{_rate(r['plain_python_configs_per_s'])} ({r['speedup']:,.0f}x)"))
    if "serving" in sweep:
        srv = sweep["serving"]
        rows.append((f"in-flight (vLLM) sweep, {srv['configurations']:,} configurations", "",
                     _rate(srv["configs_per_s"])))
    floor = next(r for r in cli["rows"] if r["name"] == "baseline imports")
    rows.append(("`python -c \"import numpy, attrs, click\"` (the floor), whole process", "", _s(floor["median_s"])))
    for r in cli["rows"]:
        if r is floor:
            continue
        target = "" if r["target_s"] is None else f"< {r['target_s']:g} s"
        measured = _s(r["median_s"])
        if r["name"] == "estimate H20 70B":
            target += ", < 3x the floor"
            measured = _met(f"{measured}, {r['x_baseline']:.1f}x", r["met"] and r["x_baseline"] <= 3.0)
        else:
            measured = _met(measured, r["met"])
        command = f"`{r['command']}`"
        if SWEEP_1E7_OUTPUTS in command:  # bench_cli's 1e7 sweep: its options after the axes
            command = f"`roofline sweep` of 1e7 configurations with `{command.split(SWEEP_1E7_OUTPUTS)[1].strip()}"
        rows.append((command, target, measured))
    first = comp["first_sweep"]
    rows.append(("the README's first `roofline sweep`, empty cache, whole process", "< 20 s",
                 _met(_s(first["seconds"]), first["met"])))
    if "large_sweep" in comp:
        rows.append(("the same over every batch 1-1024 (147,456 configurations: compiles), empty cache", "",
                     _s(comp["large_sweep"]["seconds"])))
    for name, seconds in (comp.get("kernels_s") or {}).items():
        rows.append((f"compiling `{name}` (in `roofline warmup`, empty cache)", "", _s(seconds)))
    rows.append(("`roofline warmup`, empty cache, whole process", "", _s(comp["warmup_s"])))
    if tests:
        rows.append(("`pytest`, empty numba cache (every kernel compiles)", "", _s(tests["cold"]["seconds"])))
        if "install" in tests:
            rows.append(("`pip install '.[test]'` into a new venv (pip's download cache as on this machine)", "",
                         _s(tests["install"]["seconds"])))
            total = tests["install_plus_cold_s"]
            rows.append(("the install and `pytest` with an empty numba cache", "< 240 s",
                         _met(_s(total), total <= 240)))
        rows.append(("`pytest`, warm cache", "", _s(tests["warm"]["seconds"])))
    table = ["| measure | target | measured |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]

    def load(d: dict) -> str:
        m = d["machine"]
        return f"{m.get('load_average_1min_before', m['load_average_1min']):.2f}"

    sources = (f"Measured on a {sweep['machine']['cpus_available']}-core {sweep['machine']['cpu_model']} machine "
               f"(Python {sweep['machine']['python']}, numba {sweep['machine']['numba']}), shared, so other work can "
               f"slow any run: sweeps by `python benchmarks/bench_sweep.py` (load {load(sweep)}), whole processes by "
               f"`python benchmarks/bench_cli.py` (median of {cli['rows'][0]['runs']} runs, load {load(cli)}), "
               f"cold compiles by `python benchmarks/bench_compile.py` (load {load(comp)})"
               + (f", the test suite by `python benchmarks/bench_tests.py` (load {load(tests)})" if tests else "")
               + "; JSON in `benchmarks/results/`, and this table is written from it.")
    return sources + "\n\n" + "\n".join(table)


if __name__ == "__main__":
    print(speed_block())
