"""Compiled speed of this checkout against another one, measured in pairs so that machine drift cancels.

For a change that should not move speed (a restructuring, a refactor of the kernels' arguments), run the
same compiled workloads on both checkouts, alternating A B A B between two long-lived processes (one per
checkout, kernels compiled or loaded from the cache before timing); report per workload the median
seconds of each and the median of the per-round ratios this / other (1.00 = same speed, above 1 = this
checkout is slower). Sweeps run on one thread, and each call is timed by the CPU time of its process
(``time.process_time``), which other work on a shared machine disturbs far less than wall time:

* ``sweep decode 2e6``: :func:`roofline.sweep` of 2e6 decode-only configurations;
* ``sweep full 2e6``: the same grid with TTFT, TPOT, memory and fit;
* ``sweep serving 2e5``: 2e5 configurations through the in-flight engine model (``engine="vllm"``);
* ``plan training``: the training planner, Llama-3.1-405B on 16,384 H100 and Llama-3.1-8B on 4,096
  (candidates built in Python, priced by the compiled kernel);
* ``plan serving``: the serving planner, Llama-3.1-70B on 64 H100 within 50 ms TPOT.

Many short rounds rather than a few long ones: on a shared machine single timings scatter by tens of
percent, and the median of many paired ratios is what settles within a few percent. Each round times a
workload ``--repeat`` times in each process and takes the median. The
machine's load average is printed before and after (other work slows every figure; the ratio is what to
quote). Writes ``benchmarks/results/bench_paired.json``.

Run: ``python benchmarks/bench_paired.py --other ../baseline-checkout [--rounds 40] [--repeat 1]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_sweep import write_result  # noqa: E402

GRID = dict(chips="H20,H100,H200,B200,MI300X", models="8B,70B", tp="1,2,4,8", batch="1:500",
            input_len="128,512,1k,2k,4k,8k,16k,32k,64k,100k", output_len="16,64,128,256,512,1k,2k,4k,8k,16k")
SERVING_GRID = dict(GRID, batch="1:50")

#: name -> code run in a fresh process; it defines ``work()``. Only public entry points, which both
#: checkouts have (the serving planner moved between modules, hence the fallback import).
WORKLOADS = {
    "sweep decode 2e6": f"import roofline\ndef work():\n    roofline.sweep(**{GRID!r}, decode_only=True, threads=1)\n",
    "sweep full 2e6": f"import roofline\ndef work():\n    roofline.sweep(**{GRID!r}, threads=1)\n",
    "sweep serving 2e5": (f"import roofline\ndef work():\n"
                          f"    roofline.sweep(**{SERVING_GRID!r}, engine='vllm', threads=1)\n"),
    "plan training": (
        "from roofline.api import plan\n"
        "try:\n    from roofline.workload import TrainingWorkload\n"
        "except ImportError:\n    from roofline.training import TrainingWorkload\n"
        "def work():\n"
        "    plan('H100', '405B', TrainingWorkload(num_chips=16384), use_numba=True)\n"
        "    plan('H100', '8B', TrainingWorkload(num_chips=4096), use_numba=True)\n"),
    "plan serving": (
        "try:\n    from roofline.serving.planner import plan_serving\n"
        "except ImportError:\n    from roofline.serving_planner import plan_serving\n"
        "from roofline import load_chip, load_model\n"
        "chip, model = load_chip('H100'), load_model('70B')\n"
        "def work():\n    plan_serving(chip, model, num_chips=64, max_tpot_s=0.05, use_numba=True)\n"),
}

#: A worker process: defines every workload, then times the one named on each line of its input.
WORKER = ("import json, statistics, sys, time\n{defs}\n"
          "for line in sys.stdin:\n    name, repeat = json.loads(line)\n    work = WORK[name]\n    times = []\n"
          "    for _ in range(repeat):\n        t = time.process_time()\n        work()\n"
          "        times.append(time.process_time() - t)\n"
          "    print(json.dumps(statistics.median(times)), flush=True)\n")


def worker(checkout: Path, names: list[str]) -> subprocess.Popen:
    """A long-lived process importing roofline from ``checkout`` that times workloads on request."""
    defs = ["WORK = {}"]
    for i, name in enumerate(names):
        defs.append(WORKLOADS[name].replace("def work():", f"def work_{i}():"))
        defs.append(f"WORK[{name!r}] = work_{i}")
    env = dict(os.environ, PYTHONPATH=str(checkout))
    return subprocess.Popen([sys.executable, "-c", WORKER.format(defs="\n".join(defs))], env=env, cwd=checkout,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def seconds(proc: subprocess.Popen, name: str, repeat: int) -> float:
    """Median seconds of ``repeat`` calls of workload ``name`` in the worker ``proc``."""
    proc.stdin.write(json.dumps([name, repeat]) + "\n")
    proc.stdin.flush()
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the worker of {name!r} stopped; run its code by hand to see why")
    return json.loads(line)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", required=True, type=Path, help="the checkout to compare with (its top folder)")
    ap.add_argument("--rounds", type=int, default=40, help="A/B pairs per workload")
    ap.add_argument("--repeat", type=int, default=1, help="timed calls per process (median taken)")
    ap.add_argument("--only", default=None, help="comma-separated workload names (default: all)")
    args = ap.parse_args(argv)
    other = args.other.resolve()
    names = args.only.split(",") if args.only else list(WORKLOADS)
    load_before = os.getloadavg()[0]
    rows = []
    a, b = worker(ROOT, names), worker(other, names)
    for name in names:
        seconds(a, name, 1), seconds(b, name, 1)  # compile or load the kernels, warm every cache
        this, that = [], []
        for k in range(args.rounds):  # A B, then B A: neither checkout always runs second
            if k % 2:
                that.append(seconds(b, name, args.repeat))
                this.append(seconds(a, name, args.repeat))
            else:
                this.append(seconds(a, name, args.repeat))
                that.append(seconds(b, name, args.repeat))
        ratios = [x / y for x, y in zip(this, that)]
        q1, _, q3 = statistics.quantiles(ratios, n=4)
        rows.append({"workload": name, "this_s": statistics.median(this), "other_s": statistics.median(that),
                     "ratio_median": statistics.median(ratios), "ratio_q1": q1, "ratio_q3": q3,
                     "ratio_min": min(ratios), "ratio_max": max(ratios)})
        r = rows[-1]
        print(f"{name:<20} this {r['this_s']:8.4f} s  other {r['other_s']:8.4f} s  this/other median "
              f"{r['ratio_median']:.3f} (quartiles {q1:.3f}-{q3:.3f}, range {r['ratio_min']:.3f}-{r['ratio_max']:.3f})",
              flush=True)
    for proc in (a, b):
        proc.stdin.close()
        proc.wait()
    load_after = os.getloadavg()[0]
    print(f"load average {load_before:.2f} before, {load_after:.2f} after; {args.rounds} A/B pairs in two "
          f"long-lived processes, median of {args.repeat} calls each")
    write_result("bench_paired", {"other": str(other), "rounds": args.rounds, "repeat": args.repeat,
                                  "load_before": load_before, "load_after": load_after, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
