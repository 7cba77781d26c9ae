"""Cold compile: what each entry kernel costs to compile with an empty numba cache, and the first sweep.

* ``roofline warmup`` in a fresh process with an empty cache folder: each kernel's compile time (the
  figures ``roofline._jit.COMPILE_SECONDS`` quotes in the line a command prints before compiling);
* the README's first ``roofline sweep`` in a fresh process with an empty cache, whole process, and whether
  the compile line came first on stderr (a sweep that small runs as plain Python and compiles nothing:
  ``roofline.sweep.run.PLAIN_MAX_CONFIGS``);
* the same sweep over every batch 1-1024 (147,456 configurations), which compiles the static sweep kernel:
  whole process with an empty cache, and its first stderr line.

Each run uses its own temporary cache folder (``NUMBA_CACHE_DIR``), so the user's cache is untouched. Prints
a table with the machine's load and writes ``benchmarks/results/bench_compile.json``. Targets (issue 19,
2-core machine): the first sweep within 20 s. Reported, not asserted.

Run: ``python benchmarks/bench_compile.py``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_cli import command_prefix  # noqa: E402
from benchmarks.bench_sweep import machine, write_result  # noqa: E402

#: The README's first sweep (section "Sweeps").
FIRST_SWEEP = ["sweep", "--chips", "H20,H100,H200", "--models", "8B,70B", "--batch", "1:1024:x2", "--input-len",
               "1k,8k,32k", "--output-len", "256", "--tp", "1,2,4,8", "--weight-dtype", "bf16,fp8"]


#: The first sweep over every batch size: large enough to compile.
LARGE_SWEEP = [("1:1024" if a == "1:1024:x2" else a) for a in FIRST_SWEEP]


def cold(argv: list[str]) -> tuple[float, str, str]:
    """(seconds, stdout, stderr) of ``argv`` in a fresh process with an empty numba cache."""
    cache = tempfile.mkdtemp(prefix="roofline-bench-numba-")
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    try:
        start = time.perf_counter()
        r = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
        return time.perf_counter() - start, r.stdout, r.stderr
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def main() -> int:
    prefix = command_prefix()
    load_before = os.getloadavg()[0]
    warm_s, out, _ = cold(prefix + ["warmup"])
    kernels = {}
    for line in out.splitlines():  # "<kernel> compiled in 12.3 s"
        words = line.split()
        kernels[words[0]] = float(words[-2])
    sweep_s, _, err = cold(prefix + FIRST_SWEEP)
    first_line = err.splitlines()[0] if err.strip() else ""
    large_s, _, err = cold(prefix + LARGE_SWEEP)
    large_line = err.splitlines()[0] if err.strip() else ""
    info = machine()
    info["load_average_1min_before"] = load_before
    print(f"machine: {info['cpu_model']}, {info['cpus_available']} cores available; load average "
          f"{load_before:.2f} before, {info['load_average_1min']:.2f} after")
    print(f"{'cold compile (empty cache)':<34} {'s':>7}")
    for name, s in kernels.items():
        print(f"  {name:<32} {s:>7.1f}")
    print(f"  {'roofline warmup, whole process':<32} {warm_s:>7.1f}")
    print(f"  {'first sweep, whole process':<32} {sweep_s:>7.1f}  (target < 20 s)")
    print(f"  {'same, every batch 1-1024':<32} {large_s:>7.1f}  (compiles the static sweep kernel)")
    print(f"first stderr line of the sweep: {first_line!r}; of the large one: {large_line!r}")
    write_result("bench_compile", {"machine": info, "kernels_s": kernels, "warmup_s": warm_s,
                                   "first_sweep": {"command": "roofline " + " ".join(FIRST_SWEEP),
                                                   "seconds": sweep_s, "first_stderr_line": first_line,
                                                   "target_s": 20.0, "met": sweep_s < 20.0},
                                   "large_sweep": {"command": "roofline " + " ".join(LARGE_SWEEP),
                                                   "seconds": large_s, "first_stderr_line": large_line}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
