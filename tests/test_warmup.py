"""Compiling says so first, and ``roofline warmup`` compiles every entry kernel ahead (issue 19)."""

import warnings

import pytest
from click.testing import CliRunner

from roofline import _jit
from roofline.cli import main
from roofline.errors import CompilingNotice
from roofline.kernels.training import price_layouts
from roofline.sweep import run as sweep_run
from roofline.training import planner as training_planner
from roofline.warmup import ENTRIES

pytest.importorskip("numba")


def test_choose_warns_before_a_compile_and_not_after(monkeypatch):
    monkeypatch.setattr(_jit, "is_cached", lambda fn: False)
    with pytest.warns(CompilingNotice, match=r"compiling roofline kernels for first use \(price_layouts\), \d+-\d+ "
                                             r"s; later runs load them from the cache"):
        _jit.choose(price_layouts, True)
    monkeypatch.setattr(_jit, "is_cached", lambda fn: True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CompilingNotice)
        _jit.choose(price_layouts, True)
    assert _jit.choose(price_layouts, False) == (price_layouts, False)


def test_a_sweep_that_must_compile_prints_the_line_first(monkeypatch):
    monkeypatch.setattr(_jit, "is_cached", lambda fn: False)
    monkeypatch.setattr(sweep_run, "PLAIN_MAX_CONFIGS", {"sweep_static": 1, "sweep_serving": 1})
    r = CliRunner().invoke(main, ["sweep", "--chips", "H100", "--models", "8B", "--batch", "1,2"])
    assert r.exit_code == 0, r.output
    assert r.stderr.splitlines()[0].startswith("roofline: compiling roofline kernels for first use (sweep_static)")


@pytest.mark.parametrize("args, kernel", [
    (["plan", "--chip", "H100", "--model", "Mixtral-8x7B", "--mode", "inference", "--num-chips", "8"], "sweep_serving"),
    (["plan", "--chip", "H100", "--model", "8B", "--num-chips", "8"], "price_layouts"),
])
def test_every_command_that_compiles_says_so_in_one_line_first(monkeypatch, args, kernel):
    """The group runs every command within the notice handler: the plans too (the serving search compiles
    the in-flight sweep kernel; the training search the layout kernel), as one line, not a Python warning."""
    monkeypatch.setattr(_jit, "is_cached", lambda fn: False)
    monkeypatch.setattr(sweep_run, "PLAIN_MAX_CONFIGS", {"sweep_static": 1, "sweep_serving": 1})
    monkeypatch.setattr(training_planner, "PLAIN_MAX_LAYOUTS", 1)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    lines = r.stderr.splitlines()
    assert lines and lines[0].startswith(f"roofline: compiling roofline kernels for first use ({kernel})"), r.stderr
    assert "CompilingNotice" not in r.stderr and ".py:" not in r.stderr


def test_a_small_sweep_compiles_nothing_and_says_nothing(monkeypatch):
    monkeypatch.setattr(_jit, "is_cached", lambda fn: False)
    r = CliRunner().invoke(main, ["sweep", "--chips", "H100", "--models", "8B", "--batch", "1,2"])
    assert r.exit_code == 0, r.output
    assert "compiling" not in r.stderr


def test_warmup_compiles_or_loads_every_entry_kernel():
    r = CliRunner().invoke(main, ["warmup"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == [k.__name__ for k, _ in ENTRIES]
    assert all(("compiled" in line) or ("loaded from the cache" in line) for line in lines)
    for kernel, _ in ENTRIES:
        assert _jit.is_cached(kernel), kernel.__name__
