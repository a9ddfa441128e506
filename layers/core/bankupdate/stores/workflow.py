"""Step Functions: start an update's execution, resume it from a callback."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from bankupdate.stores.aws import client

_CLOSED_TASK_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


class WorkflowGateway:
    def __init__(self, state_machine_arn: str) -> None:
        self._arn = state_machine_arn
        self._sfn = client("stepfunctions")

    def execution_arn(self, name: str) -> str:
        return self._arn.replace(":stateMachine:", ":execution:") + f":{name}"

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start (or find) the execution called ``name``: the name is the update id, so a retry cannot start two."""
        try:
            answer = self._sfn.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
                raise
            return self.execution_arn(name)
        return str(answer["executionArn"])

    def exists(self, name: str) -> bool:
        try:
            self._sfn.describe_execution(executionArn=self.execution_arn(name))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return False
            raise
        return True

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        """Hand the waiting task its result; False if the task is gone (timed out or resumed by someone else)."""
        try:
            self._sfn.send_task_success(taskToken=task_token, output=json.dumps(output))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _CLOSED_TASK_ERRORS:
                return False
            raise
        return True
