"""``roofline compare`` and ``roofline plot``: chips side by side, in a table and in pictures."""

from __future__ import annotations

import attrs
import click

from roofline import api
from roofline.checkpoint import checkpoint_weight_dtype
from roofline.cli.group import as_json
from roofline.cli.options import (
    ENGINE, INPUT_LEN, KV_DTYPE, OUTPUT_LEN, WEIGHT_DTYPE, chip_list, counts, group, prices, reference_chip,
    text_json_or_csv,
)
from roofline.loaders.models import load_model
from roofline.render.compare import render_compare
from roofline.render.csv_table import csv_text, per_record
from roofline.render.plots import DEFAULT_COUNTS, check_output
from roofline.serving.target import Targets
from roofline.workload import Workload

#: Options shared by ``compare`` and ``plot``: the chips, the model and the serving request.
compare_options = group(
    click.option("--chips", required=True, help="Chips to compare, comma-separated names or aliases, e.g. H20,H100."),
    click.option("--model", "model_name", required=True,
                 help="Model profile name or alias, a HF config.json or its folder, or a .toml."),
    INPUT_LEN, OUTPUT_LEN, WEIGHT_DTYPE, KV_DTYPE, ENGINE,
    click.option("--tp", type=click.IntRange(min=1), default=None,
                 help="Serving tensor-parallel size for every chip. Default: compare: the smallest that fits for "
                      "one request and every size for the serving point; plot roofline/batch: the largest every "
                      "chip's domain allows."),
    click.option("--concurrency", type=click.IntRange(min=1), default=None,
                 help="compare: also serve this many users per replica at the batch-1 layout (closed loop); "
                      "plot batch: mark this concurrency."),
    click.option("--max-tpot-ms", type=click.FloatRange(min=0, min_open=True), default=50.0, show_default=True,
                 help="Target mean time per output token (milliseconds) of the serving point."),
    click.option("--max-ttft-ms", type=click.FloatRange(min=0, min_open=True), default=2000.0, show_default=True,
                 help="Target mean time to first token (milliseconds) of the serving point."),
    click.option("--num-chips", type=click.IntRange(min=1), default=1024, show_default=True,
                 help="Training: chips in the job."),
    click.option("--tokens", default=None, metavar="N", help="Training: token budget, e.g. 15T.  [default: 15T]"),
)


@click.command()
@compare_options
@click.option("--reference", default="H100", show_default=True, help="Chip the ratios and verdicts divide by.")
@click.option("--price-per-hour", default=None, metavar="USD[,USD...]",
              help="Dollars per chip-hour: one for all chips or one per chip. Default: the profile's dated "
                   "reference price, where it has one.")
@click.option("--mixed", default=None, metavar="PREFILL:DECODE",
              help="Add a mixed fleet: prefill on one chip, decode on another (disaggregated, e.g. H100:H20), "
                   "against each chip's own fleet, per chip and per dollar (profile prices).")
@text_json_or_csv("NVLink scaling tables")
def compare(chips, model_name, input_len, output_len, weight_dtype, kv_dtype, engine, tp, concurrency, max_tpot_ms,
            max_ttft_ms, num_chips, tokens, reference, price_per_hour, mixed, fmt):
    """Compare chips side by side: serving within latency targets, training, NVLink scaling, energy, cost,
    export-control figures, ratios against --reference and a verdict per chip."""
    model = load_model(model_name)
    weight_dtype = weight_dtype or checkpoint_weight_dtype(model)
    result = api.compare(chip_list(chips), model, reference=reference_chip(reference), num_chips=num_chips,
                         max_tpot_s=max_tpot_ms / 1e3, max_ttft_s=max_ttft_ms / 1e3,
                         price_per_hour=prices(price_per_hour), engine=engine, concurrency=concurrency,
                         workload=Workload(input_len=input_len, output_len=output_len, weight_dtype=weight_dtype,
                                           kv_dtype=kv_dtype, tp=tp),
                         tokens=tokens)
    if mixed is not None:
        pair = mixed.split(":")
        if len(pair) != 2 or not all(n.strip() for n in pair):
            raise click.BadParameter(f"{mixed!r} is not two chips as PREFILL:DECODE, e.g. H100:H20",
                                     param_hint="--mixed")
        plan = api.plan_disagg(model, pair[0].strip(), pair[1].strip(), num_chips=max(num_chips, 2),
                               targets=Targets(max_tpot_ms / 1e3, max_ttft_ms / 1e3), input_len=input_len,
                               output_len=output_len, weight_dtype=weight_dtype, kv_dtype=kv_dtype,
                               engine=engine, top=1)
        result = attrs.evolve(result, mixed=plan)
    if fmt == "csv":
        click.echo(csv_text(per_record(result.to_dict(), "chips")), nl=False)
    else:
        click.echo(as_json(result.to_dict()) if fmt == "json" else render_compare(result))


@click.command()
@click.argument("kind", type=click.Choice(["roofline", "batch", "scaling"]), metavar="KIND")
@compare_options
@click.option("--counts", "counts_text", default=None, metavar="N[,N...]",
              help="scaling: chip counts. Default: powers of two from 16 to 16384.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Image file, .png or .svg.")
def plot(kind, chips, model_name, input_len, output_len, weight_dtype, kv_dtype, engine, tp, concurrency,
         max_tpot_ms, max_ttft_ms, num_chips, tokens, counts_text, output):
    """Draw KIND (roofline, batch or scaling) for the chips and write it to -o FILE (.png or .svg).

    roofline: each chip's ceilings and slopes with prefill, decode (batch 1 to the largest that fits) and
    a training step placed by arithmetic intensity. batch: output tokens/s per chip and TPOT against the
    batch. scaling: time to train against the number of chips. Needs matplotlib (pip install 'roofline[plot]').
    """
    check_output(output)
    model = load_model(model_name)
    wl = Workload(input_len=input_len, output_len=output_len,
                  weight_dtype=weight_dtype or checkpoint_weight_dtype(model), kv_dtype=kv_dtype)
    if kind == "roofline":
        options = {"workload": wl, "tp": tp, "num_chips": num_chips, "tokens": tokens}
    elif kind == "batch":
        options = {"workload": wl, "tp": tp, "max_tpot_s": max_tpot_ms / 1e3, "engine": engine,
                   "concurrency": concurrency}
    else:
        options = {"counts": counts(counts_text) or DEFAULT_COUNTS, "tokens": tokens}
    path = api.plot(kind, chip_list(chips), model, output, **options)
    click.echo(f"wrote {path}")
