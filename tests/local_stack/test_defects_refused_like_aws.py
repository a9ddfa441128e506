"""Issue 11's defects, put back one at a time into a copy of the template: the local stack now refuses each one the
way AWS does, where moto alone let every test pass."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bankupdate import composition
from bankupdate.contract import WaitingTask
from bankupdate.domain.model import UpdateStatus
from tests.conftest import BankUser, running_stack
from tests.reliability.test_crash_consistency import _orphan
from tests.support.template_variants import drop_statement, statements, template_variant

MACHINE_ARN = {
    "Fn::Sub": [
        "arn:aws:states:${AWS::Region}:${AWS::AccountId}:stateMachine:update-connection-${StackUuid}",
        {"StackUuid": {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}},
    ]
}
TIME_SCALE = 0.2  # Lambda timeouts and the API's 30 s limit at a fifth


def before_the_fixes(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    drop_statement(template, "QueryFunction", "TablesKey")  # item 1: no kms:Decrypt for the state table's key
    drop_statement(template, "TriggerUpdateFunction", "FindWorkflow")  # item 2: no states:DescribeExecution
    for statement in statements(template, "CollectCredentialsFunction"):  # SendTaskSuccess scoped to the machine
        if statement.get("Sid") == "ResumeWorkflow":
            statement["Resource"] = MACHINE_ARN
    trigger = resources["TriggerUpdateFunction"]["Properties"]  # item 4: no headroom under the API's 30 s
    trigger["Timeout"] = 60
    trigger["Environment"]["Variables"].pop("FINAPI_TIMEOUT_SECONDS")


@pytest.fixture(scope="module")
def stack(sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    template = template_variant(tmp_path_factory.mktemp("variant"), before_the_fixes)
    with running_stack(sandbox, template=template, time_scale=TIME_SCALE) as local:
        yield local


def wait_until_supervised(update_id: str, timeout: float = 10) -> None:
    """The workflow's supervising task has parked its token on the update."""
    from bankupdate import composition

    deadline = time.monotonic() + timeout
    while (stored := composition.adapters().updates.get(update_id)) is None or stored.task_token is None:
        assert time.monotonic() < deadline, "the workflow never parked its task token"
        time.sleep(0.05)


def denials(stack: Any, action: str) -> list[str]:
    return [reason for reason in stack.authorizer.denied if action in reason]


def test_without_kms_decrypt_the_read_routes_answer_500(new_user: Any, stack: Any) -> None:
    # Given the query function's role may read the state table but not decrypt with its key
    user: BankUser = new_user()
    # When the user lists their connections
    answer = user.api.list_connections()
    # Then DynamoDB refuses the read with the caller's permissions: the function can only answer 500
    assert answer.status_code == 500 and answer.json()["error"]["code"] == "INTERNAL_ERROR"
    assert any("QueryFunctionRole" in reason for reason in denials(stack, "kms:Decrypt"))


def test_without_describe_execution_orphan_recovery_fails(new_user: Any, stack: Any) -> None:
    # Given an update whose workflow had reached it (a task's token is on the record) and runs no more, its lock held
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    orphan = _orphan(user, connection, UpdateStatus.PENDING)
    updates = composition.adapters().updates
    assert updates.park_task_token(orphan, "lost-task", kind=WaitingTask.POLL, while_status=UpdateStatus.PENDING)
    # When the user triggers again, the trigger asks whether the orphan has a workflow: AWS refuses
    again = user.api.trigger(connection, {"interface": "XS2A"})
    assert again.status_code == 500, again.text
    assert denials(stack, "states:DescribeExecution")


def test_send_task_success_scoped_to_the_state_machine_is_refused(new_user: Any, stack: Any) -> None:
    demo = [{"label": "Onlinebanking-ID", "value": "demo"}, {"label": "PIN", "value": "demo"}]
    user: BankUser = new_user()
    update = user.api.trigger(user.connections["DEMO0001"], {"interface": "XS2A", "loginCredentials": demo}).json()
    wait_until_supervised(update["updateId"])
    # When the user picks a two-step procedure, CollectCredentials tells the waiting workflow the update goes on
    answered = user.api.answer_when_ready(update["updateId"], {"twoStepProcedureId": "901"})
    # Then IAM refuses SendTaskHeartbeat on a state machine ARN (SendTask* have no resource-level permissions)
    assert answered.status_code == 500, answered.text
    assert denials(stack, "states:SendTask")


def test_a_trigger_slower_than_the_api_limit_gets_api_gateways_bare_503(new_user: Any, sandbox: Any) -> None:
    # Given finAPI answers the update after 7 s and the trigger waits for it (30 s finAPI timeout, 60 s Lambda)
    user: BankUser = new_user()
    connection = user.connections["DEMO0001"]
    sandbox.world.add_fault(method="POST", path="/update", connection_id=connection, delay_seconds=7, times=1)
    # When the user syncs, the HTTP API stops waiting at its (scaled) 30 s
    answer = user.api.trigger(connection, {"interface": "XS2A"})
    # Then the client gets API Gateway's bare 503, not our answer
    assert answer.status_code == 503 and answer.json() == {"message": "Service Unavailable"}


def test_the_variant_is_the_template_minus_the_fixes(tmp_path: Path) -> None:
    path = template_variant(tmp_path, before_the_fixes)
    assert "FindWorkflow" not in path.read_text() and "TablesKey" in path.read_text()
