"""The template's operational safety nets (issue 20, item 5), each checked on the translated template, generically:
a new resource of the kind is held to the same rule without being listed here.

"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from local_stack.iam.calls import Authorization
from local_stack.iam.policy import Request
from local_stack.offline import PlannedStack
from local_stack.quotas import Quotas
from local_stack.template import ParameterRefused
from tests.template.reachable import PARAMETERS, ROOT
from tests.template.test_physical_names import NAME_PROPERTIES, _Unresolved
from tests.template.translated import translated_template


def _resources() -> dict[str, Any]:
    resources: dict[str, Any] = translated_template()["Resources"]
    return resources


def _ref(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    raise AssertionError(f"not a reference to a resource: {value}")


# ------------------------------------------------------------------------------------- scheduled functions


def _scheduled_functions(resources: dict[str, Any]) -> set[str]:
    return {
        _ref(r["Properties"]["Target"]["Arn"]) for r in resources.values() if r["Type"] == "AWS::Scheduler::Schedule"
    }


def _interval_seconds(expression: str) -> int:
    """A ``rate(...)`` expression's interval (EventBridge Scheduler: "Schedule types")."""
    found = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression)
    assert found, f"not a rate expression: {expression}"
    unit = {"minute": 60, "hour": 3600, "day": 86400}[found.group(2).rstrip("s")]
    return int(found.group(1)) * unit


