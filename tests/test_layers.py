"""The walls between the packages, read from the source (every import, also those inside
functions): no import cycle; nothing below the command line imports it or click; the auditor
imports nothing of the rest (it recomputes independently); the report reads no rulebook; no
module takes another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "optimizer"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import statement in module `name`."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            for alias in node.names:  # `from package import submodule` imports the submodule
                sub = f"{base}.{alias.name}"
                found.append((sub, []) if sub in MODULES else (base, [alias.name]))
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the optimizer modules it imports (a name inside a module: that module)."""
    graph: dict[str, set[str]] = {}
    for name in MODULES:
        deps = set()
        for target, _ in _imports(name):
            while target and target not in MODULES:
                target = target.rpartition(".")[0]
            if target and target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = [stack.pop()]
            while comp[-1] != v:
                comp.append(stack.pop())
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_walker_sees_the_imports() -> None:
    graph = _graph()
    assert len(graph) > 40
    assert {"optimizer.prepare", "optimizer.plan.writer"} <= graph["optimizer.pipeline"]
    assert "optimizer.cli" in graph["optimizer.generate.__main__"]  # an import in a function...
    assert "optimizer.pipeline" in graph["optimizer.cli"]  # ...is an import too
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def _is_entry_point(name: str) -> bool:
    return name == "optimizer.cli" or name.endswith(".__main__")


@pytest.mark.parametrize("name", [n for n in MODULES if not _is_entry_point(n)])
def test_below_the_command_line_nothing_imports_it_or_click(name: str) -> None:
    bad = [t for t, _ in _imports(name)
           if t == "click" or t.startswith("click.") or t == "optimizer.cli"
           or t.startswith("optimizer.cli.")]
    assert bad == [], f"{name} imports {bad}: the command line is the top layer"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("optimizer.audit")])
def test_the_auditor_imports_nothing_of_the_rest(name: str) -> None:
    bad = [t for t, _ in _imports(name)
           if (t == "optimizer" or t.startswith("optimizer."))
           and not (t == "optimizer.audit" or t.startswith("optimizer.audit."))]
    assert bad == [], f"{name} imports {bad}: the auditor recomputes on its own"


@pytest.mark.parametrize("name", [n for n in MODULES if n.startswith("optimizer.report")])
def test_the_report_reads_no_rulebook(name: str) -> None:
    bad = [t for t in _graph()[name] if t.startswith("optimizer.rules")]
    assert bad == [], f"{name} imports {bad}: names come from the files the report reads"


@pytest.mark.parametrize("name", list(MODULES))
def test_no_module_takes_anothers_private_names(name: str) -> None:
    bad = [f"{t}.{n}" for t, names in _imports(name) for n in names
           if n.startswith("_") and t.startswith("optimizer") and t != name]
    assert bad == [], f"{name} imports private {bad}: ask the module for a public API"
