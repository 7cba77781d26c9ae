"""Plain-text building blocks: numbers with their units, and aligned tables without colour."""

from __future__ import annotations

from roofline.chip import Chip
from roofline.results.inference import Phase


def seconds(t: float) -> str:
    if t >= 100:
        return f"{t:,.0f} s"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.2f} ms"
    return f"{t * 1e6:.1f} µs"


def gb(x: float) -> str:
    return f"{x / 1e9:,.1f} GB"


def rate(x: float) -> str:
    return f"{x:,.1f}" if x < 100 else f"{x:,.0f}"


def table(header: list[str], rows: list[list[str]], left: tuple[int, ...] = (0,)) -> str:
    """Columns two spaces apart: those in ``left`` (the first by default) left-aligned, others right-aligned."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for r in [header, *rows]:
        cells = [str(c).ljust(widths[i]) if i in left else str(c).rjust(widths[i]) for i, c in enumerate(r)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def count(x: float) -> str:
    """A large count with a decimal suffix: 15e12 -> '15T', 1.5e9 -> '1.5B'."""
    for scale, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if x >= scale:
            return f"{x / scale:,.3g}{suffix}"
    return f"{x:,.0f}"


def duration(t: float) -> str:
    """Seconds as days (hours below one day)."""
    return f"{t / 86400:,.1f} days" if t >= 86400 else f"{t / 3600:,.1f} hours"


def share(t: float, total: float) -> str:
    return f"{t / total:.1%}" if total > 0 else "-"


def chip_line(chip: Chip, dtype: str) -> str:
    return (f"{chip.name} ({chip.full_name}): {dtype} dense {chip.peak(dtype) / 1e12:,.0f} TFLOP/s, "
            f"HBM {gb(chip.hbm_bytes)} at {chip.hbm_bytes_per_s / 1e12:.2f} TB/s, "
            f"{chip.scale_up_name or 'scale-up'} {chip.scale_up_bytes_per_s / 1e9:,.0f} GB/s per direction "
            f"x {chip.scale_up_domain} chips")


def ops_table(title: str, phase: Phase, link: str = "scale-up") -> str:
    """A pass's op table; ``link`` names the scale-up limit (the chip's link, e.g. NVLink)."""
    rows = [[o.name, str(o.count), f"{o.flops / 1e12:,.3f}", f"{o.hbm_bytes / 1e9:,.3f}",
             f"{o.link_bytes / 1e9:,.4f}", seconds(o.time_s), link if o.bound == "scale-up" else o.bound]
            for o in phase.ops]
    return title + "\n" + table(["op", "count", "TFLOP", "HBM GB", "link GB", "time", "bound"], rows)


def mix_summary(model) -> str:
    """The layer mix in a few words: token mixers, then MLPs, e.g. ``18 full + 18 SWA-128 / 36 MoE``; kinds a
    block lacks are left out (Nemotron-H's blocks have a mixer or an MLP, so each side sums to fewer)."""
    full = model.attention_layers - model.swa_layers
    slide = f"{'chunked' if model.attention_chunked else 'SWA'}-{model.sliding_window}"
    mixers = [(full, "sparse" if model.sparse_top_k else "full"), (model.swa_layers, slide),
              (model.linear_layers, "GDN"), (model.mamba_layers, "Mamba2")]
    mlps = [(model.dense_layers, "dense"), (model.moe_layers, "MoE")]
    side = lambda kinds: " + ".join(f"{n} {k}" for n, k in kinds if n) or "none"  # noqa: E731
    return f"{side(mixers)} / {side(mlps)}"

