"""The local stack: the SAM template's resources in moto (server mode), handlers in-process, HTTP API on loopback."""

from __future__ import annotations

import json
import logging
import os
import random
import secrets as random_secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from moto.server import ThreadedMotoServer
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local_stack import express, interception
from local_stack.credentials import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from local_stack.fidelity import (
    atomic_dynamodb_writes,
    early_task_success,
    heartbeat_timeouts_named_as_aws,
    prompt_sqs_long_polls,
    task_tokens_found_while_executions_start,
)
from local_stack.frontend import FrontEnd, LocalSite, SiteServer
from local_stack.http_api.authorizers import sign
from local_stack.http_api.gateway import HttpApi
from local_stack.iam.authorizer import AccessDenied, Authorizer
from local_stack.iam.calls import Authorization, Directory
from local_stack.iam.from_template import build_authorizer
from local_stack.iam.policy import Request
from local_stack.lambdas import FunctionRuntime, LocalFunction
from local_stack.stepfunctions import patches
from local_stack.template import ACCOUNT_ID, REGION, Resolver, pre_name, translate

_CAPTURE = "local-stack-event-capture"
_DEFAULT_ESM_CONCURRENCY = 20
LOG = logging.getLogger("local_stack")
# What Step Functions checks on the role of a state machine that logs to CloudWatch Logs (at create time).
_LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
)
# What Lambda checks on the execution role when it creates an SQS event source mapping.
_SQS_POLLING_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")


@dataclass(frozen=True)
class Schedule:
    target_arn: str
    payload: Any
    role_arn: str | None  # EventBridge Scheduler invokes with this role; rules as events.amazonaws.com
    dead_letter_arn: str | None


class ScheduleNotDelivered(RuntimeError):
    """The scheduler could not invoke its target (the event went to the dead-letter queue, if there is one)."""


def _forget_cached_environments() -> None:
    """In AWS every function starts in a fresh process; here the handlers share this one, so a new stack must not
    find the previous stack's settings and clients cached in the shared code."""
    composition = sys.modules.get("bankupdate.composition")
    if composition is not None:
        composition.reset()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DeploymentRefused(RuntimeError):
    """What CloudFormation would report as a failed resource: AWS refused to create it as the template has it."""


