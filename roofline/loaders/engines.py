"""The serving-engine presets of ``profiles/engines.toml``, each checked into an
:class:`roofline.engines.Engine`."""

from __future__ import annotations

from roofline.engines import KV_AUTO, MEMORY_RULES, Engine
from roofline.errors import RooflineError
from roofline.loaders.files import figure, profiles_dir, read_toml, text

_FLAGS = ("chunked", "reserve_full", "prefill_first")


def engine_from_dict(name: str, table: dict) -> Engine:
    """One ``[engine]`` table of the presets file."""
    where = f"engines.{name}"
    if not isinstance(table, dict):
        raise RooflineError(f"{where} must be a table; see profiles/engines.toml")
    for key in _FLAGS:
        if not isinstance(table.get(key), bool):
            raise RooflineError(f"{where}.{key}={table.get(key)!r} must be true or false")
    budget, _ = figure(table, "max_num_tokens", where, integer=True)
    fraction, _ = figure(table, "memory_fraction", where)
    seqs = table.get("max_seqs", 0)
    if seqs != 0:
        seqs, _ = figure(table, "max_seqs", where, integer=True)
    rule, kv_auto = text(table, "memory_rule", where), text(table, "kv_auto", where)
    if rule not in MEMORY_RULES or kv_auto not in KV_AUTO:
        raise RooflineError(f"{where}: memory_rule={rule!r} and kv_auto={kv_auto!r} must be one of "
                            f"{', '.join(MEMORY_RULES)} and {', '.join(KV_AUTO)}")
    step, step_source = figure(table, "step_overhead_s", where, zero_ok=True)
    seq, seq_source = figure(table, "seq_overhead_s", where, zero_ok=True)
    return Engine(name=name, chunked=table["chunked"], max_num_tokens=budget, memory_fraction=fraction,
                  memory_rule=rule, reserve_full=table["reserve_full"], max_seqs=seqs,
                  source=text(table, "source", where), prefill_first=table["prefill_first"], kv_auto=kv_auto,
                  step_overhead_s=float(step), seq_overhead_s=float(seq),
                  overhead_source=step_source if step_source == seq_source else f"{step_source}; {seq_source}")


def load_engines() -> dict[str, Engine]:
    """Every preset, by name, in the file's order."""
    data = read_toml(profiles_dir() / "engines.toml", "engines profile")
    return {name: engine_from_dict(name, table) for name, table in data.items()}


#: The presets, by name (``generic``, ``vllm``, ``sglang``, ``trtllm``).
ENGINES = load_engines()
