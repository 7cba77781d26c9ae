"""The shape of the code, guarded: packages import only downward (no cycle, function-level imports
included), every module stays small, only roofline/pack.py fills the kernels' input vectors, and the tree
is clean under the project's linter."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "roofline"
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports anywhere in its file (a package's own ancestors left out)."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in files:
                    t = t.rsplit(".", 1)[0] if "." in t else ""
                if t and t != name and not name.startswith(t + "."):
                    found.add(t)
        graph[name] = found
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as [a, b, ..., a], or [] (depth-first search)."""
    state: dict[str, int] = {}

    def visit(v: str, path: list[str]) -> list[str]:
        state[v] = 1
        for w in sorted(graph.get(v, ())):
            if state.get(w) == 1:
                return path[path.index(w):] + [v, w] if w in path else [v, w]
            if w not in state and (found := visit(w, path + [v])):
                return found
        state[v] = 2
        return []

    for v in sorted(graph):
        if v not in state and (found := visit(v, [])):
            return found
    return []


def test_the_cycle_finder_finds_a_planted_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_no_import_cycles():
    cycle = find_cycle(import_graph())
    assert not cycle, " -> ".join(cycle)


def test_the_group_and_the_kernels_sit_where_they_should():
    graph = import_graph()
    kernels = {m for m in graph if m.startswith("roofline.kernels")}
    for m in kernels:  # kernels import only other kernels and the numba shim
        assert graph[m] <= kernels | {"roofline._jit", "roofline.kernels"}, (m, graph[m] - kernels)
    cli = {m for m in graph if m.startswith("roofline.cli")}
    users = {m for m, deps in graph.items() if m not in cli and cli & deps}
    assert users == {"roofline.__main__"}  # nothing but ``python -m roofline`` imports the CLI


def test_every_module_is_small():
    big = {str(p.relative_to(ROOT)): n for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_only_pack_fills_kernel_input_vectors():
    write = re.compile(r"\[(?:L\.)?(?:M|W|H|E|T|X|G|L)_[A-Z0-9_]+\]\s*[-+*/]?=[^=]")
    offenders = [f"{p.relative_to(ROOT)}:{i}" for p in PACKAGE.rglob("*.py")
                 if "kernels" not in p.parts and p.name != "pack.py"
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if write.search(line)]
    assert not offenders


def test_the_tree_is_clean_under_ruff():
    if shutil.which("ruff") is None and subprocess.run([sys.executable, "-m", "ruff", "--version"],
                                                       capture_output=True).returncode:
        pytest.skip("ruff is not installed (pip install '.[test]' installs it)")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "roofline", "tests", "benchmarks"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
