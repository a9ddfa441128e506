"""What differs between finAPI Access V1 and V2 for the calls we make."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from bankupdate.domain.errors import InvalidRequest
from bankupdate.finapi.models import UpdateBankConnectionParams


class ApiVersion(StrEnum):
    V1 = "V1"
    V2 = "V2"

    @property
    def prefix(self) -> str:
        return "/api/v1" if self is ApiVersion.V1 else "/api/v2"

    @property
    def token_path(self) -> str:
        return "/oauth/token" if self is ApiVersion.V1 else "/api/v2/oauth/token"


def update_body(params: UpdateBankConnectionParams, version: ApiVersion) -> dict[str, Any]:
    """The JSON finAPI expects, secrets revealed only here, at the last moment."""
    body: dict[str, Any] = {
        "bankConnectionId": params.bank_connection_id,
        "storeSecrets": params.store_secrets,
        "importNewAccounts": params.import_new_accounts,
        "skipPositionsDownload": params.skip_positions_download,
        "loadOwnerData": params.load_owner_data,
    }
    interface_field = "interface" if version is ApiVersion.V1 else "bankingInterface"
    if params.interface is not None:
        body[interface_field] = params.interface.value
    elif version is ApiVersion.V2:
        raise InvalidRequest("finAPI V2 requires the banking interface", details={"field": "interface"})
    elif params.login_credentials:
        # Spec: credentials "must be passed in combination with the 'interface' field, if the credentials have not
        # been previously stored" (and we cannot know what finAPI has stored).
        raise InvalidRequest(
            "finAPI needs the banking interface together with login credentials", details={"field": "interface"}
        )
    if version is ApiVersion.V2 and params.skip_balances_download:
        body["skipBalancesDownload"] = True
    if params.login_credentials:
        body["loginCredentials"] = [
            {"label": c.label, "value": c.value.get_secret_value()} for c in params.login_credentials
        ]
    if params.account_types:
        if version is ApiVersion.V2 and any(t.value == "Pocket" for t in params.account_types):
            raise InvalidRequest("finAPI V2 has no account type Pocket", details={"field": "accountTypes"})
        body["accountTypes"] = [t.value for t in params.account_types]
    if params.account_references:
        body["accountReferences"] = [{"iban": r.iban} for r in params.account_references]
    if params.redirect_url:
        body["redirectUrl"] = params.redirect_url
    msa = params.multi_step_authentication
    if msa is not None:
        callback: dict[str, Any] = {"hash": msa.hash}
        if msa.challenge_response is not None:
            callback["challengeResponse"] = msa.challenge_response.get_secret_value()
        if msa.two_step_procedure_id is not None:
            callback["twoStepProcedureId"] = msa.two_step_procedure_id
        if msa.redirect_callback is not None:
            callback["redirectCallback"] = msa.redirect_callback.get_secret_value()
        if msa.decoupled_callback is not None:
            callback["decoupledCallback"] = msa.decoupled_callback
        body["multiStepAuthentication"] = callback
    return body
