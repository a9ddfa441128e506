"""TriggerUpdate: POST /v1/bank-connections/{connectionId}/updates — start a user-present update."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from bankupdate import composition
from bankupdate.api.documented import LOCATION, USER, documented
from bankupdate.api.http import build_resolver, caller_id, request_psu, resolve
from bankupdate.api.models import ID_END, TriggerUpdateRequest, UpdateView
from bankupdate.api.views import update_view
from bankupdate.domain.answers import Credential
from bankupdate.domain.model import UpdateOptions
from bankupdate.observability import logger, publish_metrics, tracer
from bankupdate.settings import get_settings
from bankupdate.usecases.trigger_update import TriggerRequest

app = build_resolver()


@app.post(
    "/v1/bank-connections/<connectionId>/updates",
    operation_id="startUpdate",
    summary="Start a user-present update of a bank connection",
    **documented(USER, 202, "Update started; Location names it", UpdateView, headers=LOCATION),
    tags=["updates"],
)
def trigger_update(
    connectionId: Annotated[int, Path(gt=0, lt=ID_END)],
    body: Annotated[TriggerUpdateRequest, Body()],
    idempotency_key: Annotated[
        str | None, Header(alias="idempotency-key", min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")
    ] = None,
) -> Response[UpdateView]:
    use_case = composition.trigger_update()
    record = use_case(
        TriggerRequest(
            owner_id=caller_id(app),
            connection_id=connectionId,
            options=UpdateOptions(
                interface=body.interface,
                store_secrets=body.store_secrets,
                import_new_accounts=body.import_new_accounts,
                skip_positions_download=body.skip_positions_download,
                load_owner_data=body.load_owner_data,
                account_types=tuple(body.account_types or ()),
                account_references=tuple(r.iban for r in body.account_references or ()),
                redirect_url=body.redirect_url,
                wait_for_categorization=body.wait_for_categorization,
                manage_saved_settings=tuple(body.manage_saved_settings or ()),
            ),
            credentials=tuple(Credential(label=c.label, value=c.value) for c in body.login_credentials or ()),
            psu=request_psu(app),
            request_id=app.current_event.request_context.request_id,
            idempotency_key=idempotency_key,
        )
    )
    view = update_view(record, get_settings().max_auth_rounds)
    return Response(202, content_types.APPLICATION_JSON, view, headers={"Location": f"/v1/updates/{record.update_id}"})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@publish_metrics
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    composition.remember_invocation(context)  # a killed invocation's idempotency record then expires with it
    return resolve(app, event, context)
