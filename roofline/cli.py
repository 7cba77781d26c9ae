"""Command-line interface: parses options, calls the library, formats the result. Nothing else.

Every user error (click's usage errors, the project's ``RooflineError`` and an ``OSError`` of a file
that cannot be read or written) becomes one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import math
import sys

import click
from click.core import ParameterSource

from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.errors import RooflineError
from roofline.training import RECOMPUTE_MODES, TRAIN_DTYPES

EXIT_USAGE = 2


def _fail(message: str) -> None:
    click.echo(f"roofline: error: {' '.join(str(message).split())}", err=True)
    sys.exit(EXIT_USAGE)


class _Group(click.Group):
    """Turns every expected failure into one line and exit code 2."""

    def main(self, args=None, prog_name=None, **extra):
        try:
            rv = super().main(args=args, prog_name=prog_name or "roofline", standalone_mode=False, **extra)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "roofline"
            _fail(f"{exc.format_message()} (see `{command} --help`)")
        except click.ClickException as exc:
            _fail(exc.format_message())
        except RooflineError as exc:
            _fail(str(exc))
        except click.Abort:
            _fail("aborted")
        except BrokenPipeError:
            sys.exit(0)
        except OSError as exc:  # a file that cannot be read or written (disk full, permissions): one line
            where = f" {str(exc.filename)!r}" if exc.filename else ""
            _fail(f"cannot read or write{where}: {exc.strerror or exc}; check the path, permissions and free space")
        sys.exit(rv if isinstance(rv, int) else 0)


def _json(obj) -> str:
    return json.dumps(obj, indent=2, allow_nan=False)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="roofline", prog_name="roofline")
def main():
    """First-principles estimates of LLM training and serving speed on any accelerator."""


def _days(_ctx, _param, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"days={value} must be a positive number of days, such as 90")
    return value


#: Options of a training run, shared by ``estimate`` and ``plan`` (``--tp``/``--pp`` are added per command).
TRAINING_OPTIONS = (
    click.option("--num-chips", type=click.IntRange(min=1), default=1024, show_default=True,
                 help="Training: chips in the job (tp x pp x dp x cp)."),
    click.option("--dp", type=click.IntRange(min=1), default=None, help="Training: data-parallel size."),
    click.option("--cp", type=click.IntRange(min=1), default=1, show_default=True,
                 help="Training: context-parallel size (ring attention)."),
    click.option("--micro-batch", type=click.IntRange(min=1), default=None,
                 help="Training: sequences per micro-batch per DP rank."),
    click.option("--global-batch", type=click.IntRange(min=1), default=None,
                 help="Training: sequences per optimizer step. Default: ~4M tokens (more on large jobs)."),
    click.option("--seq-len", type=click.IntRange(min=1), default=4096, show_default=True,
                 help="Training: tokens per sequence."),
    click.option("--recompute", type=click.Choice(RECOMPUTE_MODES, case_sensitive=False), default=None,
                 help="Training: activation recomputation."),
    click.option("--zero", type=click.Choice(["0", "1", "2", "3"]), default=None,
                 help="Training: ZeRO stage (1 optimizer, 2 +gradients, 3 +weights sharded over DP)."),
    click.option("--dtype", "train_dtype", type=click.Choice(TRAIN_DTYPES, case_sensitive=False), default=None,
                 help="Training: matmul precision. Default: bf16 (fp16 on chips without bf16)."),
    click.option("--virtual-pp", type=click.IntRange(min=1), default=None,
                 help="Training: virtual pipeline stages per chip (interleaved schedule)."),
    click.option("--tokens", default=None, metavar="N",
                 help="Training: token budget, e.g. 15T, 2e12, 1.5B (K, M, B/G, T).  [default: 15T]"),
    click.option("--days", type=float, default=None, callback=_days,
                 help="Training: also report the chips needed to train the budget within this many days."),
)
_TRAINING_ONLY = ("num_chips", "dp", "cp", "micro_batch", "global_batch", "seq_len", "recompute", "zero",
                  "train_dtype", "virtual_pp", "tokens", "days")
_INFERENCE_ONLY = ("batch", "input_len", "output_len", "weight_dtype", "kv_dtype", "concurrency", "request_rate",
                   "engine", "max_num_tokens", "ops", "ep", "draft_tokens", "accepted_tokens")


def _training_options(fn):
    for option in reversed(TRAINING_OPTIONS):
        fn = option(fn)
    return fn


def _positive_ms(_ctx, param, value):
    if value is not None and not (math.isfinite(value) and value > 0):
        raise click.BadParameter(f"{value} must be a positive number of milliseconds, such as 50")
    return value


#: Options of ``plan --mode inference`` (the serving request, engine and latency targets).
PLAN_SERVING_OPTIONS = (
    click.option("--ep", type=click.IntRange(min=1), default=None,
                 help="Serving: fix the expert-parallel size (MoE). Default: searched."),
    click.option("--input-len", type=click.IntRange(min=1), default=2048, show_default=True,
                 help="Serving: prompt tokens per request."),
    click.option("--output-len", type=click.IntRange(min=1), default=256, show_default=True,
                 help="Serving: generated tokens per request."),
    click.option("--weight-dtype", type=click.Choice(WEIGHT_DTYPES, case_sensitive=False), default="bf16",
                 show_default=True, help="Serving: weight format."),
    click.option("--kv-dtype", type=click.Choice(KV_DTYPES, case_sensitive=False), default=None,
                 help="Serving: KV-cache format. Default: 16-bit like the activations."),
    click.option("--engine", type=click.Choice(["generic", "vllm", "sglang", "trtllm"]), default="generic",
                 show_default=True, help="Serving: engine preset (scheduling, token budget, memory share)."),
    click.option("--max-num-tokens", type=click.IntRange(min=1), default=None,
                 help="Serving: tokens per engine step. Default: the engine's."),
    click.option("--max-tpot-ms", type=float, default=None, callback=_positive_ms,
                 help="Serving: target time per output token (milliseconds). Default: none."),
    click.option("--max-ttft-ms", type=float, default=None, callback=_positive_ms,
                 help="Serving: target time to first token, waiting included (milliseconds). Default: none."),
)
_PLAN_SERVING_ONLY = ("ep", "input_len", "output_len", "weight_dtype", "kv_dtype", "engine", "max_num_tokens",
                      "max_tpot_ms", "max_ttft_ms")
_PLAN_TRAINING_ONLY = tuple(n for n in _TRAINING_ONLY if n != "num_chips")


def _plan_serving_options(fn):
    for option in reversed(PLAN_SERVING_OPTIONS):
        fn = option(fn)
    return fn


def _given(ctx: click.Context, names) -> list[str]:
    """The options among ``names`` that the user typed (as ``--flag``), in command order."""
    return [p.opts[0] for p in ctx.command.params
            if p.name in names and ctx.get_parameter_source(p.name) is not ParameterSource.DEFAULT]


def _training_workload(chip, params: dict):
    """The ``TrainingWorkload`` of the parsed options; ``tokens`` is parsed by its converter."""
    from roofline.api import training_dtype
    from roofline.training import TrainingWorkload

    fields = {k: params[k] for k in ("num_chips", "tp", "pp", "dp", "cp", "micro_batch", "global_batch",
                                     "seq_len", "recompute", "virtual_pp")}
    if params["zero"] is not None:
        fields["zero"] = int(params["zero"])
    if params["tokens"] is not None:
        fields["tokens"] = params["tokens"]
    return TrainingWorkload(dtype=params["train_dtype"] or training_dtype(chip), **fields)


def _reference_chip(name: str):
    """The --reference chip, its loading errors attributed to the option."""
    from roofline.chip import load_chip

    try:
        return load_chip(name)
    except RooflineError as exc:
        raise click.BadParameter(str(exc), param_hint="--reference") from None


@main.command()
@click.option("--chip", required=True, help="Chip profile name or alias (see `roofline chips`), or a .toml file.")
@click.option("--model", "model_name", required=True,
              help="Model profile name or alias (see `roofline models`), a HF config.json or its folder, or a .toml.")
@click.option("--mode", type=click.Choice(["inference", "training", "both"]), default="both", show_default=True,
              help="Estimate serving, training or both.")
@click.option("--tp", type=click.IntRange(min=1), default=None,
              help="Tensor-parallel size (serving and training). Default: serving the smallest that fits, "
                   "training the planner's choice.")
@click.option("--pp", type=click.IntRange(min=1), default=None,
              help="Pipeline-parallel size (serving and training). Default: serving 1, training the planner's choice.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True, help="Concurrent sequences.")
@click.option("--input-len", type=click.IntRange(min=1), default=2048, show_default=True, help="Prompt tokens.")
@click.option("--output-len", type=click.IntRange(min=1), default=256, show_default=True, help="Generated tokens.")
@click.option("--weight-dtype", type=click.Choice(WEIGHT_DTYPES, case_sensitive=False), default="bf16",
              show_default=True, help="Weight format (int8/int4 are weight-only: they compute in 16-bit).")
@click.option("--kv-dtype", type=click.Choice(KV_DTYPES, case_sensitive=False), default=None,
              help="KV-cache format. Default: 16-bit like the activations.")
@click.option("--concurrency", default=None, metavar="C|max",
              help="Serve C requests in flight (closed loop, continuous batching); 'max' = the most that fit.")
@click.option("--request-rate", type=float, default=None, help="Serve Poisson arrivals at this many requests/s.")
@click.option("--engine", type=click.Choice(["generic", "vllm", "sglang", "trtllm"]), default="generic",
              show_default=True, help="Serving engine preset (scheduling policy, token budget, memory share).")
@click.option("--max-num-tokens", type=click.IntRange(min=1), default=None,
              help="Tokens per engine step (chunked-prefill budget). Default: the engine's.")
@click.option("--ep", type=click.IntRange(min=1), default=1, show_default=True,
              help="Serving expert-parallel size (MoE): <= TP spreads experts over the TP group; > TP adds "
                   "data-parallel attention groups (ep/tp) and an all-to-all per MoE layer.")
@click.option("--draft-tokens", type=click.IntRange(min=0), default=0, show_default=True,
              help="Speculative decoding / MTP: extra tokens verified per sequence per decode step.")
@click.option("--accepted-tokens", type=float, default=None,
              help="Mean tokens emitted per decode step with speculation (1 to 1 + draft tokens).")
@_training_options
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--ops", is_flag=True, help="Also print the per-op tables (text format).")
@click.option("--reference", default="H100", show_default=True,
              help="Chip of the verdict (speed-ups per chip against it, and what this chip suits).")
@click.pass_context
def estimate(ctx, chip, model_name, mode, tp, pp, batch, input_len, output_len, weight_dtype, kv_dtype,
             concurrency, request_rate, engine, max_num_tokens, ep, draft_tokens, accepted_tokens, fmt, ops,
             reference, **train):
    """Estimate serving and training speed, memory and fit for one chip and model.

    Training layout choices not given are made by the planner (fastest layout that fits, plain Python).
    """
    from roofline.api import estimate as run
    from roofline.chip import load_chip
    from roofline.model import load_model
    from roofline.workload import Workload

    wrong = _given(ctx, _INFERENCE_ONLY if mode == "training" else _TRAINING_ONLY if mode == "inference" else ())
    if wrong:
        other = "training" if mode == "inference" else "inference"
        raise click.UsageError(f"{', '.join(wrong)} {'applies' if len(wrong) == 1 else 'apply'} to {other} only, "
                               f"not --mode {mode}; drop {'it' if len(wrong) == 1 else 'them'} or use --mode both")
    if concurrency is not None and request_rate is not None:
        raise click.UsageError("give --concurrency or --request-rate, not both")
    if concurrency is not None and concurrency != "max":
        try:
            concurrency = int(concurrency)
        except ValueError:
            raise click.BadParameter(f"{concurrency!r} is not a whole number or 'max'", param_hint="--concurrency")
        if concurrency < 1:
            raise click.BadParameter(f"{concurrency} must be at least 1 (or 'max')", param_hint="--concurrency")
    c, m = load_chip(chip), load_model(model_name)
    wl = serving = training = None
    if mode != "training":
        wl = Workload(batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp or 1,
                      weight_dtype=weight_dtype, kv_dtype=kv_dtype, ep=ep, draft_tokens=draft_tokens,
                      accepted_tokens=accepted_tokens)
        if concurrency is not None or request_rate is not None:
            serving = {"engine": engine, "concurrency": concurrency, "request_rate": request_rate,
                       "max_num_tokens": max_num_tokens}
    # In mode both with no training option (nor --tp/--pp) the library picks the training defaults and,
    # should the model fit no layout on them, returns a note instead of failing the serving estimate.
    if mode == "training" or (mode == "both" and _given(ctx, _TRAINING_ONLY + ("tp", "pp"))):
        training = _training_workload(c, dict(train, tp=tp, pp=pp))
    result = run(c, m, wl, serving=serving, training=training, days=train["days"], mode=mode,
                 reference=_reference_chip(reference))
    if fmt == "json":
        click.echo(_json(result.to_dict()))
    else:
        from roofline.report import render_estimate

        click.echo(render_estimate(result, show_ops=ops))


@main.command()
@click.option("--chip", required=True, help="Chip profile name or alias (see `roofline chips`), or a .toml file.")
@click.option("--model", "model_name", required=True,
              help="Model profile name or alias (see `roofline models`), a HF config.json or its folder, or a .toml.")
@click.option("--mode", type=click.Choice(["training", "inference"]), default="training", show_default=True,
              help="Plan a training job, or a serving fleet (best layout and load within latency targets).")
@click.option("--tp", type=click.IntRange(min=1), default=None, help="Fix the tensor-parallel size.")
@click.option("--pp", type=click.IntRange(min=1), default=None, help="Fix the pipeline-parallel size.")
@_training_options
@_plan_serving_options
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Layouts to list.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def plan(ctx, chip, model_name, mode, tp, pp, top, fmt, **train):
    """Search every training layout of --num-chips chips and list the fastest that fit; with --mode
    inference, the serving layouts (TP, PP, EP, requests in flight, replicas) with the most output
    tokens/s per chip within --max-tpot-ms and --max-ttft-ms.

    Options given fix those choices; the rest are searched (compiled with numba when available).
    """
    from roofline.api import plan as run
    from roofline.chip import load_chip
    from roofline.model import load_model

    wrong = _given(ctx, _PLAN_TRAINING_ONLY if mode == "inference" else _PLAN_SERVING_ONLY)
    if wrong:
        raise click.UsageError(f"{', '.join(wrong)} {'applies' if len(wrong) == 1 else 'apply'} to "
                               f"--mode {'training' if mode == 'inference' else 'inference'} only, not --mode {mode}")
    c, m = load_chip(chip), load_model(model_name)
    if mode == "inference":
        from roofline.serving_planner import plan_serving, render_serving_plan

        s = train
        result = plan_serving(c, m, num_chips=s["num_chips"], tp=tp, pp=pp, ep=s["ep"], top=top,
                              max_tpot_s=None if s["max_tpot_ms"] is None else s["max_tpot_ms"] / 1e3,
                              max_ttft_s=None if s["max_ttft_ms"] is None else s["max_ttft_ms"] / 1e3,
                              input_len=s["input_len"], output_len=s["output_len"], weight_dtype=s["weight_dtype"],
                              kv_dtype=s["kv_dtype"], engine=s["engine"], max_num_tokens=s["max_num_tokens"])
        if fmt == "json":
            from roofline.dtypes import WEIGHT_COMPUTE
            from roofline.results import chip_dict, model_dict

            click.echo(_json({"chip": chip_dict(c, WEIGHT_COMPUTE[result.weight_dtype]),
                              "model": model_dict(m, result.kv_dtype), "plan": result.to_dict(),
                              "inference": result.best.to_dict()}))
        else:
            click.echo(render_serving_plan(result))
        return
    result = run(c, m, _training_workload(c, dict(train, tp=tp, pp=pp)), top=top, days=train["days"])
    if fmt == "json":
        from roofline.results import plan_dict

        click.echo(_json(plan_dict(c, m, result)))
    else:
        from roofline.report import render_plan

        click.echo(render_plan(c, m, result))


_AXIS = ("a value, a list 1,8,64, a range 1:64, a geometric range 1:1024:x2 or a stepped one 256:4k:256 "
         "(k = 1024)")


@main.command()
@click.option("--chips", "--chip", "chips", required=True, metavar="LIST",
              help="Chip names or aliases, comma-separated, e.g. H20,H100,H200.")
@click.option("--models", "--model", "models", required=True, metavar="LIST",
              help="Model names or aliases (or files), comma-separated, e.g. 8B,70B.")
@click.option("--batch", default="1", show_default=True, metavar="AXIS",
              help=f"Sequences per replica (with --engine: requests in flight): {_AXIS}.")
@click.option("--input-len", default="2048", show_default=True, metavar="AXIS", help="Prompt tokens (an axis).")
@click.option("--output-len", default="256", show_default=True, metavar="AXIS", help="Generated tokens (an axis).")
@click.option("--tp", default=None, metavar="AXIS",
              help="Tensor-parallel sizes. Default: every size dividing the heads within the scale-up domain.")
@click.option("--pp", default="1", show_default=True, metavar="AXIS", help="Pipeline-parallel sizes.")
@click.option("--ep", default="1", show_default=True, metavar="AXIS", help="Expert-parallel sizes (MoE models).")
@click.option("--weight-dtype", default="bf16", show_default=True, metavar="LIST",
              help=f"Weight formats, comma-separated ({', '.join(WEIGHT_DTYPES)}).")
@click.option("--kv-dtype", default=None, metavar="LIST",
              help=f"KV-cache formats ({', '.join(KV_DTYPES)}). Default: 16-bit like the activations.")
@click.option("--engine", type=click.Choice(["static", "generic", "vllm", "sglang", "trtllm"]), default="static",
              show_default=True, help="static: whole-batch prefill then decode, as `roofline estimate`; an engine: "
                                      "in-flight batching, as `roofline estimate --concurrency`.")
@click.option("--max-num-tokens", type=click.IntRange(min=1), default=None,
              help="Tokens per engine step (with --engine). Default: the engine's.")
@click.option("--decode-only", is_flag=True, help="Price only the decode step (static): TPOT and throughput.")
@click.option("--best", is_flag=True, help="One row per chip and model: the most tokens/s per chip within targets.")
@click.option("--pareto", is_flag=True, help="Per chip and model, the front of tokens/s per chip against per user.")
@click.option("--max-tpot-ms", type=float, default=None, callback=_positive_ms,
              help="Target time per output token (milliseconds) for --best and --pareto.")
@click.option("--max-ttft-ms", type=float, default=None, callback=_positive_ms,
              help="Target time to first token (milliseconds) for --best and --pareto.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("-o", "--output", default=None, type=click.Path(dir_okay=False),
              help="Write to this file (atomically). Default: standard output.")
def sweep(chips, models, batch, input_len, output_len, tp, pp, ep, weight_dtype, kv_dtype, engine, max_num_tokens,
          decode_only, best, pareto, max_tpot_ms, max_ttft_ms, fmt, output):
    """Price every combination of the axes (compiled, on every core) and print one row per configuration.

    Rows the chip and model cannot run (a TP that does not divide the heads, a dtype the chip lacks) are
    left out and named on standard error. A progress bar appears on standard error after one second.
    """
    from roofline.sweep import ProgressBar, save, sweep as run, write_csv, write_json

    if best and pareto:
        raise click.UsageError("give --best or --pareto, not both")
    if (max_tpot_ms is not None or max_ttft_ms is not None) and not (best or pareto):
        raise click.UsageError("--max-tpot-ms and --max-ttft-ms select rows for --best or --pareto; add one of them")
    bar = ProgressBar(sys.stderr)
    try:
        result = run(chips, models, batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp, ep=ep,
                     weight_dtype=weight_dtype, kv_dtype=kv_dtype, engine=None if engine == "static" else engine,
                     max_num_tokens=max_num_tokens, decode_only=decode_only,
                     reduce="best" if best else "pareto" if pareto else None,
                     max_tpot_s=None if max_tpot_ms is None else max_tpot_ms / 1e3,
                     max_ttft_s=None if max_ttft_ms is None else max_ttft_ms / 1e3, progress=bar)
    finally:
        bar.close()
    for line in result.skipped:
        click.echo(f"roofline: note: skipped {line}", err=True)
    for chip_name, model_name in result.unmet:
        click.echo(f"roofline: note: no configuration of {model_name} on {chip_name} meets the targets", err=True)
    if output:
        save(result, output, fmt)
    else:
        (write_csv if fmt == "csv" else write_json)(result, sys.stdout)


@main.command()
@click.option("--data", "data", multiple=True, type=click.Path(dir_okay=False),
              help="A measurement CSV in the schema of SCHEMA.md (repeatable). Default: the shipped measurements.")
@click.option("--kv-dtype-when-blank", type=click.Choice(["weights", "bf16", "fp16", "fp8", "int8"]),
              default="weights", show_default=True,
              help="KV-cache format for rows that do not state one ('weights': fp8 KV with fp8 weights, else 16-bit).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def validate(data, kv_dtype_when_blank, fmt):
    """Run every usable measured row through the estimator and report the errors."""
    from roofline.validate import validate as run

    result = run(list(data) or None, kv_when_blank=kv_dtype_when_blank)
    if fmt == "json":
        click.echo(_json(result.to_dict()))
    else:
        from roofline.report import render_validation

        click.echo(render_validation(result))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def chips(fmt):
    """List the chip profiles with their key figures."""
    from roofline.chip import CHIPS, load_chip

    items = [load_chip(n) for n in CHIPS.names()]
    if fmt == "json":
        from roofline.results import chip_dict

        click.echo(_json([chip_dict(c, "bf16" if c.has("bf16") else "fp16") for c in items]))
    else:
        from roofline.report import render_chips

        click.echo(render_chips(items))


@main.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def models(fmt):
    """List the model profiles with their key figures."""
    from roofline.model import MODELS, load_model

    items = [load_model(n) for n in MODELS.names()]
    if fmt == "json":
        from roofline.results import model_dict

        click.echo(_json([model_dict(m, "bf16") for m in items]))
    else:
        from roofline.report import render_models

        click.echo(render_models(items))


def _chip_list(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",")]
    if not value.strip() or any(not n for n in names):
        raise click.BadParameter(f"{value!r} has an empty name; list chip names separated by commas, e.g. "
                                 f"H20,H100", param_hint="--chips")
    return names


def _prices(value: str | None) -> list[float] | None:
    if value is None:
        return None
    try:
        prices = [float(v) for v in value.split(",")]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a number or a comma-separated list of numbers (dollars per "
                                 f"chip-hour), e.g. 2.5 or 1.8,3.0", param_hint="--price-per-hour") from None
    if any(not (math.isfinite(p) and p > 0) for p in prices):
        raise click.BadParameter(f"{value!r}: prices must be positive dollars per chip-hour",
                                 param_hint="--price-per-hour")
    return prices


#: Options shared by ``compare`` and ``plot``: the chips, the model and the serving request.
COMPARE_OPTIONS = (
    click.option("--chips", required=True, help="Chips to compare, comma-separated names or aliases, e.g. H20,H100."),
    click.option("--model", "model_name", required=True,
                 help="Model profile name or alias, a HF config.json or its folder, or a .toml."),
    click.option("--input-len", type=click.IntRange(min=1), default=2048, show_default=True, help="Prompt tokens."),
    click.option("--output-len", type=click.IntRange(min=1), default=256, show_default=True,
                 help="Generated tokens."),
    click.option("--weight-dtype", type=click.Choice(WEIGHT_DTYPES, case_sensitive=False), default="bf16",
                 show_default=True, help="Weight format."),
    click.option("--max-tpot-ms", type=click.FloatRange(min=0, min_open=True), default=50.0, show_default=True,
                 help="TPOT budget for the best throughput per chip (milliseconds)."),
    click.option("--num-chips", type=click.IntRange(min=1), default=1024, show_default=True,
                 help="Training: chips in the job."),
    click.option("--tokens", default=None, metavar="N", help="Training: token budget, e.g. 15T.  [default: 15T]"),
)


def _compare_options(fn):
    for option in reversed(COMPARE_OPTIONS):
        fn = option(fn)
    return fn


@main.command()
@_compare_options
@click.option("--reference", default="H100", show_default=True, help="Chip the ratios and verdicts divide by.")
@click.option("--price-per-hour", default=None, metavar="USD[,USD...]",
              help="Dollars per chip-hour: one for all chips or one per chip. Default: the profile's dated "
                   "reference price, where it has one.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def compare(chips, model_name, input_len, output_len, weight_dtype, max_tpot_ms, num_chips, tokens, reference,
            price_per_hour, fmt):
    """Compare chips side by side: serving, training, NVLink scaling, energy, cost, export-control
    figures, ratios against --reference and a verdict per chip."""
    from roofline.compare import compare as run
    from roofline.workload import Workload

    result = run(_chip_list(chips), model_name, reference=_reference_chip(reference), num_chips=num_chips,
                 max_tpot_s=max_tpot_ms / 1e3, price_per_hour=_prices(price_per_hour),
                 workload=Workload(input_len=input_len, output_len=output_len, weight_dtype=weight_dtype),
                 tokens=tokens)
    if fmt == "json":
        click.echo(_json(result.to_dict()))
    else:
        from roofline.report import render_compare

        click.echo(render_compare(result))


def _counts(value: str | None):
    if value is None:
        return None
    try:
        counts = [int(v) for v in value.split(",")]
    except ValueError:
        counts = []
    if not counts or any(c < 1 for c in counts):
        raise click.BadParameter(f"{value!r} is not a comma-separated list of positive chip counts, e.g. "
                                 f"64,256,1024", param_hint="--counts")
    return counts


@main.command()
@click.argument("kind", type=click.Choice(["roofline", "batch", "scaling"]), metavar="KIND")
@_compare_options
@click.option("--tp", type=click.IntRange(min=1), default=None,
              help="roofline, batch: serving TP for every chip. Default: the largest every chip's domain allows.")
@click.option("--counts", default=None, metavar="N[,N...]",
              help="scaling: chip counts. Default: powers of two from 16 to 16384.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Image file, .png or .svg.")
def plot(kind, chips, model_name, input_len, output_len, weight_dtype, max_tpot_ms, num_chips, tokens, tp, counts,
         output):
    """Draw KIND (roofline, batch or scaling) for the chips and write it to -o FILE (.png or .svg).

    roofline: each chip's ceilings and slopes with prefill, decode (batch 1 to the largest that fits) and
    a training step placed by arithmetic intensity. batch: output tokens/s per chip and TPOT against the
    batch. scaling: time to train against the number of chips. Needs matplotlib (pip install 'roofline[plot]').
    """
    from roofline.plots import DEFAULT_COUNTS, check_output, plot as draw
    from roofline.workload import Workload

    check_output(output)
    wl = Workload(input_len=input_len, output_len=output_len, weight_dtype=weight_dtype)
    if kind == "roofline":
        options = {"workload": wl, "tp": tp, "num_chips": num_chips, "tokens": tokens}
    elif kind == "batch":
        options = {"workload": wl, "tp": tp, "max_tpot_s": max_tpot_ms / 1e3}
    else:
        options = {"counts": _counts(counts) or DEFAULT_COUNTS, "tokens": tokens}
    path = draw(kind, _chip_list(chips), model_name, output, **options)
    click.echo(f"wrote {path}")
