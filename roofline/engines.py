"""Serving engines: the frozen ``Engine`` policy and the presets of the engines people run."""

from __future__ import annotations

import attrs


@attrs.frozen
class Engine:
    """A serving engine's default scheduling and memory policy.

    ``chunked``: prompts split under the token budget (else whole prompts per step).
    ``memory_rule``: "total" (the fraction bounds weights + KV + workspace, vLLM/SGLang) or "free" (the
    fraction of what is left after weights and workspace goes to KV, TensorRT-LLM).
    ``reserve_full``: a request reserves KV for I + O tokens when admitted (TensorRT-LLM's
    GUARANTEED_NO_EVICT); otherwise paged KV grows on demand and in-flight sequences hold I + O/2 on
    average (vLLM, SGLang).
    """

    name: str
    chunked: bool
    max_num_tokens: int
    memory_fraction: float
    memory_rule: str
    reserve_full: bool
    max_seqs: int  # 0 = no cap beyond memory
    source: str


ENGINES = {
    "generic": Engine("generic", True, 8192, 0.90, "total", False, 0,
                      "roofline default: chunked prefill under an 8192-token budget, paged KV, 90% of HBM"),
    "vllm": Engine("vllm", True, 8192, 0.90, "total", False, 256,
                   "vLLM engine args: enable_chunked_prefill (on in V1), max_num_batched_tokens 8192, "
                   "gpu_memory_utilization 0.9 of total HBM, max_num_seqs 256, paged KV"),
    "sglang": Engine("sglang", True, 8192, 0.88, "total", False, 0,
                     "SGLang server args: chunked_prefill_size 8192, mem_fraction_static ~0.88 of total HBM, "
                     "radix/paged KV, running requests bounded by memory"),
    "trtllm": Engine("trtllm", False, 8192, 0.90, "free", True, 2048,
                     "TensorRT-LLM: max_num_tokens 8192, chunked context off by default, KvCacheConfig "
                     "free_gpu_memory_fraction 0.9 of memory left after weights, GUARANTEED_NO_EVICT "
                     "scheduler (default), max_batch_size 2048"),
}
