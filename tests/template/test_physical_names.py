"""Two stacks from this template in one account and region (dev and prod) must not name anything alike."""

from __future__ import annotations

from typing import Any

from local_stack.template import Resolver
from tests.template.translated import translated_template

# Properties that give a resource an account- and region-wide name (CloudFormation's "name" properties).
NAME_PROPERTIES = {
    "Name",
    "FunctionName",
    "TableName",
    "QueueName",
    "RoleName",
    "LogGroupName",
    "AliasName",
    "LayerName",
    "StateMachineName",
    "TopicName",
    "BucketName",
    "GroupName",
}
PARAMETERS = {"JwtIssuer": "https://issuer.example", "JwtAudience": "app"}


class _Unresolved(Resolver):
    """Resolves names only: a Ref or GetAtt of a resource stands for that resource's own (stack-scoped) name."""

    def ref(self, name: str) -> Any:
        if name in self.template["Resources"]:
            return f"<{self.stack_name}:{name}>"
        return super().ref(name)

    def get_att(self, name: str, attribute: str) -> Any:
        return f"<{self.stack_name}:{name}.{attribute}>"


def _names(stack_name: str) -> dict[tuple[str, str], str]:
    template = translated_template()
    resolver = _Unresolved(template, PARAMETERS, stack_name)
    found = {}
    for logical_id, resource in template["Resources"].items():
        for key, value in resource.get("Properties", {}).items():
            if key in NAME_PROPERTIES and resource["Type"] != "AWS::ApiGatewayV2::Stage":  # stages live in their API
                found[(logical_id, key)] = str(resolver.resolve(value))
    return found


def _metrics_namespaces(stack_name: str) -> dict[str, str]:
    template = translated_template()
    resolver = _Unresolved(template, PARAMETERS, stack_name)
    return {
        logical_id: str(resolver.resolve(variables["POWERTOOLS_METRICS_NAMESPACE"]))
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
        and "POWERTOOLS_METRICS_NAMESPACE" in (variables := resource["Properties"]["Environment"]["Variables"])
    }


def test_no_resource_has_a_fixed_physical_name() -> None:
    # Given the template deployed as two stacks side by side
    dev, prod = _names("bank-connection-updates-dev"), _names("bank-connection-updates-prod")
    # Then no name property comes out the same in both (a second stack would fail to create)
    assert dev, "no named resources found: the check would pass vacuously"
    assert [key for key in dev if dev[key] == prod[key]] == []


def test_two_stacks_publish_their_metrics_apart() -> None:
    # Given the template deployed as two stacks in one account
    dev, prod = _metrics_namespaces("bank-connection-updates-dev"), _metrics_namespaces("bank-connection-updates-prod")
    # Then every function publishes into its own stack's namespace (CloudWatch would add up the two stacks' counts)
    assert dev and dev.keys() == prod.keys()
    assert [f for f in dev if dev[f] == prod[f]] == []
