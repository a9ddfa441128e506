"""`POST /bankConnections/update`: the request's rules, the bank's budget for unattended access, and whether the update
needs the user (then the bank's login, ``authentication.py``). The choices made: docs/finapi-fidelity.md."""

from __future__ import annotations

import secrets
from typing import Any

from finapi_sandbox import authentication
from finapi_sandbox.banks import LOGIN_FIELDS
from finapi_sandbox.problems import FinapiProblem, bad_request, illegal_field
from finapi_sandbox.state import Connection, PendingChallenge
from finapi_sandbox.world import World

ACCOUNT_TYPES = {"Checking", "Savings", "CreditCard", "Security", "Loan", "Pocket", "Membership", "Bausparen"}
INTERFACES = {"WEB_SCRAPER", "FINTS_SERVER", "XS2A"}
# The bank's limit on unattended accesses (4 a day) is PSD2's, so it applies to the XS2A interface only.
PSD2_INTERFACE = "XS2A"


def _validate(body: dict[str, Any], version: str) -> None:
    """V1 bodies were checked against finAPI's spec already (exchange.py); V2 has no spec here, so these are by hand."""
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object.")
    connection_id = body.get("bankConnectionId")
    if not isinstance(connection_id, int) or isinstance(connection_id, bool):
        raise FinapiProblem(422, "MISSING_FIELD", "Field 'bankConnectionId' is missing or not an integer.")
    field = "interface" if version == "v1" else "bankingInterface"
    if version == "v2" and "interface" in body:
        raise bad_request("Unknown field 'interface' (use 'bankingInterface').")
    if version == "v2" and body.get(field) is None:
        raise FinapiProblem(422, "MISSING_FIELD", "Field 'bankingInterface' is required.")
    if body.get(field) is not None and body[field] not in INTERFACES:
        raise bad_request(f"Illegal value for '{field}'.")
    types = body.get("accountTypes")
    allowed = ACCOUNT_TYPES - ({"Pocket"} if version == "v2" else set())
    if types is not None and (not isinstance(types, list) or not set(types) <= allowed):
        raise bad_request("Illegal value for 'accountTypes'.")
    credentials = body.get("loginCredentials")
    if credentials is not None and (
        not isinstance(credentials, list)
        or not all(
            isinstance(c, dict) and isinstance(c.get("label"), str) and isinstance(c.get("value"), str)
            for c in credentials
        )
    ):
        raise bad_request("Illegal value for 'loginCredentials'.")


def psu_present(headers: dict[str, str]) -> bool:
    """The bank counts an access as the user's own iff it carries ``PSU-IP-Address`` (Berlin Group, as finAPI's XS2A
    documentation states it); any value counts, since finAPI replaces a non-IPv4 one with its own IPv4 address."""
    return bool(headers.get("psu-ip-address", "").strip())


def _check_interface_with_credentials(connection: Connection, body: dict[str, Any], field: str) -> None:
    """Spec: credentials "must be passed in combination with the 'interface' field, if the credentials have not been
    previously stored"."""
    labels = {c["label"] for c in body.get("loginCredentials") or []}
    if body.get(field) is None and not labels <= set(connection.stored_credentials):
        raise FinapiProblem(
            422,
            "MISSING_FIELD",
            f"Field '{field}' is required together with 'loginCredentials' that are not stored yet.",
            bank=connection.bank.label,
        )


def _check_bank_specific_fields(connection: Connection, body: dict[str, Any]) -> None:
    """`redirectUrl` and `accountReferences` exist only for interfaces with the matching property (spec)."""
    bank = connection.bank
    if body.get("redirectUrl") is not None and not bank.redirect:
        raise illegal_field("Field 'redirectUrl' must only be passed for REDIRECT_APPROACH interfaces.", bank.label)
    if body.get("accountReferences") is not None and "DETAILED_CONSENT" not in bank.properties:
        raise illegal_field("Field 'accountReferences' is allowed only for DETAILED_CONSENT interfaces.", bank.label)