def test_every_scheduled_function_reports_a_failed_run() -> None:
    # Given the functions EventBridge Scheduler invokes (asynchronously: Lambda retries a failed run, then drops it)
    resources = _resources()
    scheduled = _scheduled_functions(resources)
    assert {"ScheduleUpdatesFunction", "ReconcileStaleUpdatesFunction"} <= scheduled
    configs = {
        _ref(r["Properties"]["FunctionName"]): r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    alarmed = {
        _ref(d["Value"])
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and r["Properties"].get("Namespace") == "AWS/Lambda"
        and r["Properties"].get("MetricName") == "Errors"
        for d in r["Properties"]["Dimensions"]
        if d["Name"] == "FunctionName"
    }
    alarmed_queues = {
        _ref(d["Value"])
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("Namespace") == "AWS/SQS"
        for d in r["Properties"]["Dimensions"]
    }
    stack = PlannedStack(ROOT / "template.yaml", PARAMETERS)
    for function in scheduled:
        # Then a run that still fails after Lambda's retries lands on an alarmed queue the function's role may
        # send to (Lambda delivers to the destination with the execution role), and every failed run raises an alarm
        destination = configs[function]["DestinationConfig"]["OnFailure"]["Destination"]
        assert _ref(destination) in alarmed_queues, function
        queue_arn = stack.resolver.resolve(destination)
        principal = stack.principal(stack.functions[function])
        assert stack.authorizer.decide(principal, Authorization(Request("sqs:SendMessage", queue_arn))).allowed
        assert function in alarmed, f"{function} has no alarm on its errors"


def test_every_schedule_gives_up_on_a_run_before_the_next_is_due() -> None:
    resources = _resources()
    parameters = translated_template()["Parameters"]
    configs = {
        _ref(r["Properties"]["FunctionName"]): r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::EventInvokeConfig"
    }
    for name, schedule in ((k, r) for k, r in resources.items() if r["Type"] == "AWS::Scheduler::Schedule"):
        properties = schedule["Properties"]
        expression = properties["ScheduleExpression"]
        if isinstance(expression, dict):
            expression = parameters[expression["Ref"]]["Default"]
        interval = _interval_seconds(expression)
        # Neither EventBridge Scheduler (default: 24 h and 185 retries) nor Lambda's asynchronous retries (default:
        # 6 h) keep a run alive into the next one
        retry = properties["Target"].get("RetryPolicy")
        assert retry is not None, f"{name} keeps EventBridge Scheduler's default retry policy of 24 hours"
        assert retry["MaximumEventAgeInSeconds"] < interval, name
        function = _ref(properties["Target"]["Arn"])
        assert configs[function]["MaximumEventAgeInSeconds"] < interval, function


# ------------------------------------------------------------------------------------- names


# The most characters CloudFormation takes for each name property ("Resource and property reference" of each type).
NAME_LIMITS = {
    ("AWS::StepFunctions::StateMachine", "StateMachineName"): 80,
    ("AWS::Lambda::LayerVersion", "LayerName"): 140,
    ("AWS::KMS::Alias", "AliasName"): 256,
    ("AWS::Events::EventBus", "Name"): 256,
    ("AWS::Logs::LogGroup", "LogGroupName"): 512,
    ("AWS::SSM::Parameter", "Name"): 1011,
    ("AWS::ApiGatewayV2::Api", "Name"): 128,
}
# A stack name may have 128 characters ("CreateStack": StackName, [a-zA-Z][-a-zA-Z0-9]*).
LONGEST_STACK_NAME = "s" + "-long" * 25 + "-a"


def _names(stack_name: str) -> dict[tuple[str, str, str], str]:
    template = translated_template()
    resolver = _Unresolved(template, PARAMETERS, stack_name)
    found = {}
    for logical_id, resource in template["Resources"].items():
        for key, value in resource.get("Properties", {}).items():
            names_another = isinstance(value, dict) and ({"Ref", "Fn::GetAtt"} & set(value))  # a permission's function
            if key in NAME_PROPERTIES and resource["Type"] != "AWS::ApiGatewayV2::Stage" and not names_another:
                found[(logical_id, resource["Type"], key)] = str(resolver.resolve(value))
    return found


def _too_long(names: dict[tuple[str, str, str], str]) -> list[str]:
    problems = []
    for (logical_id, kind, key), name in names.items():
        limit = NAME_LIMITS.get((kind, key))
        assert limit is not None, f"{kind}.{key}: add CloudFormation's length limit to NAME_LIMITS"
        if len(name) > limit:
            problems.append(f"{logical_id}.{key}: {len(name)} > {limit} characters")
    return problems


def test_every_name_fits_with_the_longest_stack_name() -> None:
    assert len(LONGEST_STACK_NAME) == 128
    names = _names(LONGEST_STACK_NAME)
    assert names, "no named resources found: the check would pass vacuously"
    assert {logical_id for logical_id, _, _ in names} >= {
        "UpdateConnectionStateMachine",
        "PollLoopStateMachine",
    }
    assert _too_long(names) == []


# ------------------------------------------------------------------------------------- routes


def test_every_route_without_an_authorizer_has_a_throttle_of_its_own() -> None:
    resources = _resources()
    body = resources["HttpApi"]["Properties"]["Body"]
    open_routes = {
        f"{method.upper()} {path}"
        for path, operations in body["paths"].items()
        for method, operation in operations.items()
        if [next(iter(s)) for s in operation.get("security", [])] == ["NONE"]
    }
    assert open_routes == {"POST /v1/webform-callbacks/{callbackToken}/{kind}"}
    stage = next(r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage")
    stack = PlannedStack(ROOT / "template.yaml", PARAMETERS | {"Stage": "prod"})
    default = stack.resolver.resolve(stage["DefaultRouteSettings"])
    for route in open_routes:
        own = stack.resolver.resolve(stage["RouteSettings"][route])
        assert own["ThrottlingRateLimit"] < default["ThrottlingRateLimit"], route
        assert own["ThrottlingBurstLimit"] < default["ThrottlingBurstLimit"], route


@pytest.mark.parametrize("stage", ["prod", "dev"])
def test_the_local_stacks_stage_throttle_is_the_templates(stage: str) -> None:
    # Given the stage throttle the template deploys for this Stage
    settings = next(r["Properties"] for r in _resources().values() if r["Type"] == "AWS::ApiGatewayV2::Stage")
    planned = PlannedStack(ROOT / "template.yaml", PARAMETERS | {"Stage": stage})
    deployed = planned.resolver.resolve(settings["DefaultRouteSettings"])
    # When the local stack (and the scale simulation) make its bucket
    bucket = Quotas.default(stage=stage).spec("apigateway.stage")
    # Then it holds what API Gateway would: the same burst and rate
    assert (bucket.size, bucket.refill_per_second) == (
        deployed["ThrottlingBurstLimit"],
        deployed["ThrottlingRateLimit"],
    )


# ------------------------------------------------------------------------------------- data


STATEFUL = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::SecretsManager::Secret",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
}


def test_every_stateful_resource_says_what_becomes_of_its_data() -> None:
    resources = _resources()
    stateful = {k: r for k, r in resources.items() if r["Type"] in STATEFUL}
    unsaid = [k for k, r in stateful.items() if "DeletionPolicy" not in r or "UpdateReplacePolicy" not in r]
    assert unsaid == []
    # The users' data (and the keys that decrypt it) outlives the stack and every replacement, and the table cannot
    # be deleted by accident
    for keeper in ("StateTable", "DataKey", "PasswordKey"):
        assert (resources[keeper]["DeletionPolicy"], resources[keeper]["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert resources["StateTable"]["Properties"]["DeletionProtectionEnabled"] is True


# ------------------------------------------------------------------------------------- queues


def test_every_sqs_consumer_may_poll_its_own_queue_and_no_other() -> None:
    resources = _resources()
    stack = PlannedStack(ROOT / "template.yaml", PARAMETERS)
    queues = {k for k, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    for mapping in (r["Properties"] for r in resources.values() if r["Type"] == "AWS::Lambda::EventSourceMapping"):
        function, queue = _ref(mapping["FunctionName"]), _ref(mapping["EventSourceArn"])
        role = _ref(resources[function]["Properties"]["Role"])
        # No AWS managed policy that polls every queue (SAM's AWSLambdaSQSQueueExecutionRole)
        assert not any("SQS" in arn for arn in resources[role]["Properties"].get("ManagedPolicyArns", [])), role
        principal = stack.principal(stack.functions[function])
        for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
            for other in queues:
                arn = stack.resolver.attributes[(other, "Arn")]
                allowed = stack.authorizer.decide(principal, Authorization(Request(action, arn))).allowed
                assert allowed == (other == queue), (function, action, other)


# ------------------------------------------------------------------------------------- parameters


URL_PARAMETERS = ("FinapiBaseUrl", "WebFormBaseUrl", "JwtIssuer")


@pytest.mark.parametrize("parameter", URL_PARAMETERS)
def test_url_parameters_take_https_only(parameter: str) -> None:
    pattern = translated_template()["Parameters"][parameter]["AllowedPattern"]
    # CloudFormation matches the whole value against AllowedPattern
    assert re.fullmatch(pattern, "https://sandbox.finapi.io")
    assert not re.fullmatch(pattern, "http://sandbox.finapi.io")
    assert not re.fullmatch(pattern, "https://")


@pytest.mark.parametrize("parameter", URL_PARAMETERS)
def test_the_local_stack_refuses_plain_http_except_on_loopback(tmp_path: Path, parameter: str) -> None:
    template = ROOT / "template.yaml"
    with pytest.raises(ParameterRefused, match=parameter):
        PlannedStack(template, PARAMETERS | {parameter: "http://finapi.example.com"})
    with pytest.raises(ParameterRefused, match=parameter):
        PlannedStack(template, PARAMETERS | {parameter: "http://127.0.0.1.evil.example:8480"})
    # The simulators and the local API listen on loopback, without TLS
    PlannedStack(template, PARAMETERS | {parameter: "http://127.0.0.1:8480"})
