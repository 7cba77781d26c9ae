"""The storage formats a quantised checkpoint declares: its weight format and its KV-cache format.

Read from the ``quantization_config`` of ``config.json`` (or of its ``text_config``) and from ModelOpt's
``hf_quant_config.json`` beside it (``quantization``). The weight format, in this tool's names:

* ``quant_method`` ``fp8`` (DeepSeek, Qwen and MiniMax FP8 releases: e4m3 block-scaled) -> fp8;
  ``mxfp4`` (gpt-oss) -> fp4;
* ModelOpt / TensorRT-LLM ``quant_algo`` ``FP8``, ``FP8_PER_CHANNEL_PER_TOKEN``, ``FP8_BLOCK_SCALES`` -> fp8;
  ``NVFP4``, ``MXFP4`` -> fp4; the weight-only ``W4A16``, ``W4A16_AWQ``, ``W4A16_GPTQ``, ``W4A16_NVFP4``,
  ``W4A16_MXFP4`` -> int4 and ``W8A16``, ``W8A16_GPTQ`` -> int8 (roofline's weight-only formats: the bytes
  stored, 16-bit compute, whether the stored numbers are integers or floats);
* ``compressed-tensors`` ``config_groups`` whose groups all store one weight format: float 8 / 4 bits with
  quantised activations -> fp8 / fp4; 8 / 4 bits, integer or float, with no activation quantisation
  (weight-only) -> int8 / int4;
* ``awq`` and ``gptq`` with ``bits`` 4 / 8 -> int4 / int8 (weight-only).

ModelOpt ``MIXED_PRECISION`` lists a format per module (``quantized_layers``; a module not listed is not
quantised). It is priced when the list splits into the two parts the estimate prices apart: the MLPs (dense,
experts, shared experts) of every MLP block in one 4-bit format, which becomes the weight format, and the
token mixers' projections (attention, linear attention, Mamba) of every mixer block in one 8-bit format,
``Model.mixer_dtype`` (Qwen3.6's NVFP4 releases: W4A16 NVFP4 MLPs, FP8 mixers), or of every recurrent mixer
block (its ``in_proj`` / ``out_proj``) with the attention blocks left unquantised: ``mixer_dtype`` beside
``attention_16bit`` (Nemotron 3.5 Lightning: Mamba-2 FP8, attention 16 bit). Where the list also names the
LM head, its format is ``Model.head_dtype`` (both releases: W4A16 NVFP4, int4); elsewhere the head is 16 bit.

Anything else that is declared (other ``MIXED_PRECISION`` splits, ``bitsandbytes``, integer weights with
quantised activations, groups of different formats...) is *not priced*: the checkpoint's
format is recorded in words and the user must choose ``--weight-dtype`` (the estimate never substitutes one
silently). The KV-cache format: ModelOpt ``kv_cache_quant_algo`` ``FP8`` -> fp8, or ``kv_cache_scheme``
(``"FP8"``, or float / integer 8 bits) -> fp8 / int8; engines whose ``kv_cache_dtype = auto`` follows the
checkpoint use it (``Model.checkpoint_kv``).
"""

from __future__ import annotations

import re

_ALGO = {"FP8": "fp8", "FP8_PER_CHANNEL_PER_TOKEN": "fp8", "FP8_BLOCK_SCALES": "fp8", "NVFP4": "fp4",
         "MXFP4": "fp4", "W4A16": "int4", "W4A16_AWQ": "int4", "W4A16_GPTQ": "int4", "W4A16_NVFP4": "int4",
         "W4A16_MXFP4": "int4", "W8A16": "int8", "W8A16_GPTQ": "int8"}
_METHOD = {"fp8": "fp8", "mxfp4": "fp4"}
_BITS = {4: "int4", 8: "int8"}
_KV = {"FP8": "fp8", "INT8": "int8"}


def _group_format(group) -> str | None:
    """The weight format of one compressed-tensors config group, or None when it is not one we price."""
    if not isinstance(group, dict) or not isinstance(group.get("weights"), dict):
        return None
    w, a = group["weights"], group.get("input_activations")
    bits, kind = w.get("num_bits"), w.get("type")
    if kind not in ("float", "int"):
        return None
    if a is None:  # weight-only: dequantised to 16 bit in the GEMM
        return _BITS.get(bits)
    return {8: "fp8", 4: "fp4"}.get(bits) if kind == "float" else None


def _weight_format(q: dict) -> tuple[str | None, str]:
    """(our weight dtype or None, the declaration in words) of one quantisation description."""
    algo, method = q.get("quant_algo"), q.get("quant_method")
    if isinstance(algo, str):
        return _ALGO.get(algo.upper()), f"quant_algo {algo}"
    if method == "compressed-tensors" or "config_groups" in q:
        groups = q.get("config_groups")
        found = {_group_format(g) for g in groups.values()} if isinstance(groups, dict) and groups else {None}
        return (found.pop() if len(found) == 1 else None), "compressed-tensors config_groups"
    if method in ("awq", "gptq"):
        return _BITS.get(q.get("bits")), f"quant_method {method} bits {q.get('bits')}"
    if isinstance(method, str):
        return _METHOD.get(method), f"quant_method {method}"
    return None, "a quantization_config without quant_method or quant_algo"


def _kv_format(q: dict) -> str | None:
    named = q.get("kv_cache_quant_algo") or q.get("kv_cache_scheme")
    if isinstance(named, str):
        return _KV.get(named.upper())
    scheme = q.get("kv_cache_scheme")
    if isinstance(scheme, dict) and scheme.get("num_bits") == 8:
        return {"float": "fp8", "int": "int8"}.get(scheme.get("type"))
    return None


