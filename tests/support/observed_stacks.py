"""What every local stack of a test run was seen to use and refused, kept on disk for the least-privilege check.

The suite runs in several pytest workers (pytest-xdist), each with stacks of its own, and the check needs all of them:
so each stack, when it stops, writes what its authorizer saw (in logical terms: physical names such as random key ids
differ per stack) into one folder, and the run that started the stacks writes how it ended beside them. The check
(tests/template/test_least_privilege.py) runs after that run, in a pytest session of its own (`make test`).
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the local stack (and moto) load only where a stack runs, not in every pytest session
    from local_stack.iam.authorizer import Authorizer, Use

FOLDER = Path(os.environ.get("OBSERVED_STACKS_DIR", Path(__file__).resolve().parents[2] / "test-artifacts" / "stacks"))
RUN = FOLDER / "run.json"


@dataclass(frozen=True)
class ObservedStack:
    """One stack: the template it ran, the test module that ran it, and its calls in logical terms."""

    template: str
    module: str
    denied: list[str]
    used: set[Use]
    granted: set[Use]


@dataclass(frozen=True)
class Run:
    """How the run that made the stacks ended, and the test modules it selected."""

    failed: int
    modules: list[str]


def logical_names(resolver: Any) -> Callable[[Use], Use]:
    """A stack's use with its physical names (random key ids, secret suffixes) in logical terms, so that what one
    stack granted compares with what any stack of the run used."""
    from local_stack.iam.authorizer import Use

    physical = {str(v): k for k, v in resolver.refs.items() if isinstance(v, str)}
    physical |= {str(v): k for (k, _), v in resolver.attributes.items() if isinstance(v, str)}
    names = sorted(((p, k) for p, k in physical.items() if len(p) >= 12), key=lambda pair: -len(pair[0]))

    def logical(use: Use) -> Use:
        resource = use.resource
        for name, logical_id in names:
            resource = resource.replace(name, f"{{{logical_id}}}")
        return Use(use.origin, use.action, resource)

    return logical


def granted(authorizer: Authorizer) -> set[Use]:
    """Every action/resource pair our own statements allow (AWS managed policies are AWS's)."""
    from local_stack.iam.authorizer import Use

    pairs: set[Use] = set()
    for principal in authorizer.principals.values():
        for statement in principal.statements:
            if "/aws-managed:" in statement.origin or statement.effect != "Allow":
                continue
            pairs |= {Use(statement.origin, a.lower(), r) for a in statement.actions for r in statement.resources}
    return pairs


def begin_run() -> None:
    shutil.rmtree(FOLDER, ignore_errors=True)
    FOLDER.mkdir(parents=True)


def record_stack(template: Path, module: str, authorizer: Authorizer, resolver: Any) -> None:
    logical = logical_names(resolver)
    stack = {
        "template": str(template),
        "module": module,
        "denied": list(authorizer.denied),
        "used": _rows(logical(u) for u in authorizer.used),
        "granted": _rows(logical(u) for u in granted(authorizer)),
    }
    FOLDER.mkdir(parents=True, exist_ok=True)
    (FOLDER / f"stack-{uuid.uuid4().hex}.json").write_text(json.dumps(stack))


def end_run(failed: int, modules: Iterable[str]) -> None:
    RUN.write_text(json.dumps({"failed": failed, "modules": sorted(set(modules))}))


def last_run() -> Run | None:
    if not RUN.exists():
        return None
    run = json.loads(RUN.read_text())
    return Run(run["failed"], run["modules"])


def stacks() -> list[ObservedStack]:
    from local_stack.iam.authorizer import Use

    found = []
    for path in sorted(FOLDER.glob("stack-*.json")):
        stack = json.loads(path.read_text())
        found.append(
            ObservedStack(
                stack["template"],
                stack["module"],
                stack["denied"],
                {Use(*row) for row in stack["used"]},
                {Use(*row) for row in stack["granted"]},
            )
        )
    return found


def _rows(uses: Iterable[Use]) -> list[list[str]]:
    return sorted([u.origin, u.action, u.resource] for u in uses)
