"""Accuracy gate for training: every usable training row of the shipped measurements, each with its exact
configuration, through the estimator (benchmarks/training_accuracy.py). A change that worsens the median
error of any source beyond 10 % fails here."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import training_accuracy  # noqa: E402


@pytest.fixture(scope="module")
def result():
    return training_accuracy.run()


def test_every_usable_training_row_is_estimated(result):
    assert all(not s["failed"] for s in result["summary"].values())
    assert sum(s["rows"] for s in result["summary"].values()) >= 180


@pytest.mark.parametrize("source", ["Megatron-LM (Narayanan 2021)", "MosaicML llm-foundry",
                                    "PyTorch FSDP (IBM/Meta 2024)"])
def test_median_error_per_source_is_at_most_ten_percent(result, source):
    assert result["summary"][source]["median_abs_error"] <= 0.10
