"""`roofline validate`: the shipped data stays within the accuracy bounds, any file in the schema works,
and bad files or rows are reported clearly."""

import csv
import json
import statistics

import pytest
from click.testing import CliRunner

from cli_golden import RECORD, normalise, record, recorded
from roofline.cli import main
from roofline.errors import RooflineError
from roofline.validate.run import validate
from roofline.validate.schema import COMMON_COLUMNS, INFERENCE_COLUMNS, TRAINING_COLUMNS, default_files, read_rows


@pytest.fixture(scope="module")
def shipped(shipped_validation):
    """The report ``roofline validate`` rendered in the session's shared run."""
    return shipped_validation[1]


def test_the_text_report_is_the_recorded_one(shipped_validation, tmp_path):
    """The golden case ``validate`` (tests/cli_golden.py), checked on the shared run."""
    result = shipped_validation[0]
    texts = {"exit": f"{result.exit_code}\n", "stdout": normalise(result.stdout), "stderr": normalise(result.stderr)}
    if RECORD:
        record("validate", texts)
        return
    assert texts == recorded("validate")


def test_shipped_data_stays_within_the_accuracy_bounds(shipped):
    d = shipped.to_dict()
    assert d["summary"]["training"]["median_abs_error_pct"] <= 10.0
    assert d["summary"]["inference"]["median_abs_error_pct"] <= 15.0


def test_at_least_ninety_percent_of_usable_rows_are_expressed(shipped):
    """Training and inference rows; serving runs of architectures not modelled yet (a later issue), and
    layouts this tool cannot express (experts split across attention groups), are skipped with that reason."""
    files = {read_rows(f)[0]: read_rows(f)[1] for f in default_files()}
    usable = sum(1 for kind in ("training", "inference") for r in files[kind] if r["usable"] == "yes")
    assert sum(1 for r in shipped.rows if r.kind in ("training", "inference")) >= 0.9 * usable
    assert len(shipped.rows) + len(shipped.skipped) == sum(len(rows) for rows in files.values())
    serving_ids = {r["row_id"] for r in files["serving"] if r["usable"] == "yes"}
    reasons = ("disaggregated", "no model profile with these dimensions", "no KV cache fits",
               "experts split across data-parallel attention groups")
    for s in shipped.skipped:
        if s.row_id in serving_ids:
            assert any(why in s.reason for why in reasons), s
    assert sum(1 for r in shipped.rows if r.kind == "serving") >= 2000


def _perf_overview(shipped) -> dict[str, list[float]]:
    groups = {}
    for r in shipped.rows:
        if r.row_id.startswith("trtllm-perf"):
            model = r.row_id.split("-h100")[0].removeprefix("trtllm-perf-")
            groups.setdefault(model, []).append(abs(r.error_pct))
    assert set(groups) == {"llama-3.1-8b", "llama-3.3-70b", "llama-3.1-405b"}
    return groups


@pytest.mark.parametrize("model", ["llama-3.3-70b", "llama-3.1-405b"])
def test_tensorrt_llm_rows_median_error_per_model_is_at_most_fifteen_percent(shipped, model):
    """Issue 4's gate: the perf-overview rows (batch = max) through the serving simulation, per served model.
    Out of sample since issue 14: nothing is fitted on inference.csv any more."""
    assert statistics.median(_perf_overview(shipped)[model]) <= 15.0


def test_tensorrt_llm_8b_rows_median_error_is_at_most_fifteen_percent(shipped):
    """Out of sample (nothing is fitted on inference.csv). It failed while TensorRT-LLM's per-sequence cost was
    fitted on large models alone (32 us per sequence per step, weighing on the 8B's 1,000+ sequences per step);
    with gpt-oss-120b's runs in the fit (issue 17) it is a few microseconds and the 8B's offline throughput
    holds."""
    assert statistics.median(_perf_overview(shipped)["llama-3.1-8b"]) <= 15.0


def _write(path, columns, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in columns})


LLAMA8B = dict(usable="yes", chip_profile="H100-SXM", model_ref="llama-3.1-8b", arch="llama", layers="32",
               hidden="4096", heads="32", kv_heads="8", ffn_hidden="14336", vocab="128256", source="hand-written test")


