"""The formats a checkpoint's weights are stored in and run in: the default weight format of a serving
estimate (the checkpoint's, :func:`checkpoint_weight_dtype`) and how each chip runs it (:func:`on_chip`:
weight-only where it lacks the tensor cores, as the engines do, and as ``validate`` prices measured runs)."""

from __future__ import annotations

import attrs

from roofline.chip import Chip
from roofline.dtypes import WEIGHT_DTYPES, WEIGHT_ONLY_FALLBACK
from roofline.errors import RooflineError
from roofline.model import Model
from roofline.workload import Workload


def runs_as(weight_dtype: str, chip: Chip) -> str:
    """The weight format ``chip`` runs a checkpoint stored in ``weight_dtype`` in: the weight-only fallback
    (``dtypes.WEIGHT_ONLY_FALLBACK``: fp4 -> int4, fp8 -> int8) when it lacks that compute, else the same."""
    fallback = WEIGHT_ONLY_FALLBACK.get(weight_dtype)
    return fallback if fallback is not None and not chip.has(weight_dtype) else weight_dtype


def as_run(model: Model, weight_dtype: str, chip: Chip) -> str:
    """The weight format ``chip`` prices ``weight_dtype`` in: the model's checkpoint format
    (``Model.checkpoint_dtype``) or its weight-only fallback as the chip runs that checkpoint
    (:func:`runs_as`), as the engines do; any other format as asked (a chip without it is refused by
    :func:`roofline.workload.check_layout`)."""
    stored = model.checkpoint_dtype
    if stored is None or (weight_dtype != stored and not model.runs_weight_only(weight_dtype)):
        return weight_dtype
    return runs_as(stored, chip)


def on_chip(wl: Workload, model: Model, chip: Chip) -> Workload:
    """``wl`` with its weight format as ``chip`` runs it (:func:`as_run`)."""
    run = as_run(model, wl.weight_dtype, chip)
    return wl if run == wl.weight_dtype else attrs.evolve(wl, weight_dtype=run)


def checkpoint_weight_dtype(model: Model) -> str:
    """The weight format of a serving estimate that does not name one: the format the model's checkpoint
    stores (``Model.checkpoint_dtype``: a config.json's quantization_config or hf_quant_config.json; each
    chip runs it as :func:`on_chip` says), else bf16. A checkpoint that declares a format this tool does not
    price (mixed formats, bitsandbytes...) has no default: the caller must choose."""
    if model.checkpoint_dtype is not None:
        return model.checkpoint_dtype
    if model.checkpoint_format:
        raise RooflineError(f"weight_dtype: the checkpoint of {model.name} declares {model.checkpoint_format}, "
                            f"which no single weight format expresses; pass --weight-dtype (one of "
                            f"{', '.join(WEIGHT_DTYPES)}) for the format of its largest GEMMs")
    return "bf16"
