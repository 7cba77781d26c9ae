"""The command line: ``roofline COMMAND``. Each command parses its options, calls :mod:`roofline.api` and
formats the result; nothing else happens here.

Every user error (click's usage errors, the project's ``RooflineError`` and an ``OSError`` of a file that
cannot be read or written) becomes one line on stderr and exit code 2, never a traceback (``group``).
"""

from roofline.cli.compare import compare, plot
from roofline.cli.estimate import estimate
from roofline.cli.group import main
from roofline.cli.lists import chips, models, validate
from roofline.cli.plan import plan
from roofline.cli.sweep import sweep
from roofline.cli.warmup import warmup

for _command in (estimate, plan, sweep, validate, chips, models, compare, plot, warmup):
    main.add_command(_command)

__all__ = ["main"]
