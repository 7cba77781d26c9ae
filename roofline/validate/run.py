"""``roofline validate``: every usable measured row through the estimator."""

from __future__ import annotations

import os
from contextlib import nullcontext
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from roofline.engines import Engine
from roofline.errors import RooflineError
from roofline.results.validation import RowResult, Skipped, Validation
from roofline.validate.predict import (
    SIMULATE_COMPILED, Pending, Runs, predict_inference, predict_serving, predict_training,
)
from roofline.validate.schema import (
    INFERENCE_METRICS, KV_WHEN_BLANK, SERVING_METRICS, TRAINING_METRICS, RowError, cell, chip_for_row, default_files,
    model_for_row, read_rows, value_cell,
)


def validate(paths: list[str | Path] | None = None, *, kv_when_blank: str = "engine",
             efficiency_overrides: dict[str, dict[str, float]] | None = None,
             engines: dict[str, Engine] | None = None, kinds: tuple[str, ...] | None = None) -> Validation:
    """Run every usable row of ``paths`` (default: the shipped measurements) through the estimator.

    ``efficiency_overrides`` maps a chip family to efficiency values that replace the stored ones, and
    ``engines`` replaces engine presets (both used by ``benchmarks/calibrate.py``); ``kinds`` keeps the files
    of those kinds only ("training", "inference", "serving"). Raises the project error for an unreadable or
    malformed file.
    """
    from roofline.validate.disagg import predict_disagg  # the disaggregated simulator loads only to validate

    if kv_when_blank not in KV_WHEN_BLANK:
        raise RooflineError(f"kv_when_blank={kv_when_blank!r} is not one of {', '.join(KV_WHEN_BLANK)}")
    files = [Path(p) for p in (paths or default_files())]
    # the serving runs are simulated on every core as their first row is met; rows are kept in order and
    # read once every simulation is done, so the report is the same whatever the number of cores
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=cores) if SIMULATE_COMPILED and cores > 1 else nullcontext() as pool:
        entries = _price_rows(files, kinds, kv_when_blank, efficiency_overrides, engines, Runs(pool),
                              predict_disagg)
    results, skipped = [], []
    for entry in entries:
        if isinstance(entry, Skipped):
            skipped.append(entry)
            continue
        rid, source, chip_name, metric, kind, measured, predicted, step, fits = entry
        if isinstance(predicted, Pending):
            try:
                predicted = predicted.value()
            except RowError as exc:
                skipped.append(Skipped(rid, str(exc)))
                continue
        results.append(RowResult(rid, source, chip_name, metric, kind, measured, float(predicted), step, fits))
    return Validation(tuple(results), tuple(skipped), tuple(str(f) for f in files))


def _price_rows(files, kinds, kv_when_blank, efficiency_overrides, engines, runs, predict_disagg) -> list:
    """Every row of ``files`` in order: a ``Skipped`` or the fields of its ``RowResult`` (the prediction
    possibly ``Pending``)."""
    entries, chips = [], {}
    for path in files:
        kind, rows = read_rows(path)
        if kinds is not None and kind not in kinds:
            continue
        for i, row in enumerate(rows, start=2):
            rid = cell(row, "row_id") or f"{path.name}:{i}"
            usable = cell(row, "usable")
            if usable != "yes":
                entries.append(Skipped(rid, f"marked unusable by the data ({usable or 'blank'})"))
                continue
            try:
                measured = value_cell(row)
                metric = cell(row, "metric_std")
                allowed = {"training": TRAINING_METRICS, "inference": INFERENCE_METRICS,
                           "serving": SERVING_METRICS}[kind]
                if metric not in allowed:
                    raise RowError(f"metric_std={metric!r} is not a {kind} metric ({', '.join(allowed)})")
                chip = chip_for_row(row, chips, efficiency_overrides)
                model = model_for_row(row)
                step = fits = None
                if kind == "training":
                    predicted, est = predict_training(row, chip, model)
                    step, fits = est.step_time_s, est.fits
                elif kind == "serving" and cell(row, "serving_mode") == "disagg":
                    predicted = predict_disagg(row, chip, model, kv_when_blank, engines, runs)
                elif kind == "serving":
                    predicted = predict_serving(row, chip, model, kv_when_blank, engines, runs)
                else:
                    predicted = predict_inference(row, chip, model, kv_when_blank, engines)
            except (RowError, RooflineError) as exc:
                entries.append(Skipped(rid, str(exc)))
                continue
            entries.append((rid, cell(row, "source"), cell(row, "chip_profile"), metric, kind, measured, predicted,
                            step, fits))
    return entries
