"""``roofline chips``, ``roofline models`` and ``roofline validate``: what the tool knows, and how far its
numbers are from measured runs."""

from __future__ import annotations

import click

from roofline import api
from roofline.cli.group import as_json
from roofline.cli.options import text_or_json
from roofline.render.listing import render_chips, render_models, render_validation
from roofline.results.figures import ChipFigures, ModelFigures
from roofline.validate.schema import KV_WHEN_BLANK


@click.command()
@click.option("--data", "data", multiple=True, type=click.Path(dir_okay=False),
              help="A measurement CSV in the schema of SCHEMA.md (repeatable). Default: the shipped measurements.")
@click.option("--kv-dtype-when-blank", type=click.Choice(KV_WHEN_BLANK), default="engine", show_default=True,
              help="KV-cache format for rows that do not state one: 'engine', the row's engine default for the "
                   "checkpoint, as the product reads it; 'weights', 8-bit with 8-bit weights; or a format.")
@text_or_json
def validate(data, kv_dtype_when_blank, fmt):
    """Run every usable measured row through the estimator and report the errors."""
    result = api.validate(list(data) or None, kv_when_blank=kv_dtype_when_blank)
    click.echo(as_json(result.to_dict()) if fmt == "json" else render_validation(result))


@click.command()
@text_or_json
def chips(fmt):
    """List the chip profiles with their key figures."""
    items = api.chips()
    if fmt == "json":
        click.echo(as_json([ChipFigures(c, c.half_dtype).to_dict() for c in items]))
    else:
        click.echo(render_chips(items))


@click.command()
@text_or_json
def models(fmt):
    """List the model profiles with their key figures."""
    items = api.models()
    if fmt == "json":
        click.echo(as_json([ModelFigures(m, "bf16").to_dict() for m in items]))
    else:
        click.echo(render_models(items))
