"""Latent MoE (Nemotron 3 Ultra): the routed experts work in ``moe_latent_size``; each token is projected
into it before dispatch and back after. Counts derived by hand from the config's fields."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import numpy as np
import pytest
from click.testing import CliRunner

from roofline.cli import main
from roofline.errors import RooflineError
from roofline.kernels import forward as F
from roofline.kernels import layout as L
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.pack import pack_model
from roofline.training.estimate import estimate_training
from roofline.workload import TrainingWorkload

FOLDER = Path(__file__).parent / "data" / "hf-configs" / "nvidia--NVIDIA-Nemotron-3-Ultra-550B-A55B-BF16"
ULTRA = load_model(str(FOLDER))
CFG = json.loads((FOLDER / "config.json").read_text())


def test_the_config_is_read_as_a_latent_moe():
    assert ULTRA.moe_latent_size == CFG["moe_latent_size"] == 2048
    h, lat, f, e = CFG["hidden_size"], 2048, CFG["moe_intermediate_size"], CFG["n_routed_experts"]
    hidden_width = attrs.evolve(ULTRA, moe_latent_size=0)
    moe_layers = CFG["layers_block_type"].count("moe")
    # every routed expert shrinks from h x f x 2 to lat x f x 2 (ReLU^2: up and down), and each MoE layer
    # gains the two h x lat projections
    saved = moe_layers * (e * 2 * f * (h - lat) - 2 * h * lat)
    assert hidden_width.param_count() - ULTRA.param_count() == saved


def _moe_rows(model, tokens=64.0, tp=1.0, ep=8.0):
    ops, w = np.zeros((L.N_OPS, L.OP_COLS)), np.zeros(L.W_SIZE)
    w[L.W_TP], w[L.W_EP], w[L.W_WEIGHT_BYTES], w[L.W_ACT_BYTES], w[L.W_BATCH] = tp, ep, 1.0, 2.0, tokens
    F.fill_moe(pack_model(model), w, 8.0, tokens, 1.0, True, ops)
    return ops


def test_the_experts_read_and_compute_in_the_latent_and_dispatch_it():
    lat, h = 2048, CFG["hidden_size"]
    latent, wide = _moe_rows(ULTRA), _moe_rows(attrs.evolve(ULTRA, moe_latent_size=0))
    for row in (L.OP_EXPERT_UP, L.OP_EXPERT_DOWN):
        assert latent[row, L.OP_FLOPS] == pytest.approx(wide[row, L.OP_FLOPS] * lat / h, rel=1e-12)
    assert latent[L.OP_EP_DISPATCH, L.OP_COUNT] == 1.0 and latent[L.OP_EP_DISPATCH, L.OP_LINK] > 0
    for row in (L.OP_EP_DISPATCH, L.OP_EP_COMBINE):  # the all-to-all over the 8 EP ranks moves latents
        assert latent[row, L.OP_LINK] == pytest.approx(wide[row, L.OP_LINK] * lat / h, rel=1e-12)
    # the shared-expert rows carry the projections: 2 x tokens x h x lat FLOPs more each
    for row in (L.OP_SHARED_UP, L.OP_SHARED_DOWN):
        assert latent[row, L.OP_FLOPS] - wide[row, L.OP_FLOPS] == pytest.approx(2 * 64 * h * lat, rel=1e-12)


def test_a_latent_moe_serves_and_trains():
    r = CliRunner().invoke(main, ["estimate", "--chip", "B200", "--model", str(FOLDER), "--weight-dtype", "fp8",
                                  "--tp", "8", "--pp", "1", "--mode", "inference", "--format", "json"])
    assert r.exit_code == 0, r.output
    inf = json.loads(r.stdout)["inference"]
    assert inf["fits"] and inf["tpot_s"] > 0
    wl = TrainingWorkload(num_chips=512, tp=8, pp=4, dp=16, ep=8, micro_batch=1, global_batch=512, seq_len=4096,
                          recompute="full", zero=1, virtual_pp=1)
    est = estimate_training(load_chip("B200"), ULTRA, wl)
    assert 0 < est.mfu <= est.hfu < 1


def test_a_latent_wider_than_the_hidden_state_is_refused():
    with pytest.raises(RooflineError, match="moe_latent_size=8192 must be below hidden_size=8192"):
        attrs.evolve(ULTRA, moe_latent_size=8192)
    with pytest.raises(RooflineError, match="moe_latent_size=64 needs routed experts"):
        Model(name="x", num_layers=2, hidden_size=128, num_heads=2, num_kv_heads=2, head_dim=64,
              intermediate_size=256, vocab_size=100, moe_latent_size=64)
