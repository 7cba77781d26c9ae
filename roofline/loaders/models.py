"""Model profiles: the registry of ``profiles/models/*.toml`` and loading a ``Model`` by name or alias, from
a user's TOML file, or from a Hugging Face ``config.json`` (or a folder holding one)."""

from __future__ import annotations

import functools

import json
import types
from pathlib import Path

import attrs

from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.errors import RooflineError, closest
from roofline.loaders.files import Registry, is_path, positive_number, read_toml, string_list, text
from roofline.model import BOOL_FIELDS, INT_FIELDS, MIX_FIELDS, MLA_FIELDS, MOE_FIELDS, Model, architecture_problem
from roofline.quantity import MAX_COUNT, show

MODELS = Registry("models", "model profile", "roofline models")


def _count_field(field: str, value) -> int:
    """A whole number from 0 to ``MAX_COUNT`` (0 = feature off); huge integers are refused, not overflowed."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_COUNT \
            or value != int(value):
        raise RooflineError(f"{field}={show(value)} must be a whole number from 0 to {MAX_COUNT:,} (0 turns "
                            f"the feature off); fix the value")
    return int(value)


_DEFAULTS = {a.name: a.default for a in attrs.fields(Model) if a.default is not attrs.NOTHING}

#: Keys a model file may hold: the ``Model`` fields and free-text ``notes``; anything else is a typo.
_KNOWN_KEYS = sorted({a.name for a in attrs.fields(Model)} | {"notes"})


def _checkpoint_kv(table, where: str) -> tuple[tuple[str, str], ...]:
    """The ``[checkpoint_kv]`` table: weight dtype = {{ value = KV dtype, source = "..." }} (or a bare dtype)."""
    if not isinstance(table, dict):
        raise RooflineError(f"{where}: checkpoint_kv must be a table of weight dtype = KV dtype; see "
                            f"profiles/models/DeepSeek-R1.toml")
    out = []
    for weight, entry in table.items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        if weight not in WEIGHT_DTYPES or value not in KV_DTYPES:
            raise RooflineError(f"{where}: checkpoint_kv.{weight}={value!r} must map a weight dtype "
                                f"({', '.join(WEIGHT_DTYPES)}) to a KV dtype ({', '.join(KV_DTYPES)})")
        out.append((weight, value))
    return tuple(out)


def model_from_dict(d: dict, where: str = "model") -> Model:
    """Validate a dict of model fields (TOML profile or mapped HF config) and build a ``Model``."""
    if not isinstance(d, dict):
        raise RooflineError(f"{where}: expected a table of model fields; see profiles/models/Llama-3.1-8B.toml")
    for key in d:
        if key not in _KNOWN_KEYS:
            near = closest(str(key), _KNOWN_KEYS)
            raise RooflineError(f"{where}: {key} is not a model field; " + (f"did you mean {', '.join(near)}?" if near
                                else "see profiles/models/Llama-3.1-8B.toml for the fields"))
    kw = {}
    for f in (*MOE_FIELDS, *MLA_FIELDS, *MIX_FIELDS):
        if f in d and d[f] is not None:
            kw[f] = _count_field(f"{where}: {f}", d[f])
    is_mla = kw.get("kv_lora_rank", 0) > 0
    for f in INT_FIELDS:
        if f == "head_dim" and f not in d:
            continue
        if f not in d:
            raise RooflineError(f"{where}: {f} is missing; add it (a positive integer)")
        kw[f] = positive_number(f"{where}: {f}", d[f], integer=True)
    if "head_dim" not in kw:
        if is_mla:
            kw["head_dim"] = kw.get("qk_nope_head_dim", 0) + kw.get("qk_rope_head_dim", 0)
        elif kw["hidden_size"] % kw["num_heads"]:
            raise RooflineError(f"{where}: hidden_size={kw['hidden_size']} is not divisible by "
                                f"num_heads={kw['num_heads']}; give head_dim explicitly")
        else:
            kw["head_dim"] = kw["hidden_size"] // kw["num_heads"]
    if kw["num_heads"] % kw["num_kv_heads"]:
        raise RooflineError(f"{where}: num_kv_heads={kw['num_kv_heads']} does not divide "
                            f"num_heads={kw['num_heads']}; fix the file")
    for f in BOOL_FIELDS:
        if f in d:
            if not isinstance(d[f], bool):
                raise RooflineError(f"{where}: {f}={d[f]!r} must be true or false")
            kw[f] = d[f]
    for f in ("learned_pos_embeddings", "max_position_embeddings", "sliding_window"):
        if f in d and d[f] not in (0, None):
            kw[f] = positive_number(f"{where}: {f}", d[f], integer=True)
    norm = d.get("norm", "rms")
    if norm not in ("rms", "layer"):
        raise RooflineError(f"{where}: norm={norm!r} must be 'rms' or 'layer'")
    kw["norm"] = norm
    for f in ("params_published", "params_active_published"):
        if d.get(f) is not None:
            kw[f] = positive_number(f"{where}: {f}", d[f])
    kw["name"] = text(d, "name", where, default="custom")
    kw["family"] = text(d, "family", where, default="llama")
    kw["source"] = str(d.get("source", ""))
    kw["aliases"] = string_list(d, "aliases", where) if "aliases" in d else ()
    kw["checkpoint_kv"] = _checkpoint_kv(d.get("checkpoint_kv", {}), where)
    for f in ("checkpoint_dtype", "mixer_dtype", "head_dtype"):  # checked with the rest by architecture_problem
        if d.get(f) is not None:
            kw[f] = d[f]
    kw["checkpoint_format"] = str(d.get("checkpoint_format", ""))
    problem = architecture_problem(types.SimpleNamespace(**(_DEFAULTS | kw)))
    if problem:
        raise RooflineError(f"{where}: {problem}")
    return Model(**kw)


@functools.cache
def _shipped_model(path: Path) -> Model:
    """A shipped profile, read once per process (``validate`` asks for the same few thousands of times;
    a ``Model`` is frozen, so every caller may share it)."""
    return model_from_dict(read_toml(path, "model profile"), where=f"model {path.stem}")


def load_model(name_or_path: str | Path) -> Model:
    """Load by profile name/alias, a ``.toml`` file, a HF ``config.json`` or a folder holding one."""
    s = str(name_or_path)
    if not s.strip():
        raise RooflineError("model='' is empty; give a profile name such as 70B (`roofline models` lists them), "
                            "a config.json or its folder, or a .toml file")
    path = MODELS.find(s)
    if path is not None:
        return _shipped_model(path)
    p = Path(s)
    if is_path(p, "dir"):
        p = p / "config.json"
        if not is_path(p):
            raise RooflineError(f"model: folder {s!r} has no config.json; point --model at a Hugging Face model folder")
    if p.suffix.lower() == ".toml":
        return model_from_dict(read_toml(p, "model file"), where=f"model file {p.name}")
    if p.suffix.lower() == ".json" or is_path(p):
        return _from_hf(p)
    raise MODELS.unknown(s, "model")


def _from_hf(path: Path) -> Model:
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RooflineError(f"model: file {str(path)!r} does not exist; give a profile name or a config.json "
                            f"path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RooflineError(f"model: cannot read {str(path)!r} ({exc}); check the file") from None
    try:
        cfg = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RooflineError(f"model: {str(path)!r} is not valid JSON ({exc.msg} at line {exc.lineno}); fix the "
                            f"file") from None
    if not isinstance(cfg, dict):
        raise RooflineError(f"model: {str(path)!r} must hold a JSON object (a Hugging Face config)")
    name = cfg.get("_name_or_path") or path.parent.name or "custom"
    quant = None
    quant_path = path.parent / "hf_quant_config.json"
    if quant_path.is_file():  # ModelOpt's description of the quantised checkpoint: which modules stay 16 bit
        try:
            quant = json.loads(quant_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise RooflineError(f"model: cannot read {str(quant_path)!r} ({exc}); fix or remove the file") from None
        if not isinstance(quant, dict):
            raise RooflineError(f"model: {str(quant_path)!r} must hold a JSON object (a ModelOpt quantisation config)")
    from roofline.loaders.hf_config import fields_from_hf_config  # only for a config.json: not on every start-up

    return model_from_dict(fields_from_hf_config(cfg, str(name), quant), where=f"config.json {str(path)!r}")
