"""Fixtures shared by the suites that run the whole system: the finAPI sandbox and the local stack."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.api_client import BankUpdateApi

ROOT = Path(__file__).resolve().parents[1]
JWT_ISSUER = "https://issuer.local.test"
JWT_AUDIENCE = "bank-app-tests"

# Short windows so that deadlines, authentication timeouts and backoff play out in seconds.
FAST_ENV = {
    # The poll loop's Wait states last a twentieth of what the gaps say (the stack's wait_scale below).
    "POLL_MAX_GAP_SECONDS": "2",
    "DECOUPLED_MIN_INTERVAL_SECONDS": "0",
    # The workflow gives up on a silent update one authentication window plus this grace after the last sign of life
    "HEARTBEAT_GRACE_SECONDS": "5",
    # Web Form 2.0: finAPI's callbacks say when to poll; the fallback polls (for a lost callback) come every 2 s here
    "WEBFORM_FALLBACK_MIN_GAP_SECONDS": "2",
    "WEBFORM_USER_FALLBACK_SECONDS": "2",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "BankConnectionUpdatesTests",
}


STACK_SUITES = ("tests/workflow", "tests/reliability", "tests/local_stack")
# Suites by how long their modules take (the local stack's first, the browser's next), for the order above.
HEAVIEST_FIRST = ("tests/workflow", "tests/reliability", "tests/browser", "tests/local_stack", "tests/template")
# Modules that alone outlast most suites (the production-ratio slice waits out a scaled 12-minute visibility timeout):
# they go before everything else, so they never start last.
LONGEST_MODULES = ("tests/workflow/test_production_timing.py",)
# The test modules of this run that reported (in the process that reports: the controller under pytest-xdist).
RAN_MODULES: set[str] = set()


def _judging(config: pytest.Config) -> bool:
    """The run of the checks over what every stack saw: `make test`'s second pytest session, after the run that made
    the stacks (tests/support/observed_stacks.py says why)."""
    return bool(config.getoption("markexpr") == "after_every_stack")


def _controller(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    _rewrite_no_third_party_asserts(config)
    if _controller(config) and not _judging(config):
        from tests.support import observed_stacks

        observed_stacks.begin_run()


def _rewrite_no_third_party_asserts(config: pytest.Config) -> None:
    """pytest rewrites the asserts of every module of a package that ships a pytest plugin (schemathesis, hypothesis),
    also when such a module is first imported deep inside a Hypothesis draw; at that depth CPython 3.11.7's ast.parse
    raises "AST constructor recursion depth mismatch", which failed the fuzzing test twice on CI (a lazy import of
    schemathesis each time). Only our tests' asserts need rewriting: the packages marked so far are unmarked."""
    marked = getattr(getattr(config.pluginmanager, "rewrite_hook", None), "_must_rewrite", None)
    if isinstance(marked, set):
        marked.clear()


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """The checks over what every stack saw wait for the run that made the stacks; the rest runs heaviest first, so
    that no worker is left with a long module at the end."""
    if _judging(config):
        return
    judging = [item for item in items if item.get_closest_marker("after_every_stack") is not None]
    if judging:
        config.hook.pytest_deselected(items=judging)
        items[:] = [item for item in items if item not in judging]
    items.sort(key=_heaviest_first)


def _heaviest_first(item: pytest.Item) -> tuple[int, int]:
    module = Path(item.path).relative_to(ROOT).as_posix()
    suite = _suite(item)
    return (0 if module in LONGEST_MODULES else 1, HEAVIEST_FIRST.index(suite) if suite in HEAVIEST_FIRST else 99)


def _suite(item: pytest.Item) -> str:
    return "/".join(Path(item.path).relative_to(ROOT).parts[:2])


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist hands out whole test modules (their stack is module-scoped), but the template suite as one: its
    modules share one `sam build` and one ministack per worker."""
    from xdist.scheduler import LoadScopeScheduling  # type: ignore[import-untyped]

    class ByModuleTemplateSuiteTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", maxsplit=1)[0]
            return "tests/template" if module.startswith("tests/template/") else module

    return ByModuleTemplateSuiteTogether(config, log)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    RAN_MODULES.add(report.nodeid.split("::")[0])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _controller(session.config) and not _judging(session.config):
        from tests.support import observed_stacks

        observed_stacks.end_run(session.testsfailed, RAN_MODULES)


# The sandbox as every suite runs it: short downloads, each exchange checked against finAPI's spec, and the bank's
# decoupled-poll limit matching the app's DECOUPLED_MIN_INTERVAL_SECONDS above.
SANDBOX_TEST_SETTINGS = {"check_conformance": True, "decoupled_min_interval_seconds": 0.0}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Any]:
    from finapi_sandbox import SandboxConfig, SandboxServer

    config = SandboxConfig.default().model_copy(
        update={"download_seconds": 0.5, "categorization_seconds": 0.5} | SANDBOX_TEST_SETTINGS
    )
    with SandboxServer(config, host="127.0.0.1", port=0) as server:
        yield server


@pytest.fixture(scope="session")
def webform_sandbox(sandbox: Any) -> Iterator[Any]:
    """finAPI Web Form 2.0 beside the Access sandbox (same users, tokens and connections). The local stack listens on
    plain http, so loopback callback URLs are allowed; the web form asks about decoupled approvals at each refresh."""
    from finapi_sandbox.webform import WebFormConfig, WebFormServer

    config = WebFormConfig(allow_http_loopback_urls=True, decoupled_poll_seconds=0)
    with WebFormServer(sandbox, config) as server:
        yield server


@pytest.fixture(autouse=True)
def finapi_conformance(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every exchange with the finAPI sandbox during a test is checked against finAPI's official spec.

    An answer that breaks the spec, or a request that breaks it and was accepted, fails any test; a request that
    breaks it (and was refused) fails every test but those marked ``finapi_invalid_requests``, which send such
    requests on purpose. See docs/finapi-fidelity.md.
    """
    if "sandbox" not in request.fixturenames:
        yield
        return
    log = request.getfixturevalue("sandbox").conformance
    assert log is not None, "every test sandbox checks conformance: build its config with SANDBOX_TEST_SETTINGS"
    yield
    on_purpose = request.node.get_closest_marker("finapi_invalid_requests") is not None
    findings = [f for f in log.take() if f.kind == "answer" or f.accepted or not on_purpose]
    assert not findings, "exchanges with the finAPI sandbox broke finAPI's spec:\n" + "\n".join(map(str, findings))


