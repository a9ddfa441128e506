"""The local stack leans on moto internals (no public hook exists). If moto moves them, fail here, loudly."""

from __future__ import annotations

import inspect
from importlib.metadata import version

from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
from moto.stepfunctions.parser.models import StepFunctionsParserBackend


def test_moto_is_the_pinned_version() -> None:
    assert version("moto") == "5.2.5", "local_stack patches moto internals: re-check them before moving the pin"


def test_lambda_dispatch_hook_is_where_we_patch_it() -> None:
    parameters = list(inspect.signature(LambdaSimpleBackend.invoke).parameters)
    assert parameters == ["self", "function_name", "qualifier", "body", "headers", "response_headers"]


def test_wait_and_retry_timing_hooks_exist() -> None:
    assert list(inspect.signature(WaitFunction._wait_interval).parameters) == ["self", "env", "wait_seconds"]
    assert hasattr(retrier_decl, "time") and hasattr(retrier_decl.time, "sleep"), "Retry no longer sleeps via time"


def test_start_execution_signature() -> None:
    parameters = list(inspect.signature(StepFunctionsParserBackend.start_execution).parameters)
    assert parameters == ["self", "state_machine_arn", "name", "execution_input", "trace_header"]


def test_dynamodb_write_methods_we_serialise_exist() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        assert callable(getattr(DynamoDBBackend, name)), name
