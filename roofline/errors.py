"""The one exception family users see.

Every message is a single line that names the field, the value and a fix, so that the CLI can print it
as-is and exit with code 2.
"""

from __future__ import annotations

import difflib


class RooflineError(ValueError):
    """Bad input: an unknown name, a malformed file, an impossible layout or a model that does not fit."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))


def closest(word: str, candidates, n: int = 3) -> list[str]:
    """Return up to ``n`` candidates that look like ``word`` (case-insensitive), best first."""
    lowered = {c.lower(): c for c in candidates}
    hits = difflib.get_close_matches(word.lower(), list(lowered), n=n, cutoff=0.5)
    if not hits:
        hits = [c for c in lowered if word.lower() in c or c in word.lower()][:n]
    return [lowered[h] for h in hits]


def unknown_name(field: str, value: str, candidates, listing_command: str) -> RooflineError:
    """Build the error for a name that is not in a registry, with the closest names as the fix."""
    near = closest(value, candidates)
    hint = f"did you mean {', '.join(near)}? (`{listing_command}` lists them all)" if near \
        else f"`{listing_command}` lists them all"
    return RooflineError(f"{field}: unknown name {value!r}; {hint}")


class Notice(UserWarning):
    """Not an error: a line the command line prints on stderr, once, before the result."""


class CompilingNotice(Notice):
    """The next step compiles a kernel with numba first (once; later runs load it from disk)."""


class ContextNotice(Notice):
    """The request is longer than the model's context; it is priced anyway."""