def test_hand_written_files_including_an_unshipped_metric_and_a_malformed_row(tmp_path):
    train_cols = [*COMMON_COLUMNS, *TRAINING_COLUMNS, "cp", "zero", "virtual_pp"]
    _write(tmp_path / "train.csv", train_cols, [
        dict(LLAMA8B, row_id="t-step", precision="bf16", num_chips="64", tp="1", pp="1", dp="64", micro_batch="1",
             global_batch="256", seq_len="4096", recompute="none", zero="3", metric_std="step_time_s", value_std="2.0"),
        dict(LLAMA8B, row_id="t-bad", layers="thirty-two", precision="bf16", num_chips="8", tp="1", pp="1", dp="8",
             micro_batch="1", global_batch="8", seq_len="4096", metric_std="tokens_per_s_per_chip", value_std="9000"),
    ])
    inf_cols = [*COMMON_COLUMNS, *INFERENCE_COLUMNS, "framework"]
    _write(tmp_path / "inf.csv", inf_cols, [
        dict(LLAMA8B, row_id="i-tpot", precision="bf16", weight_dtype="bf16", num_chips="1", tp="1", pp="1",
             batch="1", input_len="1000", output_len="", metric_std="tpot_s", value_std="0.007"),
        dict(LLAMA8B, row_id="i-ttft", precision="bf16", weight_dtype="bf16", num_chips="2", tp="1", pp="1",
             batch="2", input_len="2000", output_len="0", metric_std="ttft_s", value_std="0.15"),
    ])
    v = validate([tmp_path / "train.csv", tmp_path / "inf.csv"])
    got = {r.row_id: r for r in v.rows}
    assert set(got) == {"t-step", "i-tpot", "i-ttft"}
    # step time of the 8B on 64 H100s, batch 1M tokens: bounded by the roofline of 6 N tokens / 64 chips
    assert 6 * 8.0e9 * 256 * 4096 / 64 / 989e12 < got["t-step"].predicted < 10.0
    # batch-1 decode of 8B bf16 weights (16 GB) at 3.35 TB/s: at least 4.8 ms, not absurdly more
    assert 16.06e9 / 3.35e12 < got["i-tpot"].predicted < 0.02
    assert got["i-ttft"].predicted > 0 and got["i-ttft"].metric_std == "ttft_s"
    (bad,) = v.skipped
    assert bad.row_id == "t-bad" and "layers='thirty-two'" in bad.reason
    d = v.to_dict()
    assert set(d["rows"][0]) >= {"row_id", "source", "chip_profile", "metric_std", "measured", "predicted", "error_pct"}
    assert set(d["summary"]["training"]) >= {"rows", "median_abs_error_pct", "mean_abs_error_pct", "bias_pct"}


def test_a_file_outside_the_schema_is_one_clear_error(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("row_id,usable,input_len,output_len\nr1,yes,1,1\n")
    with pytest.raises(RooflineError, match="lacks the column"):
        validate([p])
    r = CliRunner().invoke(main, ["validate", "--data", str(p)])
    assert r.exit_code == 2
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("roofline: error:") and "lacks the column" in lines[0]
    r = CliRunner().invoke(main, ["validate", "--data", str(tmp_path / "missing.csv")])
    assert r.exit_code == 2 and "does not exist" in r.output


def test_validate_cli_json_has_the_promised_keys(validate_json):
    d = json.loads(validate_json)
    assert {"rows", "skipped", "summary"} <= set(d)
    assert set(d["summary"]) >= {"training", "inference"}
    assert all(set(s) == {"row_id", "reason"} for s in d["skipped"])


def test_the_report_is_the_same_on_one_core_and_on_several(monkeypatch, tmp_path):
    """Serving runs are simulated on a thread pool as their first row is met and read in row order at the
    end: the report does not depend on the cores. A slice of the shipped runs (aggregated and disaggregated,
    TTFT and TPOT rows of one run sharing a simulation, a row that cannot run) on 2 threads and on 1."""
    path = next(p for p in default_files() if p.name == "serving.csv")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        columns = reader.fieldnames
    agg = [r for r in rows if r["usable"] == "yes" and r["serving_mode"] == "agg" and r["model_ref"] == "qwen3-32b"]
    disagg = [r for r in rows if r["usable"] == "yes" and r["serving_mode"] == "disagg"]
    picked = agg[:40] + disagg[:6] + [dict(agg[0], row_id="cannot-run", tp="3")]
    sliced = tmp_path / "serving.csv"
    with open(sliced, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns)
        w.writeheader()
        w.writerows(picked)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    several = validate([sliced])
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0}, raising=False)
    one = validate([sliced])
    assert several.to_dict() == one.to_dict()
    assert len(several.rows) >= 30 and any(s.row_id == "cannot-run" for s in several.skipped)
