"""The one place that knows about numba.

Kernels are ordinary Python functions marked with :func:`kernel`. A single estimate calls them as plain
Python, so nothing is imported or compiled. :func:`compiled` returns the numba-compiled twin of a
kernel (and, recursively, of every kernel it calls), built on first use and cached on disk.

Numba settings live here and nowhere else:

* ``cache=True`` with a cache folder keyed by a hash of the kernel sources, so that editing any kernel
  invalidates every compiled function that might have inlined it (numba's own cache only tracks the
  caller's file).
* ``fastmath=False``: compiled and plain-Python results must agree to rounding; kernels guard divisions
  themselves and return ``inf`` or ``nan`` explicitly where an input is impossible.
* ``error_model="numpy"``: a division by zero yields inf/nan instead of raising inside a sweep.
"""

from __future__ import annotations

import hashlib
import os
import types
from pathlib import Path

NJIT_OPTIONS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}

_MARK = "_roofline_kernel"
_compiled: dict[int, object] = {}


def kernel(fn):
    """Mark ``fn`` as a scalar kernel: plain Python now, compilable by :func:`compiled`."""
    setattr(fn, _MARK, True)
    return fn


def _kernel_sources_hash() -> str:
    folder = Path(__file__).resolve().parent / "kernels"
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _numba():
    if "NUMBA_CACHE_DIR" not in os.environ:
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "roofline" / "numba"
        os.environ["NUMBA_CACHE_DIR"] = str(base / _kernel_sources_hash())
    import numba

    # numba reads NUMBA_CACHE_DIR when it is first imported; if something imported it earlier, point its
    # config at our folder anyway so that stale kernels are never loaded.
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
    return numba


def compiled(fn):
    """The numba-compiled twin of kernel ``fn`` (callees compiled first, then swapped in)."""
    key = id(fn)
    if key in _compiled:
        return _compiled[key]
    numba = _numba()
    env = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        callee = env.get(name)
        if callable(callee) and getattr(callee, _MARK, False) and callee is not fn:
            env[name] = compiled(callee)
    twin = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
    twin.__module__, twin.__qualname__, twin.__doc__ = fn.__module__, fn.__qualname__, fn.__doc__
    out = numba.njit(**NJIT_OPTIONS)(twin)
    _compiled[key] = out
    return out
