"""Training accuracy, live: every usable training row of the shipped measurements, each with its exact
configuration, through `roofline validate`. These rows also fit the training values, so the figures here are
in-sample (a regression guard); the out-of-sample gate (leave one source out) is in test_calibration.py."""

import statistics

import pytest

from roofline.results.validation import source_name
from roofline.validate.run import validate
from roofline.validate.schema import default_files


@pytest.fixture(scope="module")
def rows():
    return [r for r in validate([default_files()[0]]).rows if r.kind == "training"]


def test_every_usable_training_row_is_estimated(rows):
    assert len(rows) >= 180


@pytest.mark.parametrize("source", ["Megatron-LM (Narayanan 2021)", "MosaicML llm-foundry",
                                    "PyTorch FSDP (IBM/Meta 2024)"])
def test_in_sample_median_error_per_source(rows, source):
    errs = [abs(r.error_pct) for r in rows if source_name(r.source) == source]
    assert errs and statistics.median(errs) <= 11.0
