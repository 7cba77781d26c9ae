"""The serving-engine presets of ``profiles/engines.toml``, each checked into an
:class:`roofline.engines.Engine`."""

from __future__ import annotations

from roofline.engines import KV_AUTO, MEMORY_RULES, DeviceDefaults, Engine
from roofline.errors import RooflineError
from roofline.loaders.files import figure, profiles_dir, read_toml, text

_FLAGS = ("chunked", "reserve_full", "prefill_first")


def _device_defaults(tiers, where: str) -> tuple[DeviceDefaults, ...]:
    """The optional ``[[engine.device_defaults]]`` tables, in order."""
    if tiers is None:
        return ()
    if not isinstance(tiers, list):
        raise RooflineError(f"{where}={tiers!r} must be a list of tables; write [[{where}]]")
    out = []
    for k, table in enumerate(tiers):
        at = f"{where}[{k}]"
        if not isinstance(table, dict):
            raise RooflineError(f"{at}={table!r} must be a table; write [[{where}]]")
        low, _ = figure(table, "min_gib", at, required=False)
        high, _ = figure(table, "below_gib", at, required=False)
        names = table.get("names", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            raise RooflineError(f"{at}.names={names!r} must be a list of chip-name parts, e.g. [\"A100\"]")
        seqs, _ = figure(table, "max_seqs", at, required=False, integer=True)
        budget, _ = figure(table, "max_num_tokens", at, required=False, integer=True)
        if seqs is None and budget is None:
            raise RooflineError(f"{at} sets neither max_seqs nor max_num_tokens; give one or drop the table")
        out.append(DeviceDefaults(min_bytes=float(low or 0.0) * 2**30,
                                  below_bytes=float(high) * 2**30 if high is not None else float("inf"),
                                  names=tuple(names), max_seqs=seqs or 0, max_num_tokens=budget or 0,
                                  source=text(table, "source", at)))
    return tuple(out)


def engine_from_dict(name: str, table: dict) -> Engine:
    """One ``[engine]`` table of the presets file."""
    where = f"engines.{name}"
    if not isinstance(table, dict):
        raise RooflineError(f"{where} must be a table; see profiles/engines.toml")
    for key in _FLAGS:
        if not isinstance(table.get(key), bool):
            raise RooflineError(f"{where}.{key}={table.get(key)!r} must be true or false")
    fp8_mla = table.get("fp8_mla_attention", False)
    if not isinstance(fp8_mla, bool):
        raise RooflineError(f"{where}.fp8_mla_attention={fp8_mla!r} must be true or false")
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
    launch, _ = figure(table, "kernel_overhead_s", where, zero_ok=True)
    request, _ = figure(table, "request_overhead_s", where, zero_ok=True)
    p2p, _ = figure(table, "p2p_allreduce_max_bytes", where, zero_ok=True)
    return Engine(name=name, chunked=table["chunked"], max_num_tokens=budget, memory_fraction=fraction,
                  memory_rule=rule, reserve_full=table["reserve_full"], max_seqs=seqs,
                  source=text(table, "source", where), prefill_first=table["prefill_first"], kv_auto=kv_auto,
                  fp8_mla_attention=fp8_mla,
                  step_overhead_s=float(step), seq_overhead_s=float(seq), kernel_overhead_s=float(launch),
                  request_overhead_s=float(request), p2p_allreduce_max_bytes=float(p2p),
                  overhead_source=step_source if step_source == seq_source else f"{step_source}; {seq_source}",
                  device_defaults=_device_defaults(table.get("device_defaults"), f"{where}.device_defaults"))


def load_engines() -> dict[str, Engine]:
    """Every preset, by name, in the file's order."""
    data = read_toml(profiles_dir() / "engines.toml", "engines profile")
    return {name: engine_from_dict(name, table) for name, table in data.items()}


#: The presets, by name (``generic``, ``vllm``, ``sglang``, ``trtllm``).
ENGINES = load_engines()
