"""Determinism: the same input gives the same bytes.

* Every ``--format json`` command prints byte-identical JSON when run twice, in this process and in
  fresh interpreters with different hash seeds (so no set or dict order leaks into the output).
* The plain-Python and the numba-compiled training sweep agree, and so do the commands built on each
  (``roofline estimate`` plans in plain Python, ``roofline plan`` compiled).

**The rounding rule is exact equality.** The compiled kernels run with ``fastmath=False`` (see
``roofline/_jit.py``), so numba performs the same IEEE-754 double operations in the same order as the
plain-Python kernels, and the result vectors are compared bit for bit (``np.array_equal``), the JSON
byte for byte. No rounding is applied anywhere. A failure here means the two paths compute differently
(fastmath turned on, a reordered sum, a libm that differs in the last bit): investigate it rather than
loosen the test.

The only fields left out are the ones that measure the run itself, not the answer: ``plan.search_s``
(wall-clock seconds of the search) and ``plan.compiled`` (which path ran).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from roofline.cli import main
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.pack import pack_layout
from roofline.training.estimate import TrainingContext
from roofline.training.planner import candidate_layouts, plan_training, sweep_layouts
from roofline.workload import TrainingWorkload

#: Fields that measure the run, not the answer (see the module docstring).
RUN_FIELDS = ("search_s", "compiled")

COMMANDS = [
    ["estimate", "--chip", "H20", "--model", "70B", "--format", "json"],
    ["estimate", "--chip", "H100", "--model", "Mixtral-8x7B", "--mode", "inference", "--batch", "16",
     "--concurrency", "max", "--engine", "vllm", "--format", "json"],
    ["estimate", "--chip", "B200", "--model", "DeepSeek-V3", "--mode", "training", "--num-chips", "2048",
     "--days", "30", "--format", "json"],
    ["plan", "--chip", "H100", "--model", "70B", "--top", "5", "--format", "json"],
    ["compare", "--chips", "H20,MI300X", "--reference", "H20", "--model", "8B", "--num-chips", "256", "--format",
     "json"],
    ["chips", "--format", "json"],
    ["models", "--format", "json"],
]


def without_run_fields(obj):
    if isinstance(obj, dict):
        return {k: without_run_fields(v) for k, v in obj.items() if k not in RUN_FIELDS}
    if isinstance(obj, list):
        return [without_run_fields(v) for v in obj]
    return obj


def canonical(text: str) -> str:
    """The JSON text with the run fields removed, keys in their printed order (order is part of the test)."""
    return json.dumps(without_run_fields(json.loads(text)), indent=2, allow_nan=False)


def cli_json(args) -> str:
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    return r.stdout  # a first run on an empty numba cache says on stderr that it compiles


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:4]))
def test_json_is_byte_identical_across_runs(args):
    # validate (20 s a run) is not repeated here: its golden JSON (tests/test_cli_golden.py) is this process's
    # output compared byte for byte with an earlier process's
    first = cli_json(args)
    second = cli_json(args)
    if args[0] != "plan":
        assert first == second
    assert canonical(first) == canonical(second)


def test_json_is_byte_identical_across_processes_and_hash_seeds():
    """Two fresh interpreters with different PYTHONHASHSEED print what this process prints."""
    for args in (COMMANDS[0],):
        here = canonical(cli_json(args))
        for seed in ("0", "12345"):
            env = dict(os.environ, PYTHONHASHSEED=seed)
            out = subprocess.run([sys.executable, "-m", "roofline", *args], capture_output=True, text=True,
                                 env=env, check=True).stdout
            assert canonical(out) == here, (args, seed)


SETUPS = [("H100", "8B", 1024, 4096), ("H20", "70B", 1024, 32768), ("B200", "DeepSeek-V3", 2048, 4096),
          ("MI300X", "Mixtral-8x7B", 256, 8192), ("A100", "GPT-3-175B", 1024, 2048), ("TPU-v5p", "405B", 4096, 4096)]


@pytest.mark.parametrize("kernels", ["fused", "eager"])
@pytest.mark.parametrize("chip, model, num_chips, seq_len", SETUPS)
def test_plain_and_compiled_sweeps_agree_bit_for_bit(chip, model, num_chips, seq_len, kernels):
    pytest.importorskip("numba")
    c, m = load_chip(chip), load_model(model)
    wl = TrainingWorkload(num_chips=num_chips, seq_len=seq_len, kernels=kernels)
    cands = candidate_layouts(c, m, wl)
    spread = cands[:: max(1, len(cands) // 300)]  # ~300 spread over all
    layouts = np.stack([pack_layout(x, m.num_layers) for x in spread])
    ctx = TrainingContext.build(c, m, wl.dtype)
    plain, ran_plain = sweep_layouts(ctx, layouts, use_numba=False)
    fast, ran_fast = sweep_layouts(ctx, layouts, use_numba=True)
    assert not ran_plain and ran_fast and len(layouts) > 100
    assert np.array_equal(plain, fast, equal_nan=True)


@pytest.mark.parametrize("chip, model, num_chips, seq_len", SETUPS[:2])
def test_plain_and_compiled_plans_give_the_same_json(chip, model, num_chips, seq_len):
    pytest.importorskip("numba")
    c, m = load_chip(chip), load_model(model)
    wl = TrainingWorkload(num_chips=num_chips, seq_len=seq_len)
    plain = plan_training(c, m, wl, top=10, use_numba=False)
    fast = plan_training(c, m, wl, top=10, use_numba=True)
    for a, b in zip((plain.best, *plain.top), (fast.best, *fast.top), strict=True):
        assert json.dumps(a.to_dict(), allow_nan=False) == json.dumps(b.to_dict(), allow_nan=False)
    assert (plain.candidates, plain.fitting) == (fast.candidates, fast.fitting)


def test_estimate_and_plan_commands_agree_on_the_best_layout():
    """`estimate` plans in plain Python, `plan` compiled: the training JSON is the same bytes."""
    args = ["--chip", "H20", "--model", "70B", "--num-chips", "512", "--format", "json"]
    est = json.loads(cli_json(["estimate", "--mode", "training", *args]))["training"]
    plan = json.loads(cli_json(["plan", *args]))["training"]
    assert json.dumps(est) == json.dumps(plan)
