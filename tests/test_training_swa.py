"""Training a model whose attention layers mix sliding-window and full attention (gpt-oss alternates 128-token
windows with full layers, Gemma 3 has five windowed to one full, Llama 4 three chunked to one full): every
layer is priced at the mean key visits of the model's attention layers (kernels.training.layer_keys).

Checked against the closed form, and between the model's variants: all layers full, the published mix, all
layers windowed. A kernel that priced every layer as full, or every layer as windowed (what a uniform window
would give), fails the variant test."""

from __future__ import annotations

import attrs
import numpy as np
import pytest

from roofline import load_chip, load_model
from roofline.kernels import training as KT
from roofline.pack import pack_model
from roofline.training.estimate import estimate_training
from roofline.workload import TrainingWorkload

H100 = load_chip("H100")
GPT_OSS = load_model("gpt-oss-120b")  # 36 layers: 18 full, 18 with a 128-token window
LAYOUT = TrainingWorkload(num_chips=64, tp=1, pp=1, dp=64, ep=8, micro_batch=1, global_batch=256, seq_len=8192,
                          recompute="none", zero=2, virtual_pp=1)


def _causal(s):
    return s * (s + 1) / 2


def _windowed(s, w):
    return _causal(w) + (s - w) * w


def test_mean_key_visits_are_the_closed_form():
    s, w = 8192.0, 128.0
    want = (18 * _causal(s) + 18 * _windowed(s, w)) / 36
    assert KT.layer_keys(pack_model(GPT_OSS), s) == pytest.approx(want, rel=1e-12)
    every = attrs.evolve(GPT_OSS, sliding_layers=0)  # 0 with a window: every attention layer windowed
    assert KT.layer_keys(pack_model(every), s) == pytest.approx(_windowed(s, w), rel=1e-12)
    full = attrs.evolve(GPT_OSS, sliding_window=0, sliding_layers=0)
    assert KT.layer_keys(pack_model(full), s) == pytest.approx(_causal(s), rel=1e-12)


def test_model_flops_count_the_mix():
    """MFU's model FLOPs: 6 x active linear parameters per token plus 3 x 4 x head_dim x heads per key visit
    (the mean over the layers), plus the LM head: the mix minus the all-full variant is exactly the
    attention the windowed layers skip."""
    full = attrs.evolve(GPT_OSS, sliding_window=0, sliding_layers=0)
    mixed_f = estimate_training(H100, GPT_OSS, LAYOUT).model_flops_per_chip
    full_f = estimate_training(H100, full, LAYOUT).model_flops_per_chip
    seqs_per_chip = LAYOUT.global_batch / LAYOUT.num_chips
    skipped = 18 * (_causal(8192.0) - _windowed(8192.0, 128.0))  # key visits the windowed layers skip, per sequence
    per_visit = 3 * 4 * GPT_OSS.head_dim * GPT_OSS.num_heads
    assert full_f - mixed_f == pytest.approx(seqs_per_chip * skipped * per_visit, rel=1e-9)


def test_the_mix_trains_between_all_full_and_all_windowed():
    variants = {"full": attrs.evolve(GPT_OSS, sliding_window=0, sliding_layers=0), "mix": GPT_OSS,
                "windowed": attrs.evolve(GPT_OSS, sliding_layers=0)}
    est = {k: estimate_training(H100, m, LAYOUT) for k, m in variants.items()}
    steps = {k: e.step_time_s for k, e in est.items()}
    assert steps["full"] > steps["mix"] > steps["windowed"]
    # attention is priced linearly in the key visits: the mix's compute lies halfway (18 of 36 layers each)
    compute = {k: dict(e.breakdown)["compute"] for k, e in est.items()}
    assert compute["mix"] == pytest.approx((compute["full"] + compute["windowed"]) / 2, rel=1e-6)
    assert np.isfinite(steps["mix"])


def test_the_planner_trains_gpt_oss_and_gemma_like_mixes():
    import roofline

    e = roofline.estimate("H100", "gpt-oss-120b", mode="training", training=TrainingWorkload(num_chips=64),
                          reference=None)
    assert e.training is not None and e.training.fits and 0 < e.training.mfu < 1
