"""The layer mix of a model (see :mod:`roofline.model`): its fields and the checks that keep it possible.

``mix_problem`` reads the fields by attribute only, so a ``Model`` and a loader's plain namespace are checked
alike.
"""

from __future__ import annotations

#: The layer mix (see the module docstring); 0 = that kind is absent.
MIX_FIELDS = ("sliding_layers", "sparse_top_k", "indexer_heads", "indexer_head_dim", "linear_layers",
              "linear_key_heads", "linear_value_heads", "linear_key_head_dim", "linear_value_head_dim",
              "linear_conv_kernel", "mamba_layers", "mamba_heads", "mamba_head_dim", "mamba_state_size",
              "mamba_groups", "mamba_conv_kernel", "mlp_free_layers", "mixer_free_layers", "moe_layer_count")

#: Formats a model's 4-bit checkpoints may keep the token mixers' projections in (``mixer_dtype``).
MIXER_DTYPES = ("bf16", "fp16", "fp8", "int8")
#: Formats a model's 4-bit checkpoints may keep the LM head in (``head_dtype``).
HEAD_DTYPES = ("fp8", "int8", "fp4", "int4")

LINEAR_DIMS = ("linear_key_heads", "linear_value_heads", "linear_key_head_dim", "linear_value_head_dim",
               "linear_conv_kernel")
MAMBA_DIMS = ("mamba_heads", "mamba_head_dim", "mamba_state_size", "mamba_groups", "mamba_conv_kernel")


def mix_problem(m) -> str | None:
    """The first impossible layer mix in ``m`` (see the module docstring), or None."""
    if m.attention_chunked and m.sliding_window == 0:
        return "attention_chunked=true needs the chunk as sliding_window; give it or drop attention_chunked"
    if m.sliding_layers and m.sliding_window == 0:
        return f"sliding_layers={m.sliding_layers} needs a sliding_window; give the window or drop sliding_layers"
    groups = (("linear_layers", LINEAR_DIMS), ("mamba_layers", MAMBA_DIMS),
              ("sparse_top_k", ("indexer_heads", "indexer_head_dim")))
    for layers, dims in groups:
        if getattr(m, layers):
            for f in dims:
                if getattr(m, f) == 0:
                    return f"{f}=0 with {layers}={getattr(m, layers)}; copy {f} from config.json"
        else:
            for f in dims:
                if getattr(m, f):
                    return f"{f}={getattr(m, f)} needs {layers} > 0; set {layers} or drop {f}"
    if m.linear_layers and m.mamba_layers:
        return (f"linear_layers={m.linear_layers} and mamba_layers={m.mamba_layers}: one kind of recurrent "
                f"layer per model is modelled; keep one")
    if m.linear_layers and m.linear_value_heads % m.linear_key_heads:
        return (f"linear_key_heads={m.linear_key_heads} does not divide linear_value_heads="
                f"{m.linear_value_heads}; fix the value")
    if m.mamba_layers and m.mamba_heads % m.mamba_groups:
        return f"mamba_groups={m.mamba_groups} does not divide mamba_heads={m.mamba_heads}; fix the value"
    mixers = m.num_layers - m.mixer_free_layers
    if m.linear_layers + m.mamba_layers > mixers:
        return (f"linear_layers + mamba_layers = {m.linear_layers + m.mamba_layers} exceed the {mixers} blocks "
                f"with a token mixer (num_layers - mixer_free_layers); fix the counts")
    attention = mixers - m.linear_layers - m.mamba_layers
    if m.sliding_layers > attention:
        return f"sliding_layers={m.sliding_layers} exceeds the {attention} attention blocks; fix the count"
    if m.sparse_top_k and m.sliding_window and (m.sliding_layers or attention) >= attention:
        return "sparse_top_k applies to full-attention blocks, but every attention block slides; drop one"
    if m.mlp_free_layers + m.mixer_free_layers > m.num_layers:
        return (f"mlp_free_layers + mixer_free_layers = {m.mlp_free_layers + m.mixer_free_layers} exceed "
                f"num_layers={m.num_layers}; a block needs a token mixer or an MLP")
    if m.mlp_free_layers >= m.num_layers:
        return f"mlp_free_layers={m.mlp_free_layers} leaves no MLP among {m.num_layers} blocks; fix the count"
    if m.mixer_dtype is not None and m.mixer_dtype not in MIXER_DTYPES:
        return f"mixer_dtype={m.mixer_dtype!r} must be one of {', '.join(MIXER_DTYPES)} or left out; fix the file"
    if m.head_dtype is not None and m.head_dtype not in HEAD_DTYPES:
        return f"head_dtype={m.head_dtype!r} must be one of {', '.join(HEAD_DTYPES)} or left out; fix the file"
    if m.mixer_dtype is not None and m.attention_16bit and not (m.linear_layers or m.mamba_layers):
        return (f"mixer_dtype={m.mixer_dtype!r} beside attention_16bit is the recurrent mixers' format, but there "
                f"are none; keep one of the two")
    if attention == 0 and (m.attention_sinks or m.attn_output_gate or m.qk_norm):
        return "attention_sinks, attn_output_gate and qk_norm need attention blocks; drop them"
    return None


def tp_problem(m, tp: int) -> str | None:
    """Why ``tp`` ranks cannot split ``m``'s token mixers (the reason, to follow "tp=..."), or None. Attention
    heads split evenly; K/V heads split or are replicated (each rank one); a Gated DeltaNet layer's key and
    value heads split evenly (vLLM's and Megatron-LM's GDN layers); a Mamba-2 layer's heads split evenly and
    its groups split or are replicated (vLLM's MambaMixer2)."""
    if m.num_heads % tp:
        return f"does not divide the {m.num_heads} attention heads"
    if m.num_kv_heads % tp and tp % m.num_kv_heads:
        return f"neither divides nor is a multiple of the {m.num_kv_heads} KV heads"
    if m.linear_layers and (m.linear_key_heads % tp or m.linear_value_heads % tp):
        return (f"does not divide the {m.linear_key_heads} key and {m.linear_value_heads} value heads of the "
                f"Gated DeltaNet layers")
    if m.mamba_layers and m.mamba_heads % tp:
        return f"does not divide the {m.mamba_heads} Mamba-2 heads"
    if m.mamba_layers and m.mamba_groups % tp and tp % m.mamba_groups:
        return f"neither divides nor is a multiple of the {m.mamba_groups} Mamba-2 groups"
    return None
