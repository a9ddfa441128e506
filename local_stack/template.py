"""The SAM template, translated offline by aws-sam-translator, with CloudFormation's intrinsic functions resolved."""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ACCOUNT_ID = "123456789012"
REGION = "eu-central-1"
PARTITION = "aws"


class _NoManagedPolicyLookup:
    """The translator would ask IAM for managed policy ARNs; locally they are never needed."""

    def load(self) -> dict[str, str]:
        return {}


# The translator counts its own usage for AWS and warns at exit that nobody published the count: nothing to publish.
logging.getLogger("samtranslator.metrics.metrics").setLevel(logging.ERROR)


def translate(template_path: Path, parameters: dict[str, str] | None = None) -> tuple[dict[str, Any], dict[str, Path]]:
    """Translated template, plus the local source folder of every function and layer (by logical id).

    The transform gets the stack's parameter values, as CloudFormation gives them to it: SAM resolves parameter
    references in some properties itself (an HttpApi's ``CorsConfiguration``, for one)."""
    root = template_path.parent
    sam = yaml_parse(template_path.read_text())
    sources: dict[str, Path] = {}
    prepared = copy.deepcopy(sam)
    for logical_id, resource in prepared.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                sources[logical_id] = (root / properties[key]).resolve()
                properties[key] = f"s3://local-stack/{logical_id}.zip"
        if isinstance(properties.get("DefinitionUri"), str):
            properties["Definition"] = json.loads((root / properties.pop("DefinitionUri")).read_text())
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    translated = transform(prepared, dict(parameters or {}), _NoManagedPolicyLookup())
    # The translator renames layers (CoreLayer -> CoreLayer<hash>); map the sources onto the new logical ids.
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] == "AWS::Lambda::LayerVersion" and logical_id not in sources:
            for original, path in list(sources.items()):
                if logical_id.startswith(original):
                    sources[logical_id] = path
    return translated, sources


# The one rule the local stack relaxes: a URL parameter that must be https may be plain http on loopback, where the
# finAPI simulators and the local HTTP API listen (checked as if it were https). Any other http URL is refused as
# CloudFormation refuses it.
_LOOPBACK_HTTP = re.compile(r"http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/\S*)?")


class ParameterRefused(ValueError):
    """CloudFormation's refusal of a parameter value that breaks its AllowedPattern or AllowedValues."""


def check_parameter(name: str, spec: dict[str, Any], value: str) -> None:
    """What CloudFormation checks before it creates anything (numeric ranges excepted: tests shrink windows)."""
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(v) for v in allowed]:
        raise ParameterRefused(f"Parameter '{name}' must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if pattern is None:
        return
    checked = "https://" + value[len("http://") :] if _LOOPBACK_HTTP.fullmatch(value) else value
    if re.fullmatch(pattern, checked) is None:
        raise ParameterRefused(f"Parameter '{name}' must match pattern {pattern}")


class Resolver:
    """Evaluates ``Ref``/``Fn::*`` against parameters, pseudo parameters and the physical ids created so far."""

    def __init__(self, template: dict[str, Any], parameters: dict[str, str], stack_name: str) -> None:
        self.template = template
        self.stack_name = stack_name
        self.stack_uuid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"local-stack:{stack_name}"))
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}
        self.parameters = self._parameters(parameters)
        self.conditions = {name: bool(self.resolve(expr)) for name, expr in template.get("Conditions", {}).items()}

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in self.template.get("Parameters", {}).items():
            if name in overrides:
                values[name] = overrides[name]
            elif "Default" in spec:
                values[name] = spec["Default"]
            else:
                raise ValueError(f"template parameter {name} has no default: pass it in parameter_overrides")
            check_parameter(name, spec, str(values[name]))
        return values

    def pseudo(self, name: str) -> str | None:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": PARTITION,
            "AWS::StackName": self.stack_name,
            # A stack id ends in a UUID (names are derived from it): one per stack name, stable across runs
            "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{self.stack_name}/{self.stack_uuid}",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": None,
        }.get(name)

    def ref(self, name: str) -> Any:
        if name in self.parameters:
            return self.parameters[name]
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.refs:
            return self.refs[name]
        raise KeyError(f"Ref {name}: not created (yet)")

    def get_att(self, name: str, attribute: str) -> Any:
        if (name, attribute) in self.attributes:
            return self.attributes[(name, attribute)]
        raise KeyError(f"Fn::GetAtt {name}.{attribute}: unknown")

    def _sub(self, text: str, variables: dict[str, Any]) -> str:
        out, i = [], 0
        while i < len(text):
            start = text.find("${", i)
            if start < 0:
                out.append(text[i:])
                break
            out.append(text[i:start])
            end = text.index("}", start)
            token = text[start + 2 : end]
            if token.startswith("!"):
                out.append("${" + token[1:] + "}")
            elif token in variables:
                out.append(str(variables[token]))
            elif "." in token and not token.startswith("AWS::"):
                resource, attribute = token.split(".", 1)
                out.append(str(self.get_att(resource, attribute)))
            else:
                out.append(str(self.ref(token)))
            i = end + 1
        return "".join(out)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not None]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            function = self._functions().get(key)
            if function is not None:
                return function(argument)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not None}

    def _functions(self) -> dict[str, Callable[[Any], Any]]:
        return {
            "Ref": self.ref,
            "Fn::GetAtt": lambda a: self.get_att(*(a.split(".", 1) if isinstance(a, str) else a)),
            "Fn::Sub": lambda a: (
                self._sub(a, {})
                if isinstance(a, str)
                else self._sub(a[0], {k: self.resolve(v) for k, v in a[1].items()})
            ),
            "Fn::Join": lambda a: str(a[0]).join(str(self.resolve(p)) for p in self.resolve(a[1])),
            "Fn::If": lambda a: self.resolve(a[1] if self.conditions[a[0]] else a[2]),
            "Fn::Equals": lambda a: str(self.resolve(a[0])) == str(self.resolve(a[1])),
            "Fn::Not": lambda a: not self.resolve(a[0]),
            "Fn::And": lambda a: all(self.resolve(x) for x in a),
            "Fn::Or": lambda a: any(self.resolve(x) for x in a),
            "Fn::Select": lambda a: self.resolve(a[1])[int(self.resolve(a[0]))],
            "Fn::Split": lambda a: str(self.resolve(a[1])).split(a[0]),
            "Fn::FindInMap": lambda a: self.template["Mappings"][self.resolve(a[0])][self.resolve(a[1])][
                self.resolve(a[2])
            ],
            "Condition": lambda a: self.conditions[a],
        }


