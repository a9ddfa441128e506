"""Issue 21: no module of the local stack or of the finAPI sandbox above 350 lines, and no import cycle in the local
stack, the finAPI sandbox or the core; and each check catches what it is there for."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.architecture.modules import MAX_LINES, cycles, import_graph, modules, oversized
from tests.conftest import ROOT

LOCAL_STACK, SANDBOX, CORE = ROOT / "local_stack", ROOT / "finapi_sandbox", ROOT / "layers" / "core" / "bankupdate"


def test_no_module_of_the_local_stack_is_above_the_limit() -> None:
    assert oversized(modules([LOCAL_STACK]), ROOT) == []


def test_no_module_of_the_finapi_sandbox_is_above_the_limit() -> None:
    assert oversized(modules([SANDBOX]), ROOT) == []


def test_no_import_cycle_runs_through_the_local_stack_the_sandbox_or_the_core() -> None:
    graph = import_graph(modules([LOCAL_STACK, SANDBOX, CORE]))
    # The walk sees each package's imports (a broken walk would find no cycle either)
    for package in ("local_stack.", "finapi_sandbox.", "bankupdate."):
        assert any(graph[module] for module in graph if module.startswith(package)), package
    assert "local_stack.provisioning" in graph["local_stack.stack"]
    assert cycles(graph) == []


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "pkg" / name).write_text(text)
    return root / "pkg"


@pytest.mark.parametrize(
    "back",
    [
        "from pkg.a import value",  # absolute
        "from ..a import value",  # relative
        "import pkg.a",
        "def later() -> None:\n    from pkg import a",  # function level: a submodule imported from its package
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import value",
    ],
)
def test_an_import_cycle_is_found_however_it_is_written(tmp_path: Path, back: str) -> None:
    forth = "from pkg.sub.b import other\nvalue = 1\n"
    package = _package(tmp_path, {"__init__.py": "", "a.py": forth, "sub/__init__.py": "", "sub/b.py": back})
    assert cycles(import_graph(modules([package]))) == [["pkg.a", "pkg.sub.b"]]


def test_a_package_that_exports_its_submodules_is_no_cycle(tmp_path: Path) -> None:
    package = _package(tmp_path, {"__init__.py": "from pkg.a import value\n", "a.py": "import json\nvalue = 1\n"})
    assert import_graph(modules([package])) == {"pkg": {"pkg.a"}, "pkg.a": set()}
    assert cycles(import_graph(modules([package]))) == []


def test_a_module_above_the_limit_is_found(tmp_path: Path) -> None:
    package = _package(tmp_path, {"at_limit.py": "x = 1\n" * MAX_LINES, "above.py": "x = 1\n" * (MAX_LINES + 1)})
    assert oversized(modules([package]), tmp_path) == [f"pkg/above.py: {MAX_LINES + 1} lines (at most {MAX_LINES})"]
