"""The layer rules hold for the code base, and each rule catches a violation of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.architecture.layers import collect, direct_sleeps, imports_under, violations, within
from tests.conftest import ROOT

CORE, FUNCTIONS = ROOT / "layers" / "core", ROOT / "functions"


def test_the_code_base_keeps_the_layer_rules() -> None:
    imports = collect(CORE, FUNCTIONS, ROOT)
    # The walk sees the code base (a broken walk would find nothing to complain about)
    assert any(i.importer == "bankupdate.stores.aws" and i.imported == "botocore.session" for i in imports)
    assert any(
        i.importer == "functions/trigger_update/app.py" and i.imported == "bankupdate.composition" for i in imports
    )
    assert violations(imports) == []


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the core and the handlers to break."""
    shutil.copytree(CORE / "bankupdate", tmp_path / "core" / "bankupdate")
    shutil.copytree(FUNCTIONS, tmp_path / "functions")
    return tmp_path


def _add(path: Path, line: str, *, at_function_level: bool = False) -> None:
    text = path.read_text()
    if at_function_level:
        text += f"\n\ndef _added() -> None:\n    {line}\n"
    else:
        text += f"\n{line}\n"
    path.write_text(text)


@pytest.mark.parametrize(
    ("file", "line", "function_level", "rule"),
    [
        ("core/bankupdate/domain/lifecycle.py", "from bankupdate.ports import StaleUpdate", False, "the domain"),
        ("core/bankupdate/domain/budget.py", "from ..settings import get_settings", False, "the domain"),
        ("core/bankupdate/services/finalizer.py", "import boto3", True, "only stores and finapi"),
        ("core/bankupdate/usecases/query.py", "from httpx import Client", False, "only stores and finapi"),
        ("functions/query/app.py", "import botocore.exceptions", True, "only stores and finapi"),
        (
            "core/bankupdate/usecases/collect_credentials.py",
            "from bankupdate.usecases.trigger_update import callback_digest",
            False,
            "use cases never import each other",
        ),
        ("core/bankupdate/usecases/query.py", "from . import register_user", True, "use cases never import"),
        ("core/bankupdate/services/progress.py", "from bankupdate.usecases import query", False, "services serve"),
        (
            "core/bankupdate/wiring.py",
            "from bankupdate.stores.updates import DynamoUpdateStore",
            True,
            "the builder works",
        ),
        ("core/bankupdate/usecases/query.py", "from bankupdate import wiring", True, "belongs to the composition"),
        ("core/bankupdate/stores/updates.py", "from bankupdate.services.finalizer import Finalizer", False, "adapters"),
        ("core/bankupdate/finapi/mapping.py", "from bankupdate.usecases.query import ReadUpdates", True, "adapters"),
        ("core/bankupdate/api/views.py", "from bankupdate.stores.updates import DynamoUpdateStore", False, "HTTP"),
        ("core/bankupdate/usecases/query.py", "from bankupdate import composition", True, "composition root"),
        ("functions/query/app.py", "from bankupdate.services.finalizer import Finalizer", False, "a handler uses"),
        ("functions/query/app.py", "from bankupdate.stores.aws import client", False, "a handler uses"),
    ],
)
def test_each_rule_catches_its_violation(copy: Path, file: str, line: str, function_level: bool, rule: str) -> None:
    # Given the code base with one forbidden import added
    _add(copy / file, line, at_function_level=function_level)
    # When the rules are checked
    found = violations(collect(copy / "core", copy / "functions", copy))
    # Then exactly that import is reported, under its rule
    assert len(found) == 1, found
    assert found[0].startswith(file + ":") and rule in found[0]


def test_a_handler_running_two_use_cases_is_caught(copy: Path) -> None:
    _add(copy / "functions/query/app.py", "from bankupdate.usecases.query import ReadUpdates")
    _add(copy / "functions/query/app.py", "from bankupdate.usecases import register_user")
    found = violations(collect(copy / "core", copy / "functions", copy))
    assert found == [
        "functions/query/app.py: imports 2 use case modules "
        "['bankupdate.usecases.query', 'bankupdate.usecases.register_user'] (a handler runs one use case)"
    ]


def test_every_wait_goes_through_the_clock_port() -> None:
    assert direct_sleeps(CORE, ROOT) == []


@pytest.mark.parametrize("line", ["import time\ntime.sleep(1)", "from time import sleep as pause\npause(1)"])
def test_a_direct_sleep_is_caught(copy: Path, line: str) -> None:
    _add(copy / "core/bankupdate/services/locks.py", line)
    (found,) = direct_sleeps(copy / "core", copy)
    assert found.startswith("core/bankupdate/services/locks.py:") and "Clock port" in found


def test_the_use_case_suite_and_the_fakes_need_no_aws() -> None:
    # The use-case suite runs on the in-memory ports: no moto, no boto3, no AWS adapter (finAPI is the sandbox)
    aws = ("moto", "boto3", "botocore", "bankupdate.stores", "local_stack")
    imports = [i for folder in ("tests/usecases", "tests/fakes") for i in imports_under(ROOT / folder, ROOT)]
    assert any(i.imported == "bankupdate.usecases.trigger_update" for i in imports)  # the walk sees the suite
    assert [f"{i.where}: {i.imported}" for i in imports if within(i.imported, *aws)] == []
