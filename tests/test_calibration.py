"""The calibration is reproducible and its out-of-sample accuracy is gated.

``benchmarks/calibrate.py --write`` stores the fitted values in the profiles, and its figures with a digest
of every input (measurements, profiles less the fitted lines, the pricing code) in
``benchmarks/results/calibration.json``. These tests check, without refitting, that the stored fit is the fit
of today's inputs, that the profiles and the README hold it, that ``roofline validate`` prices the serving
runs as the fit did, and gate the out-of-sample (leave-one-model-out, leave-one-source-out) figures.
"""

import csv
import json
import math
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import calibrate  # noqa: E402
import serving_fit  # noqa: E402

from roofline.validate.run import validate  # noqa: E402

RESULT = json.loads(calibrate.RESULTS.read_text())
SERVING = RESULT["serving"]
RERUN = "inputs changed since the stored fit: rerun `python benchmarks/calibrate.py --write`"


def test_the_stored_fit_is_the_fit_of_todays_inputs():
    assert RESULT["digest"] == calibrate.input_digest(), RERUN


def test_the_profiles_hold_the_fitted_values():
    eff = tomllib.loads(calibrate.EFFICIENCY_TOML.read_text())
    for fam in calibrate.FAMILIES:
        for key in (*serving_fit.FRACTIONS, *calibrate.TRAINING):
            assert eff[fam][key]["value"] == calibrate._round(RESULT["values"][fam][key]), (fam, key)
        for key in calibrate.FAMILY_COSTS:
            assert eff[fam][key]["value"] == 0.0
    engines = tomllib.loads(calibrate.ENGINES_TOML.read_text())
    for name, fitted in RESULT["engines"].items():
        for key, value in fitted["values"].items():
            assert engines[name][key]["value"] == calibrate._round(value), (name, key)
            assert engines[name][key]["source"] == calibrate.cost_source(fitted, key)
            if key in serving_fit.UNFITTED_COSTS:
                assert value == 0.0, (name, key)


def test_the_readme_shows_the_stored_tables():
    text = (ROOT / "README.md").read_text()
    section = text.split(calibrate.README_BEGIN, 1)[1].split(calibrate.README_END, 1)[0]
    assert section == "\n" + calibrate.readme_tables(RESULT)


