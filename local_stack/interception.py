"""Where the local stack sees every AWS call in the process: botocore's one entry point for API calls (handlers,
Powertools, moto's Step Functions interpreter alike), httpx's transport, and the interpreter's state evaluation."""

from __future__ import annotations

from typing import Any
from unittest import mock

import httpx
from botocore.client import BaseClient
from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

from local_stack.iam.authorizer import AccessDenied, Authorizer
from local_stack.lambdas.function import check_not_abandoned


def patches(authorizer: Authorizer) -> list[Any]:
    make_api_call = BaseClient._make_api_call
    handle_request = httpx.HTTPTransport.handle_request
    evaluate = EvalComponent.eval

    def authorized_api_call(client: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        check_not_abandoned()
        try:
            authorizer.check_call(client.meta.service_model.signing_name, operation_name, api_params)
        except AccessDenied as denied:
            # The same exception class botocore would build from AWS's answer (modelled where the service has one).
            raise client.exceptions.from_code(denied.response["Error"]["Code"])(
                denied.response, operation_name
            ) from None
        return make_api_call(client, operation_name, api_params)

    def live_request(transport: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        check_not_abandoned()
        return handle_request(transport, request)

    def as_execution_role(component: EvalComponent, env: Any) -> None:
        # Every state of an execution runs with the state machine's role (Map and Parallel branches included).
        role = env.aws_execution_details.role_arn
        authorizer.set_current(
            authorizer.principal(role, session=env.states.context_object.context_object_data["Execution"]["Name"])
        )
        evaluate(component, env)

    return [
        mock.patch.object(BaseClient, "_make_api_call", authorized_api_call),
        mock.patch.object(httpx.HTTPTransport, "handle_request", live_request),
        mock.patch.object(EvalComponent, "eval", as_execution_role),
    ]
