"""Physical invariants of the serving estimate, over random chips, models and workloads."""

import attrs
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from roofline.kernels import inference as K
from roofline.kernels import layout as L
from roofline.loaders.efficiency import efficiency_for
from roofline.pack import pack_hardware as hardware_vector
from roofline.pack import pack_model, pack_workload
from roofline.serving.static import phase_times
from roofline.workload import decode_context
from strategies import chips, models, workloads

REL = 1e-12


def _ok(chip, model, wl):
    return chip.has(wl.compute_dtype) and wl.pp <= model.num_layers


@given(chips(), models(), workloads(), st.floats(1.0, 8.0), st.sampled_from(
    ["hbm_bytes_per_s", "scale_up_bytes_per_s", "scale_out_bytes_per_s", "flops"]))
def test_more_bandwidth_or_flops_is_never_slower(chip, model, wl, factor, what):
    assume(_ok(chip, model, wl))
    if what == "flops":
        faster = attrs.evolve(chip, peak_flops_per_s=tuple((d, v * factor) for d, v in chip.peak_flops_per_s))
    else:
        faster = attrs.evolve(chip, **{what: getattr(chip, what) * factor})
    slow, fast = phase_times(chip, model, wl), phase_times(faster, model, wl)
    for key in slow:
        assert fast[key] <= slow[key] * (1 + REL)


@given(chips(), models(), workloads(tp=None), st.sampled_from([1, 2, 4, 8]))
def test_expected_never_beats_ideal(chip, model, wl, tp):
    assume(_ok(chip, model, wl) and model.num_heads % tp == 0)
    t = phase_times(chip, model, attrs.evolve(wl, tp=tp))
    assert t["ttft_s"] >= t["ideal_ttft_s"] > 0
    assert t["tpot_s"] >= t["ideal_tpot_s"] > 0


@given(chips(), models(), workloads(), st.integers(1, 100_000), st.integers(1, 64))
def test_decode_grows_with_context_and_batch(chip, model, wl, more_ctx, more_batch):
    assume(_ok(chip, model, wl))
    eff = efficiency_for(chip, wl.compute_dtype)
    hw = hardware_vector(chip, wl.compute_dtype, eff)
    m = pack_model(model)
    ops, priced = np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2))
    c0 = decode_context(wl)
    w = pack_workload(wl, eff.max_tokens_per_pass)
    base = K.decode_step_time(m, w, hw, c0, ops, priced)
    assert K.decode_step_time(m, w, hw, c0 + more_ctx, ops, priced) >= base * (1 - REL)
    wb = pack_workload(wl, eff.max_tokens_per_pass, batch=wl.batch + more_batch)
    assert K.decode_step_time(m, wb, hw, c0, ops, priced) >= base * (1 - REL)


@given(chips(), models(), workloads(), st.sampled_from([2, 4, 8, 16]))
def test_tp_k_never_speeds_up_more_than_k(chip, model, wl, k):
    assume(_ok(chip, model, wl) and model.num_heads % k == 0)
    assume(model.num_kv_heads % k == 0 or k % model.num_kv_heads == 0)
    one = phase_times(chip, model, attrs.evolve(wl, tp=1))
    many = phase_times(chip, model, attrs.evolve(wl, tp=k))
    for key in one:
        assert one[key] / many[key] <= k * (1 + 1e-9)


def test_sliding_window_caps_attention_work():
    from roofline.kernels.forward import attended_keys

    assert attended_keys(4.0, 0.0, 0.0) == 10.0  # 1 + 2 + 3 + 4: causal, half the square and the diagonal
    assert attended_keys(4.0, 0.0, 2.0) == 1 + 2 + 2 + 2
    assert attended_keys(1.0, 10_000.0, 4096.0) == 4096.0


@given(chips(), models(), workloads())
def test_compiled_kernels_agree_with_plain_python(chip, model, wl):
    pytest.importorskip("numba", reason="numba not installed")
    from roofline._jit import compiled

    assume(_ok(chip, model, wl))
    eff = efficiency_for(chip, wl.compute_dtype)
    hw = hardware_vector(chip, wl.compute_dtype, eff)
    m = pack_model(model)
    w = pack_workload(wl, eff.max_tokens_per_pass)
    ops, priced = np.zeros((L.N_OPS, L.OP_COLS)), np.zeros((L.N_OPS, 2))
    c0 = decode_context(wl)
    for fn, args in ((K.prefill_time, (m, w, hw, ops, priced)), (K.decode_step_time, (m, w, hw, c0, ops, priced)),
                     (K.memory_per_chip, (m, w)), (K.max_batch, (m, w, hw))):
        plain = fn(*args)
        fast = compiled(fn)(*args)
        assert fast == pytest.approx(plain, rel=1e-12, abs=0)