def test_validate_prices_the_serving_runs_as_the_fit_did(tmp_path):
    """The product's rule is the fit's rule: a sample of serving runs through `roofline validate` gives the
    stored in-sample predictions."""
    stored = SERVING["predicted"]["in_sample"]
    with open(ROOT / "profiles" / "measurements" / "serving.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows = [r for r in reader if r["row_id"] in stored]
    sample = rows[:: max(1, len(rows) // 40)]
    path = tmp_path / "sample.csv"
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=reader.fieldnames)
        w.writeheader()
        w.writerows(sample)
    got = {r.row_id: r.predicted for r in validate([path]).rows}
    assert set(got) == {r["row_id"] for r in sample}
    for rid, value in got.items():
        assert value == pytest.approx(stored[rid], rel=1e-6), rid


def _check(stats: dict, median: float, bias: float | None = None):
    assert stats["rows"] > 0 and stats["median_abs_error_pct"] <= median, stats
    if bias is not None:
        assert abs(stats["bias_pct"]) <= bias, stats


def test_serving_out_of_sample_accuracy_holds():
    """Leave-one-model-out on the usable aggregated runs of serving.csv (regression bounds just above
    today's figures; issue 14's TPOT target is below). With a cost per step beside the cost per kernel (which
    the data cannot tell apart) they were TPOT 18.6 % and 27.4 % at concurrency <= 4: fitted without
    gpt-oss-120b, vLLM's per-step cost took milliseconds that its 2-10 ms steps do not have."""
    oos = SERVING["leave_one_model_out"]
    _check(oos["tpot"], 14.5, 5.0)
    _check(oos["ttft"], 30.0, 10.0)
    for s in oos["by_engine"].values():
        _check(s["tpot"], 20.0)


def test_serving_out_of_sample_meets_issue_14_targets_for_ttft_and_small_batches():
    """Issue 14's targets for TTFT (<= 30 %) and for TPOT at concurrency <= 4 (<= 15 %). The small batches
    met theirs once the engines' one-shot all-reduce kernels were priced (16.8 % before, with NCCL's ring)."""
    oos = SERVING["leave_one_model_out"]
    _check(oos["ttft"], 30.0)
    _check(oos["tpot_concurrency_le_4"], 15.0)


@pytest.mark.xfail(strict=True, reason="issue 14's TPOT target is not met yet: out-of-sample median 13.7 % "
                                       "(target 10 %)")
def test_serving_out_of_sample_meets_issue_14_tpot_target():
    _check(SERVING["leave_one_model_out"]["tpot"], 10.0, 5.0)


TRAINING = RESULT["training"]


def test_training_out_of_sample_accuracy_holds():
    """Leave-one-chip-family-out (each family scored with the values a family without training rows gets)
    meets issue 18's target, <= 15 % per family."""
    for s in TRAINING["leave_one_family_out"].values():
        _check(s, 15.0)


def test_training_leave_one_source_out_meets_issue_18_target():
    """Leave-one-source-out meets issue 18's target, <= 10 % per source, each source scored with the values
    refitted without it."""
    for s in TRAINING["leave_one_source_out"].values():
        _check(s, 10.0)


def test_a_family_with_two_or_three_rows_fits_its_sustained_fraction_alone():
    """Without MosaicML, Hopper keeps FSDP's two H100 rows: too few for three values, enough for one. Its
    sustained fraction is fitted on them; its attention fraction and step overhead are what a family without
    rows gets from that fold's Ampere fit (calibrate.fit_families)."""
    fold = TRAINING["folds"]["MosaicML llm-foundry"]
    assert set(fold) == {"ampere", "hopper"}
    base = calibrate.transfer_training({"ampere": fold["ampere"]}, "hopper")
    for key in ("training_attention_fraction", "training_step_overhead_s"):
        assert fold["hopper"][key] == base[key], key
    assert fold["hopper"]["training_sustained_fraction"] != base["training_sustained_fraction"]
    assert calibrate.MIN_SUSTAINED_ROWS == 2 < calibrate.MIN_TRAINING_ROWS == len(calibrate.TRAINING) + 1


def test_validate_prices_the_training_rows_as_the_fit_did():
    stored = TRAINING["predicted"]
    got = {r.row_id: r.predicted for r in validate(kinds=("training",)).rows}
    assert set(got) == set(stored)
    for rid, value in got.items():
        assert value == pytest.approx(stored[rid], rel=1e-9), rid


def test_the_training_refit_reproduces_the_stored_values():
    """calibrate.py's training fit of the Hopper family, rerun on today's inputs, gives the stored values
    exactly (about half a minute: the grid search prices every training row a few hundred times)."""
    ids = calibrate._training_rows()["hopper"]
    fit = calibrate.fit_training("hopper", ids, {})
    for key in calibrate.TRAINING:
        assert fit[key] == RESULT["values"]["hopper"][key], key


def test_in_sample_figures_are_labelled_and_beside_the_out_of_sample_ones():
    assert set(SERVING) >= {"in_sample", "leave_one_model_out"}
    assert set(RESULT["training"]) >= {"in_sample", "leave_one_source_out", "leave_one_family_out"}
    assert all(math.isfinite(v) for v in SERVING["predicted"]["leave_one_model_out"].values())


def test_serving_gemm_fractions_apply_to_the_formats_they_were_fitted_on():
    """A family's serving_sustained_fraction and serving_expert_fraction were fitted on rows of some GEMM
    formats (serving_fraction_dtypes); another format gets 1 (not identified), attention's fraction applies to
    all, and a chip's own [efficiency] override to every format."""
    import attrs

    from roofline.loaders.chips import load_chip
    from roofline.loaders.efficiency import GEMM_CLASS, efficiency_for

    eff = tomllib.loads(calibrate.EFFICIENCY_TOML.read_text())
    chips = {"hopper": "H100", "blackwell": "B200"}
    listed = 0
    for fam, name in chips.items():
        fitted = eff[fam].get("serving_fraction_dtypes", {}).get("value")
        assert fitted, f"{fam}: the fit states the formats it covers"
        listed += 1
        chip = load_chip(name)
        for dtype in (d for d in ("bf16", "fp8", "fp4") if chip.has(d)):
            e = efficiency_for(chip, dtype)
            assert e.serving_attention_fraction == eff[fam]["serving_attention_fraction"]["value"]
            for key in ("serving_sustained_fraction", "serving_expert_fraction"):
                expected = eff[fam][key]["value"] if GEMM_CLASS[dtype] in fitted else 1.0
                assert getattr(e, key) == expected, (fam, dtype, key)
    assert listed == 2
    b200 = load_chip("B200")
    custom = attrs.evolve(b200, efficiency_overrides=(("serving_sustained_fraction", 0.5),))
    assert efficiency_for(custom, "bf16").serving_sustained_fraction == 0.5
    assert "serving_fraction_dtypes" not in eff["ampere"]  # no serving runs: its mean fractions apply to all