@contextmanager
def running_stack(
    sandbox: Any,
    *,
    template: Path = ROOT / "template.yaml",
    time_scale: float = 1.0,
    env: dict[str, str] | None = None,
    api_port: int = 0,
    front_end: Any = None,
    express_duplicate_rate: float = 0.0,
    express_max_seconds: float | None = None,
    wait_scale: float = 0.05,
    retry_scale: float | None = None,
    parameter_overrides: dict[str, str] | None = None,
    quotas: Any = None,
    throttle_rate: float = 0.0,
    **parameters: str,
) -> Iterator[Any]:
    """The whole application on the local stack, pointed at the sandbox. One at a time per process.

    ``time_scale`` shrinks AWS's time limits (Lambda timeouts, the HTTP API's 30 s) for tests that reach them;
    ``quotas`` and ``throttle_rate`` throttle the stack's AWS calls (``local_stack/throttling.py``)."""
    from bankupdate import composition
    from local_stack import LocalStack
    from tests.support import observed_stacks

    overrides = (
        {
            "FinapiBaseUrl": sandbox.base_url,
            "JwtIssuer": JWT_ISSUER,
            "JwtAudience": JWT_AUDIENCE,
            "UpdateDeadlineSeconds": "60",
            "AuthenticationWindowSeconds": "60",
            "AllowedRedirectUrls": "https://app.example.com/",
        }
        | (parameter_overrides or {})
        | parameters
    )
    with LocalStack(
        template_path=str(template),
        time_scale=time_scale,
        parameter_overrides=overrides,
        api_port=api_port,
        wait_scale=wait_scale,
        retry_scale=retry_scale,
        secrets={
            "FinapiClientSecret": json.dumps({"clientId": sandbox.client_id, "clientSecret": sandbox.client_secret})
        },
        env_overrides=FAST_ENV | (env or {}),
        front_end=front_end,
        express_duplicate_rate=express_duplicate_rate,
        express_max_seconds=express_max_seconds,
        quotas=quotas,
        throttle_rate=throttle_rate,
    ) as local:
        composition.reset()
        try:
            yield local
        finally:
            composition.reset()
            observed_stacks.record_stack(Path(template), _current_module(), local.authorizer, local.resolver)


def _current_module() -> str:
    return os.environ.get("PYTEST_CURRENT_TEST", "?").split("::")[0]


@pytest.fixture(scope="module")
def stack(sandbox: Any) -> Iterator[Any]:
    with running_stack(sandbox) as local:
        yield local


@dataclass
class BankUser:
    """One end user of ours, with a finAPI user and bank connections of their own in the sandbox."""

    sub: str
    api: BankUpdateApi
    finapi_username: str
    connections: dict[str, int]


@pytest.fixture
def new_user(sandbox: Any, stack: Any) -> Iterator[Callable[..., BankUser]]:
    made: list[BankUser] = []

    def make(*banks: str, **connection_options: Any) -> BankUser:
        suffix = uuid.uuid4().hex[:10]
        sub, username, password = f"user-{suffix}", f"finapi-{suffix}", f"pw-{suffix}"
        sandbox.world.create_user(username, password)
        connections = {
            bank: sandbox.world.add_connection(username, bank_blz=bank, **connection_options)
            for bank in (banks or ("DEMO0001",))
        }
        register_finapi_user(stack, sub, username, password)
        user = BankUser(sub, BankUpdateApi(stack.api_url, stack.issue_token(sub=sub)), username, connections)
        made.append(user)
        return user

    yield make
    for user in made:
        user.api.close()


def register_finapi_user(stack: Any, user_id: str, username: str, password: str) -> None:
    url = f"{stack.api_url}/v1/admin/users/{user_id}/finapi-user"
    body = json.dumps({"finapiUsername": username, "finapiPassword": password}).encode()
    answer = httpx.put(
        url, content=body, headers=stack.admin_headers("PUT", url, body) | {"content-type": "application/json"}
    )
    assert answer.status_code == 204, answer.text


def ci() -> bool:
    return bool(os.environ.get("CI"))
