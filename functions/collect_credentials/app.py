"""CollectCredentials: POST /v1/updates/{updateId}/authentication — the user's answer to the bank's challenge."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.api.documented import USER, documented
from bankupdate.api.http import build_resolver, caller_id, request_psu, resolve
from bankupdate.api.models import AuthenticationAnswerRequest, UpdateView
from bankupdate.api.views import update_view
from bankupdate.contract import UPDATE_ID_PATTERN
from bankupdate.domain.answers import AuthenticationAnswer, Credential
from bankupdate.observability import logger, publish_metrics, tracer
from bankupdate.settings import get_settings

app = build_resolver()


@app.post(
    "/v1/updates/<updateId>/authentication",
    operation_id="answerChallenge",
    summary="Answer the bank's authentication challenge of an update",
    **documented(
        USER, 200, "Answer accepted: the update as it is now (the next challenge, or IN_PROGRESS)", UpdateView
    ),
    tags=["updates"],
)
def answer(
    updateId: Annotated[str, Path(pattern=UPDATE_ID_PATTERN)],
    body: Annotated[AuthenticationAnswerRequest, Body()],
) -> Response[UpdateView]:
    use_case = composition.collect_credentials()
    record = use_case(
        owner_id=caller_id(app),
        update_id=updateId,
        answer=AuthenticationAnswer(
            login_credentials=tuple(Credential(label=c.label, value=c.value) for c in body.login_credentials)
            if body.login_credentials
            else None,
            challenge_response=body.challenge_response,
            two_step_procedure_id=body.two_step_procedure_id,
            redirect_callback=body.redirect_callback,
            decoupled_callback=body.decoupled_callback,
            store_secrets=body.store_secrets,
        ),
        psu=request_psu(app),
    )
    return Response(200, content_types.APPLICATION_JSON, update_view(record, get_settings().max_auth_rounds))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
