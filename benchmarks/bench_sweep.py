"""Sweep speed: configurations per second, compiled against the plain-Python path of the same kernels.

Measures, in one run on this machine:

* decode-only sweeps (TPOT and throughput) and full sweeps (TTFT, TPOT, memory and fit) of 1e5, 1e6 and
  1e7 configurations through :func:`roofline.sweep` (compiled, on every core; every row kept), the
  median of a few runs after one warm-up;
* the same kernels run as plain Python (``use_numba=False``) on a slice of the same grid, and the ratio;
* the in-flight serving sweep kernel (``--engine vllm``) at 1e6 configurations;
* the machine's limit for the sweep's shape: a trivial compiled kernel with the same loop over the same grid
  and threads, writing as many figures per configuration but pricing nothing, and the fraction of it the
  sweeps reach;
* a fresh process that imports roofline and runs the 1e7 full sweep at once: the time includes loading
  the compiled kernel from numba's disk cache (warmed first by another process);
* llm-analysis on the same configurations, when it is installed (it is optional and usually is not).

Prints a table and writes ``benchmarks/results/bench_sweep.json``. Targets (issue 7, 2-core machine):
at least 1e8 decode configurations/s, at least 1,000x plain Python, a 1e7 sweep in under 1 s including
the cache load. They are reported, not asserted.

Run: ``python benchmarks/bench_sweep.py [--quick]`` (``--quick``: 1e5 and 1e6 only, one run each).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import roofline  # noqa: E402
from roofline.sweep.grid import build_grid  # noqa: E402
from roofline.sweep.run import run_grid  # noqa: E402

OUT = ROOT / "benchmarks" / "results"

#: 40 groups (5 chips x 2 models x 4 TP sizes) times the numeric axes below.
GROUPS = dict(chips="H20,H100,H200,B200,MI300X", models="8B,70B", tp="1,2,4,8")
INPUTS_10 = "128,512,1k,2k,4k,8k,16k,32k,64k,100k"
OUTPUTS_10 = "16,64,128,256,512,1k,2k,4k,8k,16k"
SIZES = {
    100_000: dict(batch="1:250", input_len=INPUTS_10, output_len="256"),
    1_000_000: dict(batch="1:250", input_len=INPUTS_10, output_len=OUTPUTS_10),
    10_000_000: dict(batch="1:2500", input_len=INPUTS_10, output_len=OUTPUTS_10),
}
#: Configurations priced as plain Python (about 0.15 ms each for a full configuration).
PLAIN_CONFIGS = 2_000

TARGETS = {"decode_configs_per_s": 1e8, "full_configs_per_s": 5e7, "speedup_vs_plain_python": 1000.0,
           "sweep_1e7_fresh_process_s": 1.0}


def write_result(name: str, result: dict) -> Path:
    """Write ``result`` to ``benchmarks/results/NAME.json`` (indented, newline-terminated) and say so."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")
    return path


def machine() -> dict:
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import numba
    import numpy

    return {"cpus": os.cpu_count(), "cpus_available": len(os.sched_getaffinity(0)), "cpu_model": model,
            "load_average_1min": os.getloadavg()[0],
            "platform": platform.platform(), "python": platform.python_version(), "numpy": numpy.__version__,
            "numba": numba.__version__, "roofline": roofline.__version__}


