"""The one-way dependency, checked from the source: services form no import cycle (function-level
imports included, so a lazy import cannot hide one) and never reach up into entry points or UI."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Modules a service may never import: the UI, and the processes that call services.
UPWARD = (
    "reflex",
    "state",
    "pages",
    "agent_platform.agent_platform",
    "agent_platform.api",
    "agent_platform.worker",
    "agent_platform.run_worker",
    "agent_platform.cli",
    "agent_platform.supervisor",
)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in (ROOT / "services").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def _runtime_imports(tree: ast.Module, modules: Iterable[str] = ()) -> list[str]:
    """Every import that runs (at module level or inside functions), not `TYPE_CHECKING` ones.

    `from package import name` counts as importing the submodule `package.name` when that is
    one of `modules` (Python imports the package first either way, without a cycle)."""
    known = set(modules)
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    names: list[str] = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                names.append(submodule if submodule in known else node.module)
    return names


def _graph() -> dict[str, set[str]]:
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = {
            target
            for imported in _runtime_imports(ast.parse(path.read_text()), modules)
            if imported.startswith("services") and (target := owner(imported)) not in (None, name)
        }
        graph[name] = {t for t in targets if t is not None}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_services_have_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_services_never_import_the_ui_or_entry_points() -> None:
    offenders = []
    for name, path in _modules().items():
        for imported in _runtime_imports(ast.parse(path.read_text())):
            if any(imported == up or imported.startswith(up + ".") for up in UPWARD):
                offenders.append(f"{name} imports {imported}")
    assert offenders == []


# What only an entry point may do (agent_platform/db.py says why): open a session or commit.
TRANSACTION_OWNERS = {"session_scope", "get_engine", "Session"}


def _transaction_work(tree: ast.Module) -> list[str]:
    """Every place a module opens a transaction or commits: a `session_scope`, `get_engine` or
    `Session(...)` it names or imports, and any `.commit()` call."""
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found += [
                f"imports {a.name}"
                for a in node.names
                if a.name in TRANSACTION_OWNERS - {"Session"}
            ]
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "commit" or name in TRANSACTION_OWNERS:
                found.append(f"calls {name}() on line {node.lineno}")
    return found


def test_services_never_open_a_transaction_or_commit() -> None:
    offenders = [
        f"{name} {what}"
        for name, path in _modules().items()
        for what in _transaction_work(ast.parse(path.read_text()))
    ]
    assert offenders == []


def test_the_transaction_finder_finds_commits_and_sessions() -> None:
    source = """
from agent_platform.db import session_scope
from sqlmodel import Session
def save(session, engine):
    session.commit()
    with Session(engine) as other:
        pass
"""
    assert _transaction_work(ast.parse(source)) == [
        "imports session_scope",
        "calls commit() on line 5",
        "calls Session() on line 6",
    ]