def process_update(world: World, username: str, body: Any, headers: dict[str, str], version: str) -> Connection:
    """Returns the connection whose download started, or raises the finAPI error answer."""
    _validate(body, version)
    present = psu_present(headers)
    with world.lock:
        connection = world.connections.get(body["bankConnectionId"])
        if connection is None or connection.owner != username:
            raise FinapiProblem(404, "UNKNOWN_ENTITY", f"Bank connection {body['bankConnectionId']} not found.")
        world.settle(connection)
        if connection.update_status == "IN_PROGRESS":
            raise FinapiProblem(
                423, "LOCKED", "The bank connection is currently being updated.", bank=connection.bank.label
            )
        field = "interface" if version == "v1" else "bankingInterface"
        interface = body.get(field) or connection.bank.interfaces[0]
        if interface not in connection.bank.interfaces:
            raise bad_request(f"Interface '{interface}' is not supported for this bank connection.")
        _check_interface_with_credentials(connection, body, field)
        _check_bank_specific_fields(connection, body)
        msa = body.get("multiStepAuthentication")
        if msa is not None:
            return authentication.proceed(world, connection, msa)
        if body.get("challengeResponse") is not None:
            raise FinapiProblem(422, "NO_EXISTING_CHALLENGE", "There is no pending challenge for this bank connection.")
        return _start(world, connection, body, interface, present, web_form=version == "v1")


def _count_unattended(world: World, connection: Connection, interface: str, user_present: bool) -> None:
    if user_present or interface != PSD2_INTERFACE:
        return
    day = world.bank_day()
    used = connection.unattended_by_day.get(day, 0)
    if used >= world.config.unattended_daily_limit:
        raise FinapiProblem(
            422,
            "BANK_SERVER_REJECTION",
            "Die maximale Anzahl täglicher Zugriffe ohne Anwesenheit des Kunden ist erreicht.",
            error_type="BUSINESS",
            bank=connection.bank.label,
        )
    connection.unattended_by_day = {day: used + 1}


def _web_form_required(world: World, connection: Connection) -> FinapiProblem:
    """Deprecated 451 of finAPI's old Web Form: the web form's id as the message, its URL in ``Location`` (spec)."""
    form_id = str(secrets.randbelow(900000) + 100000)
    return FinapiProblem(
        451,
        "WEB_FORM_REQUIRED",
        form_id,
        error_type="BUSINESS",
        bank=connection.bank.label,
        headers={"Location": f"{world.base_url}/sandbox/webForms/{form_id}"},
    )


def _start(
    world: World, connection: Connection, body: dict[str, Any], interface: str, user_present: bool, *, web_form: bool
) -> Connection:
    bank = connection.bank
    if bank.redirect and not body.get("redirectUrl"):
        raise illegal_field("Field 'redirectUrl' is required for this interface (REDIRECT_APPROACH).", bank.label)
    given = {c["label"]: c["value"] for c in body.get("loginCredentials") or []}
    labels = {label for label, _ in LOGIN_FIELDS}
    if not set(given) <= labels:
        raise illegal_field(f"Invalid credential label; expected {sorted(labels)}.", bank.label)
    _count_unattended(world, connection, interface, user_present)
    now = world.now()
    consent_valid = connection.consent_expires_at is not None and connection.consent_expires_at > now
    request = PendingChallenge(
        hash="",
        status="",
        created_at=now,
        store_secrets=bool(body.get("storeSecrets")),
        credentials=connection.stored_credentials | given,
        import_new_accounts=bool(body.get("importNewAccounts")),
        account_types=body.get("accountTypes"),
        skip_positions=bool(body.get("skipPositionsDownload")),
        interface=interface,
        user_present=user_present,
    )
    if not given and consent_valid and not connection.user_action_required:
        return authentication.accept(world, connection, request)
    if web_form and connection.legacy_web_form:
        raise _web_form_required(world, connection)
    if not given and not consent_valid and not user_present:
        connection.user_action_required = True
        raise FinapiProblem(
            422, "INVALID_CONSENT", "Die Zustimmung (Consent) ist abgelaufen.", error_type="BUSINESS", bank=bank.label
        )
    return authentication.begin(world, connection, request, body.get("redirectUrl"))