_MLP_MODULE = re.compile(r"\.(?:mlp|experts|shared_experts?|feed_forward|block_sparse_moe)(?:\.|$)")
_MIXER_MODULE = re.compile(r"(?:attn\.|\.mixer\.(?:[qkvo]_proj|qkv_proj|in_proj|out_proj))")
_LAYER = re.compile(r"layers\.(\d+)\.")
_RECURRENT_MODULE = re.compile(r"\.mixer\.(?:in_proj|out_proj)|linear_attn\.")  # Mamba-2 and Gated DeltaNet


def _mixed_formats(q: dict, mixer_layers: int, mlp_layers: int, recurrent_layers: int = 0
                   ) -> tuple[str, str, str, bool] | str:
    """(the MLPs' 4-bit format, the token mixers' 8-bit format, both as declared, whether it covers the
    recurrent mixers alone) of a ModelOpt ``MIXED_PRECISION`` ``quantized_layers`` list that splits so
    (module docstring), else why it does not."""
    listed = q.get("quantized_layers")
    if not isinstance(listed, dict) or not listed:
        return "no quantized_layers list"
    parts = {"MLPs": ({}, mlp_layers), "token mixers": ({}, mixer_layers)}
    attention_listed = False
    for module, spec in listed.items():
        if module.endswith("lm_head"):
            continue
        algo = spec.get("quant_algo") if isinstance(spec, dict) else None
        layer = _LAYER.search(module)
        part = "MLPs" if _MLP_MODULE.search(module) else "token mixers" if _MIXER_MODULE.search(module) else None
        if part is None or layer is None or not isinstance(algo, str):
            return f"module {module} is neither an MLP nor a token mixer of a numbered block"
        parts[part][0].setdefault(algo, set()).add(int(layer.group(1)))
        attention_listed |= part == "token mixers" and _RECURRENT_MODULE.search(module) is None
    found = {}
    recurrent_only = False
    for part, (algos, blocks) in parts.items():
        if len(algos) != 1:
            return f"its {part} are in {len(algos)} formats ({', '.join(sorted(algos)) or 'none listed'})"
        (algo, layers), = algos.items()
        if part == "token mixers" and len(layers) == recurrent_layers < blocks and not attention_listed:
            recurrent_only = True  # every recurrent mixer block, and no attention module
        elif len(layers) != blocks:
            return f"{algo} covers {len(layers)} of the {blocks} blocks' {part}; the others are not quantised"
        found[part] = algo
    mlp, mixer = _ALGO.get(found["MLPs"].upper()), _ALGO.get(found["token mixers"].upper())
    if mlp not in ("fp4", "int4") or mixer not in ("fp8", "int8"):
        return f"MLPs {found['MLPs']} and token mixers {found['token mixers']}: not 4-bit MLPs beside 8-bit mixers"
    mixers = "recurrent mixers" if recurrent_only else "token mixers"
    return mlp, mixer, f"MLPs {found['MLPs']}, {mixers} {found['token mixers']}", recurrent_only


def _head_format(q: dict) -> tuple[str | None, str]:
    """(our format, as declared) of the LM head in a ``quantized_layers`` list that names it, else (None, '')."""
    listed = q.get("quantized_layers")
    spec = next((s for k, s in listed.items() if k.endswith("lm_head")), None) if isinstance(listed, dict) else None
    algo = spec.get("quant_algo") if isinstance(spec, dict) else None
    return (_ALGO.get(algo.upper()), algo) if isinstance(algo, str) else (None, "")


def checkpoint_fields(cfg: dict, quant: dict | None, mixer_layers: int = 0, mlp_layers: int = 0,
                      recurrent_layers: int = 0) -> dict:
    """The model fields of the checkpoint's declared formats: ``checkpoint_format`` (the declaration, in
    words), ``checkpoint_dtype`` (the weight format in this tool's names, when it prices it), ``mixer_dtype``
    (a priced MIXED_PRECISION split; ``mixer_layers`` and ``mlp_layers`` blocks of the model must be covered,
    or its ``recurrent_layers`` alone: then ``attention_16bit`` too) with ``head_dtype`` where it names the head,
    and ``checkpoint_kv`` (its KV-cache format by weight format); empty for an unquantised checkpoint.
    ModelOpt's hf_quant_config.json, where present, is the description that is read."""
    described = quant.get("quantization") if isinstance(quant, dict) else None
    if isinstance(described, dict):
        q, where = described, "hf_quant_config.json"
    else:
        text = cfg.get("text_config") if isinstance(cfg.get("text_config"), dict) else {}
        q = cfg.get("quantization_config") or text.get("quantization_config")
        where = "config.json quantization_config"
    if not isinstance(q, dict):
        return {}
    dtype, words = _weight_format(q)
    mixer = head = None
    if str(q.get("quant_algo")).upper() == "MIXED_PRECISION":
        split = _mixed_formats(q, mixer_layers, mlp_layers, recurrent_layers)
        recurrent_only = False
        if isinstance(split, str):
            words += f" ({split})"
        else:
            dtype, mixer, declared, recurrent_only = split
            head, head_declared = _head_format(q)
            words += f" ({declared}{', LM head ' + head_declared if head else ''})"
    out = {"checkpoint_format": f"{where}: {words}"}
    if mixer is not None and recurrent_only:
        out["attention_16bit"] = True
    if mixer is not None:
        out["mixer_dtype"] = mixer
        if head is not None:
            out["head_dtype"] = head
    if dtype is not None:
        out["checkpoint_dtype"] = dtype
        kv = _kv_format(q)
        if kv is not None:
            out["checkpoint_kv"] = {dtype: kv}
    return out
