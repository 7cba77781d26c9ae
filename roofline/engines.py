"""Serving engines: the frozen ``Engine`` policy. The presets live in ``profiles/engines.toml``
(:mod:`roofline.loaders.engines`)."""

from __future__ import annotations

import attrs

#: How an engine resolves ``kv_cache_dtype = auto``: the checkpoint's declared KV format, or the activations'.
KV_AUTO = ("checkpoint", "activations")
MEMORY_RULES = ("total", "free")


@attrs.frozen
class Engine:
    """A serving engine's default scheduling and memory policy, and its fixed costs.

    ``chunked``: prompts split under the token budget (else whole prompts per step).
    ``memory_rule``: "total" (the fraction bounds weights + KV + workspace, vLLM/SGLang) or "free" (the
    fraction of what is left after weights and workspace goes to KV, TensorRT-LLM).
    ``reserve_full``: a request reserves KV for I + O tokens when admitted (TensorRT-LLM's
    GUARANTEED_NO_EVICT); otherwise paged KV grows on demand and in-flight sequences hold I + O/2 on
    average (vLLM, SGLang).
    ``prefill_first``: prompt chunks run in steps of their own, ahead of decodes (SGLang); otherwise mixed.
    ``kv_auto``: what the engine's default KV-cache format is (see ``KV_AUTO``).
    ``step_overhead_s`` / ``seq_overhead_s``: seconds per step, and per sequence per step, beyond the ops.
    """

    name: str
    chunked: bool
    max_num_tokens: int
    memory_fraction: float
    memory_rule: str
    reserve_full: bool
    max_seqs: int  # 0 = no cap beyond memory
    source: str
    prefill_first: bool = False
    kv_auto: str = "activations"
    step_overhead_s: float = 0.0
    seq_overhead_s: float = 0.0
    overhead_source: str = ""
