"""Whole-process wall time of the commands people type: median of several runs after one warm-up.

* ``roofline estimate --chip H20 --model 70B`` (serving and training; never imports numba);
* ``roofline plan --chip H100 --model 405B --num-chips 16384`` (the training planner, compiled);
* ``roofline plan --mode inference --chip H100 --model 405B --num-chips 16384 --max-tpot-ms 50
  --max-ttft-ms 2000`` (the serving planner, compiled);
* ``roofline estimate --disagg`` (H100 prefill, H20 decode, 70B; the two-pool simulation, compiled past its
  plain-Python budget) and ``roofline plan --mode inference --disagg`` of the same pair;
* ``roofline sweep`` of 1e7 configurations with ``--best`` (compiled, every core), static batches and the
  in-flight engine (the default of ``--best``);
* the README's other commands: the inference and 16-stage training estimates, ``compare``, its three
  sweeps (small enough to run as plain Python), ``validate`` and ``chips``.

Each command runs as its own process, as a user runs it, with Python's bytecode cache on (kept in a
temporary folder, so the repository stays clean) and numba's disk cache warm after the warm-up run.
Prints a table and writes ``benchmarks/results/bench_cli.json``. Targets (issues 7 and 19, 2-core machine):
estimate under 0.5 s and within 3x of ``python -c "import numpy, attrs, click"`` timed in the same run (the
floor any Python tool on this stack pays), each planner under 1 s. They are reported, not asserted.

Run: ``python benchmarks/bench_cli.py [--runs N] [--only NAME ...]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sweep import machine, write_result  # noqa: E402


#: 1e7 configurations with --best (its default targets: 50 ms TPOT, 2 s TTFT); since issue 15 --best serves
#: with the in-flight engine by default, and the static batch of the earlier figures is --engine static.
SWEEP_1E7 = ["sweep", "--chips", "H20,H100,H200,B200,MI300X", "--models", "8B,70B", "--tp", "1,2,4,8",
             "--batch", "1:2500", "--input-len", "128,512,1k,2k,4k,8k,16k,32k,64k,100k",
             "--output-len", "16,64,128,256,512,1k,2k,4k,8k,16k", "--best"]

COMMANDS = {
    "estimate H20 70B": (["estimate", "--chip", "H20", "--model", "70B"], 0.5),
    "plan training 405B x 16384 H100": (["plan", "--chip", "H100", "--model", "405B", "--num-chips", "16384"], 1.0),
    "plan inference 405B x 16384 H100": (["plan", "--mode", "inference", "--chip", "H100", "--model", "405B",
                                          "--num-chips", "16384", "--max-tpot-ms", "50", "--max-ttft-ms", "2000"],
                                         1.0),
    "sweep 1e7 --best --engine static": ([*SWEEP_1E7, "--engine", "static"], None),
    "sweep 1e7 --best (in-flight, default)": (SWEEP_1E7, None),
    "estimate --disagg 70B H100->H20": (["estimate", "--chip", "H100", "--model", "70B", "--mode", "inference",
                                         "--disagg", "--decode-chip", "H20"], None),
    "plan --disagg 70B H100->H20": (["plan", "--mode", "inference", "--disagg", "--chip", "H20", "--prefill-chip",
                                     "H100", "--model", "70B"], None),
    # the other commands of the README, as typed there
    "estimate inference H20 70B tp8": (["estimate", "--chip", "H20", "--model", "70B", "--tp", "8", "--mode",
                                        "inference"], None),
    "estimate training 405B x 16384 H100, 16 stages": (
        ["estimate", "--mode", "training", "--chip", "H100", "--model", "405B", "--num-chips", "16384", "--tp", "8",
         "--pp", "16", "--dp", "128", "--micro-batch", "1", "--global-batch", "2048", "--seq-len", "8192"], None),
    "compare H20,H100 70B": (["compare", "--chips", "H20,H100", "--model", "70B"], None),
    "sweep README first (1,584 configs)": (["sweep", "--chips", "H20,H100,H200", "--models", "8B,70B", "--batch",
                                            "1:1024:x2", "--input-len", "1k,8k,32k", "--output-len", "256", "--tp",
                                            "1,2,4,8", "--weight-dtype", "bf16,fp8"], None),
    "sweep README --best": (["sweep", "--chips", "H20,H100", "--models", "70B", "--batch", "1:512", "--best",
                             "--max-tpot-ms", "50", "--format", "json"], None),
    "sweep README --engine vllm --pareto": (["sweep", "--chips", "H200", "--models", "70B", "--batch", "1:2k",
                                             "--engine", "vllm", "--pareto"], None),
    "validate": (["validate"], None),
    "chips": (["chips"], None),
}


def command_prefix() -> list[str]:
    """The console script beside this interpreter, else ``python -m roofline``."""
    script = Path(sys.executable).with_name("roofline")
    return [str(script)] if script.exists() else [sys.executable, "-m", "roofline"]


def wall_times(argv: list[str], runs: int, env: dict) -> list[float]:
    subprocess.run(argv, env=env, check=True, capture_output=True)  # warm-up: bytecode and numba caches
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


#: The floor: a bare interpreter importing the stack's three libraries.
BASELINE = "python -c 'import numpy, attrs, click'"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7, help="timed runs per command (after one warm-up)")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="time only the commands whose name starts so")
    args = ap.parse_args(argv)
    pycache = tempfile.mkdtemp(prefix="roofline-bench-pycache-")
    env = dict(os.environ, PYTHONPYCACHEPREFIX=pycache)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    prefix = command_prefix()
    rows = []
    try:
        base = wall_times([sys.executable, "-c", "import numpy, attrs, click"], args.runs, env)
        floor = statistics.median(base)
        rows.append({"command": BASELINE, "name": "baseline imports", "median_s": floor, "min_s": min(base),
                     "max_s": max(base), "runs": len(base), "target_s": None, "met": None})
        for name, (cmd, target) in COMMANDS.items():
            if args.only and not any(name.startswith(o) for o in args.only):
                continue
            times = wall_times(prefix + cmd, args.runs, env)
            median = statistics.median(times)
            rows.append({"command": "roofline " + " ".join(cmd), "name": name, "median_s": median,
                         "min_s": min(times), "max_s": max(times), "runs": len(times), "target_s": target,
                         "met": None if target is None else median < target, "x_baseline": median / floor})
    finally:
        shutil.rmtree(pycache, ignore_errors=True)
    info = machine()
    print(f"machine: {info['cpu_model']}, {info['cpus_available']} cores available, Python {info['python']}; load "
          f"average {info['load_average_1min']:.2f}")
    print(f"{'command':<38} {'median s':>9} {'min s':>7} {'max s':>7} {'x base':>7} {'target':>7}")
    for r in rows:
        target = "-" if r["target_s"] is None else f"<{r['target_s']:g} {'ok' if r['met'] else 'NO'}"
        ratio = f"{r['x_baseline']:.2f}" if "x_baseline" in r else "1"
        print(f"{r['name']:<38} {r['median_s']:>9.3f} {r['min_s']:>7.3f} {r['max_s']:>7.3f} {ratio:>7} {target:>7}")
    write_result("bench_cli", {"machine": info, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
