"""Disaggregated serving runs (``serving_mode = disagg``) priced exactly as they were run.

A row states each pool's workers, layout (``prefill_tp``, ``prefill_attn_dp``, ``prefill_moe_tp``,
``prefill_moe_ep``, ``prefill_pp`` and the ``decode_`` counterparts, read as the aggregated columns are by
:func:`roofline.validate.predict.serving_layout`), batch per attention group and the client's concurrency
(``batch``). Both pools run on the row's chip with the row's engine; the deployment is simulated under a
closed-loop client at that concurrency (:func:`roofline.serving.disagg.estimate_disagg`). The prefill
batch and decode slots are the row's stated batches (the same rule as the product: a stated batch is used,
a blank one is the engine's default).
"""

from __future__ import annotations

from roofline.chip import Chip
from roofline.engines import Engine
from roofline.loaders.engines import ENGINES
from roofline.model import Model
from roofline.serving.disagg import Pool, estimate_disagg
from roofline.validate.predict import (
    SIMULATE_COMPILED, cached_latency, row_dtypes, row_engine, serving_layout,
)
from roofline.validate.schema import SERVING_METRICS, RowError, cell, positive_cell


def disagg_case(row: dict, chip: Chip, model: Model, kv_when_blank: str = "engine",
                engines: dict[str, Engine] | None = None) -> tuple[dict, tuple]:
    """(keyword arguments of :func:`estimate_disagg`, a key shared by the rows of one configuration)."""
    if cell(row, "metric_std") not in SERVING_METRICS:
        raise RowError(f"metric_std={cell(row, 'metric_std')!r} is not a serving metric ({', '.join(SERVING_METRICS)})")
    if cell(row, "speculative"):
        raise RowError(f"speculative={cell(row, 'speculative')!r}: speculative decoding is not expressed here")
    engine = (engines or ENGINES).get(row_engine(row))
    if engine is None:
        raise RowError(f"engine={cell(row, 'engine')!r} is not one of {', '.join(ENGINES)}")
    pools = {}
    for role in ("prefill", "decode"):
        tp, pp, ep, dp = serving_layout(row, model, prefix=f"{role}_")
        pools[role] = Pool(chip, tp=tp, pp=pp, ep=ep, dp_attention=dp, workers=positive_cell(row, f"{role}_workers"),
                           batch=positive_cell(row, f"{role}_batch"))
    wd, kv = row_dtypes(row, kv_when_blank, model, engine, chip)
    kwargs = dict(prefill=pools["prefill"], decode=pools["decode"], input_len=positive_cell(row, "input_len"),
                  output_len=positive_cell(row, "output_len"), weight_dtype=wd, kv_dtype=kv, engine=engine,
                  concurrency=positive_cell(row, "batch"))
    key = (chip, model.name, engine, tuple(sorted((k, v) for k, v in kwargs.items() if k != "engine")))
    return kwargs, key


def predict_disagg(row: dict, chip: Chip, model: Model, kv_when_blank: str = "engine",
                   engines: dict[str, Engine] | None = None, cache: dict | None = None) -> float:
    """The mean TPOT or TTFT of a measured disaggregated run; runs of one configuration share a simulation
    through ``cache``."""
    kwargs, key = disagg_case(row, chip, model, kv_when_blank, engines)
    return cached_latency(row, cache, key, lambda: estimate_disagg(model, use_numba=SIMULATE_COMPILED, **kwargs))
