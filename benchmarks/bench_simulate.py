"""Speed of the serving simulator (issue 14): one simulated benchmark of 1,000 requests of 1,000 output tokens
at concurrency 64, and the whole `roofline estimate ... --concurrency 64` process.

* **compiled, warm**: the numba-compiled kernel with its cache loaded (median of runs after a warm-up), on
  three engines (the schedule differs: chunked, prompt-first, whole prompts);
* **compiled, cold**: a fresh process with an empty numba cache folder compiles the kernel (the one-time
  cost a first run pays, and says so on stderr);
* **plain Python**: the same kernel uncompiled (the default for short simulations, which never load numba);
* **whole process**: `roofline estimate --chip H100 --model 70B --tp 8 --mode inference --concurrency 64`
  (the default 640 requests; warm caches) and the same without `--mode inference` (serving and training
  planning together), median wall time over runs after a warm-up.

Targets (issue 14): the simulated benchmark <= 50 ms compiled; the estimate <= 1 s whole process warm. They are
reported with the machine and its load, never asserted. Writes ``benchmarks/results/bench_simulate.json``.

Run: ``python benchmarks/bench_simulate.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_cli import command_prefix, wall_times  # noqa: E402
from benchmarks.bench_sweep import machine, timed, write_result  # noqa: E402
from roofline import Workload, load_chip, load_model  # noqa: E402
from roofline.loaders.engines import ENGINES  # noqa: E402
from roofline.passes import Packed  # noqa: E402
from roofline.serving.simulate import Client, run  # noqa: E402

CASE = dict(chip="H100", model="70B", tp=8, input_len=1000, output_len=1000, concurrency=64, requests=1000)
ESTIMATE = ["estimate", "--chip", "H100", "--model", "70B", "--tp", "8", "--concurrency", "64"]

COLD = """
import time
from roofline import Workload, load_chip, load_model
from roofline.loaders.engines import ENGINES
from roofline.passes import Packed
from roofline.serving.simulate import Client, run
p = Packed(load_chip("H100"), load_model("70B"), Workload(tp=8, input_len=1000, output_len=1000), ENGINES["vllm"])
start = time.perf_counter()
run(p, Client(concurrency=64, num_requests=1000), use_numba=True)
print(time.perf_counter() - start)
"""


def _packed(engine: str) -> Packed:
    wl = Workload(tp=CASE["tp"], input_len=CASE["input_len"], output_len=CASE["output_len"])
    return Packed(load_chip(CASE["chip"]), load_model(CASE["model"]), wl, ENGINES[engine])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    client = Client(concurrency=CASE["concurrency"], num_requests=CASE["requests"])
    rows = {}
    for engine in ("vllm", "sglang", "trtllm"):
        p = _packed(engine)
        compiled = timed(lambda p=p: run(p, client, use_numba=True), args.runs)
        plain = timed(lambda p=p: run(p, client, use_numba=False), max(1, args.runs // 3))
        rows[engine] = {"compiled_s": compiled, "plain_s": plain, "plain_over_compiled": plain / compiled}
    with tempfile.TemporaryDirectory(prefix="roofline-cold-numba-") as cache:
        out = subprocess.run([sys.executable, "-c", COLD], env=dict(os.environ, NUMBA_CACHE_DIR=cache),
                             check=True, capture_output=True, text=True)
        cold = float(out.stdout.strip().splitlines()[-1])
    prefix = command_prefix()
    env = dict(os.environ)
    inference = statistics.median(wall_times(prefix + ESTIMATE + ["--mode", "inference"], args.runs, env))
    both = statistics.median(wall_times(prefix + ESTIMATE, args.runs, env))
    info = machine()
    result = {"machine": info, "case": CASE, "simulation": rows, "cold_compile_and_run_s": cold,
              "estimate_inference_s": inference, "estimate_both_s": both,
              "targets": {"simulation_compiled_s": 0.05, "estimate_inference_s": 1.0}}
    print(f"machine: {info['cpu_model']}, {info['cpus_available']} cores available; load average "
          f"{info['load_average_1min']:.2f}")
    print(f"simulated benchmark: {CASE['requests']} requests x {CASE['output_len']} output tokens at concurrency "
          f"{CASE['concurrency']} ({CASE['model']} on {CASE['tp']} x {CASE['chip']})")
    for engine, r in rows.items():
        print(f"  {engine:7} compiled {r['compiled_s'] * 1e3:7.1f} ms (target <= 50 ms)   plain Python "
              f"{r['plain_s'] * 1e3:8.1f} ms   ratio {r['plain_over_compiled']:.0f}x")
    print(f"  cold (empty numba cache, compile + run): {cold:.1f} s")
    print(f"roofline {' '.join(ESTIMATE)} --mode inference: {inference:.2f} s (target <= 1 s); without --mode "
          f"(serving and training): {both:.2f} s")
    write_result("bench_simulate", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
