"""The package's structure: no import cycles, no calls of other objects' private methods, a cheap import."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "rnncomp"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _import_graph() -> dict[str, set]:
    """Module -> the rnncomp modules it imports, at the top and inside functions alike."""
    modules = _modules()

    def resolve(name):
        parts = name.split(".")
        while parts:
            if ".".join(parts) in modules:
                return ".".join(parts)
            parts.pop()
        return None

    graph = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [f"{node.module}.{a.name}" for a in node.names]
            for target in targets:
                if target.split(".")[0] == "rnncomp":
                    t = resolve(target)
                    if t and t != module:
                        graph[module].add(t)
    return graph


def _cycles(graph: dict[str, set]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = _import_graph()
    assert len(graph) > 50 and "rnncomp.families.binary" in graph["rnncomp.codec"] | graph["rnncomp.families"]
    assert _cycles(graph) == []


def test_no_module_calls_another_objects_private_methods():
    """``x._name(...)`` only on ``self``/``cls``, or on an object of the class the same module defines."""
    offenders = []
    for module, path in _modules().items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            attr = node.func.attr
            if not attr.startswith("_") or attr.startswith("__"):
                continue
            owner = node.func.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if isinstance(owner, ast.Call) and isinstance(owner.func, ast.Name) and owner.func.id == "super":
                continue
            defined_here = any(isinstance(n, ast.FunctionDef) and n.name == attr for n in ast.walk(tree))
            if not defined_here:
                offenders.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: .{attr}()")
    assert offenders == []


@pytest.mark.parametrize("what", ["import rnncomp", "import rnncomp.cli", "import rnncomp.tools.bench",
                                  "import rnncomp.codec"])
def test_importing_stays_cheap(what):
    """No TensorFlow or Keras until a model is needed (``rnncomp --help`` stays fast)."""
    code = f"{what}; import sys; print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
