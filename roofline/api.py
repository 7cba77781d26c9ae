"""The library's front door: ``estimate(chip, model, workload)``."""

from __future__ import annotations

from pathlib import Path

from roofline.chip import Chip, load_chip
from roofline.inference import estimate_inference
from roofline.model import Model, load_model
from roofline.results import Estimate
from roofline.workload import Workload


def _chip(chip: Chip | str | Path) -> Chip:
    return chip if isinstance(chip, Chip) else load_chip(chip)


def _model(model: Model | str | Path) -> Model:
    return model if isinstance(model, Model) else load_model(model)


def estimate(chip: Chip | str | Path, model: Model | str | Path, workload: Workload | None = None) -> Estimate:
    """Estimate serving ``model`` on ``chip``; names and paths are loaded as the CLI would.

    >>> from roofline import estimate, Workload
    >>> e = estimate("H20", "70B", Workload(batch=8))
    >>> round(e.inference.tpot_s, 3) > 0
    True
    """
    c, m = _chip(chip), _model(model)
    return Estimate(chip=c, model=m, inference=estimate_inference(c, m, workload or Workload()))
