"""Admin (IAM-authorized): register the finAPI user behind one of our users."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.api.documented import OPERATOR, documented
from bankupdate.api.http import build_resolver, resolve
from bankupdate.api.models import RegisterFinapiUserRequest, SyncedConnections
from bankupdate.observability import logger, publish_metrics, tracer

app = build_resolver()


@app.put(
    "/v1/admin/users/<userId>/finapi-user",
    operation_id="registerFinapiUser",
    summary="Register (or replace) the finAPI user of one of our users",
    **documented(OPERATOR, 204, "Registered"),
    tags=["admin"],
)
def register(
    userId: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")],
    body: Annotated[RegisterFinapiUserRequest, Body()],
) -> Response[None]:
    composition.register_finapi_user()(owner_id=userId, username=body.finapi_username, password=body.finapi_password)
    return Response(204)


@app.post(
    "/v1/admin/users/<userId>/connections/sync",
    operation_id="syncConnections",
    summary="Register the user's bank connections from finAPI's list",
    **documented(OPERATOR, 200, "Synced connection ids", SyncedConnections),
    tags=["admin"],
)
def sync(
    userId: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")],
) -> Response[SyncedConnections]:
    synced = composition.sync_connections()(owner_id=userId)
    return Response(200, content_types.APPLICATION_JSON, SyncedConnections(connection_ids=synced))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
