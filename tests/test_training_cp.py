"""Context parallelism's three exchanges (issue 18, item 4; Megatron-LM's --cp-comm-type): the ring (p2p) under
the attention it feeds, the all-to-all of Q, K, V and the output between sequence and head shards (a2a,
DeepSpeed-Ulysses), and the whole sequence's K/V all-gathered before attention (all_gather).

Mutations these tests catch (checked by hand when they were written): an a2a backward of one all-to-all
instead of two, or an all_gather backward without its reduce-scatter, fails
``test_recompute_adds_one_forward_exchange``; an a2a buffer without the output's (or the queries') share
fails ``test_a2a_and_all_gather_move_what_they_exchange``.
"""

import json

import pytest
from click.testing import CliRunner

from roofline import load_chip, load_model
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.training.estimate import estimate_training
from roofline.workload import TrainingWorkload

H100 = load_chip("H100")
M8B = load_model("8B")  # 32 query heads, 8 KV heads, head width 128


def cp_seconds(kind, *, tp=1, cp=8, seq=131072, recompute="none", model=M8B):
    wl = TrainingWorkload(num_chips=8 * cp * tp, tp=tp, pp=1, dp=8, cp=cp, micro_batch=1, global_batch=8,
                          seq_len=seq, recompute=recompute, zero=3, virtual_pp=1, cp_comm_type=kind)
    return dict(estimate_training(H100, model, wl).breakdown)["cp_comm"]


def test_the_ring_is_the_default_and_costs_nothing_without_context_parallelism():
    assert TrainingWorkload().cp_comm_type == "p2p"
    for kind in ("p2p", "a2a", "all_gather"):
        assert cp_seconds(kind, cp=1) == 0.0


@pytest.mark.parametrize("kind, ratio", [("a2a", 3 / 2), ("all_gather", 4 / 3)])
def test_recompute_adds_one_forward_exchange(kind, ratio):
    """Exposed exchanges per layer: a2a forward 1 + backward 1 all-to-all; all_gather forward 1 gather +
    backward 1 gather and 1 reduce-scatter; full recompute repeats the forward's."""
    assert cp_seconds(kind, recompute="full") / cp_seconds(kind) == pytest.approx(ratio, rel=1e-12)


def test_a2a_and_all_gather_move_what_they_exchange():
    """Per chip and layer, at a long sequence (bandwidth-bound, both inside the NVLink domain): a2a sends
    (cp - 1)/cp of its Q, K, V and output, (2 x 32 + 2 x 8) heads; all_gather receives cp - 1 chunks of K and
    V, 2 x 8 heads. So 2 a2a's against 3 gathers: (2 x 80 / 8) / (3 x 16) = 0.417."""
    assert cp_seconds("a2a") / cp_seconds("all_gather") == pytest.approx(2 * 80 / 8 / (3 * 16), rel=0.02)


def test_the_ring_hides_what_the_all_gather_exposes():
    """The same K/V bytes cross the links, but the ring passes them under the attention."""
    assert cp_seconds("p2p") < cp_seconds("all_gather")


def test_a2a_needs_whole_heads_per_chip():
    with pytest.raises(RooflineError, match=r"cp_comm_type=a2a: cp=8 x tp=2 .* 8 KV heads .* or a cp dividing 4"):
        cp_seconds("a2a", tp=2, cp=8)
    r = CliRunner().invoke(main, ["estimate", "--mode", "training", "--chip", "H100", "--model", "70B",
                                  "--num-chips", "64", "--tp", "8", "--dp", "4", "--cp", "2", "--seq-len", "32768",
                                  "--cp-comm-type", "a2a"])
    assert r.exit_code == 2
    assert r.output.count("\n") == 1 and "use --cp-comm-type p2p" in r.output, r.output


def test_the_planner_keeps_the_exchange_and_its_rule():
    r = CliRunner().invoke(main, ["plan", "--chip", "H100", "--model", "8B", "--num-chips", "64", "--seq-len",
                                  "131072", "--cp-comm-type", "a2a", "--format", "json"])
    assert r.exit_code == 0, r.output
    plans = json.loads(r.output)["plan"]["layouts"]
    assert any(p["cp"] > 1 for p in plans)
    for p in plans:
        assert p["cp_comm_type"] == "a2a"
        assert 8 % (p["tp"] * p["cp"]) == 0 and 32 % (p["tp"] * p["cp"]) == 0, p
    text = CliRunner().invoke(main, ["plan", "--chip", "H100", "--model", "8B", "--num-chips", "64", "--seq-len",
                                     "131072", "--cp-comm-type", "a2a"]).output
    assert "--cp-comm-type a2a" in text.splitlines()[-1]

