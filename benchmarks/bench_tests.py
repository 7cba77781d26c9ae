"""The test suite's time, cold (an empty numba cache: every kernel the tests use compiles) and warm.

Runs the README's test command's ``pytest`` twice in this checkout, in fresh processes sharing one new
temporary cache folder (``NUMBA_CACHE_DIR``): the first run compiles, the second loads. Prints both with the
machine's load and writes ``benchmarks/results/bench_tests.json``. Target (issue 19, 2-core machine): the
cold run plus the install within 4 minutes. Reported, not asserted. Takes as long as the two runs.

Run: ``python benchmarks/bench_tests.py``.
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

from benchmarks.bench_sweep import machine, write_result  # noqa: E402


def run_suite(cache: str) -> dict:
    """One ``pytest -q`` of the whole suite with ``cache`` as numba's cache; its seconds and last line."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = [line for line in r.stdout.splitlines() if line.strip()][-1:]
    return {"seconds": seconds, "exit_code": r.returncode, "summary": tail[0] if tail else "",
            "load_average_1min_before": load}


def main() -> int:
    cache = tempfile.mkdtemp(prefix="roofline-bench-tests-")
    try:
        cold = run_suite(cache)
        warm = run_suite(cache)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    info = machine()
    for name, r in (("cold (empty cache)", cold), ("warm", warm)):
        print(f"pytest, {name:<20} {r['seconds']:>7.1f} s  exit {r['exit_code']}  load before "
              f"{r['load_average_1min_before']:.2f}  {r['summary']}")
    write_result("bench_tests", {"machine": info, "cold": cold, "warm": warm,
                                 "target": "pip install '.[test]' && pytest from a clean clone, empty cache, <= 240 s"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
