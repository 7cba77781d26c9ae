"""The chip and model blocks of the JSON: what the estimate used, with the figures a reader checks by hand."""

from __future__ import annotations

import attrs

from roofline.chip import Chip
from roofline.dtypes import BYTES
from roofline.model import Model


@attrs.frozen
class ChipFigures:
    """A chip as an estimate used it: its peaks with ``compute_dtype`` in use, memory and links."""

    chip: Chip
    compute_dtype: str

    def to_dict(self) -> dict:
        chip, compute_dtype = self.chip, self.compute_dtype
        return {
            "name": chip.name,
            "full_name": chip.full_name,
            "family": chip.family,
            "compute_dtype": compute_dtype,
            "peak_flops_per_s": chip.peak(compute_dtype),
            "peak_flops_per_s_by_dtype": dict(chip.peak_flops_per_s),
            "hbm_bytes": chip.hbm_bytes,
            "hbm_bytes_per_s": chip.hbm_bytes_per_s,
            "critical_intensity_flops_per_byte": chip.critical_intensity(compute_dtype),
            "scale_up_name": chip.scale_up_name,
            "scale_up_bytes_per_s": chip.scale_up_bytes_per_s,
            "scale_up_domain": chip.scale_up_domain,
            "scale_out_bytes_per_s": chip.scale_out_bytes_per_s,
            "tdp_w": chip.tdp_w,
            "confidence": chip.confidence,
        }


@attrs.frozen
class ModelFigures:
    """A model's shape and counts with its KV cache in ``kv_dtype``. MoE/MLA fields are always present
    (0 for a dense / non-MLA model)."""

    model: Model
    kv_dtype: str

    def to_dict(self) -> dict:
        model, kv_dtype = self.model, self.kv_dtype
        return {
            "name": model.name,
            "family": model.family,
            "params_total": model.param_count(),
            "params_active": model.active_param_count(),
            "num_layers": model.num_layers,
            "hidden_size": model.hidden_size,
            "num_heads": model.num_heads,
            "num_kv_heads": model.num_kv_heads,
            "head_dim": model.head_dim,
            "intermediate_size": model.intermediate_size,
            "vocab_size": model.vocab_size,
            "sliding_window": model.sliding_window,
            "kv_dtype": kv_dtype,
            "checkpoint_dtype": model.checkpoint_dtype,
            "checkpoint_format": model.checkpoint_format,
            "attention_16bit": model.attention_16bit,
            "mixer_dtype": model.mixer_dtype,
            "head_dtype": model.head_dtype,
            "kv_bytes_per_token": model.kv_bytes_per_token(BYTES[kv_dtype]),
            "layer_mix": model.layer_mix,
            "sliding_layers": model.swa_layers,
            "attention_chunked": model.attention_chunked,
            "state_bytes_per_sequence": model.state_bytes_per_sequence(),
            "num_experts": model.num_experts,
            "experts_per_token": model.experts_per_token,
            "shared_experts": model.shared_experts,
            "moe_intermediate_size": model.moe_intermediate_size,
            "moe_layers": model.moe_layers,
            "dense_layers": model.dense_layers,
            "q_lora_rank": model.q_lora_rank,
            "kv_lora_rank": model.kv_lora_rank,
            "qk_nope_head_dim": model.qk_nope_head_dim,
            "qk_rope_head_dim": model.qk_rope_head_dim,
            "v_head_dim": model.v_head_dim,
        }
