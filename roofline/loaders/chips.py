"""Chip profiles: the registry of ``profiles/chips/*.toml`` and loading a ``Chip`` by name, alias or file,
validating every figure (see profiles/chips/README.md)."""

from __future__ import annotations

import functools
import re
from pathlib import Path

from roofline.chip import RANGES, Chip
from roofline.dtypes import COMPUTE_DTYPES
from roofline.efficiency import OVERRIDE_KEYS, ZERO_OK
from roofline.errors import RooflineError, closest
from roofline.loaders.files import Registry, figure, is_path, read_toml, string_list, text

CHIPS = Registry("chips", "chip profile", "roofline chips")


def load_chip(name_or_path: str | Path) -> Chip:
    """Load a chip by profile name or alias (case-insensitive), or from a path to a ``.toml`` file."""
    s = str(name_or_path)
    if not s.strip():
        raise RooflineError("chip='' is empty; give a profile name such as H100 (`roofline chips` lists them) "
                            "or a .toml file")
    path = CHIPS.find(s) if not s.lower().endswith(".toml") else None
    if path is not None:
        return _shipped_chip(path)
    if s.lower().endswith(".toml") or is_path(s):
        path = Path(s)
    else:
        path = CHIPS.resolve(s, "chip")
    return _chip_file(path)


def _chip_file(path: Path) -> Chip:
    return chip_from_dict(read_toml(path, "chip profile"), path.stem, str(path))


@functools.cache
def _shipped_chip(path: Path) -> Chip:
    """A shipped profile, parsed once per process (the files inside the package do not change; a chip is
    frozen, so every caller may share it)."""
    return _chip_file(path)


def chip_from_dict(data: dict, default_name: str = "custom", where: str = "chip") -> Chip:
    """Build a ``Chip`` from a parsed profile, validating every field (see profiles/chips/README.md)."""
    if not isinstance(data, dict):
        raise RooflineError(f"{where}: expected a TOML table; see profiles/chips/H100-SXM.toml for the layout")
    sources: list[tuple[str, str]] = []

    def table(key: str) -> dict:
        t = data.get(key)
        if not isinstance(t, dict):
            raise RooflineError(f"{where}: table [{key}] is missing; add it (see profiles/chips/H100-SXM.toml)")
        return t

    peaks_t = table("peak_flops_per_s")
    peaks = []
    order = {d: i for i, d in enumerate(COMPUTE_DTYPES)}
    for dtype, _ in sorted(peaks_t.items(), key=lambda kv: order.get(kv[0], 99)):
        if dtype not in COMPUTE_DTYPES:
            raise RooflineError(
                f"{where}: peak_flops_per_s.{dtype} is not a known dtype; use {', '.join(COMPUTE_DTYPES)}"
            )
        value, src = figure(peaks_t, dtype, "peak_flops_per_s")
        peaks.append((dtype, value))
        sources.append((f"peak_flops_per_s.{dtype}", src))
    if not any(d in ("bf16", "fp16") for d, _ in peaks):
        raise RooflineError(f"{where}: peak_flops_per_s needs bf16 or fp16 (dense FLOP/s); add it")

    hbm = table("hbm")
    hbm_bytes, s1 = figure(hbm, "bytes", "hbm")
    hbm_bw, s2 = figure(hbm, "bytes_per_s", "hbm")
    up = table("scale_up")
    up_bw, s3 = figure(up, "bytes_per_s", "scale_up")
    up_dom, s4 = figure(up, "domain_size", "scale_up", integer=True)
    out = table("scale_out")
    out_bw, s5 = figure(out, "bytes_per_s", "scale_out")
    tdp, s6 = figure(data.get("power", {}), "tdp_w", "power", required=False)
    sources += [("hbm.bytes", s1), ("hbm.bytes_per_s", s2), ("scale_up.bytes_per_s", s3),
                ("scale_up.domain_size", s4), ("scale_out.bytes_per_s", s5)]
    if tdp is not None:
        sources.append(("power.tdp_w", s6))
    for field, value in (*((f"peak_flops_per_s.{d}", v) for d, v in peaks), ("hbm.bytes", hbm_bytes),
                         ("hbm.bytes_per_s", hbm_bw), ("scale_up.bytes_per_s", up_bw),
                         ("scale_out.bytes_per_s", out_bw), ("power.tdp_w", tdp)):
        _plausible(where, field, value)

    die_area, price, price_date, price_market = _optional_figures(data, where, sources)

    overrides = []
    eff = data.get("efficiency", {})
    if not isinstance(eff, dict):
        raise RooflineError(f"{where}: [efficiency] must be a table of fractions; see README 'Efficiency'")
    for key in eff:
        if key not in OVERRIDE_KEYS:
            near = closest(str(key), OVERRIDE_KEYS)
            raise RooflineError(f"{where}: efficiency.{key} is not an efficiency key; "
                                + (f"did you mean {', '.join(near)}?" if near else f"use {', '.join(OVERRIDE_KEYS)}"))
        value, _ = figure(eff, key, "efficiency", zero_ok=key in ZERO_OK, integer=key == "max_tokens_per_pass")
        overrides.append((key, value))

    name = text(data, "name", "", default=default_name)
    return Chip(
        name=name,
        peak_flops_per_s=tuple(peaks),
        hbm_bytes=hbm_bytes,
        hbm_bytes_per_s=hbm_bw,
        scale_up_bytes_per_s=up_bw,
        scale_up_domain=up_dom,
        scale_out_bytes_per_s=out_bw,
        family=text(data, "family", "", default="default").lower(),
        full_name=text(data, "full_name", "", default=name),
        vendor=text(data, "vendor", "", default=""),
        scale_up_name=text(up, "name", "scale_up", default=""),
        scale_out_name=text(out, "name", "scale_out", default=""),
        tdp_w=tdp,
        confidence=text(data, "confidence", "", default="user-supplied"),
        aliases=string_list(data, "aliases", ""),
        sources=tuple(sources),
        efficiency_overrides=tuple(overrides),
        die_area_mm2=die_area,
        price_usd_per_hour=price,
        price_date=price_date,
        price_market=price_market,
    )


