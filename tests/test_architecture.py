"""The shape of the house, pinned: only warehouse/ knows engines, no import cycles, no private names across stages.

Every import counts, including those behind TYPE_CHECKING and inside functions: a cycle hidden there is still a
cycle a reader has to untangle, and the next room copies it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "carelake"
ENGINE_LIBRARIES = ("duckdb", "psycopg", "pyspark")


def _modules() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _owner(name: str) -> str:
    """The module `name` lives in (a name imported from a module resolves to that module)."""
    while name and name not in MODULES:
        name = name.rsplit(".", 1)[0] if "." in name else ""
    return name


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports(module: str) -> list[tuple[str, str]]:
    """(imported module, imported name or '') for every carelake import anywhere in `module`."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            out += [(source, a.name) for a in node.names if source.startswith("carelake")]
        elif isinstance(node, ast.Import):
            out += [(a.name, "") for a in node.names if a.name.startswith("carelake")]
    return out


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for m in MODULES:
        for source, name in _imports(m):
            target = f"{source}.{name}" if f"{source}.{name}" in MODULES else _owner(source)
            if target and target != m:
                graph[m].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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


def test_only_the_warehouse_knows_engines() -> None:
    compares = re.compile(r"dialect\s*[!=]=")
    offenders = []
    for module, path in MODULES.items():
        if _stage(module) == "warehouse":
            continue
        text = path.read_text(encoding="utf-8")
        if compares.search(text):
            offenders.append(f"{module}: compares an engine name")
        for node in ast.walk(ast.parse(text)):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{module}: imports {n}" for n in names if n.split(".")[0] in ENGINE_LIBRARIES]
    assert offenders == []


def test_no_import_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_crosses_a_stage() -> None:
    offenders = []
    for module in MODULES:
        for source, name in _imports(module):
            segments = [*source.split(".")[2:], name]
            private = any(s.startswith("_") and not s.startswith("__") for s in segments if s)
            if private and _stage(source) != _stage(module):
                offenders.append(f"{module} imports {source}.{name}")
    assert offenders == []


def test_stages_import_forward_only() -> None:
    """The warehouse and errors sit at the bottom; no stage below the CLI imports the CLI."""
    edges = {(_stage(m), _stage(t)) for m, targets in _graph().items() for t in targets if _stage(m) != _stage(t)}
    assert {a for a, b in edges if a in ("warehouse", "errors") and b not in ("errors",)} == set()
    assert {a for a, b in edges if b == "cli"} <= {"__main__"}
