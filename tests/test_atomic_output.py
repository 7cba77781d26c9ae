"""Output files (``-o``) are written atomically: a failure midway leaves the old file, or none, and no
temporary file; success replaces the old file whole."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from roofline.cli import main

PLOT = ["plot", "roofline", "--chips", "H20", "--model", "8B", "--num-chips", "64"]
OLD = b"the old picture"


def one_error_line(result) -> str:
    # a sweep that takes over a second (a cold numba cache) also draws its progress bar on stderr
    lines = [ln for ln in result.output.splitlines() if ln.strip() and not ln.startswith("sweep [")]
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert len(lines) == 1 and lines[0].startswith("roofline: error: ") and "Traceback" not in result.output
    return lines[0]


def _half_then(exc):
    """A savefig that writes half an image to the open file, then raises ``exc``."""
    def savefig(self, f, *args, **kwargs):
        f.write(b"\x89PNG half an image")
        f.flush()
        raise exc
    return savefig


@pytest.fixture
def plotting():
    pytest.importorskip("matplotlib")
    from matplotlib.figure import Figure

    return Figure


@pytest.mark.parametrize("old", [True, False], ids=["old file", "no file"])
def test_plot_failing_midway_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, plotting, old):
    out = tmp_path / "x.png"
    if old:
        out.write_bytes(OLD)
    monkeypatch.setattr(plotting, "savefig", _half_then(OSError(28, "No space left on device")))
    line = one_error_line(CliRunner().invoke(main, [*PLOT, "-o", str(out)]))
    assert "No space left on device" in line
    assert os.listdir(tmp_path) == (["x.png"] if old else [])
    if old:
        assert out.read_bytes() == OLD


@pytest.mark.parametrize("exc", [RuntimeError("renderer crashed"), KeyboardInterrupt()], ids=repr)
def test_library_save_cleans_up_on_any_exception(tmp_path, monkeypatch, plotting, exc):
    from roofline.render import plots

    out = tmp_path / "x.svg"
    out.write_bytes(OLD)
    fig = plots._figure(2, 2)
    monkeypatch.setattr(plotting, "savefig", _half_then(exc))
    with pytest.raises(type(exc)):
        plots.save(fig, out)
    assert os.listdir(tmp_path) == ["x.svg"] and out.read_bytes() == OLD


def test_plot_success_replaces_the_old_file_whole(tmp_path, plotting):
    out = tmp_path / "x.svg"
    out.write_bytes(OLD)
    r = CliRunner().invoke(main, [*PLOT, "-o", str(out)])
    assert r.exit_code == 0, r.output
    data = out.read_bytes()
    assert data.startswith(b"<?xml") and data.rstrip().endswith(b"</svg>")
    assert os.listdir(tmp_path) == ["x.svg"]


def test_plot_refused_before_drawing_writes_nothing(tmp_path, plotting):
    out = tmp_path / "x.png"
    out.write_bytes(OLD)
    one_error_line(CliRunner().invoke(main, ["plot", "roofline", "--chips", "H20", "--model", "nope", "-o",
                                             str(out)]))
    assert os.listdir(tmp_path) == ["x.png"] and out.read_bytes() == OLD


@pytest.fixture
def sweep_module():
    from roofline.render import sweep

    return sweep  # where the sweep writers live


SWEEP = ["sweep", "--chips", "H100", "--models", "8B", "--batch", "1,2", "--tp", "1"]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_sweep_failing_midway_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, sweep_module, fmt):
    out = tmp_path / f"rows.{fmt}"
    out.write_bytes(OLD)

    def half(result, fh):
        fh.write("half,a,row\n")
        fh.flush()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sweep_module, f"write_{fmt}", half)
    line = one_error_line(CliRunner().invoke(main, [*SWEEP, "--format", fmt, "-o", str(out)]))
    assert "No space left on device" in line
    assert os.listdir(tmp_path) == [out.name] and out.read_bytes() == OLD


def test_sweep_success_replaces_the_old_file_whole(tmp_path, sweep_module):
    out = tmp_path / "rows.csv"
    out.write_bytes(OLD)
    r = CliRunner().invoke(main, [*SWEEP, "-o", str(out)])
    assert r.exit_code == 0, r.output
    rows = out.read_text().splitlines()
    assert len(rows) == 3 and "," in rows[0] and os.listdir(tmp_path) == ["rows.csv"]