def _plausible(where: str, field: str, value: float | None) -> None:
    """Refuse a figure outside its ``RANGES`` entry (``peak_flops_per_s.*`` share one)."""
    if value is None:
        return
    low, high, unit = RANGES[field.split(".")[0] if field.startswith("peak_flops_per_s.") else field]
    if not low <= value <= high:
        raise RooflineError(f"{where}: {field}={value:g} is outside {low:g} to {high:g} {unit.split(',')[0]}; "
                            f"write it in SI units ({unit})")


#: Where a rental price is quoted: "global" (US and European clouds) or "china" (Chinese cloud platforms, which
#: list in CNY and rent chips the global clouds do not). Prices of different markets are not compared.
MARKETS = ("global", "china")

_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$")


def _optional_figures(data: dict, where: str,
                      sources: list[tuple[str, str]]) -> tuple[float | None, float | None, str, str]:
    """The optional ``[die] area_mm2`` and ``[price] usd_per_hour`` (with its ``date`` and ``market``), each
    with a source.

    Returns ``(die_area_mm2, price_usd_per_hour, price_date, price_market)``; appends the sources to
    ``sources``.
    """
    out: list = []
    for key, fig in (("die", "area_mm2"), ("price", "usd_per_hour")):
        tbl = data.get(key, {})
        if not isinstance(tbl, dict):
            raise RooflineError(f"{where}: [{key}] must be a table with {fig} = {{ value = ..., source = \"...\" }}")
        value, src = figure(tbl, fig, key, required=False)
        _plausible(where, f"{key}.{fig}", value)
        if value is not None:
            if not src.strip():
                raise RooflineError(f"{where}: {key}.{fig} has no source; write {fig} = "
                                    f"{{ value = {value:g}, source = \"where the figure comes from\" }}")
            sources.append((f"{key}.{fig}", src))
        out.append(value)
    date = market = ""
    if out[1] is not None:
        entry = data["price"]["usd_per_hour"]
        date = entry.get("date", "") if isinstance(entry, dict) else ""
        if not isinstance(date, str) or not _DATE.match(date.strip()):
            raise RooflineError(f"{where}: price.usd_per_hour needs the date it was quoted, such as "
                                f"date = \"2026-05\" (YYYY-MM or YYYY-MM-DD); got {date!r}")
        date = date.strip()
        market = entry.get("market", "global") if isinstance(entry, dict) else "global"
        if market not in MARKETS:
            raise RooflineError(f"{where}: price.usd_per_hour market={market!r} is not one of "
                                f"{', '.join(MARKETS)}; say where the price is quoted")
    return out[0], out[1], date, market
