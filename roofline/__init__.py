"""roofline: first-principles speed estimates for LLM training and serving on any accelerator.

The public surface::

    from roofline import load_chip, load_model, Workload, estimate
    e = estimate(load_chip("H20"), load_model("70B"), Workload(batch=16))
    e.inference.tpot_s, e.inference.ttft_s, e.to_dict()
    s = sweep(["H20", "H100"], ["8B", "70B"], batch="1:256:x2")   # named numpy columns, compiled

All values are frozen; ``to_dict()`` returns exactly what ``roofline estimate --format json`` prints.
Bad input raises :class:`RooflineError` (a ``ValueError``) with a one-line message. Every command has its
function in :mod:`roofline.api`.
"""

from roofline.api import estimate
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.model import Model
from roofline.results.estimate import Estimate
from roofline.results.inference import InferenceEstimate
from roofline.serving.static import estimate_inference
from roofline.sweep.run import sweep  # bound here: importing roofline.sweep.* must not shadow it
from roofline.workload import TrainingWorkload, Workload

__all__ = [
    "Chip", "Estimate", "InferenceEstimate", "Model", "RooflineError", "TrainingWorkload", "Workload", "estimate",
    "estimate_inference", "load_chip", "load_model", "sweep",
]
__version__ = "0.1.0"

