"""The layers stay layers: no module imports itself through others, and routes reach the database
only through the jobs layer. Read from the source, so a lazy or type-only import counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import openlipsync

ROOT = Path(openlipsync.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in ROOT.rglob("*.py")}


def _imports(path: Path) -> set[str]:
    """Every openlipsync module ``path`` imports, wherever the import statement sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                child = f"{node.module}.{alias.name}"
                found.add(child if child in MODULES else node.module)
    return {name for name in found if name in MODULES and MODULES[name].name != "__init__.py"}


GRAPH = {name: _imports(path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in GRAPH:
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_routes_go_through_the_jobs_layer() -> None:
    """A route that opens a session or a model itself bypasses the rules the jobs layer keeps."""
    offenders = {}
    for name, path in MODULES.items():
        if name.startswith("openlipsync.api.routes."):
            source = path.read_text()
            bad = [word for word in ("openlipsync.store", "sqlalchemy", ".session(") if word in source]
            if bad:
                offenders[name] = bad
    assert offenders == {}


def test_jobs_is_split_into_packages() -> None:
    """Loose modules at the top of ``jobs/`` are only the ones every package shares."""
    loose = sorted(path.stem for path in (ROOT / "jobs").glob("*.py") if path.stem != "__init__")
    assert loose == ["errors", "loops", "runtime"]
