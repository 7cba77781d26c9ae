"""Everything ``roofline estimate`` reports for one chip and model."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from roofline.chip import Chip
from roofline.model import Model
from roofline.results.figures import ChipFigures, ModelFigures
from roofline.results.inference import InferenceEstimate, ServingEstimate
from roofline.results.training import TrainingEstimate
from roofline.results.verdict import Verdict
from roofline.workload import Workload

if TYPE_CHECKING:  # an annotation only: a single estimate does not load the disaggregated results
    from roofline.results.disagg import DisaggEstimate


@attrs.frozen
class Estimate:
    """Everything ``roofline estimate`` reports for one chip and model.

    ``training_note`` says why a training estimate that was not asked for explicitly (default
    workload in mode "both") is missing, e.g. a model that fits no layout on the default chip count.
    """

    chip: Chip
    model: Model
    inference: InferenceEstimate | None = None
    serving: ServingEstimate | None = None
    training: TrainingEstimate | None = None
    training_note: str | None = None
    verdict: Verdict | None = None  # this chip against a reference chip (roofline.verdict)
    disagg: DisaggEstimate | None = None  # prefill and decode on separate pools (roofline.serving.disagg)

    @property
    def compute_dtype(self) -> str:
        """The dtype whose peak the chip summary quotes: inference's compute dtype, else training's."""
        if self.inference is not None:
            return self.inference.workload.compute_dtype
        if self.training is not None:
            return self.training.workload.dtype
        return Workload().compute_dtype

    def to_dict(self) -> dict:
        kv = self.inference.workload.kv if self.inference else Workload().kv
        out = {"chip": ChipFigures(self.chip, self.compute_dtype).to_dict(),
               "model": ModelFigures(self.model, kv).to_dict()}
        if self.inference is not None:
            out["inference"] = self.inference.to_dict()
            if self.serving is not None:
                out["inference"]["serving"] = self.serving.to_dict()
            if self.disagg is not None:
                out["inference"]["disagg"] = self.disagg.to_dict()
        if self.training is not None:
            out["training"] = self.training.to_dict()
        if self.training_note is not None:
            out["training_note"] = self.training_note
        if self.verdict is not None:
            out["verdict"] = self.verdict.to_dict()
        return out
