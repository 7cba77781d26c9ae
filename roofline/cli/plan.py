"""``roofline plan``: the fastest training layouts of a job, or the serving layouts with the most tokens/s per
chip within latency targets."""

from __future__ import annotations

import click

from roofline import api
from roofline.cli.group import as_json
from roofline.cli.options import (
    CHIP, ENGINE, INPUT_LEN, KV_DTYPE, MAX_NUM_TOKENS, MAX_TPOT_MS, MAX_TTFT_MS, MODEL, OUTPUT_LEN, TRAINING_ONLY,
    WEIGHT_DTYPE, disagg_plan_options, group, milliseconds, pool_chip, prices, refuse_other_mode, text_or_json,
    training_options, training_workload,
)
from roofline.render.disagg import render_disagg_plan
from roofline.serving.target import DEFAULT_MAX_TPOT_S, DEFAULT_MAX_TTFT_S, Targets
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.render.plans import render_plan, render_serving_plan

#: Options of ``plan --mode inference`` (the serving request, engine and latency targets).
serving_options = group(
    INPUT_LEN, OUTPUT_LEN, WEIGHT_DTYPE, KV_DTYPE, ENGINE, MAX_NUM_TOKENS, MAX_TPOT_MS, MAX_TTFT_MS,
)
DISAGG_PLAN_ONLY = tuple(f"{role}_{key}" for role in ("prefill", "decode") for key in ("chip", "tp", "pp", "ep"))
SERVING_ONLY = ("input_len", "output_len", "weight_dtype", "kv_dtype", "engine", "max_num_tokens",
                "max_tpot_ms", "max_ttft_ms", "disagg", *DISAGG_PLAN_ONLY)
TRAINING_ONLY_HERE = tuple(n for n in TRAINING_ONLY if n != "num_chips")


@click.command()
@CHIP
@MODEL
@click.option("--mode", type=click.Choice(["training", "inference"]), default="training", show_default=True,
              help="Plan a training job, or a serving fleet (best layout and load within latency targets).")
@click.option("--tp", type=click.IntRange(min=1), default=None, help="Fix the tensor-parallel size.")
@click.option("--pp", type=click.IntRange(min=1), default=None, help="Fix the pipeline-parallel size.")
@click.option("--ep", type=click.IntRange(min=1), default=None,
              help="Fix the expert-parallel size (MoE; training: experts over ep of the data-parallel ranks; "
                   "serving: as in estimate). Default: searched.")
@training_options
@serving_options
@disagg_plan_options
@click.option("--price-per-hour", default=None, metavar="USD[,USD]",
              help="With --disagg: dollars per chip-hour of the prefill and decode chips (one value: both). "
                   "Default: the profiles' dated prices.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Layouts to list.")
@text_or_json
@click.pass_context
def plan(ctx, chip, model_name, mode, tp, pp, ep, price_per_hour, top, fmt, **options):
    """Search every training layout of --num-chips chips and list the fastest that fit; with --mode
    inference, the serving layouts (TP, PP, EP, requests in flight, replicas) with the most output
    tokens/s per chip within --max-tpot-ms and --max-ttft-ms.

    Options given fix those choices; the rest are searched (compiled with numba when available).
    """
    other = "training" if mode == "inference" else "inference"
    refuse_other_mode(ctx, TRAINING_ONLY_HERE if mode == "inference" else SERVING_ONLY, mode, f"--mode {other}")
    c, m = load_chip(chip), load_model(model_name)
    s = options
    if price_per_hour is not None and not (mode == "inference" and s["disagg"]):
        raise click.UsageError("--price-per-hour prices the pools of --mode inference --disagg; add them")
    if mode == "inference" and s["disagg"]:
        given_prices = prices(price_per_hour) or [None]
        if len(given_prices) > 2:
            raise click.BadParameter(f"{price_per_hour!r}: give one price (both pools) or two (prefill, decode)",
                                     param_hint="--price-per-hour")
        pair = (given_prices[0], given_prices[-1])
        if tp or pp or ep:
            raise click.UsageError("--tp, --pp and --ep fix an aggregated layout; with --disagg give --prefill-tp, "
                                   "--decode-tp (and -pp, -ep) instead")
        targets = Targets(milliseconds(s["max_tpot_ms"]) or DEFAULT_MAX_TPOT_S,
                          milliseconds(s["max_ttft_ms"]) or DEFAULT_MAX_TTFT_S)
        result = api.plan_disagg(m, pool_chip(s, "prefill", c), pool_chip(s, "decode", c),
                                 num_chips=s["num_chips"], targets=targets, input_len=s["input_len"],
                                 output_len=s["output_len"], weight_dtype=s["weight_dtype"], kv_dtype=s["kv_dtype"],
                                 engine=s["engine"], max_num_tokens=s["max_num_tokens"],
                                 top=min(top, 3), prices=pair,
                                 **{f"{r}_{k}": s[f"{r}_{k}"] for r in ("prefill", "decode")
                                                     for k in ("tp", "pp", "ep")})
        click.echo(as_json(result.to_dict()) if fmt == "json" else render_disagg_plan(result))
        return
    if mode == "inference":
        result = api.plan_serving(c, m, num_chips=s["num_chips"], tp=tp, pp=pp, ep=ep, top=top,
                                  max_tpot_s=milliseconds(s["max_tpot_ms"]), max_ttft_s=milliseconds(s["max_ttft_ms"]),
                                  input_len=s["input_len"], output_len=s["output_len"],
                                  weight_dtype=s["weight_dtype"], kv_dtype=s["kv_dtype"], engine=s["engine"],
                                  max_num_tokens=s["max_num_tokens"])
        click.echo(as_json(result.to_dict()) if fmt == "json" else render_serving_plan(result))
        return
    result = api.plan(c, m, training_workload(c, dict(s, tp=tp, pp=pp, ep=ep)), top=top, days=s["days"])
    click.echo(as_json(result.to_dict()) if fmt == "json" else render_plan(result))
