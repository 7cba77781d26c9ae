"""roofline: first-principles speed estimates for LLM training and serving on any accelerator.

The public surface::

    from roofline import load_chip, load_model, Workload, estimate
    e = estimate(load_chip("H20"), load_model("70B"), Workload(batch=16))
    e.inference.tpot_s, e.inference.ttft_s, e.to_dict()
    s = sweep(["H20", "H100"], ["8B", "70B"], batch="1:256:x2")   # named numpy columns, compiled

All values are frozen; ``to_dict()`` returns exactly what ``roofline estimate --format json`` prints.
Bad input raises :class:`RooflineError` (a ``ValueError``) with a one-line message.
"""

from roofline.api import estimate
from roofline.chip import Chip, load_chip
from roofline.errors import RooflineError
from roofline.inference import estimate_inference
from roofline.model import Model, load_model
from roofline.results import Estimate, InferenceEstimate
from roofline.sweep import sweep
from roofline.workload import Workload

__all__ = [
    "Chip", "Estimate", "InferenceEstimate", "Model", "RooflineError", "Workload", "estimate",
    "estimate_inference", "load_chip", "load_model", "sweep",
]
__version__ = "0.1.0"
