"""The local stack: the SAM template's resources in moto (server mode), handlers in-process, HTTP API on loopback.

``LocalStack`` puts the parts together and is what tests, ``make local``, the demo and the bench hold: moto and the
process pointed at it (``moto_server``), moto's fidelity patches (``stepfunctions``, ``fidelity``, ``express``), the
resources from the template (``provisioning``), AWS's creation checks (``creation_checks``), the functions
(``lambdas``), the HTTP API and front end (``api_hosting``), event sources (``event_sources``), schedules
(``schedules``), every AWS call authorized (``interception``, ``iam``), and what tests read (``observation``)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from typing import Any

from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_stack import express, interception, observation, stepfunctions, throttling
from local_stack.api_hosting import ApiHosting
from local_stack.creation_checks import DeploymentRefused, check_service_roles
from local_stack.event_sources import QueuePollers
from local_stack.fidelity import (
    atomic_dynamodb_requests,
    early_task_success,
    heartbeat_timeouts_named_as_aws,
    prompt_sqs_long_polls,
    task_tokens_found_while_executions_start,
)
from local_stack.frontend import FrontEnd
from local_stack.http_api.authorizers import sign
from local_stack.iam.authorizer import Authorizer
from local_stack.iam.calls import Directory
from local_stack.iam.from_template import build_authorizer
from local_stack.iam.policy import Request
from local_stack.lambdas.runtime import FunctionRuntime
from local_stack.moto_server import MotoServer
from local_stack.provisioning import Provisioner
from local_stack.quotas import Quotas
from local_stack.schedules import Scheduler
from local_stack.template import ACCOUNT_ID, REGION, Resolver, translate

__all__ = ["DeploymentRefused", "LocalStack"]  # DeploymentRefused: what a refused start() raises


def _is_express(state_machine_arn: str) -> bool:
    try:
        return express.is_express(
            stepfunctions_parser_backends[ACCOUNT_ID][REGION].describe_state_machine(state_machine_arn)
        )
    except Exception:  # not one of the stack's: AWS would count it as the Standard one it then refuses
        return False


def _forget_cached_environments() -> None:
    """In AWS every function starts in a fresh process; here the handlers share this one, so a new stack must not
    find the previous stack's settings and clients cached in the shared code."""
    composition = sys.modules.get("bankupdate.composition")
    if composition is not None:
        composition.reset()


