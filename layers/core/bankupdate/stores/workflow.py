"""Step Functions: the update's execution (named after the update) and the tasks that wait on task tokens."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as NoConnection

from bankupdate.contract import HandBack, HandBackDetail, WorkflowInput, WorkflowOutput
from bankupdate.ports import ExecutionState
from bankupdate.stores.aws import ServiceClient, error_code

_CLOSED_TASK_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
_ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")


def _status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))


class StepFunctionsWorkflow:
    _sfn = ServiceClient("stepfunctions")
    _sfn_once = ServiceClient("stepfunctions", attempts=1)  # a start whose caller defers it when throttled (D35)

    def __init__(self, state_machine_arn: str) -> None:
        self._arn = state_machine_arn

    def execution_arn(self, update_id: str) -> str:
        return self._arn.replace(":stateMachine:", ":execution:") + f":{update_id}"

    def start(self, payload: WorkflowInput, *, retry_throttles: bool = True) -> bool:
        """The name is the update id, so a repeated start can never run the same update twice. Without retries on
        throttles (D35) a throttle raises AwsThrottled at the first refusal; any other transient fault (a 5xx, a lost
        connection) still gets botocore's attempts, through the usual client."""
        if retry_throttles:
            return self._start(self._sfn, payload)
        try:
            return self._start(self._sfn_once, payload)
        except (ClientError, NoConnection, HTTPClientError) as error:
            if isinstance(error, ClientError) and _status(error) < 500:
                raise
            return self._start(self._sfn, payload)

    def _start(self, sfn: Any, payload: WorkflowInput) -> bool:
        try:
            sfn.start_execution(
                stateMachineArn=self._arn, name=payload.update_id, input=payload.model_dump_json(by_alias=True)
            )
        except ClientError as error:
            if error_code(error) != "ExecutionAlreadyExists":
                raise
            return False
        return True

    def state(self, update_id: str) -> ExecutionState:
        try:
            answer = self._sfn.describe_execution(executionArn=self.execution_arn(update_id))
        except ClientError as error:
            if error_code(error) == "ExecutionDoesNotExist":
                return ExecutionState.MISSING
            raise
        return ExecutionState.RUNNING if answer["status"] == "RUNNING" else ExecutionState.ENDED

    def keep_alive(self, task_token: str) -> bool:
        try:
            self._sfn.send_task_heartbeat(taskToken=task_token)
        except ClientError as error:
            if error_code(error) in _CLOSED_TASK_ERRORS:
                return False
            raise
        return True

    def release(self, task_token: str, output: WorkflowOutput) -> bool:
        return self._succeed(task_token, output.model_dump_json(by_alias=True))

    def resume(self, task_token: str, update_id: str) -> bool:
        return self._succeed(task_token, json.dumps({"updateId": update_id}))

    def hand_back(self, task_token: str, reason: HandBack, detail: HandBackDetail) -> bool:
        try:
            self._sfn.send_task_failure(
                taskToken=task_token, error=reason.value, cause=detail.model_dump_json(by_alias=True)
            )
        except ClientError as error:
            if error_code(error) in _CLOSED_TASK_ERRORS:
                return False
            raise
        return True

    def _succeed(self, task_token: str, output: str) -> bool:
        try:
            self._sfn.send_task_success(taskToken=task_token, output=output)
        except ClientError as error:
            if error_code(error) in _CLOSED_TASK_ERRORS:
                return False
            raise
        return True

    def recently_failed(self, *, stopped_since: datetime, started_since: datetime) -> Iterator[str]:
        """Executions are listed newest start first: read until they started too long ago to matter."""
        for status in _ENDED_BADLY:
            request: dict[str, object] = {"stateMachineArn": self._arn, "statusFilter": status, "maxResults": 100}
            while True:
                answer = self._sfn.list_executions(**request)
                executions = answer.get("executions", [])
                for execution in executions:
                    stopped = execution.get("stopDate")
                    if stopped is None or stopped >= stopped_since:
                        yield str(execution["name"])
                too_old = any(e["startDate"] < started_since for e in executions)
                if too_old or not answer.get("nextToken"):
                    break
                request["nextToken"] = answer["nextToken"]
