"""Query: read an update's status, a connection's health, the caller's connections."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import wiring
from bankupdate.api.http import build_resolver, caller_id, responses
from bankupdate.api.models import ConnectionList, ConnectionView, UpdateView
from bankupdate.api.views import connection_view, update_view
from bankupdate.observability import logger, metrics, tracer
from bankupdate.usecases.connection_settings import list_connections
from bankupdate.usecases.queries import get_connection, get_update

app = build_resolver()


@app.get(
    "/v1/updates/<updateId>",
    summary="Status, challenge, result or error of an update",
    responses=responses(200, "The update", UpdateView),
    tags=["updates"],
)
def read_update(
    updateId: Annotated[str, Path(pattern=r"^[0-9a-f]{32}$")],
) -> Response[UpdateView]:
    record = get_update(wiring.services(), owner_id=caller_id(app), update_id=updateId)
    return Response(200, content_types.APPLICATION_JSON, update_view(record))


@app.get(
    "/v1/bank-connections/<connectionId>",
    summary="Health of a bank connection",
    responses=responses(200, "The connection", ConnectionView),
    tags=["connections"],
)
def read_connection(
    connectionId: Annotated[int, Path(gt=0, le=2**63 - 1)],
) -> Response[ConnectionView]:
    services = wiring.services()
    record = get_connection(services, owner_id=caller_id(app), connection_id=connectionId)
    return Response(200, content_types.APPLICATION_JSON, connection_view(record, services.budget, services.clock()))


@app.get(
    "/v1/bank-connections",
    summary="The caller's bank connections with their health",
    responses=responses(200, "Connections", ConnectionList),
    tags=["connections"],
)
def read_connections() -> Response[ConnectionList]:
    services = wiring.services()
    records = list_connections(services, owner_id=caller_id(app))
    budget, now = services.budget, services.clock()
    body = ConnectionList(connections=[connection_view(record, budget, now) for record in records])
    return Response(200, content_types.APPLICATION_JSON, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