class LocalStack:
    """``time_scale`` multiplies AWS's time limits (Lambda timeouts, the HTTP API's 30 s): tests reach them in
    seconds; the default is AWS's real numbers.

    ``quotas`` (``Quotas.default()`` or raised, lowered copies) throttles the stack's AWS calls, Lambda concurrency
    and the HTTP API as AWS would; ``throttle_rate`` refuses that share of the stack's AWS calls at random, seeded by
    ``throttle_seed`` (``local_stack/throttling.py``). Both are off by default: nothing is throttled."""

    def __init__(
        self,
        template_path: str | Path = "template.yaml",
        *,
        parameter_overrides: dict[str, str] | None = None,
        api_port: int = 3000,
        wait_scale: float = 1.0,
        retry_scale: float | None = None,
        secrets: dict[str, str] | None = None,
        env_overrides: dict[str, str] | None = None,
        stack_name: str = "local",
        echo_logs: bool = False,
        time_scale: float = 1.0,
        front_end: FrontEnd | None = None,
        express_duplicate_rate: float = 0.0,
        express_max_seconds: float | None = None,
        quotas: Quotas | None = None,
        throttle_rate: float = 0.0,
        throttle_seed: int | str = 0,
    ) -> None:
        self.template_path = Path(template_path).resolve()
        self.parameter_overrides = {k: str(v) for k, v in (parameter_overrides or {}).items()}
        self.api_port = api_port
        self.wait_scale = wait_scale
        self.retry_scale = wait_scale if retry_scale is None else retry_scale
        self.secret_values = secrets or {}
        self.env_overrides = env_overrides or {}
        self.stack_name = stack_name
        self.time_scale = time_scale
        self.front_end = front_end
        self.express_duplicate_rate = express_duplicate_rate
        # Express's five minutes, at the stack's time scale unless a test gives its own
        self.express_max_seconds = express_max_seconds or express.EXPRESS_MAX_SECONDS * time_scale
        self.runtime = FunctionRuntime(echo_logs, time_scale)
        self.quotas: throttling.QuotaEnforcement | None = None
        if quotas is not None or throttle_rate > 0:
            self.quotas = throttling.QuotaEnforcement(
                quotas, injected_rate=throttle_rate, seed=throttle_seed, is_express=_is_express
            )
            self.runtime.quotas = self.quotas
        self.directory = Directory(ACCOUNT_ID, REGION)
        self.authorizer = Authorizer(self.directory)  # until start() builds the template's
        self._moto = MotoServer()
        admit = self.quotas.admit_request if self.quotas is not None else (lambda route: True)
        self._hosting = ApiHosting(
            api_port, time_scale, front_end, self._invoke_arn, self._api_gateway_may_invoke, admit
        )
        self._patches: list[Any] = []
        self._pollers: QueuePollers | None = None

    # ---------------------------------------------------------------------------------------------- lifecycle

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        try:
            return self._start()
        except BaseException:
            self.stop()  # a refused deployment leaves nothing running or patched behind
            raise

    def _start(self) -> LocalStack:
        template, sources = translate(self.template_path, self.parameter_overrides)
        self.resolver = Resolver(template, self.parameter_overrides, self.stack_name)
        self._moto.start()
        _forget_cached_environments()
        fidelity = [
            *atomic_dynamodb_requests(),
            *prompt_sqs_long_polls(),
            *early_task_success(),
            *task_tokens_found_while_executions_start(),
            *heartbeat_timeouts_named_as_aws(),
        ]
        self._start_patches([*stepfunctions.patches(self.wait_scale, self.retry_scale), *fidelity])
        # On top of the name and quota patches: Express's own rules (at-least-once starts seeded per stack name).
        rng = random.Random(self.stack_name)  # noqa: S311 - a test's duplicate starts, not cryptography
        self._start_patches(express.patches(self.express_max_seconds, self.express_duplicate_rate, rng))
        self.runtime.start()
        pollers = self._create(template, sources)
        self._start_patches(interception.patches(self.authorizer, self.quotas))
        if self.quotas is not None:  # throttles are retried: the SDK's backoff scaled like the workflows' Retry
            self._start_patches([throttling.scaled_sdk_backoff(self.retry_scale)])
        self._pollers = pollers
        pollers.start()
        return self

    def _create(self, template: dict[str, Any], sources: dict[str, Path]) -> QueuePollers:
        """The template's resources, then the authorizer built from them and AWS's creation checks; the event
        sources' pollers, to start once every AWS call is authorized."""
        provisioner = Provisioner(
            self.resolver,
            self.directory,
            self.boto3_client,
            self.runtime,
            self._hosting,
            secret_values=self.secret_values,
            env_overrides=self.env_overrides,
            time_scale=self.time_scale,
        )
        active = provisioner.create(template, sources)
        self._events = observation.EventCapture(self.boto3_client, self.resolver)
        self.authorizer = build_authorizer(active, self.resolver.resolve, self.resolver.refs, self.directory)
        self.runtime.authorizer = self.authorizer
        for function in self.runtime.functions.values():
            function.principal = self.authorizer.principal(function.role_arn, session=function.name)
        if self.quotas is not None:
            functions = self.runtime.functions.values()
            reserved = {f.logical_id: f.reserved_concurrency for f in functions if f.reserved_concurrency is not None}
            try:
                self.quotas.reserve(reserved)
            except ValueError as refused:  # CloudFormation reports Lambda's InvalidParameterValueException
                raise DeploymentRefused(f"ReservedConcurrentExecutions: {refused}") from None
        mappings = provisioner.queue_mappings
        check_service_roles(
            active,
            self.resolver,
            self.authorizer,
            self.directory,
            provisioner.logging_machines,
            [(m.queue_url, m.function) for m in mappings],
        )
        self._scheduler = Scheduler(provisioner.schedules, self.authorizer, self.boto3_client, self._invoke_arn)
        return QueuePollers(mappings, self.authorizer, self.runtime, self.boto3_client)

    def _start_patches(self, to_start: list[Any]) -> None:
        for patch in to_start:
            patch.start()
            self._patches.append(patch)

    def stop(self) -> None:
        if self._pollers is not None:
            self._pollers.stop()
        self._hosting.stop()
        # The interpreter's threads must end with the stack, not run on under the next one's patches.
        stepfunctions.stop_running_executions(stepfunctions_parser_backends[ACCOUNT_ID][REGION])
        self.runtime.stop()
        for patch in reversed(self._patches):
            patch.stop()
        self._patches.clear()
        self._moto.stop()
        _forget_cached_environments()
        self._moto.restore_env()

    # ---------------------------------------------------------------------------------------------- the AWS side

    @property
    def endpoint(self) -> str:
        """moto's URL."""
        return self._moto.endpoint

    def boto3_client(self, service: str) -> Any:
        return self._moto.client(service)

    def physical_id(self, logical_id: str) -> str:
        return str(self.resolver.refs[logical_id])

    def _invoke_arn(self, function_arn: str, event: dict[str, Any], caller_limit: float | None = None) -> Any:
        return self.runtime.invoke(
            self.runtime.functions[function_arn.rsplit(":", 1)[-1]], event, caller_limit=caller_limit
        )

    def _api_gateway_may_invoke(self, function_arn: str, source_arn: str) -> bool:
        request = Request(
            "lambda:InvokeFunction", function_arn, {"aws:sourcearn": source_arn, "aws:sourceaccount": ACCOUNT_ID}
        )
        return self.authorizer.service_may("apigateway.amazonaws.com", request, function_arn).allowed

    # ---------------------------------------------------------------------------------------------- for tests

    @property
    def api_url(self) -> str:
        return self._hosting.api_url

    @property
    def front_end_url(self) -> str:
        """Where the front end is served when it has an origin of its own ("" otherwise)."""
        return self._hosting.front_end_url

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.runtime.invoke(self.runtime.by_logical_id(logical_id), event)

    def fire_schedule(self, logical_id_or_name: str) -> Any:
        """Deliver the schedule's event now, as its time had come (ScheduleNotDelivered if AWS would refuse it)."""
        return self._scheduler.fire(logical_id_or_name)

    def settle(self, timeout: float = 30) -> None:
        """Wait until the schedule queue is empty and no update's execution is running (TimeoutError if not)."""
        queue, machine = self.physical_id("ScheduleQueue"), self.physical_id("UpdateConnectionStateMachine")
        observation.settle(self.boto3_client, queue, machine, timeout)

    def issue_token(self, sub: str, **claims: Any) -> str:
        return self._hosting.issue_token(sub, **claims)

    def admin_headers(self, method: str, url: str, body: bytes | str = b"") -> dict[str, str]:
        return sign(method, url, body.encode() if isinstance(body, str) else body)

    def express_history(self, logical_id: str) -> list[dict[str, Any]]:
        """Every execution of an Express state machine with its events (the stand-in for its CloudWatch log)."""
        return observation.express_history(self.physical_id(logical_id))

    def published_events(self) -> list[dict[str, Any]]:
        return self._events.published()

    def function_logs(self, logical_id: str | None = None) -> list[str]:
        return observation.function_logs(self.runtime.capture, logical_id)
