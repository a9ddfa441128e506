"""Decides every AWS call made in the name of one of the stack's roles, and remembers which statements allowed it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from local_stack.iam.calls import Authorization, Directory, authorizations
from local_stack.iam.policy import Decision, Principal, Request, Statement, evaluate, evaluate_service

_ACCESS_DENIED = {"sqs": "AccessDenied"}
# How a service answers when the KMS call it made for the caller was refused.
_KMS_REFUSED = {
    "dynamodb": ("AccessDeniedException", "KMS key access denied error: {reason}"),
    "secretsmanager": ("AccessDeniedException", "Access to KMS is not allowed. {reason}"),
    "sqs": ("KMS.AccessDeniedException", "{reason}"),
}


@dataclass(frozen=True)
class Use:
    """One statement pattern pair (action, resource) that allowed a call."""

    origin: str
    action: str
    resource: str


class AccessDenied(ClientError):  # type: ignore[misc]
    """What botocore raises for AWS's refusal; the caller sees the service's own error code and message."""


class Authorizer:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory
        self.principals: dict[str, Principal] = {}  # role ARN -> principal
        self.key_policies: dict[str, list[Statement]] = {}  # key ARN -> statements
        self.resource_policies: dict[str, list[Statement]] = {}  # resource ARN -> statements
        self.used: set[Use] = set()
        self.denied: list[str] = []
        self._current = threading.local()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ who is calling

    def principal(self, role_arn: str, session: str) -> Principal:
        role = self.principals[role_arn]
        return Principal(role.arn, session, role.statements, role.account)

    @contextmanager
    def acting_as(self, principal: Principal | None) -> Iterator[None]:
        previous = getattr(self._current, "principal", None)
        self._current.principal = principal
        try:
            yield
        finally:
            self._current.principal = previous

    def set_current(self, principal: Principal | None) -> None:
        self._current.principal = principal

    @property
    def current(self) -> Principal | None:
        principal: Principal | None = getattr(self._current, "principal", None)
        return principal

    # ------------------------------------------------------------------------------------------ deciding

    def decide(self, principal: Principal, authorization: Authorization) -> Decision:
        key_policy = self.key_policies.get(authorization.key_arn) if authorization.key_arn else None
        if authorization.key_arn and key_policy is None:
            raise KeyError(f"no key policy for {authorization.key_arn}")
        resource_policy = self.resource_policies.get(authorization.resource_arn or "", [])
        decision = evaluate(principal, authorization.request, resource_policy=resource_policy, key_policy=key_policy)
        if decision.allowed:
            self._remember(decision.used, authorization.request)
        return decision

    def _remember(self, statements: Sequence[Statement], request: Request) -> None:
        with self._lock:
            for statement in statements:
                for action in statement.action_patterns(request.action):
                    for resource in statement.resource_patterns(request.resource):
                        self.used.add(Use(statement.origin, action.lower(), resource))

    def check_call(self, service: str, operation: str, params: Mapping[str, Any]) -> None:
        """Raise what AWS raises if the current principal may not make this call (nothing if no principal acts)."""
        principal = self.current
        if principal is None:
            return
        for authorization in authorizations(self.directory, service, operation, params):
            self.require(principal, authorization, operation)

    def require(self, principal: Principal, authorization: Authorization, operation: str) -> None:
        decision = self.decide(principal, authorization)
        if decision.allowed:
            return
        request = authorization.request
        reason = (
            f"User: {principal.caller_arn} is not authorized to perform: {request.action} on resource: "
            f"{request.resource} because {decision.why}"
        )
        with self._lock:
            self.denied.append(reason)
        service = request.action.split(":", 1)[0]
        if authorization.via is not None:
            code, template = _KMS_REFUSED[authorization.via]
            message = template.format(reason=reason)
        else:
            code, message = _ACCESS_DENIED.get(service, "AccessDeniedException"), reason
        raise AccessDenied(
            {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}, operation
        )

    def service_may(self, service: str, request: Request, resource_arn: str) -> Decision:
        """For calls an AWS service makes in its own name (API Gateway -> Lambda), judged by the resource policy."""
        decision = evaluate_service(service, request, self.resource_policies.get(resource_arn, []))
        if decision.allowed:
            self._remember(decision.used, request)
        else:
            with self._lock:
                self.denied.append(f"{service} may not {request.action} on {request.resource}: {decision.why}")
        return decision
