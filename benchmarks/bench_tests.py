"""The test suite's time, cold (an empty numba cache: every kernel the tests use compiles) and warm.

Runs the README's test command's ``pytest`` twice in this checkout, in fresh processes sharing one new
temporary cache folder (``NUMBA_CACHE_DIR``): the first run compiles, the second loads; and its
``pip install '.[test]'`` into a new virtual environment (pip's download cache as this machine has it; a
machine that never downloaded the packages also waits for the network). Prints each with the machine's load
and writes ``benchmarks/results/bench_tests.json``. Target (issue 19, 2-core machine): the install plus the
cold run within 4 minutes. Reported, not asserted. Takes as long as the three.

Run: ``python benchmarks/bench_tests.py`` (``--install-only``: time the install alone and keep the suite's
figures of the last full run).
"""

from __future__ import annotations

import json
import os
import re
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
    """One ``pytest`` of the whole suite (the README's command, its options from pyproject.toml) with ``cache`` as
    numba's cache; its seconds and its pass/fail line."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    load = os.getloadavg()[0]
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = [line for line in r.stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)][-1:]
    return {"seconds": seconds, "exit_code": r.returncode, "summary": tail[0] if tail else "",
            "load_average_1min_before": load}


def install() -> dict:
    """``pip install '.[test]'`` of this checkout into a new virtual environment: seconds and exit code."""
    folder = tempfile.mkdtemp(prefix="roofline-bench-install-")
    load = os.getloadavg()[0]
    start = time.perf_counter()
    try:
        subprocess.run([sys.executable, "-m", "venv", folder], check=True)
        py = str(Path(folder) / "bin" / "python")
        r = subprocess.run([py, "-m", "pip", "install", "-q", f"{ROOT}[test]"], capture_output=True, text=True)
    finally:
        seconds = time.perf_counter() - start
        shutil.rmtree(folder, ignore_errors=True)
    return {"seconds": seconds, "exit_code": r.returncode, "load_average_1min_before": load,
            "what": "python -m venv + pip install '.[test]' (pip's download cache as on this machine)"}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--install-only"]:
        old = json.loads((ROOT / "benchmarks" / "results" / "bench_tests.json").read_text())
        cold, warm = old["cold"], old["warm"]
    else:
        cache = tempfile.mkdtemp(prefix="roofline-bench-tests-")
        try:
            cold = run_suite(cache)
            warm = run_suite(cache)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    setup = install()
    info = machine()
    for name, r in (("cold (empty cache)", cold), ("warm", warm)):
        print(f"pytest, {name:<20} {r['seconds']:>7.1f} s  exit {r['exit_code']}  load before "
              f"{r['load_average_1min_before']:.2f}  {r['summary']}")
    print(f"install into a new venv     {setup['seconds']:>7.1f} s  exit {setup['exit_code']}  load before "
          f"{setup['load_average_1min_before']:.2f}")
    total = setup["seconds"] + cold["seconds"]
    print(f"install + cold pytest        {total:>7.1f} s  (target 240 s)")
    write_result("bench_tests", {"machine": info, "cold": cold, "warm": warm, "install": setup,
                                 "install_plus_cold_s": total,
                                 "target": "pip install '.[test]' && pytest from a clean clone, empty cache, <= 240 s"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
