"""A stack as the local stack would create it, without creating anything: the physical names, the IAM directory and
authorizer, and each function's environment, timeout and role — for checks that read the template and the code
(tests/template) and need no running AWS.

The names follow the local stack's (``pre_name``); what moto would invent (KMS key ids, secret ARN suffixes, queue
URLs) is made up here in the same shapes.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.iam.authorizer import Authorizer
from local_stack.iam.calls import Directory
from local_stack.iam.from_template import build_authorizer
from local_stack.iam.policy import Principal
from local_stack.template import ACCOUNT_ID, REGION, Resolver, pre_name, translate


@dataclass(frozen=True)
class PlannedFunction:
    logical_id: str
    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int
    role_arn: str
    properties: dict[str, Any]  # resolved


class PlannedStack:
    def __init__(
        self, template_path: Path, parameters: dict[str, str] | None = None, stack_name: str = "local"
    ) -> None:
        self.template, sources = translate(Path(template_path))
        self.resolver = Resolver(self.template, dict(parameters or {}), stack_name)
        self.directory = Directory(ACCOUNT_ID, REGION)
        resources = self.template["Resources"]
        self.active = {
            lid: r for lid, r in resources.items() if not r.get("Condition") or self.resolver.conditions[r["Condition"]]
        }
        pre_name(self.resolver, self.active)
        order = ("AWS::KMS::Key", "AWS::KMS::Alias", "AWS::SecretsManager::Secret", "AWS::SQS::Queue")
        for kind in order:
            for logical_id, resource in self.active.items():
                if resource["Type"] == kind:
                    self._name(logical_id, kind, resource.get("Properties", {}))
        for logical_id, resource in self.active.items():
            kind, props = resource["Type"], resource.get("Properties", {})
            if kind == "AWS::DynamoDB::Table":
                self._table(logical_id, props)
            elif kind == "AWS::SSM::Parameter":
                self.resolver.refs[logical_id] = str(self.resolver.resolve(props["Name"]))
        self.authorizer: Authorizer = build_authorizer(
            self.active, self.resolver.resolve, self.resolver.refs, self.directory
        )
        self.functions = {
            lid: self._function(lid, r.get("Properties", {}), sources)
            for lid, r in self.active.items()
            if r["Type"] == "AWS::Lambda::Function"
        }

    def _name(self, logical_id: str, kind: str, props: dict[str, Any]) -> None:
        resolver, directory = self.resolver, self.directory
        if kind == "AWS::KMS::Key":
            key_id = f"00000000-0000-4000-8000-{zlib.crc32(logical_id.encode()):012d}"
            arn = directory.arn("kms", f"key/{key_id}")
            resolver.refs[logical_id] = key_id
            resolver.attributes[(logical_id, "Arn")] = arn
            resolver.attributes[(logical_id, "KeyId")] = key_id
            directory.keys[key_id] = directory.keys[arn] = arn
        elif kind == "AWS::KMS::Alias":
            resolved = resolver.resolve(props)
            resolver.refs[logical_id] = resolved["AliasName"]
            key = directory.key(str(resolved["TargetKeyId"]))
            directory.keys[resolved["AliasName"]] = key
            directory.keys[directory.arn("kms", str(resolved["AliasName"]))] = key
        elif kind == "AWS::SecretsManager::Secret":
            name = f"{resolver.stack_name}-{logical_id}"
            arn = directory.arn("secretsmanager", f"secret:{name}-AbCdEf")
            resolver.refs[logical_id] = arn
            directory.secrets[name] = directory.secrets[arn] = arn
            key = resolver.resolve(props.get("KmsKeyId"))
            directory.secret_keys[arn] = directory.key(str(key or "alias/aws/secretsmanager"))
        elif kind == "AWS::SQS::Queue":
            resolved = resolver.resolve(props)
            name = resolver.attributes[(logical_id, "QueueName")]
            resolver.refs[logical_id] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT_ID}/{name}"
            key = resolved.get("KmsMasterKeyId")
            directory.queue_keys[resolver.attributes[(logical_id, "Arn")]] = directory.key(str(key)) if key else None

    def _table(self, logical_id: str, props: dict[str, Any]) -> None:
        sse = self.resolver.resolve(props.get("SSESpecification") or {})
        key: str | None = None
        if sse.get("SSEEnabled") and sse.get("SSEType", "KMS") == "KMS":
            key = self.directory.key(str(sse.get("KMSMasterKeyId") or "alias/aws/dynamodb"))
        self.directory.table_keys[str(self.resolver.refs[logical_id])] = key

    def _function(self, logical_id: str, props: dict[str, Any], sources: dict[str, Path]) -> PlannedFunction:
        resolved = self.resolver.resolve(props)
        environment = {k: str(v) for k, v in resolved.get("Environment", {}).get("Variables", {}).items()}
        name = str(self.resolver.refs[logical_id])
        return PlannedFunction(
            logical_id=logical_id,
            name=name,
            code_dir=sources[logical_id],
            handler=str(resolved.get("Handler", "app.lambda_handler")),
            environment=environment | {"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_REGION": REGION},
            timeout=int(resolved.get("Timeout", 3)),
            memory=int(resolved.get("MemorySize", 128)),
            role_arn=str(resolved["Role"]),
            properties=resolved,
        )

    def principal(self, function: PlannedFunction) -> Principal:
        return self.authorizer.principal(function.role_arn, session=function.name)