def timed(fn, runs: int, before=None) -> float:
    """Median seconds of ``runs`` calls of ``fn`` after one warm-up call; ``before()`` runs untimed ahead of
    each call (to free the previous call's result, which a fresh process would not hold: freeing hundreds of
    megabytes takes time of its own)."""
    if before:
        before()
    fn()
    times = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def plain_rate(decode_only: bool) -> float:
    """Configurations/s of the very same sweep kernel run as plain Python, on a slice of the grid."""
    grid = build_grid(**GROUPS, **SIZES[100_000])
    rows = max(1, PLAIN_CONFIGS // (len(grid.inputs) * len(grid.outputs)))
    sub = build_grid(**GROUPS, batch=f"1:{rows}", input_len=INPUTS_10, output_len="256")
    start = time.perf_counter()
    run_grid(sub, decode_only=decode_only, use_numba=False)
    return sub.n_configs / (time.perf_counter() - start)


def machine_limit(size: int, figures: int, threads: int) -> float:
    """Configurations/s of a trivial compiled kernel of the sweep's shape: the same rows x inputs x outputs
    loop over the same grid, split over the same threads, writing ``figures`` float64 per configuration (a
    sum of the axis values: no pricing) into an output allocated per call, as the sweep's is (its pages are
    first touched by the writes). What this machine can do at all for a sweep kept in memory."""
    import numba
    from concurrent.futures import ThreadPoolExecutor

    @numba.njit(nogil=True, cache=False)
    def trivial(batches, inputs, outputs, row_lo, row_hi, out):
        nb, ni, no = batches.shape[0], inputs.shape[0], outputs.shape[0]
        for r in range(row_lo, row_hi):
            b = batches[r % nb]
            for ii in range(ni):
                for io in range(no):
                    index = (r * ni + ii) * no + io
                    v = b + inputs[ii] * outputs[io]
                    for f in range(out.shape[0]):
                        out[f, index] = v + f

    grid = build_grid(**GROUPS, **SIZES[size])
    bounds = np.linspace(0, grid.n_rows, 4 * threads + 1).astype(np.int64)
    last = {}

    def run():
        out = np.empty((figures, grid.n_configs))
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(lambda k: trivial(grid.batches, grid.inputs, grid.outputs, bounds[k], bounds[k + 1], out),
                          range(len(bounds) - 1)))
        last["out"] = out

    return grid.n_configs / timed(run, 3, before=last.clear)


def serving_rate(size: int, runs: int) -> dict:
    """The in-flight (serving) sweep kernel: ``size`` configurations with ``--engine vllm``."""
    axes = dict(GROUPS, **SIZES[size])
    last = {}

    def once():
        last["s"] = roofline.sweep(**axes, engine="vllm")

    seconds = timed(once, runs, before=last.clear)
    return {"kind": "serving (vllm)", "configurations": last["s"].configurations, "seconds": seconds,
            "configs_per_s": last["s"].configurations / seconds, "threads": last["s"].threads}


