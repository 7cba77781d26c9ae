"""Number formats: their storage size and the compute precision they run at.

One vocabulary everywhere (CLI, profiles, JSON, validate): ``bf16``, ``fp16``, ``fp8``, ``int8``,
``int4``, ``fp4``.
"""

from __future__ import annotations

from roofline.errors import RooflineError

#: Bytes per stored element.
BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}

#: Weight formats and the matmul precision they compute at. fp8 and fp4 weights run fp8/fp4 GEMMs
#: (the chip must have them); int8 and int4 are weight-only formats: they are dequantised and the GEMM
#: runs in 16-bit (as in AWQ/GPTQ/Marlin kernels), so they save HBM traffic but not FLOPs.
WEIGHT_COMPUTE = {"bf16": "bf16", "fp16": "fp16", "fp8": "fp8", "fp4": "fp4", "int8": "bf16", "int4": "bf16"}

WEIGHT_DTYPES = tuple(WEIGHT_COMPUTE)

#: A low-precision checkpoint on a chip without tensor cores for its format runs weight-only: the engines
#: dequantise the weights to 16 bit in the GEMM (vLLM's Marlin and Triton MXFP4 MoE kernels run fp4 on Hopper,
#: its FP8 Marlin kernel runs fp8 as W8A16 on Ampere: docs.vllm.ai quantization, FP8 W8A8: "weight-only ... on
#: GPUs without FP8 support"), which is roofline's int4 / int8 (the bytes stored, 16-bit compute).
WEIGHT_ONLY_FALLBACK = {"fp4": "int4", "fp8": "int8"}
KV_DTYPES = ("bf16", "fp16", "fp8", "int8")
COMPUTE_DTYPES = ("bf16", "fp16", "fp8", "int8", "fp4")


def check(field: str, value: str, allowed) -> str:
    """Return ``value`` lower-cased if it is one of ``allowed``; raise the project error otherwise."""
    v = str(value).strip().lower()
    if v not in allowed:
        raise RooflineError(f"{field}={value!r} is not a known dtype; use one of {', '.join(allowed)}")
    return v
