"""``roofline warmup``: compile every numba kernel ahead, so that no later command waits for the compiler."""

from __future__ import annotations

import importlib.util

import click

from roofline.errors import RooflineError


@click.command()
def warmup():
    """Compile every kernel the compiled commands use (plan, sweep, validate, serving simulations) into
    numba's disk cache, for images and CI; kernels already cached load in well under a second."""
    if importlib.util.find_spec("numba") is None:
        raise RooflineError("numba is not installed: nothing to compile; install it (pip install numba) for "
                            "compiled sweeps and planners")
    from roofline.warmup import warmup as run  # the kernels' modules load only for this command

    for name, cached, seconds in run():
        click.echo(f"{name:<16} {'loaded from the cache' if cached else 'compiled'} in {seconds:.1f} s")
