"""The translated template's resources created in moto, in an order where whatever a resource references exists
before it; the stack's functions registered with the runtime. What the stack runs besides moto is recorded for it:
the SQS event source mappings, the schedules, the state machines that log (for the creation checks)."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_stack import express
from local_stack.api_hosting import ApiHosting
from local_stack.creation_checks import DeploymentRefused
from local_stack.event_sources import DEFAULT_VISIBILITY_SECONDS, QueueMapping, queue_mapping, scaled_visibility
from local_stack.iam.calls import Directory
from local_stack.lambdas.function import LocalFunction
from local_stack.lambdas.runtime import FunctionRuntime
from local_stack.schedules import Schedule, rule_schedules, scheduler_schedule
from local_stack.template import Resolver, pre_name

Creator = Callable[[str, dict[str, Any]], None]


class Provisioner:
    def __init__(
        self,
        resolver: Resolver,
        directory: Directory,
        client: Callable[[str], Any],
        runtime: FunctionRuntime,
        hosting: ApiHosting,
        *,
        secret_values: dict[str, str],
        env_overrides: dict[str, str],
        time_scale: float,
    ) -> None:
        """``secret_values``: a secret's value by logical id, instead of its template's; ``env_overrides``: added to
        every function's environment."""
        self._resolver = resolver
        self._directory = directory
        self._client = client
        self._runtime = runtime
        self._hosting = hosting
        self._secret_values = secret_values
        self._env_overrides = env_overrides
        self._time_scale = time_scale
        self.queue_visibility: dict[str, int] = {}  # queue ARN -> its visibility timeout as the template has it
        self.logging_machines: list[tuple[str, str]] = []  # (logical id, role ARN) of each state machine that logs
        self.queue_mappings: list[QueueMapping] = []
        self.schedules: dict[str, Schedule] = {}  # by logical id and by name

    def create(self, template: dict[str, Any], sources: dict[str, Path]) -> dict[str, Any]:
        """Create every resource whose condition holds; those resources by logical id."""
        resources = template["Resources"]
        conditions = self._resolver.conditions
        active = {lid: r for lid, r in resources.items() if not r.get("Condition") or conditions[r["Condition"]]}
        by_type: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for logical_id, resource in active.items():
            by_type.setdefault(resource["Type"], []).append((logical_id, resource.get("Properties", {})))
        pre_name(self._resolver, resources)
        order: list[tuple[str, Creator]] = [
            ("AWS::IAM::Role", self._role),
            ("AWS::KMS::Key", self._kms_key),
            ("AWS::KMS::Alias", self._kms_alias),
            ("AWS::SecretsManager::Secret", self._secret),
            ("AWS::SQS::Queue", self._queue),
            ("AWS::DynamoDB::Table", self._table),
            ("AWS::Events::EventBus", self._bus),
            ("AWS::Lambda::LayerVersion", lambda lid, props: None),  # its folder goes on sys.path with its functions
            ("AWS::Lambda::Function", lambda lid, props: self._function(lid, props, sources)),
            ("AWS::StepFunctions::StateMachine", self._state_machine),
            ("AWS::Lambda::EventSourceMapping", self._event_source),
            ("AWS::Scheduler::Schedule", self._schedule),
            ("AWS::Events::Rule", self._rule),
            ("AWS::ApiGatewayV2::Api", self._http_api),
            ("AWS::SSM::Parameter", self._ssm_parameter),  # after the API: a parameter may hold its URL
        ]
        for resource_type, create in order:
            items = by_type.get(resource_type, [])
            if resource_type == "AWS::SQS::Queue":  # dead-letter queues first: their ARNs are referenced
                items.sort(key=lambda item: "RedrivePolicy" in item[1])
            for logical_id, properties in items:
                create(logical_id, properties)
        return active

    def _role(self, logical_id: str, props: dict[str, Any]) -> None:
        trust = self._resolver.resolve(props["AssumeRolePolicyDocument"])
        self._client("iam").create_role(
            RoleName=self._resolver.refs[logical_id], AssumeRolePolicyDocument=json.dumps(trust)
        )

    def _kms_key(self, logical_id: str, props: dict[str, Any]) -> None:
        metadata = self._client("kms").create_key(Description=str(props.get("Description", logical_id)))["KeyMetadata"]
        self._resolver.refs[logical_id] = metadata["KeyId"]
        self._resolver.attributes[(logical_id, "Arn")] = metadata["Arn"]
        self._resolver.attributes[(logical_id, "KeyId")] = metadata["KeyId"]
        self._directory.keys[metadata["KeyId"]] = self._directory.keys[metadata["Arn"]] = metadata["Arn"]

    def _kms_alias(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self._resolver.resolve(props)
        self._client("kms").create_alias(AliasName=resolved["AliasName"], TargetKeyId=resolved["TargetKeyId"])
        self._resolver.refs[logical_id] = resolved["AliasName"]
        key = self._directory.key(str(resolved["TargetKeyId"]))
        self._directory.keys[resolved["AliasName"]] = key
        self._directory.keys[self._directory.arn("kms", str(resolved["AliasName"]))] = key

    def _secret(self, logical_id: str, props: dict[str, Any]) -> None:
        value = self._secret_values.get(logical_id)
        if value is None:
            value = props.get("SecretString")
        if value is None:
            generate = props.get("GenerateSecretString", {})
            template = json.loads(generate.get("SecretStringTemplate", "{}"))
            template[generate.get("GenerateStringKey", "password")] = secrets.token_urlsafe(24)
            value = json.dumps(template)
        name = f"{self._resolver.stack_name}-{logical_id}"
        secret_string = str(self._resolver.resolve(value))
        answer = self._client("secretsmanager").create_secret(Name=name, SecretString=secret_string)
        self._resolver.refs[logical_id] = answer["ARN"]
        self._directory.secrets[name] = self._directory.secrets[answer["ARN"]] = answer["ARN"]
        key = self._resolver.resolve(props.get("KmsKeyId"))
        # Without KmsKeyId Secrets Manager uses aws/secretsmanager.
        self._directory.secret_keys[answer["ARN"]] = self._directory.key(str(key or "alias/aws/secretsmanager"))

    def _queue(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self._resolver.resolve(props)
        visibility = int(resolved.get("VisibilityTimeout", DEFAULT_VISIBILITY_SECONDS))
        attributes = {key: str(resolved[key]) for key in ("MessageRetentionPeriod",) if key in resolved}
        attributes["VisibilityTimeout"] = str(scaled_visibility(visibility, self._time_scale))
        if "RedrivePolicy" in resolved:
            attributes["RedrivePolicy"] = json.dumps(resolved["RedrivePolicy"])
        name = self._resolver.attributes[(logical_id, "QueueName")]
        url = self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self._resolver.refs[logical_id] = url
        arn = self._resolver.attributes[(logical_id, "Arn")]
        key = resolved.get("KmsMasterKeyId")
        # none, or SQS-managed SSE: no KMS key involved
        self._directory.queue_keys[arn] = self._directory.key(str(key)) if key else None
        self.queue_visibility[arn] = visibility

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self._resolver.resolve(props)
        request: dict[str, Any] = {
            "TableName": self._resolver.refs[logical_id],
            "AttributeDefinitions": resolved["AttributeDefinitions"],
            "KeySchema": resolved["KeySchema"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if resolved.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = resolved["GlobalSecondaryIndexes"]
        ddb = self._client("dynamodb")
        ddb.create_table(**request)
        sse = resolved.get("SSESpecification") or {}
        key: str | None = None
        if sse.get("SSEEnabled") and sse.get("SSEType", "KMS") == "KMS":
            key = self._directory.key(str(sse.get("KMSMasterKeyId") or "alias/aws/dynamodb"))
        self._directory.table_keys[request["TableName"]] = key  # None: the AWS owned key, no permission involved
        ttl = resolved.get("TimeToLiveSpecification")
        if ttl:
            ddb.update_time_to_live(TableName=request["TableName"], TimeToLiveSpecification=ttl)

    def _bus(self, logical_id: str, props: dict[str, Any]) -> None:
        self._client("events").create_event_bus(Name=self._resolver.refs[logical_id])

    def _function(self, logical_id: str, props: dict[str, Any], sources: dict[str, Path]) -> None:
        resolver = self._resolver
        environment = {
            k: str(v) for k, v in resolver.resolve(props.get("Environment", {})).get("Variables", {}).items()
        }
        environment |= self._env_overrides
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
        self._runtime.add(function)
        self._client("lambda").create_function(
            FunctionName=function.name,
            Runtime="python3.12",
            Role=function.role_arn,
            Handler=function.handler,
            Code={"ZipFile": b"local"},
            Environment={"Variables": environment},
        )

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        definition = props.get("DefinitionString") or json.dumps(props.get("Definition"))
        text = self._resolver.resolve(definition)
        substitutions = self._resolver.resolve(props.get("DefinitionSubstitutions", {}))
        for key, value in substitutions.items():
            text = text.replace("${" + key + "}", str(value))
        name = self._resolver.attributes[(logical_id, "Name")]
        role = str(self._resolver.resolve(props["RoleArn"]))
        kind = str(self._resolver.resolve(props.get("StateMachineType", "STANDARD")))
        if kind == "EXPRESS" and (refused := express.refused_integrations(json.loads(text))):
            raise DeploymentRefused(  # CreateStateMachine's InvalidDefinition
                f"{logical_id}: Express state machines support neither .sync nor .waitForTaskToken: {refused}"
            )
        self._client("stepfunctions").create_state_machine(name=name, definition=text, roleArn=role, type=kind)
        if self._resolver.resolve(props.get("LoggingConfiguration", {})).get("Destinations"):
            self.logging_machines.append((logical_id, role))

    def _event_source(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self._resolver.resolve(props)
        mapping = queue_mapping(logical_id, resolved, self._resolver, self._runtime.functions, self.queue_visibility)
        if mapping is not None:
            self.queue_mappings.append(mapping)

    def _schedule(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self._resolver.resolve(props)
        self.schedules[logical_id] = scheduler_schedule(resolved)
        if resolved.get("Name"):
            self.schedules[str(resolved["Name"])] = self.schedules[logical_id]

    def _rule(self, logical_id: str, props: dict[str, Any]) -> None:
        targets = rule_schedules(self._resolver.resolve(props))
        if targets:  # a rule is fired by its logical id, at its last target (a scheduled rule has one)
            self.schedules[logical_id] = targets[-1]

    def _http_api(self, logical_id: str, props: dict[str, Any]) -> None:
        self._hosting.serve(self._resolver.resolve(props.get("Body", {})))

    def _ssm_parameter(self, logical_id: str, props: dict[str, Any]) -> None:
        resolved = self._resolver.resolve(props)
        value = str(resolved["Value"])
        if ".execute-api." in value:
            value = self._hosting.api_url  # the local HTTP API stands where API Gateway's URL would
        self._client("ssm").put_parameter(
            Name=str(resolved["Name"]), Value=value, Type=str(resolved.get("Type", "String"))
        )
        self._resolver.refs[logical_id] = str(resolved["Name"])