def fresh_process_sweep(size: int) -> dict:
    """Import roofline and run the full sweep of ``size`` configurations in a new process."""
    axes = dict(GROUPS, **SIZES[size])
    code = ("import json, time\nt0 = time.perf_counter()\nimport roofline\nt1 = time.perf_counter()\n"
            f"s = roofline.sweep(**{axes!r})\nt2 = time.perf_counter()\n"
            "print(json.dumps({'import_s': t1 - t0, 'sweep_s': t2 - t1, 'configurations': s.configurations, "
            "'threads': s.threads, 'compiled': s.compiled}))\n")
    subprocess.run([sys.executable, "-c", "import roofline; roofline.sweep('H20', '8B')"], check=True)  # warm cache
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def llm_analysis_rate() -> dict:
    """llm-analysis on the same kind of configurations, when it is installed."""
    try:
        import llm_analysis  # noqa: F401
    except ImportError:
        return {"installed": False}
    configs = [(b, i) for b in (1, 8, 64) for i in (512, 2048, 8192)] * 10
    try:
        from llm_analysis.analysis import infer

        start = time.perf_counter()
        for b, i in configs:
            infer(model_name="meta-llama/Llama-2-7b-hf", gpu_name="a100-sxm-80gb", dtype_name="w16a16e16",
                  batch_size_per_gpu=b, seq_len=i, num_tokens_to_generate=256, log_level="ERROR")
    except Exception as exc:  # an API we do not know: say so rather than fail the benchmark
        return {"installed": True, "error": f"{type(exc).__name__}: {exc}"}
    return {"installed": True, "configs_per_s": len(configs) / (time.perf_counter() - start)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1e5 and 1e6 only, one run each")
    args = ap.parse_args(argv)
    sizes = [s for s in SIZES if not args.quick or s < 10_000_000]
    runs = 1 if args.quick else 3
    info = machine()
    rows = []
    plain = {True: plain_rate(True), False: plain_rate(False)}
    for decode_only in (True, False):
        for size in sizes:
            axes = dict(GROUPS, **SIZES[size])
            last = {}

            def once(last=last, axes=axes, decode_only=decode_only):
                last["s"] = roofline.sweep(**axes, decode_only=decode_only)

            seconds = timed(once, runs, before=last.clear)
            s = last["s"]
            assert s.configurations == size, (size, s.configurations)
            rate = size / seconds
            rows.append({"kind": "decode-only" if decode_only else "full", "configurations": size,
                         "seconds": seconds, "configs_per_s": rate, "threads": s.threads,
                         "plain_python_configs_per_s": plain[decode_only], "speedup": rate / plain[decode_only]})
    serving = serving_rate(1_000_000, runs)
    largest = max(sizes)
    threads = rows[-1]["threads"]
    limits = {kind: machine_limit(largest, figures, threads) for kind, figures in (("decode-only", 1), ("full", 3))}
    for r in rows:
        if r["configurations"] == largest:
            r["machine_limit_configs_per_s"] = limits[r["kind"]]
            r["fraction_of_limit"] = r["configs_per_s"] / limits[r["kind"]]
    fresh = fresh_process_sweep(10_000_000) if not args.quick else None
    other = llm_analysis_rate()
    best_decode = max(r["configs_per_s"] for r in rows if r["kind"] == "decode-only")
    largest = max(r["configurations"] for r in rows)
    full = next(r["configs_per_s"] for r in rows if r["kind"] == "full" and r["configurations"] == largest)
    worst_speedup = min(r["speedup"] for r in rows if r["configurations"] == largest)
    result = {
        "machine": info,
        "rows": rows,
        "serving": serving,
        "machine_limit": {"configurations": largest, "threads": threads, "configs_per_s": limits,
                          "kernel": "the sweep's loop writing the same figures per configuration, no pricing"},
        "fresh_process_1e7_full": fresh,
        "llm_analysis": other,
        "targets": {
            "decode_configs_per_s": {"target": TARGETS["decode_configs_per_s"], "measured": best_decode,
                                     "met": best_decode >= TARGETS["decode_configs_per_s"]},
            "full_configs_per_s": {"target": TARGETS["full_configs_per_s"], "measured": full,
                                   "met": full >= TARGETS["full_configs_per_s"], "at_configurations": largest},
            "speedup_vs_plain_python": {"target": TARGETS["speedup_vs_plain_python"], "measured": worst_speedup,
                                        "met": worst_speedup >= TARGETS["speedup_vs_plain_python"],
                                        "at_configurations": largest},
            "sweep_1e7_fresh_process_s": None if fresh is None else {
                "target": TARGETS["sweep_1e7_fresh_process_s"], "measured": fresh["sweep_s"],
                "met": fresh["sweep_s"] < TARGETS["sweep_1e7_fresh_process_s"]},
        },
    }
    print(f"machine: {info['cpu_model']}, {info['cpus_available']} cores available ({info['cpus']} CPUs), "
          f"Python {info['python']}, numba {info['numba']}; load average {info['load_average_1min']:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after (other work on the machine slows every figure)")
    print(f"{'sweep':<12} {'configs':>12} {'seconds':>9} {'configs/s':>14} {'threads':>7} {'plain Python/s':>15} "
          f"{'speedup':>9}")
    for r in rows:
        print(f"{r['kind']:<12} {r['configurations']:>12,} {r['seconds']:>9.3f} {r['configs_per_s']:>14,.0f} "
              f"{r['threads']:>7} {r['plain_python_configs_per_s']:>15,.0f} {r['speedup']:>8,.0f}x")
    print(f"{serving['kind']:<12} {serving['configurations']:>12,} {serving['seconds']:>9.3f} "
          f"{serving['configs_per_s']:>14,.0f} {serving['threads']:>7}")
    for kind, limit in limits.items():
        got = next(r for r in rows if r["kind"] == kind and r["configurations"] == largest)["configs_per_s"]
        print(f"machine limit ({kind}, a trivial kernel of the same loop and writes, {threads} threads): "
              f"{limit:,.0f} configs/s; the sweep reaches {got / limit:.1%} of it")
    if fresh:
        print(f"fresh process, 1e7 full sweep: import {fresh['import_s']:.3f} s, sweep incl. cache load "
              f"{fresh['sweep_s']:.3f} s")
    print("llm-analysis: " + (f"{other['configs_per_s']:,.0f} configs/s" if "configs_per_s" in other
                              else other.get("error", "not installed")))
    for name, t in result["targets"].items():
        if t:
            verdict = "met" if t["met"] else "NOT met"
            print(f"target {name}: {t['target']:,g} -> measured {t['measured']:,.4g} ({verdict})")
    write_result("bench_sweep", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
