"""Serving engines: the frozen ``Engine`` policy. The presets live in ``profiles/engines.toml``
(:mod:`roofline.loaders.engines`)."""

from __future__ import annotations

import attrs

#: How an engine resolves ``kv_cache_dtype = auto``: the checkpoint's declared KV format, or the activations'.
KV_AUTO = ("checkpoint", "activations")
MEMORY_RULES = ("total", "free")


@attrs.frozen
class DeviceDefaults:
    """Defaults an engine takes on some devices: chips with at least ``min_bytes`` and less than
    ``below_bytes`` of HBM whose name contains one of ``names`` (any name when empty). ``max_seqs`` and
    ``max_num_tokens`` replace the engine's own where set (0: keep it)."""

    min_bytes: float
    below_bytes: float
    names: tuple[str, ...]
    max_seqs: int
    max_num_tokens: int
    source: str

    def applies(self, chip) -> bool:
        named = not self.names or any(n.lower() in chip.name.lower() for n in self.names)
        return named and self.min_bytes <= chip.hbm_bytes < self.below_bytes


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
    ``fp8_mla_attention``: with an fp8 KV cache, latent attention (MLA) runs on the fp8 tensor cores (its
    peak is the chip's fp8 peak, not the 16-bit one).
    ``step_overhead_s`` / ``seq_overhead_s`` / ``kernel_overhead_s``: seconds per step, per sequence per step
    and per kernel launched, beyond the ops' roofline times. ``request_overhead_s``: seconds each request
    spends outside the engine's steps before its first token (the API server's HTTP handling and
    tokenization on the way in, the first token's detokenization and return), added to its TTFT.
    ``p2p_allreduce_max_bytes``: all-reduce messages under this size the engine runs with its own
    peer-to-peer kernels over the NVLink domain (one-shot sizes priced by
    :func:`roofline.kernels.roofline.one_shot_time`); larger ones, and all when 0, go to NCCL.
    ``device_defaults``: defaults that depend on the device (the first that applies replaces
    ``max_seqs`` and ``max_num_tokens``; :meth:`on` resolves them for one chip).
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
    fp8_mla_attention: bool = False
    step_overhead_s: float = 0.0
    seq_overhead_s: float = 0.0
    kernel_overhead_s: float = 0.0
    request_overhead_s: float = 0.0
    p2p_allreduce_max_bytes: float = 0.0
    overhead_source: str = ""
    device_defaults: tuple[DeviceDefaults, ...] = ()

    def on(self, chip) -> Engine:
        """This engine as it configures itself on ``chip``: the first of its device defaults that applies."""
        for d in self.device_defaults:
            if d.applies(chip):
                return attrs.evolve(self, max_seqs=d.max_seqs or self.max_seqs,
                                    max_num_tokens=d.max_num_tokens or self.max_num_tokens, device_defaults=())
        return attrs.evolve(self, device_defaults=()) if self.device_defaults else self
