"""Files written whole or not at all: into a temporary file beside the target, then renamed over it."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

from roofline.errors import RooflineError


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], *, binary: bool = False) -> Path:
    """Write ``path`` with ``write(file)``: into a temporary file in the target folder, renamed over ``path``
    only once complete, so that a reader never sees half a file and a failure midway (any exception,
    interrupts included) leaves the old file, or none, and no temporary file; the exception is re-raised.
    The file gets the permissions a new file would (the umask), not the temporary file's private ones.

    A folder that does not exist or cannot be written is the project error.
    """
    target = Path(os.path.abspath(os.fspath(path)))
    folder = target.parent
    if not folder.is_dir():
        raise RooflineError(f"output={os.fspath(path)!r}: folder {str(folder)!r} does not exist; create it or write "
                            f"elsewhere")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise RooflineError(f"output={os.fspath(path)!r}: cannot write in folder {str(folder)!r} "
                            f"({exc.strerror or exc}); choose a writable folder") from None
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", newline="") as fh:
            write(fh)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target
