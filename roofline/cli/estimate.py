"""``roofline estimate``: serving, training and the verdict for one chip and model."""

from __future__ import annotations

import click

from roofline import api
from roofline.checkpoint import checkpoint_weight_dtype
from roofline.cli.group import as_json
from roofline.cli.options import (
    CHIP, DISAGG_ONLY, ENGINE, INPUT_LEN, KV_DTYPE, MAX_NUM_TOKENS, MODEL, OUTPUT_LEN, TRAINING_ONLY, WEIGHT_DTYPE,
    disagg_estimate_options, given, milliseconds, pools, positive_ms, prices, reference_chip, refuse_other_mode,
    text_json_or_csv, training_options, training_workload,
)
from roofline.loaders.chips import load_chip
from roofline.loaders.models import load_model
from roofline.render.csv_table import csv_text, flatten
from roofline.render.estimate import render_estimate
from roofline.workload import Workload

SERVING_ONLY = ("num_requests", "seed", "random_range_ratio")
INFERENCE_ONLY = ("batch", "input_len", "output_len", "weight_dtype", "kv_dtype", "concurrency", "request_rate",
                  "engine", "max_num_tokens", *SERVING_ONLY, "max_tpot_ms", "max_ttft_ms", "ops", "attn_dp",
                  "draft_tokens", "accepted_tokens", "disagg", *DISAGG_ONLY)


def _concurrency(value: str | None) -> int | str | None:
    """The --concurrency option: a whole number of requests, 'max' or None."""
    if value is None or value == "max":
        return value
    try:
        number = int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a whole number or 'max'", param_hint="--concurrency") from None
    if number < 1:
        raise click.BadParameter(f"{number} must be at least 1 (or 'max')", param_hint="--concurrency")
    return number


@click.command()
@CHIP
@MODEL
@click.option("--mode", type=click.Choice(["inference", "training", "both"]), default="both", show_default=True,
              help="Estimate serving, training or both.")
@click.option("--tp", type=click.IntRange(min=1), default=None,
              help="Tensor-parallel size (serving and training). Default: serving the smallest that fits, "
                   "training the planner's choice.")
@click.option("--pp", type=click.IntRange(min=1), default=None,
              help="Pipeline-parallel size (serving and training). Default: serving 1, training the planner's choice.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Static batch: sequences whose prompts are prefilled together and then decoded together (one "
                   "lone batch). Serving many users as an engine does: --concurrency.")
@INPUT_LEN
@OUTPUT_LEN
@WEIGHT_DTYPE
@KV_DTYPE
@click.option("--concurrency", default=None, metavar="C|max",
              help="Serve C users, each with one request in flight (closed loop, continuous batching, simulated "
                   "step by step); 'max' = the most the KV cache holds. Not --batch, a lone static batch.")
@click.option("--request-rate", type=float, default=None, help="Serve Poisson arrivals at this many requests/s.")
@ENGINE
@MAX_NUM_TOKENS
@click.option("--num-requests", type=click.IntRange(min=1), default=None,
              help="Serving: requests the benchmark client sends. Default: 10 per user of --concurrency (at least "
                   "100), 1,000 with --request-rate.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Serving: seed of the arrivals and drawn lengths.")
@click.option("--random-range-ratio", type=click.FloatRange(min=0, max=1, max_open=True), default=0.0,
              show_default=True, help="Serving: draw lengths uniformly within this ratio of --input-len and "
                                      "--output-len (vLLM's random dataset); 0 = fixed.")
@click.option("--max-tpot-ms", type=float, default=None, callback=positive_ms,
              help="Target mean time per output token (milliseconds): the verdict's serving speed-up and the "
                   "goodput of --concurrency / --request-rate. Default for the verdict: 50.")
@click.option("--max-ttft-ms", type=float, default=None, callback=positive_ms,
              help="Target mean time to first token (milliseconds), as --max-tpot-ms. Default for the verdict: "
                   "2000.")
@click.option("--ep", type=click.IntRange(min=1), default=None,
              help="Expert-parallel size (MoE; serving and training). Serving: <= TP spreads experts over the TP "
                   "group, > TP adds data-parallel attention groups (ep/tp) and an all-to-all per MoE layer; "
                   "default 1. Training: experts spread over ep of the data-parallel ranks (ep divides --dp); "
                   "default the planner's choice.")
@click.option("--attn-dp", type=click.IntRange(min=1), default=1, show_default=True,
              help="Serving data-parallel attention groups of --tp chips each sharing the MoE layers, every "
                   "expert split over all their chips (SGLang --enable-dp-attention); needs --ep 1.")
@click.option("--draft-tokens", type=click.IntRange(min=0), default=0, show_default=True,
              help="Speculative decoding / MTP: extra tokens verified per sequence per decode step.")
