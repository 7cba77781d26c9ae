"""``roofline warmup``: compile every numba kernel a command can need, ahead (for images and CI).

Each entry kernel is compiled by running it once, compiled, on a tiny case of the command that uses it;
numba's disk cache then serves every later process. Kernels already in the cache load in well under a
second. Plain-Python paths (a single ``estimate``) never need this.
"""

from __future__ import annotations

import time

from roofline._jit import is_cached
from roofline.kernels.disagg import simulate_disagg
from roofline.kernels.simulate import simulate
from roofline.kernels.sweep import sweep_serving, sweep_static
from roofline.kernels.training import price_layouts
from roofline.loaders.chips import load_chip
from roofline.loaders.engines import ENGINES
from roofline.loaders.models import load_model
from roofline.passes import Packed
from roofline.serving.disagg import Pool, deployment, run_deployment
from roofline.serving.simulate import Client, run
from roofline.sweep.run import sweep
from roofline.training.planner import plan_training
from roofline.workload import TrainingWorkload, Workload


def _planner():
    plan_training(load_chip("H100"), load_model("8B"), TrainingWorkload(num_chips=8), top=1, use_numba=True)


def _sweep_static():
    sweep("H100", "8B", batch="1,2", input_len=128, output_len=16, use_numba=True, threads=1)


def _sweep_serving():
    sweep("H100", "8B", batch="1,2", input_len=128, output_len=16, engine="generic", use_numba=True, threads=1)


def _simulate():
    p = Packed(load_chip("H100"), load_model("8B"), Workload(input_len=128, output_len=16, tp=1),
               ENGINES["generic"])
    run(p, Client(concurrency=2, num_requests=4), use_numba=True)


def _simulate_disagg():
    h100 = load_chip("H100")
    dep = deployment(load_model("8B"), Pool(h100, tp=1), Pool(h100, tp=1), input_len=128, output_len=16)
    run_deployment(dep, Client(concurrency=2, num_requests=4), use_numba=True)


#: (kernel, what compiles it), in the order the commands are most used.
ENTRIES = ((price_layouts, _planner), (sweep_static, _sweep_static), (sweep_serving, _sweep_serving),
           (simulate, _simulate), (simulate_disagg, _simulate_disagg))


def warmup() -> list[tuple[str, bool, float]]:
    """Compile (or load) every entry kernel; ``(name, was already cached, seconds)`` each. A kernel that must
    compile warns :class:`~roofline.errors.CompilingNotice` first."""
    out = []
    for kernel, call in ENTRIES:
        cached = is_cached(kernel)
        start = time.perf_counter()
        call()
        out.append((kernel.__name__, cached, time.perf_counter() - start))
    return out
