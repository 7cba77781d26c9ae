"""Lists as text: the chip and model profiles, and the rows of ``roofline validate`` with their errors."""

from __future__ import annotations

from roofline.checkpoint import checkpoint_weight_dtype
from roofline.chip import Chip
from roofline.errors import RooflineError
from roofline.model import Model
from roofline.render.text import mix_summary, table
from roofline.results.validation import Validation, source_name


def render_chips(chips: list[Chip]) -> str:
    rows = []
    for c in chips:
        d = dict(c.peak_flops_per_s)
        bf = d.get("bf16") or d.get("fp16")
        fp8 = d.get("fp8")
        rows.append([c.name, f"{bf / 1e12:,.0f}", f"{fp8 / 1e12:,.0f}" if fp8 else "-", f"{c.hbm_bytes / 1e9:,.0f}",
                     f"{c.hbm_bytes_per_s / 1e12:.2f}", f"{c.scale_up_bytes_per_s / 1e9:,.0f} x {c.scale_up_domain}",
                     f"{c.scale_out_bytes_per_s / 1e9:,.1f}", f"{c.tdp_w:,.0f}" if c.tdp_w else "-",
                     f"{bf / c.hbm_bytes_per_s:,.0f}", ", ".join(c.aliases[:3])])
    return table(["chip", "bf16 TFLOP/s", "fp8", "HBM GB", "TB/s", "scale-up GB/s x domain", "net GB/s", "TDP W",
                  "crit. FLOP/B", "aliases"], rows) + ("\nAll peaks are dense (no 2:4 sparsity); link figures per "
                                                        "direction per chip.")


def render_models(models: list[Model]) -> str:
    rows = [[m.name, f"{m.param_count() / 1e9:,.2f}", f"{m.active_param_count() / 1e9:,.2f}", str(m.num_layers),
             mix_summary(m), str(m.hidden_size), f"{m.num_heads}/{m.num_kv_heads}", f"{m.vocab_size:,}",
             f"{m.kv_bytes_per_token(2):,.0f}", _weights(m), ", ".join(m.aliases[:2])] for m in models]
    return table(["model", "params B", "active B", "layers", "layer mix (token mixers / MLPs)", "hidden",
                  "heads/kv", "vocab", "KV B/token bf16", "weights", "aliases"], rows, left=(0, 4)) + (
        "\nLayer mix: full / SWA-window (sliding-window) / sparse (DSA) attention, GDN (Gated DeltaNet linear "
        "attention), Mamba2; dense or MoE MLP. KV B/token counts every attention layer (a sliding-window layer "
        "keeps at most its window; recurrent layers keep a fixed state per sequence instead). Weights: the "
        "format of the released checkpoint, the default --weight-dtype.")


def _weights(m: Model) -> str:
    """The default weight format (:func:`roofline.checkpoint.checkpoint_weight_dtype`), '-' when the checkpoint
    declares formats no single one expresses (``--weight-dtype`` must choose)."""
    try:
        return checkpoint_weight_dtype(m)
    except RooflineError:
        return "-"


def _value(x: float) -> str:
    return f"{x:.4g}"


def render_validation(v: Validation) -> str:
    """Per source: every row (measured, predicted, error); then the summaries and the skipped rows."""
    out = []
    for src in sorted({source_name(r.source) for r in v.rows}):
        rows = [r for r in v.rows if source_name(r.source) == src]
        out += [f"{src} ({len(rows)} rows)",
                table(["row", "metric", "measured", "predicted", "error"],
                      [[r.row_id + ("" if r.fits is not False else " *"), r.metric_std, _value(r.measured),
                        _value(r.predicted), f"{r.error_pct:+.1f}%"] for r in rows], left=(0, 1)), ""]

    def summary(title: str, groups: dict) -> list[str]:
        rows = [[k, str(s["rows"]), f"{s['median_abs_error_pct']:.1f}%", f"{s['mean_abs_error_pct']:.1f}%",
                 f"{s['bias_pct']:+.1f}%"] for k, s in groups.items()]
        return [title, table(["", "rows", "median |error|", "mean |error|", "bias (median)"], rows), ""]

    out += summary("Summary by metric family", v.summary())
    out += summary("By chip", v.summary(lambda r: r.chip_profile))
    out += summary("By source", v.summary(lambda r: source_name(r.source)))
    not_fit = sum(1 for r in v.rows if r.fits is False)
    if not_fit:
        out.append(f"* {not_fit} measured training layouts that the memory model says do not fit (timed anyway).")
    if v.skipped:
        out.append(f"Skipped {len(v.skipped)} rows:")
        out += [f"  {s.row_id}: {s.reason}" for s in v.skipped]
    return "\n".join(out).rstrip()
