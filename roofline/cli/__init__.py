"""The command line: ``roofline COMMAND``. Each command parses its options, calls :mod:`roofline.api` and
formats the result; nothing else happens here.

Every user error (click's usage errors, the project's ``RooflineError`` and an ``OSError`` of a file that
cannot be read or written) becomes one line on stderr and exit code 2, never a traceback (``group``).
"""

from roofline.cli.group import main

#: Each command and the module that defines it, imported when the command runs (a single estimate loads
#: neither the sweep, plan, compare nor validate commands).
main.lazy = {"estimate": "roofline.cli.estimate", "plan": "roofline.cli.plan", "sweep": "roofline.cli.sweep",
             "validate": "roofline.cli.lists", "chips": "roofline.cli.lists", "models": "roofline.cli.lists",
             "compare": "roofline.cli.compare", "plot": "roofline.cli.compare", "warmup": "roofline.cli.warmup"}

__all__ = ["main"]
