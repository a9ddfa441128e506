"""The layer rules of issue 13, checked on the source (every import statement, function-level and TYPE_CHECKING ones
included, since an import anywhere in a module is a dependency of that module).

Rules (``bankupdate`` is ``layers/core/bankupdate``, handlers are ``functions/*/app.py``):

* the domain imports nothing of ``bankupdate`` outside ``bankupdate.domain``;
* nothing outside ``bankupdate.stores`` and ``bankupdate.finapi`` imports boto3, botocore or httpx (handlers included);
* use case modules do not import each other; ``services`` does not import ``usecases``;
* adapters (``stores``, ``finapi``) import neither ``usecases``, ``services``, ``api`` nor ``composition``;
* the HTTP boundary (``api``) imports neither use cases, services, adapters nor the composition root;
* only handlers import the composition root; only the composition root imports the builder of the object graph
  (``wiring``), which builds from ports and never imports an adapter (so the tests' fakes build the same graph);
* a handler imports from ``bankupdate`` only ``api``, ``contract``, ``observability``, ``settings``, ``ports``,
  ``composition``, ``domain`` (the use case's input values) and at most one ``usecases`` module;
* nothing in ``bankupdate`` calls ``time.sleep``: every wait goes through the Clock port (``time.sleep`` may only be
  handed over, as the system clock's and the finAPI clients' default).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

AWS_AND_HTTP = ("boto3", "botocore", "httpx")
ADAPTERS = ("bankupdate.stores", "bankupdate.finapi")
HANDLER_MAY_IMPORT = (
    "bankupdate.api",
    "bankupdate.contract",
    "bankupdate.observability",
    "bankupdate.settings",
    "bankupdate.ports",
    "bankupdate.composition",
    "bankupdate.domain",
)


@dataclass(frozen=True)
class Import:
    importer: str  # a module name (bankupdate.services.finalizer) or a handler's path (functions/query/app.py)
    imported: str  # the module imported (the submodule, when ``from package import submodule``)
    where: str  # path:line, for the report


def within(module: str, *packages: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, importer: str, package: str, known: set[str], shown: str) -> Iterator[Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(importer, alias.name, f"{shown}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                yield Import(importer, submodule if submodule in known else base, f"{shown}:{node.lineno}")


def collect(core: Path, functions: Path, shown_from: Path) -> list[Import]:
    """Every import of the ``bankupdate`` package under ``core`` and of each handler under ``functions``."""
    sources = sorted((core / "bankupdate").rglob("*.py"))
    known = {module_name(core, path) for path in sources}
    found: list[Import] = []
    for path in sources:
        name = module_name(core, path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found += imports_of(path, name, package, known, str(path.relative_to(shown_from)))
    for path in sorted(functions.glob("*/app.py")):
        shown = str(path.relative_to(shown_from))
        found += imports_of(path, shown, "", known, shown)
    return found


def _is_handler(importer: str) -> bool:
    return importer.startswith("functions/")


def violations(imports: Iterable[Import]) -> list[str]:
    found: list[str] = []
    imports = list(imports)

    def report(imp: Import, rule: str) -> None:
        found.append(f"{imp.where}: {imp.importer} imports {imp.imported} ({rule})")

    for imp in imports:
        who, what = imp.importer, imp.imported
        ours = within(what, "bankupdate")
        if within(what, *AWS_AND_HTTP) and not within(who, *ADAPTERS):
            report(imp, "only stores and finapi talk to AWS and HTTP")
        if within(who, "bankupdate.domain") and ours and not within(what, "bankupdate.domain"):
            report(imp, "the domain imports nothing above it")
        if within(who, "bankupdate.usecases") and within(what, "bankupdate.usecases"):
            own = who.split(".")[:3]
            if what.split(".")[:3] != own and what != "bankupdate.usecases":
                report(imp, "use cases never import each other")
        if within(who, "bankupdate.services") and within(what, "bankupdate.usecases"):
            report(imp, "services serve the use cases, never the other way round")
        if within(who, *ADAPTERS) and within(what, "bankupdate.usecases", "bankupdate.services", "bankupdate.api"):
            report(imp, "adapters implement ports, they do not drive the application")
        if within(who, "bankupdate.api") and within(
            what, "bankupdate.usecases", "bankupdate.services", *ADAPTERS, "bankupdate.composition"
        ):
            report(imp, "the HTTP boundary shapes requests and answers only")
        if within(what, "bankupdate.composition") and not _is_handler(who) and who != "bankupdate.composition":
            report(imp, "only handlers import the composition root")
        if within(what, "bankupdate.wiring") and who not in ("bankupdate.composition", "bankupdate.wiring"):
            report(imp, "the builder (wiring) belongs to the composition root")
        if who == "bankupdate.wiring" and within(what, *ADAPTERS):
            report(imp, "the builder works on ports only, never on adapters")
        if _is_handler(who) and ours and not within(what, *HANDLER_MAY_IMPORT, "bankupdate.usecases"):
            report(imp, "a handler uses the api package, the composition root and its use case")
    for handler in sorted({i.importer for i in imports if _is_handler(i.importer)}):
        cases = sorted(
            {i.imported for i in imports if i.importer == handler and within(i.imported, "bankupdate.usecases")}
        )
        if len(cases) > 1:
            found.append(f"{handler}: imports {len(cases)} use case modules {cases} (a handler runs one use case)")
    return found


def direct_sleeps(core: Path, shown_from: Path) -> list[str]:
    """Calls of ``time.sleep`` (or of ``sleep`` imported from ``time``) in the ``bankupdate`` package."""
    found: list[str] = []
    for path in sorted((core / "bankupdate").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        local_names = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "time"
            for alias in node.names
            if alias.name == "sleep"
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            by_module = (
                isinstance(func, ast.Attribute)
                and func.attr == "sleep"
                and isinstance(func.value, ast.Name)
                and func.value.id == "time"
            )
            if by_module or (isinstance(func, ast.Name) and func.id in local_names):
                found.append(f"{path.relative_to(shown_from)}:{node.lineno}: sleeps without the Clock port")
    return found


def imports_under(folder: Path, shown_from: Path) -> list[Import]:
    """Every import in the Python files under ``folder`` (test code: absolute imports only)."""
    found: list[Import] = []
    for path in sorted(folder.rglob("*.py")):
        shown = str(path.relative_to(shown_from))
        found += imports_of(path, shown, "", set(), shown)
    return found
