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
* ``compiled(fn, inline=True)`` inlines every kernel ``fn`` calls (numba's ``inline="always"``), and
  :func:`borrow` views arrays without a reference count: together they let a sweep loop run the scalar
  kernels several times faster (no calls, no atomic reference counting, the op table kept in registers)
  at the price of a longer first compile.
"""

from __future__ import annotations

import hashlib
import os
import threading
import types
import warnings
from pathlib import Path

from roofline.errors import CompilingNotice

NJIT_OPTIONS = {"cache": True, "fastmath": False, "error_model": "numpy", "nogil": True}

#: How long the first compile of each entry kernel takes on a 2-core machine, as a range over the two machines
#: measured, quoted by the line a command prints before compiling: benchmarks/bench_compile.py and ``roofline
#: warmup``, empty cache, each kernel alone. A 2-core Intel Xeon (2026-11-30, load 1.0): price_layouts 20.4 s,
#: sweep_static 46.0 s (the prefill inlined for speed: ``roofline.kernels.sweep.INLINE``), sweep_serving 4.5 s,
#: simulate 3.9 s, simulate_disagg 4.4 s. A shared 2-core AMD EPYC (2026-12-01/02, load 0.9-1.5, three runs):
#: 37.8-43.8, 141.5-157.4, 9.3-9.8, 7.4-7.7 and 10.0-10.7 s (aebb856, the code of 2026-11-30, took 38.8, 153.5,
#: 10.8, 8.4 and 10.6 s there: the machine, not the code). Rounded outward.
COMPILE_SECONDS = {"price_layouts": (20, 45), "sweep_static": (45, 160), "sweep_serving": (5, 11),
                   "simulate": (4, 9), "simulate_disagg": (5, 12)}

_MARK = "_roofline_kernel"
_GLUE = "_roofline_glue"
_compiled: dict[tuple, object] = {}
_lock = threading.RLock()  # one thread builds a twin; another asking for it waits (validate simulates on threads)
_borrow_twin = None


def kernel(fn):
    """Mark ``fn`` as a scalar kernel: plain Python now, compilable by :func:`compiled`."""
    setattr(fn, _MARK, True)
    return fn


def glue(fn):
    """Mark ``fn`` as a kernel that only passes its arguments on to other kernels: compiled, it is always
    inlined into its caller, so that joining two kernels in one place costs no call in a sweep loop."""
    setattr(fn, _GLUE, True)
    return kernel(fn)


def borrow(array):
    """``array`` itself in plain Python; compiled, a view of it that carries no reference count.

    For the arrays a compiled kernel receives from its caller, which keeps them alive: every kernel
    call that passes a borrowed view skips numba's atomic increment and decrement. Never borrow an
    array the kernel allocates itself (numba frees it after its last use, which is the borrow), and
    never return a view.
    """
    return array


def _kernel_sources_hash() -> str:
    folder = Path(__file__).resolve().parent / "kernels"
    h = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _numba():
    if "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = str(cache_dir())
    import numba

    # numba reads NUMBA_CACHE_DIR when it is first imported; if something imported it earlier, point its
    # config at our folder anyway so that stale kernels are never loaded.
    numba.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]
    return numba


def compiled(fn, inline: bool | frozenset = False):
    """The numba-compiled twin of kernel ``fn`` (callees compiled first, then swapped in).

    ``inline=True`` compiles every kernel that ``fn`` calls, recursively, inline into ``fn``; a set of kernel
    names inlines only those of ``fn``'s direct callees (each with everything it calls): the calls a loop
    makes per iteration, while the calls it makes once per outer iteration stay calls and compile once each.
    Compile a given kernel one way only: numba's disk cache keys a function by its code, not by this option
    (the sweep kernels' sets, ``roofline.kernels.sweep.INLINE``, are in a kernel source, part of the cache
    folder's name, so that changing one compiles afresh).
    """
    if isinstance(inline, frozenset):
        return _twin(fn, False, False, inline)
    return _twin(fn, inline, False)


def cache_dir() -> Path:
    """The folder numba's disk cache uses for this version of the kernels (see :func:`_numba`)."""
    if "NUMBA_CACHE_DIR" in os.environ:
        return Path(os.environ["NUMBA_CACHE_DIR"])
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "roofline" / "numba"
    return base / _kernel_sources_hash()


def is_cached(fn) -> bool:
    """Whether the compiled kernel ``fn`` is already in numba's disk cache (else its first use compiles it).
    Reads file names only; never imports numba."""
    pattern = f"{Path(fn.__code__.co_filename).stem}.{fn.__qualname__}-*.nbi"
    folder = cache_dir()
    return folder.is_dir() and next(folder.rglob(pattern), None) is not None


def compiling_notice(fn) -> str:
    """The line a command prints before it compiles kernel ``fn``."""
    low, high = COMPILE_SECONDS.get(fn.__name__, (20, 60))
    return (f"compiling roofline kernels for first use ({fn.__name__}), {low}-{high} s; later runs load them "
            f"from the cache (`roofline warmup` compiles them all ahead)")


def choose(fn, use_numba: bool | None, inline: bool | frozenset = False):
    """``(kernel, compiled)``: the compiled twin of ``fn`` when numba is importable and ``use_numba`` is
    not False (True: numba is required), else ``fn`` itself as plain Python. When the compiled twin is not in
    the disk cache yet, warns :class:`~roofline.errors.CompilingNotice` (:func:`compiling_notice`) first: its
    first call compiles it."""
    if use_numba is False:
        return fn, False
    try:
        twin = compiled(fn, inline=inline)
    except ImportError:
        if use_numba:
            raise
        return fn, False
    if not is_cached(fn):
        warnings.warn(compiling_notice(fn), CompilingNotice, stacklevel=3)
    return twin, True


def _twin(fn, inline_callees: bool, inline_self: bool, hot: frozenset = frozenset()):
    with _lock:
        return _build_twin(fn, inline_callees, inline_self, hot)


def _build_twin(fn, inline_callees: bool, inline_self: bool, hot: frozenset):
    key = (id(fn), inline_callees, inline_self, hot)
    if key in _compiled:
        return _compiled[key]
    numba = _numba()
    env = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        callee = env.get(name)
        if callee is borrow:
            env[name] = _borrow_intrinsic()
        elif callable(callee) and getattr(callee, _MARK, False) and callee is not fn:
            if name in hot:
                env[name] = _twin(callee, True, True)
            else:
                env[name] = _twin(callee, inline_callees, inline_callees or getattr(callee, _GLUE, False))
    twin = types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
    twin.__module__, twin.__qualname__, twin.__doc__ = fn.__module__, fn.__qualname__, fn.__doc__
    options = dict(NJIT_OPTIONS, inline="always") if inline_self else NJIT_OPTIONS
    out = numba.njit(**options)(twin)
    _compiled[key] = out
    return out


def _borrow_intrinsic():
    """The compiled :func:`borrow`: the same array struct with a null meminfo and parent."""
    global _borrow_twin
    if _borrow_twin is None:
        from numba.core import cgutils
        from numba.extending import intrinsic

        @intrinsic
        def borrow_view(typingctx, array):
            def codegen(context, builder, signature, args):
                src = context.make_array(array)(context, builder, value=args[0])
                view = context.make_array(array)(context, builder)
                for field in ("data", "shape", "strides", "itemsize", "nitems"):
                    setattr(view, field, getattr(src, field))
                view.meminfo = cgutils.get_null_value(view.meminfo.type)
                view.parent = cgutils.get_null_value(view.parent.type)
                return view._getvalue()

            return array(array), codegen

        _borrow_twin = borrow_view
    return _borrow_twin
