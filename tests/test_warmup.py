"""Compiling says so first, and ``roofline warmup`` compiles every entry kernel ahead (issue 19)."""

import warnings

import pytest
from click.testing import CliRunner

from roofline import _jit
from roofline.cli import main
from roofline.errors import CompilingNotice
from roofline.kernels.training import price_layouts
from roofline.sweep import run as sweep_run
from roofline.warmup import ENTRIES

pytest.importorskip("numba")


def test_choose_warns_before_a_compile_and_not_after(monkeypatch):
    monkeypatch.setattr(_jit, "is_cached", lambda fn: False)
    with pytest.warns(CompilingNotice, match=r"compiling roofline kernels for first use \(price_layouts\), about "
                                             r"\d+ s; later runs load them from the cache"):
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
