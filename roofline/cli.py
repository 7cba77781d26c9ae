"""Command-line interface: parses options, calls the library, formats the result. Nothing else.

Every user error (click's usage errors and the project's ``RooflineError``) becomes one line on stderr
and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import sys

import click

from roofline.dtypes import KV_DTYPES, WEIGHT_DTYPES
from roofline.errors import RooflineError

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
        sys.exit(rv if isinstance(rv, int) else 0)


def _json(obj) -> str:
    return json.dumps(obj, indent=2, allow_nan=False)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="roofline", prog_name="roofline")
def main():
    """First-principles estimates of LLM training and serving speed on any accelerator."""


@main.command()
@click.option("--chip", required=True, help="Chip profile name or alias (see `roofline chips`), or a .toml file.")
@click.option("--model", "model_name", required=True,
              help="Model profile name or alias (see `roofline models`), a HF config.json or its folder, or a .toml.")
@click.option("--tp", type=click.IntRange(min=1), default=None,
              help="Tensor-parallel size. Default: the smallest that fits.")
@click.option("--pp", type=click.IntRange(min=1), default=1, show_default=True, help="Pipeline-parallel size.")
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
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--ops", is_flag=True, help="Also print the per-op tables (text format).")
def estimate(chip, model_name, tp, pp, batch, input_len, output_len, weight_dtype, kv_dtype, concurrency,
             request_rate, engine, max_num_tokens, fmt, ops):
    """Estimate serving speed, memory and fit for one chip and model."""
    from roofline.api import estimate as run
    from roofline.chip import load_chip
    from roofline.model import load_model
    from roofline.workload import Workload

    if concurrency is not None and request_rate is not None:
        raise click.UsageError("give --concurrency or --request-rate, not both")
    if concurrency is not None and concurrency != "max":
        try:
            concurrency = int(concurrency)
        except ValueError:
            raise click.BadParameter(f"{concurrency!r} is not a whole number or 'max'", param_hint="--concurrency")
        if concurrency < 1:
            raise click.BadParameter(f"{concurrency} must be at least 1 (or 'max')", param_hint="--concurrency")
    wl = Workload(batch=batch, input_len=input_len, output_len=output_len, tp=tp, pp=pp,
                  weight_dtype=weight_dtype, kv_dtype=kv_dtype)
    serving = None
    if concurrency is not None or request_rate is not None:
        serving = {"engine": engine, "concurrency": concurrency, "request_rate": request_rate,
                   "max_num_tokens": max_num_tokens}
    result = run(load_chip(chip), load_model(model_name), wl, serving=serving)
    if fmt == "json":
        click.echo(_json(result.to_dict()))
    else:
        from roofline.report import render_estimate

        click.echo(render_estimate(result, show_ops=ops))


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
