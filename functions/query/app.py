"""Query: read an update's status, a connection's health, the caller's connections."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.api.documented import USER, documented
from bankupdate.api.http import build_resolver, caller_id, resolve
from bankupdate.api.models import ID_END, ConnectionList, ConnectionView, UpdateView
from bankupdate.api.views import connection_view, update_view
from bankupdate.contract import UPDATE_ID_PATTERN
from bankupdate.observability import logger, publish_metrics, tracer
from bankupdate.settings import get_settings

app = build_resolver()


@app.get(
    "/v1/updates/<updateId>",
    operation_id="readUpdate",
    summary="Status, challenge, result or error of an update",
    **documented(USER, 200, "The update", UpdateView),
    tags=["updates"],
)
def read_update(
    updateId: Annotated[str, Path(pattern=UPDATE_ID_PATTERN)],
) -> Response[UpdateView]:
    record = composition.read_updates().update(owner_id=caller_id(app), update_id=updateId)
    return Response(200, content_types.APPLICATION_JSON, update_view(record, get_settings().max_auth_rounds))


@app.get(
    "/v1/bank-connections/<connectionId>",
    operation_id="readConnection",
    summary="Health of a bank connection",
    **documented(USER, 200, "The connection", ConnectionView),
    tags=["connections"],
)
def read_connection(
    connectionId: Annotated[int, Path(gt=0, lt=ID_END)],
) -> Response[ConnectionView]:
    record = composition.read_updates().connection(owner_id=caller_id(app), connection_id=connectionId)
    return Response(
        200, content_types.APPLICATION_JSON, connection_view(record, get_settings().budget, composition.now())
    )


@app.get(
    "/v1/bank-connections",
    operation_id="listConnections",
    summary="The caller's bank connections with their health",
    **documented(USER, 200, "Connections", ConnectionList),
    tags=["connections"],
)
def read_connections() -> Response[ConnectionList]:
    records = composition.read_updates().connections_of(owner_id=caller_id(app))
    budget, now = get_settings().budget, composition.now()
    body = ConnectionList(connections=[connection_view(record, budget, now) for record in records])
    return Response(200, content_types.APPLICATION_JSON, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