@click.option("--accepted-tokens", type=float, default=None,
              help="Mean tokens emitted per decode step with speculation (1 to 1 + draft tokens).")
@disagg_estimate_options
@training_options
@text_json_or_csv("per-op tables")
@click.option("--ops", is_flag=True, help="Also print the per-op tables (text format).")
@click.option("--reference", default="H100", show_default=True,
              help="Chip of the verdict (speed-ups per chip and per dollar against it, and what this chip suits).")
@click.option("--price-per-hour", default=None, metavar="USD[,USD]",
              help="Dollars per chip-hour of this chip, or of this chip and the reference, for the verdict's "
                   "per-dollar ratios. Default: the profiles' dated reference prices, where they have one.")
@click.pass_context
def estimate(ctx, chip, model_name, mode, tp, pp, batch, input_len, output_len, weight_dtype, kv_dtype,
             concurrency, request_rate, engine, max_num_tokens, num_requests, seed, random_range_ratio, max_tpot_ms,
             max_ttft_ms, ep, attn_dp, draft_tokens, accepted_tokens, fmt, ops, reference, price_per_hour, disagg,
             **train):
    """Estimate serving and training speed, memory and fit for one chip and model.

    Training layout choices not given are made by the planner (fastest layout that fits, plain Python).
    """
    if mode != "both":
        other = "training" if mode == "inference" else "inference"
        refuse_other_mode(ctx, INFERENCE_ONLY if mode == "training" else TRAINING_ONLY, mode, other,
                          "; drop {it} or use --mode both")
    if concurrency is not None and request_rate is not None:
        raise click.UsageError("give --concurrency or --request-rate, not both")
    if concurrency is None and request_rate is None and not disagg and given(ctx, SERVING_ONLY):
        raise click.UsageError(f"{', '.join(given(ctx, SERVING_ONLY))} describe the benchmark client of "
                               f"--concurrency or --request-rate; add one of them")
    if concurrency is None and request_rate is None and not disagg and given(ctx, ("max_num_tokens",)):
        raise click.UsageError("--max-num-tokens sets the token budget of the engine that --concurrency or "
                               "--request-rate simulates (the lone batch prefills in one pass); add one of them")
    if not disagg and given(ctx, DISAGG_ONLY):
        raise click.UsageError(f"{', '.join(given(ctx, DISAGG_ONLY))} describe the pools of a disaggregated "
                               f"deployment; add --disagg")
    concurrency = _concurrency(concurrency)
    if disagg and concurrency == "max":
        raise click.BadParameter("'max' is not defined for a disaggregated deployment (its default is as many "
                                 "users as the decode pool holds); give a number", param_hint="--concurrency")
    c, m = load_chip(chip), load_model(model_name)
    wl = serving = training = split = None
    if mode != "training":
        wl = Workload(batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp or 1,
                      weight_dtype=weight_dtype or checkpoint_weight_dtype(m), kv_dtype=kv_dtype, ep=ep or 1,
                      draft_tokens=draft_tokens,
                      accepted_tokens=accepted_tokens, dp_attention=attn_dp)
        if disagg:
            split = {**pools(train, c), "engine": engine, "max_num_tokens": max_num_tokens,
                     "concurrency": concurrency, "request_rate": request_rate, "num_requests": num_requests,
                     "seed": seed, "random_range_ratio": random_range_ratio}
        elif concurrency is not None or request_rate is not None:
            serving = {"engine": engine, "concurrency": concurrency, "request_rate": request_rate,
                       "max_num_tokens": max_num_tokens, "num_requests": num_requests, "seed": seed,
                       "random_range_ratio": random_range_ratio, "max_tpot_s": milliseconds(max_tpot_ms),
                       "max_ttft_s": milliseconds(max_ttft_ms)}
    # In mode both with no training option (nor --tp/--pp/--ep) the library picks the training defaults and,
    # should the model fit no layout on them, returns a note instead of failing the serving estimate.
    if mode == "training" or (mode == "both" and given(ctx, TRAINING_ONLY + ("tp", "pp", "ep"))):
        training = training_workload(c, dict(train, tp=tp, pp=pp, ep=ep))
    result = api.estimate(c, m, wl, serving=serving, training=training, days=train["days"], mode=mode,
                          reference=reference_chip(reference), max_tpot_s=milliseconds(max_tpot_ms),
                          max_ttft_s=milliseconds(max_ttft_ms), price_per_hour=prices(price_per_hour),
                          disagg=split, engine=engine if mode != "training" else None)
    if fmt == "csv":
        click.echo(csv_text([flatten(result.to_dict())]), nl=False)
    else:
        click.echo(as_json(result.to_dict()) if fmt == "json" else render_estimate(result, show_ops=ops))
