"""``roofline sweep``: every combination of the axes priced, one row per configuration."""

from __future__ import annotations

import sys

import click

from roofline import api
from roofline.cli.options import MAX_NUM_TOKENS, milliseconds, positive_ms
from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.loaders.engines import ENGINES
from roofline.render import sweep as render
from roofline.serving.target import DEFAULT_MAX_TPOT_S, DEFAULT_MAX_TTFT_S

AXIS = "a value, a list 1,8,64, a range 1:64, a geometric range 1:1024:x2 or a stepped one 256:4k:256 (k = 1024)"


@click.command()
@click.option("--chips", "--chip", "chips", required=True, metavar="LIST",
              help="Chip names or aliases, comma-separated, e.g. H20,H100,H200.")
@click.option("--models", "--model", "models", required=True, metavar="LIST",
              help="Model names or aliases (or files), comma-separated, e.g. 8B,70B.")
@click.option("--batch", default="1", show_default=True, metavar="AXIS",
              help=f"Sequences per replica (with --engine: requests in flight): {AXIS}.")
@click.option("--input-len", default="2048", show_default=True, metavar="AXIS", help="Prompt tokens (an axis).")
@click.option("--output-len", default="256", show_default=True, metavar="AXIS", help="Generated tokens (an axis).")
@click.option("--tp", default=None, metavar="AXIS",
              help="Tensor-parallel sizes. Default: every size dividing the heads within the scale-up domain.")
@click.option("--pp", default="1", show_default=True, metavar="AXIS", help="Pipeline-parallel sizes.")
@click.option("--ep", default="1", show_default=True, metavar="AXIS", help="Expert-parallel sizes (MoE models).")
@click.option("--attn-dp", default="1", show_default=True, metavar="AXIS",
              help="Data-parallel attention groups sharing split experts (MoE models, --ep 1).")
@click.option("--weight-dtype", default=None, metavar="LIST",
              help=f"Weight formats, comma-separated ({', '.join(WEIGHT_DTYPES)}). Default: each model's checkpoint "
                   f"format (its config.json's quantization_config), else bf16.")
@click.option("--kv-dtype", default=None, metavar="LIST",
              help=f"KV-cache formats ({', '.join(KV_DTYPES)}). Default: 16-bit like the activations.")
@click.option("--engine", type=click.Choice(["static", *ENGINES]), default=None,
              help="static: a lone batch, every prompt prefilled at once, then decoded (the static table of "
                   "`roofline estimate`); an engine: in-flight batching under a closed-loop client, as "
                   "`roofline estimate --concurrency`. Default: generic with --best or --pareto (how a fleet "
                   "serves), static otherwise.")
@MAX_NUM_TOKENS
@click.option("--decode-only", is_flag=True, help="Price only the decode step (static): TPOT and throughput.")
@click.option("--best", is_flag=True, help="One row per chip and model: the most tokens/s per chip within the targets "
                                           "(default 50 ms TPOT, 2 s TTFT).")
@click.option("--pareto", is_flag=True, help="Per chip and model, the front of tokens/s per chip against per user.")
@click.option("--max-tpot-ms", type=float, default=None, callback=positive_ms,
              help=f"Target mean time per output token (milliseconds) for --best and --pareto. Default with "
                   f"--best: {DEFAULT_MAX_TPOT_S * 1e3:g}.")
@click.option("--max-ttft-ms", type=float, default=None, callback=positive_ms,
              help=f"Target mean time to first token (milliseconds) for --best and --pareto. Default with --best: "
                   f"{DEFAULT_MAX_TTFT_S * 1e3:g}.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write to this file (atomically). Default: standard output.")
def sweep(chips, models, batch, input_len, output_len, tp, pp, ep, attn_dp, weight_dtype, kv_dtype, engine,
          max_num_tokens, decode_only, best, pareto, max_tpot_ms, max_ttft_ms, fmt, output):
    """Price every combination of the axes (compiled, on every core) and print one row per configuration.

    A small sweep (up to 20,000 configurations; 10,000 with an in-flight engine) runs as plain Python,
    which takes a second or two and compiles nothing. Rows the chip and model cannot run (a TP that does not
    divide the heads, a dtype the chip lacks) are left out and named on standard error. A progress bar
    appears on standard error after one second.
    """
    if best and pareto:
        raise click.UsageError("give --best or --pareto, not both")
    if (max_tpot_ms is not None or max_ttft_ms is not None) and not (best or pareto):
        raise click.UsageError("--max-tpot-ms and --max-ttft-ms select rows for --best or --pareto; add one of them")
    if engine is None:
        engine = "generic" if best or pareto else "static"
    if best:
        max_tpot_ms = DEFAULT_MAX_TPOT_S * 1e3 if max_tpot_ms is None else max_tpot_ms
        max_ttft_ms = DEFAULT_MAX_TTFT_S * 1e3 if max_ttft_ms is None else max_ttft_ms
    bar = render.ProgressBar(sys.stderr)
    try:
        result = api.sweep(chips, models, batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp,
                           ep=ep, attn_dp=attn_dp, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                           engine=None if engine == "static" else engine, max_num_tokens=max_num_tokens,
                           decode_only=decode_only, reduce="best" if best else "pareto" if pareto else None,
                           max_tpot_s=milliseconds(max_tpot_ms), max_ttft_s=milliseconds(max_ttft_ms),
                           progress=bar)
    finally:
        bar.close()
    for line in result.skipped:
        click.echo(f"roofline: note: skipped {line}", err=True)
    for chip_name, model_name in result.unmet:
        click.echo(f"roofline: note: no configuration of {model_name} on {chip_name} meets the targets", err=True)
    if output:
        render.save(result, output, fmt)
    else:
        (render.write_csv if fmt == "csv" else render.write_json)(result, sys.stdout)
