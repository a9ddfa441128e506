"""ConnectionSettings: PUT /v1/bank-connections/{connectionId}/schedule — background updates on or off."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.api.documented import USER, documented
from bankupdate.api.http import build_resolver, caller_id, resolve
from bankupdate.api.models import ID_END, ConnectionView, ScheduleRequest
from bankupdate.api.views import connection_view
from bankupdate.observability import logger, publish_metrics, tracer
from bankupdate.settings import get_settings

app = build_resolver()


@app.put(
    "/v1/bank-connections/<connectionId>/schedule",
    operation_id="setSchedule",
    summary="Switch scheduled (unattended) updates of a connection on or off",
    **documented(USER, 200, "The connection", ConnectionView),
    tags=["connections"],
)
def put_schedule(
    connectionId: Annotated[int, Path(gt=0, lt=ID_END)],
    body: Annotated[ScheduleRequest, Body()],
) -> Response[ConnectionView]:
    use_case = composition.set_schedule()
    record = use_case(owner_id=caller_id(app), connection_id=connectionId, enabled=body.enabled)
    return Response(
        200, content_types.APPLICATION_JSON, connection_view(record, get_settings().budget, composition.now())
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
