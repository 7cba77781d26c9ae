"""The plain-Python planner's shortcuts (issue 19) change nothing but the time: the candidate rows are packed
exactly as each workload would be, and the pruned search for the fastest layout finds the full search's."""

import numpy as np
import pytest

from roofline import load_chip, load_model
from roofline.pack import pack_layout, pack_layout_choices
from roofline.training.planner import candidate_fields, layout_of, plan_training
from roofline.workload import TrainingWorkload

CASES = [
    ("H20", "70B", TrainingWorkload(num_chips=64)),
    ("H100", "405B", TrainingWorkload(num_chips=16384)),  # uneven stage counts
    ("H100", "405B", TrainingWorkload(num_chips=1024, seq_len=8192, recompute="full")),
    ("A100-40GB", "8B", TrainingWorkload(num_chips=8, seq_len=2048)),  # most layouts need recompute to fit
    ("B200", "Mixtral-8x7B", TrainingWorkload(num_chips=64)),  # expert parallelism
    ("MI300X", "8B", TrainingWorkload(num_chips=8, seq_len=32768)),  # context parallelism
    ("H100", "70B", TrainingWorkload(num_chips=128, tp=8, zero=1, dtype="fp8")),
]


@pytest.mark.parametrize("chip, model, wl", CASES)
def test_candidate_rows_are_packed_as_each_workload(chip, model, wl):
    c, m = load_chip(chip), load_model(model)
    fields = candidate_fields(c, m, wl)
    assert fields
    slow = np.stack([pack_layout(layout_of(wl, f), m.num_layers) for f in fields])
    assert np.array_equal(pack_layout_choices(wl, m.num_layers, fields, layout_of), slow)


@pytest.mark.parametrize("chip, model, wl", CASES)
def test_the_pruned_search_finds_the_full_searchs_fastest_layout(chip, model, wl):
    c, m = load_chip(chip), load_model(model)
    full = plan_training(c, m, wl, top=1, use_numba=False).best
    pruned = plan_training(c, m, wl, top=1, use_numba=False, fastest_only=True).best
    assert pruned.workload == full.workload
    assert pruned.to_dict() == full.to_dict()