def pre_name(resolver: Resolver, resources: dict[str, Any]) -> None:
    """Names and ARNs that do not depend on creation (so that resources may reference each other)."""
    arn = f"arn:aws:{{service}}:{REGION}:{ACCOUNT_ID}:{{rest}}"
    for logical_id, resource in resources.items():
        kind = resource["Type"]
        name = f"{resolver.stack_name}-{logical_id}"
        props = resource.get("Properties", {})
        refs, atts = resolver.refs, resolver.attributes
        if kind == "AWS::Lambda::Function":
            name = str(props.get("FunctionName") or name)
            refs[logical_id] = name
            atts[(logical_id, "Arn")] = arn.format(service="lambda", rest=f"function:{name}")
        elif kind == "AWS::DynamoDB::Table":
            refs[logical_id] = name
            atts[(logical_id, "Arn")] = arn.format(service="dynamodb", rest=f"table/{name}")
        elif kind == "AWS::SQS::Queue":
            atts[(logical_id, "QueueName")] = name
            atts[(logical_id, "Arn")] = arn.format(service="sqs", rest=name)
        elif kind == "AWS::Events::EventBus":
            bus = str(resolver.resolve(props.get("Name")) or name)
            refs[logical_id] = bus
            atts[(logical_id, "Name")] = bus
            atts[(logical_id, "Arn")] = arn.format(service="events", rest=f"event-bus/{bus}")
        elif kind in ("AWS::IAM::Role",):
            refs[logical_id] = name
            atts[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{name}"
        elif kind == "AWS::Lambda::LayerVersion":
            refs[logical_id] = arn.format(service="lambda", rest=f"layer:{name}:1")
        elif kind == "AWS::Logs::LogGroup":
            group = str(resolver.resolve(props.get("LogGroupName")) or name)
            refs[logical_id] = group
            atts[(logical_id, "Arn")] = arn.format(service="logs", rest=f"log-group:{group}:*")
        elif kind == "AWS::ApiGatewayV2::Api":
            refs[logical_id] = "localapi"
        elif kind == "AWS::StepFunctions::StateMachine":
            machine = str(resolver.resolve(props.get("StateMachineName")) or name)
            refs[logical_id] = arn.format(service="states", rest=f"stateMachine:{machine}")
            atts[(logical_id, "Name")] = machine
            atts[(logical_id, "Arn")] = refs[logical_id]
