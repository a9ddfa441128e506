"""WebFormCallback: POST /v1/webform-callbacks/{callbackToken}/{kind} — finAPI Web Form 2.0 says "poll again".

No JWT here (finAPI calls it): the unguessable per-update token in the path is the only key, the body is never read.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.api.documented import ANYONE, documented
from bankupdate.api.http import build_resolver, resolve
from bankupdate.observability import logger, publish_metrics, tracer

app = build_resolver()


@app.post(
    "/v1/webform-callbacks/<callbackToken>/<kind>",
    operation_id="webFormCallback",
    summary="finAPI Web Form 2.0 callback (called by finAPI, not by apps)",
    **documented(ANYONE, 204, "Noted: the update is polled again"),
    tags=["callbacks"],
)
def callback(
    callbackToken: Annotated[str, Path(min_length=40, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")],
    kind: Annotated[Literal["finalised", "web-form-required"], Path()],
) -> Response[None]:
    composition.webform_callback()(callbackToken)
    return Response(204)


@logger.inject_lambda_context
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The body is finAPI's claim about the task; it is never believed, so it is never parsed either.
    return resolve(app, event | {"body": None, "isBase64Encoded": False}, context)
