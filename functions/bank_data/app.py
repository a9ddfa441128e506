"""BankData: a connection's accounts and the sync cursor of its transactions, read live from finAPI with the user's
token (GET /v1/bank-connections/{connectionId}/accounts and .../transactions/changes)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.api.documented import USER, documented
from bankupdate.api.http import build_resolver, caller_id, resolve
from bankupdate.api.models import ID_END, ConnectionAccountsView, TransactionChanges
from bankupdate.api.views import accounts_view, changes_view
from bankupdate.contract import UPDATE_ID_PATTERN
from bankupdate.observability import logger, publish_metrics, tracer
from bankupdate.usecases.bank_data import ChangesRequest

app = build_resolver()

# The cursor is URL-safe base64 of a fixed size; anything else is refused before it is decoded.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]{1,128}$"


@app.get(
    "/v1/bank-connections/<connectionId>/accounts",
    operation_id="readConnectionAccounts",
    summary="The connection's bank and accounts with their balances, as finAPI has them now",
    **documented(USER, 200, "The bank and the accounts", ConnectionAccountsView),
    tags=["bank data"],
)
def read_accounts(connectionId: Annotated[int, Path(gt=0, lt=ID_END)]) -> Response[ConnectionAccountsView]:
    found = composition.read_connection_accounts()(owner_id=caller_id(app), connection_id=connectionId)
    return Response(200, content_types.APPLICATION_JSON, accounts_view(found))


@app.get(
    "/v1/bank-connections/<connectionId>/transactions/changes",
    operation_id="readTransactionChanges",
    summary="The transactions added (and removed) since a cursor: a page, the next cursor, whether more follow",
    description="Start without a cursor (from now on), with `since` (the changes recorded from that day on, finAPI's "
    "day, Europe/Berlin) or with `fromUpdate` (the changes from that update on); then pass each answer's "
    "`nextCursor`. Every transaction finAPI imports reaches a reader of the cursor exactly once in `added` (unless "
    "finAPI no longer has it when the page is read); one that finAPI removes comes once in `removed`. The cursor "
    "is signed for the user and connection it was given to: any other is 400 INVALID_CURSOR. 410 CURSOR_EXPIRED: "
    "the changes after it are older than the service keeps them (start again with `since`).",
    **documented(USER, 200, "A page of changes", TransactionChanges),
    tags=["bank data"],
)
def read_changes(
    connectionId: Annotated[int, Path(gt=0, lt=ID_END)],
    cursor: Annotated[
        str | None, Query(pattern=CURSOR_PATTERN, description="`nextCursor` of the previous answer")
    ] = None,
    since: Annotated[date | None, Query(description="Start with the changes recorded from this day on")] = None,
    fromUpdate: Annotated[  # the query parameter is camelCase, as every field of the API
        str | None, Query(pattern=UPDATE_ID_PATTERN, description="Start with the changes this update brought")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="At most this many changes (finAPI's page limit)")] = 100,
) -> Response[TransactionChanges]:
    request = ChangesRequest(caller_id(app), connectionId, cursor, since, fromUpdate, limit)
    page = composition.read_transaction_changes()(request)
    added = [(a.transaction, a.update_id) for a in page.added]
    body = changes_view(page.connection_id, added, list(page.removed), page.next_cursor, page.has_more)
    return Response(200, content_types.APPLICATION_JSON, body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