class LocalStack:
    """``time_scale`` multiplies AWS's time limits (Lambda timeouts, the HTTP API's 30 s): tests reach them in
    seconds; the default is AWS's real numbers."""

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
        self.directory = Directory(ACCOUNT_ID, REGION)
        self.authorizer = Authorizer(self.directory)
        self.api_url = ""
        self._moto: ThreadedMotoServer | None = None
        self._patches: list[Any] = []
        self._apis: list[HttpApi] = []
        self._sites: list[SiteServer] = []
        self.front_end_url = ""  # where the front end is served when it has an origin of its own
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._schedules: dict[str, Schedule] = {}
        self._queue_visibility: dict[str, int] = {}
        self._machines_logging: list[tuple[str, str]] = []
        self._pollers: list[tuple[str, LocalFunction]] = []
        self._saved_env: dict[str, str | None] = {}

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
        self._start_moto()
        _forget_cached_environments()
        fidelity = [
            *atomic_dynamodb_writes(),
            *prompt_sqs_long_polls(),
            *early_task_success(),
            *task_tokens_found_while_executions_start(),
            *heartbeat_timeouts_named_as_aws(),
        ]
        for patch in [*patches(self.wait_scale, self.retry_scale), *fidelity]:
            patch.start()
            self._patches.append(patch)
        # On top of the name and quota patches: Express's own rules (at-least-once starts seeded per stack name).
        rng = random.Random(self.stack_name)  # noqa: S311 - a test's duplicate starts, not cryptography
        for patch in express.patches(self.express_max_seconds, self.express_duplicate_rate, rng):
            patch.start()
            self._patches.append(patch)
        self.runtime.start()
        self._create(template, sources)
        for patch in interception.patches(self.authorizer):
            patch.start()
            self._patches.append(patch)
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for api in self._apis:
            api.stop()
        for site in self._sites:
            site.stop()
        for thread in self._threads:
            if thread.ident is not None:  # a refused deployment stops before its pollers started
                thread.join(timeout=5)
        self.runtime.stop()
        for patch in reversed(self._patches):
            patch.stop()
        self._patches.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        _forget_cached_environments()
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def _set_env(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value

    def _start_moto(self) -> None:
        port = _free_port()
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per moto request drowns everything else
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self._moto.start()
        endpoint = f"http://127.0.0.1:{port}"
        # moto's interpreter calls Lambda at localhost:$MOTO_PORT; the handlers' boto3 follows AWS_ENDPOINT_URL.
        self._set_env(
            {
                "MOTO_PORT": str(port),
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        # moto's backends live in the process, not in the server: a second stack would see the first one's state.
        requests.post(f"{endpoint}/moto-api/reset", timeout=10).raise_for_status()
        config = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
        requests.post(f"{endpoint}/moto-api/config", json=config, timeout=10).raise_for_status()
        self.endpoint = endpoint

    def boto3_client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_SECRET_KEY,
        )

    # ---------------------------------------------------------------------------------------------- resources

    def _create(self, template: dict[str, Any], sources: dict[str, Path]) -> None:
        resources = template["Resources"]
        by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for logical_id, resource in resources.items():
            condition = resource.get("Condition")
            if condition and not self.resolver.conditions[condition]:
                continue
            by_type.setdefault(resource["Type"], []).append((logical_id, resource.get("Properties", {})))
        self._pre_name(resources)
        order = [
            ("AWS::IAM::Role", self._role),
            ("AWS::KMS::Key", self._kms_key),
            ("AWS::KMS::Alias", self._kms_alias),
            ("AWS::SecretsManager::Secret", self._secret),
            ("AWS::SQS::Queue", self._queue),
            ("AWS::DynamoDB::Table", self._table),
            ("AWS::Events::EventBus", self._bus),
            ("AWS::Lambda::LayerVersion", lambda lid, props: None),
            ("AWS::Lambda::Function", lambda lid, props: self._function(lid, props, sources)),
            ("AWS::StepFunctions::StateMachine", self._state_machine),
            ("AWS::Lambda::EventSourceMapping", self._event_source),
            ("AWS::Scheduler::Schedule", self._schedule),
            ("AWS::Events::Rule", self._rule),
            ("AWS::ApiGatewayV2::Api", self._http_api),
            ("AWS::SSM::Parameter", self._ssm_parameter),
        ]
        for resource_type, create in order:
            items = by_type.get(resource_type, [])
            if resource_type == "AWS::SQS::Queue":  # dead-letter queues first: their ARNs are referenced
                items.sort(key=lambda item: "RedrivePolicy" in item[1])
            for logical_id, properties in items:
                create(logical_id, properties)
        self._capture_events()
        active = {
            lid: r for lid, r in resources.items() if not r.get("Condition") or self.resolver.conditions[r["Condition"]]
        }
        self.authorizer = build_authorizer(active, self.resolver.resolve, self.resolver.refs, self.directory)
        self.runtime.authorizer = self.authorizer
        for function in self.runtime.functions.values():
            function.principal = self.authorizer.principal(function.role_arn, session=function.name)
        self._check_service_roles(active)

    def _pre_name(self, resources: dict[str, Any]) -> None:
        """Names and ARNs that do not depend on creation (so that resources may reference each other)."""
        pre_name(self.resolver, resources)

    def _role(self, logical_id: str, props: dict[str, Any]) -> None:
        trust = self.resolver.resolve(props["AssumeRolePolicyDocument"])
        self.boto3_client("iam").create_role(
            RoleName=self.resolver.refs[logical_id], AssumeRolePolicyDocument=json.dumps(trust)
        )

    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> None:
        metadata = self.boto3_client("kms").create_key(Description=str(props.get("Description", logical_id)))[
            "KeyMetadata"
        ]
        self.resolver.refs[logical_id] = metadata["KeyId"]
        self.resolver.attributes[(logical_id, "Arn")] = metadata["Arn"]
        self.resolver.attributes[(logical_id, "KeyId")] = metadata["KeyId"]
        self.directory.keys[metadata["KeyId"]] = self.directory.keys[metadata["Arn"]] = metadata["Arn"]

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        self.boto3_client("kms").create_alias(AliasName=resolved["AliasName"], TargetKeyId=resolved["TargetKeyId"])
        self.resolver.refs[logical_id] = resolved["AliasName"]
        key = self.directory.key(str(resolved["TargetKeyId"]))
        self.directory.keys[resolved["AliasName"]] = key
        self.directory.keys[self.directory.arn("kms", str(resolved["AliasName"]))] = key

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        value = self.secret_values.get(logical_id)
        if value is None:
            value = props.get("SecretString")
        if value is None:
            generate = props.get("GenerateSecretString", {})
            template = json.loads(generate.get("SecretStringTemplate", "{}"))
            template[generate.get("GenerateStringKey", "password")] = random_secrets.token_urlsafe(24)
            value = json.dumps(template)
        name = f"{self.stack_name}-{logical_id}"
        answer = self.boto3_client("secretsmanager").create_secret(
            Name=name, SecretString=str(self.resolver.resolve(value))
        )
        self.resolver.refs[logical_id] = answer["ARN"]
        self.directory.secrets[name] = self.directory.secrets[answer["ARN"]] = answer["ARN"]
        key = self.resolver.resolve(props.get("KmsKeyId"))
        # Without KmsKeyId Secrets Manager uses aws/secretsmanager.
        self.directory.secret_keys[answer["ARN"]] = self.directory.key(str(key or "alias/aws/secretsmanager"))

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        attributes = {key: str(resolved[key]) for key in ("MessageRetentionPeriod",) if key in resolved}
        # The visibility timeout is a time the stack enforces: scaled like Lambda's timeouts.
        attributes["VisibilityTimeout"] = str(self._scaled_visibility(int(resolved.get("VisibilityTimeout", 30))))
        if "RedrivePolicy" in resolved:
            attributes["RedrivePolicy"] = json.dumps(resolved["RedrivePolicy"])
        name = self.resolver.attributes[(logical_id, "QueueName")]
        url = self.boto3_client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.resolver.refs[logical_id] = url
        key = resolved.get("KmsMasterKeyId")
        self.directory.queue_keys[self.resolver.attributes[(logical_id, "Arn")]] = (
            self.directory.key(str(key)) if key else None  # none, or SQS-managed SSE: no KMS key involved
        )
        self._queue_visibility[self.resolver.attributes[(logical_id, "Arn")]] = int(
            resolved.get("VisibilityTimeout", 30)
        )

    def _scaled_visibility(self, seconds: int) -> int:
        return max(1, round(seconds * self.time_scale))

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        request: dict[str, Any] = {
            "TableName": self.resolver.refs[logical_id],
            "AttributeDefinitions": resolved["AttributeDefinitions"],
            "KeySchema": resolved["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if resolved.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = resolved["GlobalSecondaryIndexes"]
        ddb = self.boto3_client("dynamodb")
        ddb.create_table(**request)
        sse = resolved.get("SSESpecification") or {}
        key: str | None = None
        if sse.get("SSEEnabled") and sse.get("SSEType", "KMS") == "KMS":
            key = self.directory.key(str(sse.get("KMSMasterKeyId") or "alias/aws/dynamodb"))
        self.directory.table_keys[request["TableName"]] = key  # None: the AWS owned key, no permission involved
        ttl = resolved.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification=ttl)

    def _bus(self, logical_id: str, props: dict[str, Any]) -> None:
        self.boto3_client("events").create_event_bus(Name=self.resolver.refs[logical_id])

    def _function(self, logical_id: str, props: dict[str, Any], sources: dict[str, Path]) -> None:
        resolver = self.resolver
        environment = {
            k: str(v) for k, v in resolver.resolve(props.get("Environment", {})).get("Variables", {}).items()
        }
        environment |= self.env_overrides
        layer_refs = [str(layer.get("Ref", "")) for layer in props.get("Layers", []) if isinstance(layer, dict)]
        for layer_id in layer_refs:
            # Lambda puts a layer's python/ folder on sys.path; in the source tree that is the layer folder itself.
            if layer_id in sources and str(sources[layer_id]) not in sys.path:
                sys.path.insert(0, str(sources[layer_id]))
        function = LocalFunction(
            logical_id=logical_id,
            name=resolver.refs[logical_id],
            handler=str(props.get("Handler", "app.lambda_handler")),
            code_dir=sources[logical_id],
            environment=environment | {"AWS_LAMBDA_FUNCTION_NAME": resolver.refs[logical_id]},
            timeout=int(resolver.resolve(props.get("Timeout", 3))),
            memory=int(resolver.resolve(props.get("MemorySize", 128))),
            role_arn=str(resolver.resolve(props["Role"])),
        )
        self.runtime.add(function)
        self.boto3_client("lambda").create_function(
            FunctionName=function.name,
            Runtime="python3.12",
            Role=function.role_arn,
            Handler=function.handler,
            Code={"ZipFile": b"local"},
            Environment={"Variables": environment},
        )

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        definition = props.get("DefinitionString") or json.dumps(props.get("Definition"))
        text = self.resolver.resolve(definition)
        substitutions = self.resolver.resolve(props.get("DefinitionSubstitutions", {}))
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", str(value))
        name = self.resolver.attributes[(logical_id, "Name")]
        role = str(self.resolver.resolve(props["RoleArn"]))
        kind = str(self.resolver.resolve(props.get("StateMachineType", "STANDARD")))
        if kind == "EXPRESS" and (refused := express.refused_integrations(json.loads(text))):
            raise DeploymentRefused(  # CreateStateMachine's InvalidDefinition
                f"{logical_id}: Express state machines support neither .sync nor .waitForTaskToken: {refused}"
            )
        self.boto3_client("stepfunctions").create_state_machine(name=name, definition=text, roleArn=role, type=kind)
        if self.resolver.resolve(props.get("LoggingConfiguration", {})).get("Destinations"):
            self._machines_logging.append((logical_id, role))

    def _event_source(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        queue_arn = str(resolved["EventSourceArn"])
        if ":sqs:" not in queue_arn:
            return
        queue_name = queue_arn.rsplit(":", 1)[1]
        queue_url = next(url for lid, url in self.resolver.refs.items() if str(url).endswith("/" + queue_name))
        function = self.runtime.functions[str(resolved["FunctionName"]).rsplit(":", 1)[-1]]
        concurrency = int(resolved.get("ScalingConfig", {}).get("MaximumConcurrency", _DEFAULT_ESM_CONCURRENCY))
        if self._queue_visibility.get(queue_arn, 30) < function.timeout:
            raise DeploymentRefused(  # CreateEventSourceMapping's InvalidParameterValueException
                f"{logical_id}: Queue visibility timeout: {self._queue_visibility[queue_arn]} seconds is less than "
                f"Function timeout: {function.timeout} seconds"
            )
        self._pollers.append((queue_url, function))
        thread = threading.Thread(
            target=self._poll_queue,
            args=(
                queue_url,
                queue_arn,
                function,
                int(resolved.get("BatchSize", 10)),
                resolved.get("FunctionResponseTypes", []),
                concurrency,
            ),
            name=f"local-sqs-{logical_id}",
            daemon=True,
        )
        self._threads.append(thread)

    def _poll_queue(
        self, url: str, arn: str, function: LocalFunction, batch: int, response_types: list[str], concurrency: int
    ) -> None:
        """Like Lambda's event source mapping: batches go to concurrent invocations (up to ``concurrency``)."""
        sqs = self.boto3_client("sqs")
        slots = threading.Semaphore(concurrency)
        while not self._stop.is_set():
            if not slots.acquire(timeout=0.5):
                continue
            try:
                with self.authorizer.acting_as(function.principal):  # the mapping polls with the function's role
                    answer = sqs.receive_message(
                        QueueUrl=url, MaxNumberOfMessages=min(batch, 10), WaitTimeSeconds=1, AttributeNames=["All"]
                    )
            except AccessDenied:  # Lambda stops polling a queue its role may not read (and reports it)
                LOG.exception("the event source mapping of %s cannot poll %s", function.logical_id, arn)
                return
            except Exception:  # the server is shutting down
                slots.release()
                if self._stop.is_set():
                    return
                time.sleep(0.2)
                continue
            messages = answer.get("Messages", [])
            if not messages:
                slots.release()
                continue

            def run(messages: list[dict[str, Any]] = messages) -> None:
                try:
                    self._deliver(sqs, url, arn, function, messages, response_types)
                except Exception:
                    if not self._stop.is_set():
                        raise
                    # The stack stopped while this batch ran: the queue is gone, nothing is left to settle.
                finally:
                    slots.release()

            threading.Thread(target=run, name=f"local-esm-{function.logical_id}", daemon=True).start()

    def _deliver(
        self,
        sqs: Any,
        url: str,
        arn: str,
        function: LocalFunction,
        messages: list[dict[str, Any]],
        response_types: list[str],
    ) -> None:
        records = [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": {},
                "md5OfBody": m.get("MD5OfBody", ""),
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
        try:
            result = self.runtime.invoke(function, {"Records": records})
            failed = {f["itemIdentifier"] for f in (result or {}).get("batchItemFailures", [])}
            if "ReportBatchItemFailures" not in response_types:
                failed = set()
        except Exception:  # the whole batch failed: every message returns to the queue
            failed = {m["MessageId"] for m in messages}
        for message in messages:
            if message["MessageId"] in failed:
                # Lambda leaves them in the queue: they come back when the queue's visibility timeout ends.
                visible_in = self._scaled_visibility(self._queue_visibility.get(arn, 30))
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=visible_in
                )
            else:
                with self.authorizer.acting_as(function.principal):
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _schedule(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        target = resolved["Target"]
        dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
        self._schedules[logical_id] = Schedule(str(target["Arn"]), target.get("Input"), target["RoleArn"], dead_letter)
        if resolved.get("Name"):
            self._schedules[str(resolved["Name"])] = self._schedules[logical_id]

    def _rule(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        if "ScheduleExpression" in resolved:
            for target in resolved.get("Targets", []):
                dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
                role = target.get("RoleArn")
                self._schedules[logical_id] = Schedule(str(target["Arn"]), target.get("Input"), role, dead_letter)

    def _check_service_roles(self, resources: dict[str, Any]) -> None:
        """What AWS checks when it creates these resources: who may assume each role, what a logging state machine's
        and an SQS event source's role may do."""
        for logical_id, resource in resources.items():
            props = self.resolver.resolve(resource.get("Properties", {}))
            kind = resource["Type"]
            if kind == "AWS::Lambda::Function":
                self._require_trust(logical_id, str(props["Role"]), "lambda.amazonaws.com")
            elif kind == "AWS::StepFunctions::StateMachine":
                self._require_trust(logical_id, str(props["RoleArn"]), "states.amazonaws.com")
            elif kind == "AWS::Scheduler::Schedule":
                self._require_trust(logical_id, str(props["Target"]["RoleArn"]), "scheduler.amazonaws.com")
        for logical_id, role in self._machines_logging:
            principal = self.authorizer.principal(role, session="states")
            for action in _LOG_DELIVERY_ACTIONS:
                if not self.authorizer.decide(principal, Authorization(Request(action, "*"))).allowed:
                    raise DeploymentRefused(
                        f"{logical_id}: The state machine IAM Role is not authorized to access the Log Destination "
                        f"({action})"
                    )
        for queue_url, function in self._pollers:
            queue = self.directory.queue_arn(queue_url)
            principal = self.authorizer.principal(function.role_arn, session=function.name)
            for action in _SQS_POLLING_ACTIONS:
                if not self.authorizer.decide(principal, Authorization(Request(action, queue))).allowed:
                    raise DeploymentRefused(
                        f"{function.logical_id}: The provided execution role does not have permissions to call "
                        f"{action.split(':')[1]} on SQS"
                    )

    def _require_trust(self, logical_id: str, role_arn: str, service: str) -> None:
        role = next((lid for lid, name in self.resolver.refs.items() if role_arn.endswith(f":role/{name}")), None)
        trust = (
            self.resolver.resolve(self.resolver.template["Resources"][role]["Properties"]["AssumeRolePolicyDocument"])
            if role
            else {}
        )
        for statement in trust.get("Statement", []):
            services = statement.get("Principal", {}).get("Service", [])
            actions = statement.get("Action", [])
            if (
                statement.get("Effect") == "Allow"
                and service in (services if isinstance(services, list) else [services])
                and "sts:AssumeRole" in (actions if isinstance(actions, list) else [actions])
            ):
                return
        raise DeploymentRefused(f"{logical_id}: the role {role_arn} cannot be assumed by {service}")

    def _http_api(self, logical_id: str, props: dict[str, Any]) -> None:
        body = self.resolver.resolve(props.get("Body", {}))
        api = HttpApi(body, "localapi", self._invoke_arn, self._api_gateway_may_invoke, self.time_scale)
        front_end = self.front_end
        if front_end is not None and front_end.port is None:
            api.site = LocalSite(front_end, api.issue_token)
        port = api.serve("127.0.0.1", self.api_port)
        self._apis.append(api)
        if not self.api_url:
            self.api_url = f"http://127.0.0.1:{port}"
        if front_end is not None and front_end.port is not None and not self.front_end_url:
            # The front end on an origin of its own, calling this API across origins (AllowedOrigins, CORS).
            site = SiteServer(LocalSite(front_end, api.issue_token, api_origin=self.api_url))
            self.front_end_url = site.serve("127.0.0.1", front_end.port)
            self._sites.append(site)

    def _ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self.resolver.resolve(props)
        value = str(resolved["Value"])
        if ".execute-api." in value:
            value = self.api_url  # the local HTTP API stands where API Gateway's URL would
        self.boto3_client("ssm").put_parameter(
            Name=str(resolved["Name"]), Value=value, Type=str(resolved.get("Type", "String"))
        )
        self.resolver.refs[logical_id] = str(resolved["Name"])

    def _capture_events(self) -> None:
        """Every event put on the template's buses also lands in a queue the tests can read."""
        sqs, events = self.boto3_client("sqs"), self.boto3_client("events")
        self._capture_url = sqs.create_queue(QueueName=_CAPTURE)["QueueUrl"]
        capture_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{_CAPTURE}"
        self._captured: list[dict[str, Any]] = []
        for (logical_id, attribute), value in self.resolver.attributes.items():
            if (
                attribute == "Name"
                and logical_id in self.resolver.refs
                and ":event-bus/" in str(self.resolver.attributes.get((logical_id, "Arn"), ""))
            ):
                events.put_rule(
                    Name=f"{_CAPTURE}-{logical_id}",
                    EventBusName=value,
                    EventPattern=json.dumps({"account": [ACCOUNT_ID]}),
                )
                events.put_targets(
                    Rule=f"{_CAPTURE}-{logical_id}", EventBusName=value, Targets=[{"Id": "capture", "Arn": capture_arn}]
                )

    # ---------------------------------------------------------------------------------------------- use

    def _invoke_arn(self, function_arn: str, event: dict[str, Any], caller_limit: float | None = None) -> Any:
        return self.runtime.invoke(
            self.runtime.functions[function_arn.rsplit(":", 1)[-1]], event, caller_limit=caller_limit
        )

    def _api_gateway_may_invoke(self, function_arn: str, source_arn: str) -> bool:
        request = Request(
            "lambda:InvokeFunction", function_arn, {"aws:sourcearn": source_arn, "aws:sourceaccount": ACCOUNT_ID}
        )
        return self.authorizer.service_may("apigateway.amazonaws.com", request, function_arn).allowed

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.runtime.invoke(self.runtime.by_logical_id(logical_id), event)

    def settle(self, timeout: float = 30) -> None:
        """Wait until the schedule queue is empty and no update's execution is running (TimeoutError if not)."""
        sqs, sfn = self.boto3_client("sqs"), self.boto3_client("stepfunctions")
        url, machine = self.physical_id("ScheduleQueue"), self.physical_id("UpdateConnectionStateMachine")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            pending = int(attributes["ApproximateNumberOfMessages"])
            pending += int(attributes["ApproximateNumberOfMessagesNotVisible"])
            if not pending and not sfn.list_executions(stateMachineArn=machine, statusFilter="RUNNING")["executions"]:
                return
            time.sleep(0.1)
        raise TimeoutError(f"scheduled work still running after {timeout} s")

    def fire_schedule(self, logical_id_or_name: str) -> Any:
        schedule = self._schedules[logical_id_or_name]
        target_arn, payload = schedule.target_arn, schedule.payload
        event = json.loads(payload) if isinstance(payload, str) else payload
        if event is None:
            event = {
                "version": "0",
                "id": random_secrets.token_hex(16),
                "detail-type": "Scheduled Event",
                "source": "aws.scheduler",
                "account": ACCOUNT_ID,
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "region": REGION,
                "resources": [f"arn:aws:scheduler:{REGION}:{ACCOUNT_ID}:schedule/default/{logical_id_or_name}"],
                "detail": "{}",
            }
        self._deliverable(schedule, event)
        if ":states:" in target_arn:
            return self.boto3_client("stepfunctions").start_execution(
                stateMachineArn=target_arn, input=json.dumps(event)
            )
        return self._invoke_arn(target_arn, event)

    def _deliverable(self, schedule: Schedule, event: Any) -> None:
        """The scheduler invokes with its role (a rule as events.amazonaws.com, by the target's resource policy);
        an invocation AWS refuses goes to the dead-letter queue, sent with that role too."""
        action = "states:StartExecution" if ":states:" in schedule.target_arn else "lambda:InvokeFunction"
        request = Request(action, schedule.target_arn)
        if schedule.role_arn is None:
            decision = self.authorizer.service_may("events.amazonaws.com", request, schedule.target_arn)
        else:
            principal = self.authorizer.principal(schedule.role_arn, session="scheduler")
            decision = self.authorizer.decide(principal, Authorization(request, resource_arn=schedule.target_arn))
        if decision.allowed:
            return
        if schedule.dead_letter_arn is not None:
            url = self.boto3_client("sqs").get_queue_url(QueueName=schedule.dead_letter_arn.rsplit(":", 1)[-1])[
                "QueueUrl"
            ]
            with self.authorizer.acting_as(principal if schedule.role_arn else None):
                self.boto3_client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(event))
        raise ScheduleNotDelivered(f"{action} on {schedule.target_arn} refused: {decision.why}")

    def physical_id(self, logical_id: str) -> str:
        return str(self.resolver.refs[logical_id])

    def issue_token(self, sub: str, **claims: Any) -> str:
        return self._apis[0].issue_token(sub, **claims)

    def admin_headers(self, method: str, url: str, body: bytes | str = b"") -> dict[str, str]:
        data = body.encode() if isinstance(body, str) else body
        return sign(method, url, data)

    def express_history(self, logical_id: str) -> list[dict[str, Any]]:
        """Every execution of an Express state machine with its events (the stand-in for its CloudWatch log)."""
        backend = stepfunctions_parser_backends[ACCOUNT_ID][REGION]
        return list(express.express_history(backend, self.physical_id(logical_id)))

    def published_events(self) -> list[dict[str, Any]]:
        sqs = self.boto3_client("sqs")
        while True:
            answer = sqs.receive_message(QueueUrl=self._capture_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = answer.get("Messages", [])
            if not messages:
                return list(self._captured)
            for message in messages:
                self._captured.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self._capture_url, ReceiptHandle=message["ReceiptHandle"])

    def function_logs(self, logical_id: str | None = None) -> list[str]:
        lines = self.runtime.capture.lines
        if logical_id is not None:
            return list(lines.get(logical_id, []))
        return [line for chunk in lines.values() for line in chunk]
