"""Accuracy gate for training: every usable training row of the shipped measurements, each with its exact
configuration, through `roofline validate`. A change that worsens the median error of any source beyond
10 % fails here."""

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
def test_median_error_per_source_is_at_most_ten_percent(rows, source):
    errs = [abs(r.error_pct) for r in rows if source_name(r.source) == source]
    assert errs and statistics.median(errs) <= 10.0
