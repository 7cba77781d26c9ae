"""The ``roofline`` command group, and how every expected failure becomes one line and exit code 2."""

from __future__ import annotations

import contextlib
import importlib
import json
import sys
import warnings

import click

from roofline.errors import Notice, RooflineError

EXIT_USAGE = 2


@contextlib.contextmanager
def compile_notices():
    """Within: a :class:`~roofline.errors.Notice` from the library (a compile ahead, a request beyond the
    model's context) is one line on stderr, before the wait. The group runs every command within it."""
    with warnings.catch_warnings():
        warnings.simplefilter("always", Notice)
        shown = warnings.showwarning

        def show(message, category, *args, **kwargs):
            if issubclass(category, Notice):
                click.echo(f"roofline: {message}", err=True)
            else:
                shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


def fail(message: str) -> None:
    click.echo(f"roofline: error: {' '.join(str(message).split())}", err=True)
    sys.exit(EXIT_USAGE)


class _Group(click.Group):
    """Turns every expected failure into one line and exit code 2, and imports a command's module only when
    that command runs (or help lists it): ``lazy`` maps a command name to its module, whose attribute of that
    name is the command."""

    lazy: dict[str, str] = {}

    def list_commands(self, ctx):
        return sorted(set(self.commands) | set(self.lazy))

    def get_command(self, ctx, name):
        if name not in self.commands:
            # an unknown name loads every command, so that the error suggests the closest
            for lazy in [name] if name in self.lazy else [n for n in self.lazy if n not in self.commands]:
                self.add_command(getattr(importlib.import_module(self.lazy[lazy]), lazy.replace("-", "_")), lazy)
        return super().get_command(ctx, name)

    def main(self, args=None, prog_name=None, **extra):
        try:
            with compile_notices():  # every command: a notice from the library is one line, before the wait
                rv = super().main(args=args, prog_name=prog_name or "roofline", standalone_mode=False, **extra)
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx else "roofline"
            fail(f"{exc.format_message()} (see `{command} --help`)")
        except click.ClickException as exc:
            fail(exc.format_message())
        except RooflineError as exc:
            fail(str(exc))
        except click.Abort:
            fail("aborted")
        except BrokenPipeError:
            sys.exit(0)
        except OSError as exc:  # a file that cannot be read or written (disk full, permissions): one line
            where = f" {str(exc.filename)!r}" if exc.filename else ""
            fail(f"cannot read or write{where}: {exc.strerror or exc}; check the path, permissions and free space")
        sys.exit(rv if isinstance(rv, int) else 0)


def as_json(obj) -> str:
    """The JSON the commands print: indented, and refusing NaN and infinities."""
    return json.dumps(obj, indent=2, allow_nan=False)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="roofline", prog_name="roofline")
def main():
    """First-principles estimates of LLM training and serving speed on any accelerator."""
