"""The shape of the code base's packages (issue 21): no module above ``MAX_LINES`` lines, and no cycle in the import
graph. As for the layer rules, every import statement counts, function-level and TYPE_CHECKING ones included: an
import anywhere in a module is a dependency of that module.

The graph's nodes are the packages' modules (a package's ``__init__`` under the package's name); an import of a module
outside them is no edge. Importing a submodule does not count as importing its parent package, though Python runs the
parent's ``__init__`` first: a package that re-exports its submodules would otherwise be a cycle with each of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.architecture.layers import imports_of, module_name

MAX_LINES = 350


def modules(packages: Iterable[Path]) -> dict[str, Path]:
    """Every module of the packages (folders), by its dotted name."""
    return {module_name(package.parent, path): path for package in packages for path in sorted(package.rglob("*.py"))}


def oversized(found: Mapping[str, Path], shown_from: Path, limit: int = MAX_LINES) -> list[str]:
    return [
        f"{path.relative_to(shown_from)}: {lines} lines (at most {limit})"
        for path in found.values()
        if (lines := len(path.read_text().splitlines())) > limit
    ]


def _ours(imported: str, known: Mapping[str, Path]) -> str | None:
    """The module an import loads, if it is one of ours (``a.b.name`` of ``from a.b import name`` is ``a.b``)."""
    name = imported
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(found: Mapping[str, Path]) -> dict[str, set[str]]:
    """Which of the modules each module imports."""
    known = set(found)
    graph: dict[str, set[str]] = {}
    for name, path in found.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = {_ours(i.imported, found) for i in imports_of(path, name, package, known, name)}
        graph[name] = {m for m in imported if m is not None and m != name}
    return graph


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The import cycles: each group of modules that reach one another (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for imported in sorted(graph.get(module, ())):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)
