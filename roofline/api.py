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


def estimate(chip: Chip | str | Path, model: Model | str | Path, workload: Workload | None = None, *,
             serving: dict | None = None) -> Estimate:
    """Estimate serving ``model`` on ``chip``; names and paths are loaded as the CLI would.

    ``serving`` (keys ``engine``, ``concurrency`` (int or "max"), ``request_rate``, ``max_num_tokens``)
    adds the in-flight-batching server model of :func:`roofline.serving.estimate_serving` at the layout
    the static estimate chose.

    >>> from roofline import estimate, Workload
    >>> e = estimate("H20", "70B", Workload(batch=8))
    >>> round(e.inference.tpot_s, 3) > 0
    True
    """
    c, m = _chip(chip), _model(model)
    inf = estimate_inference(c, m, workload or Workload())
    srv = None
    if serving is not None:
        from roofline.serving import estimate_serving

        srv = estimate_serving(c, m, inf.workload, **{k: v for k, v in serving.items() if v is not None})
    return Estimate(chip=c, model=m, inference=inf, serving=srv)
