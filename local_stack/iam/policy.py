"""Policy documents and the evaluation of one request against them (same-account rules)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from local_stack.iam.conditions import Context, conditions_hold, glob_match


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


@dataclass(frozen=True)
class Statement:
    """One statement; ``origin`` names where it came from (role/policy/sid) for messages and the usage check."""

    origin: str
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    principals: Mapping[str, tuple[str, ...]] | None
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]]

    @classmethod
    def parse(cls, origin: str, raw: Mapping[str, Any]) -> Statement:
        principal = raw.get("Principal")
        principals: dict[str, tuple[str, ...]] | None = None
        if principal == "*":
            principals = {"AWS": ("*",)}
        elif isinstance(principal, Mapping):
            principals = {kind: _strings(value) for kind, value in principal.items()}
        conditions = {
            operator: {key: _strings(values) for key, values in keys.items()}
            for operator, keys in (raw.get("Condition") or {}).items()
        }
        statement = cls(
            origin=origin,
            effect=str(raw["Effect"]),
            actions=_strings(raw.get("Action")),
            not_actions=_strings(raw.get("NotAction")),
            resources=_strings(raw.get("Resource")),
            not_resources=_strings(raw.get("NotResource")),
            principals=principals,
            conditions=conditions,
        )
        if any("${" in r for r in statement.resources + statement.not_resources):
            raise ValueError(f"{origin}: policy variables are not modelled by the local stack")
        return statement

    def action_patterns(self, action: str) -> tuple[str, ...]:
        if self.not_actions:
            return () if any(glob_match(p, action, ignore_case=True) for p in self.not_actions) else ("NotAction",)
        return tuple(p for p in self.actions if glob_match(p, action, ignore_case=True))

    def resource_patterns(self, resource: str) -> tuple[str, ...]:
        if self.not_resources:
            return () if any(glob_match(p, resource) for p in self.not_resources) else ("NotResource",)
        return tuple(p for p in self.resources if glob_match(p, resource))

    def applies(self, request: Request) -> bool:
        return (
            bool(self.action_patterns(request.action))
            and bool(self.resource_patterns(request.resource))
            and conditions_hold(self.conditions, request.context)
        )


def parse_document(origin: str, document: Mapping[str, Any]) -> list[Statement]:
    raw = document.get("Statement", [])
    statements = raw if isinstance(raw, list) else [raw]
    return [Statement.parse(f"{origin}/{s.get('Sid') or i}", s) for i, s in enumerate(statements)]


@dataclass(frozen=True)
class Request:
    """One IAM authorization: an action on a resource, with the request's condition keys (lower-cased names)."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Principal:
    """A role as a caller: ``arn`` is the role's ARN, ``session`` what AWS names the assumed-role session."""

    arn: str
    session: str
    statements: tuple[Statement, ...]
    account: str

    @property
    def caller_arn(self) -> str:
        name = self.arn.rsplit("/", 1)[-1]
        return f"arn:aws:sts::{self.account}:assumed-role/{name}/{self.session}"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    why: str
    used: tuple[Statement, ...] = ()


def _names_principal(statement: Statement, principal: Principal) -> tuple[bool, bool]:
    """(names the caller directly, names the account root: delegation to the caller's IAM policies)."""
    if statement.principals is None:
        return False, False
    aws = statement.principals.get("AWS", ())
    direct = "*" in aws or principal.arn in aws
    root = any(a in (principal.account, f"arn:aws:iam::{principal.account}:root") for a in aws)
    return direct, root


def evaluate(
    principal: Principal,
    request: Request,
    *,
    resource_policy: Sequence[Statement] = (),
    key_policy: Sequence[Statement] | None = None,
) -> Decision:
    """AWS's order: an explicit deny wins; KMS needs its key policy to allow (directly, or the account root and then
    the caller's IAM policy); elsewhere, in one account, an allow in the identity or the resource policy suffices."""
    identity = [s for s in principal.statements if s.applies(request)]
    resource_side = [s for s in (key_policy if key_policy is not None else resource_policy) if s.applies(request)]
    for statement in identity + resource_side:
        if statement.effect == "Deny" and (statement in identity or any(_names_principal(statement, principal))):
            return Decision(False, f"an explicit deny in {statement.origin}")
    identity_allows = tuple(s for s in identity if s.effect == "Allow")
    direct = tuple(s for s in resource_side if s.effect == "Allow" and _names_principal(s, principal)[0])
    delegated = any(s.effect == "Allow" and _names_principal(s, principal)[1] for s in resource_side)
    if key_policy is not None:
        if direct:
            return Decision(True, "the key policy", identity_allows)
        if delegated and identity_allows:
            return Decision(True, "the identity-based policy (the key policy delegates to IAM)", identity_allows)
        if not delegated:
            return Decision(False, "no resource-based policy allows the action")
        return Decision(False, "no identity-based policy allows the action")
    if identity_allows or direct:
        return Decision(True, "policy", identity_allows)
    return Decision(False, "no identity-based policy allows the action")


def evaluate_service(service: str, request: Request, resource_policy: Sequence[Statement]) -> Decision:
    """An AWS service calling in its own name (API Gateway invoking a function): only a resource policy naming that
    service principal, with its conditions (aws:SourceArn ...), lets it in."""
    for statement in resource_policy:
        named = statement.principals is not None and service in statement.principals.get("Service", ())
        if named and statement.effect == "Allow" and statement.applies(request):
            return Decision(True, f"{statement.origin}", (statement,))
    return Decision(False, "no resource-based policy allows the action")
