"""`POST /bankConnections/update`, as finAPI's test banks behave (see README for the rules and the choices made)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from finapi_sandbox.banks import FLICKER_CODE, LOGIN_FIELDS, PHOTO_TAN_PNG, PROCEDURES, SECRET_LABELS, Procedure
from finapi_sandbox.problems import FinapiProblem, bad_request, illegal_field
from finapi_sandbox.state import Connection, Download, PendingChallenge, UpdateResultState
from finapi_sandbox.world import World

ACCOUNT_TYPES = {"Checking", "Savings", "CreditCard", "Security", "Loan", "Pocket", "Membership", "Bausparen"}
INTERFACES = {"WEB_SCRAPER", "FINTS_SERVER", "XS2A"}
# The bank's limit on unattended accesses (4 a day) is PSD2's, so it applies to the XS2A interface only.
PSD2_INTERFACE = "XS2A"
# Loopback and thread scheduling can shift two polls' arrival by a little; the sandbox does not count that against
# a client that waits the 5 seconds from its own send.
DECOUPLED_JITTER_SECONDS = 0.5


def _msa(world: World, connection: Connection, pending: PendingChallenge, **fields: Any) -> dict[str, Any]:
    challenge: dict[str, Any] = {
        "hash": pending.hash,
        "status": pending.status,
        "challengeMessage": None,
        "answerFieldLabel": None,
        "redirectUrl": None,
        "redirectContext": None,
        "redirectContextField": None,
        "twoStepProcedures": None,
        "photoTanMimeType": None,
        "photoTanData": None,
        "opticalData": None,
    }
    challenge.update(fields)
    connection.pending = pending
    return challenge


def _ask(world: World, connection: Connection, pending: PendingChallenge, message: str, **fields: Any) -> FinapiProblem:
    challenge = _msa(world, connection, pending, **fields)
    return FinapiProblem(
        510,
        "ADDITIONAL_AUTHENTICATION_REQUIRED",
        message,
        error_type="BUSINESS",
        msa=challenge,
        bank=connection.bank.label,
    )


def _new_step(world: World, previous: PendingChallenge, status: str) -> PendingChallenge:
    step = PendingChallenge(**{**previous.__dict__, "hash": secrets.token_hex(16), "status": status})
    step.created_at = world.now()
    return step


def _reject(connection: Connection, message: str, world: World) -> FinapiProblem:
    connection.user_action_required = True
    connection.pending = None
    connection.last_manual_update["XS2A"] = UpdateResultState("BANK_SERVER_REJECTION", world.now(), message, "BUSINESS")
    return FinapiProblem(422, "BANK_SERVER_REJECTION", message, error_type="BUSINESS", bank=connection.bank.label)


def _validate(body: dict[str, Any], version: str) -> None:
    """V1 bodies were checked against finAPI's spec already (server); V2 has no spec here, so these are by hand."""
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
            return _continue(world, connection, msa, body)
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
        return _accept(world, connection, request)
    if web_form and connection.legacy_web_form:
        raise _web_form_required(world, connection)
    if not given and not consent_valid and not user_present:
        connection.user_action_required = True
        raise FinapiProblem(
            422, "INVALID_CONSENT", "Die Zustimmung (Consent) ist abgelaufen.", error_type="BUSINESS", bank=bank.label
        )
    if bank.redirect:
        context = secrets.token_hex(8)
        pending = _new_step(world, request, "REDIRECT_REQUIRED")
        pending.redirect_context = context
        query = urlencode({"state": context, "redirect": body["redirectUrl"]})
        raise _ask(
            world,
            connection,
            pending,
            "Bitte autorisieren Sie den Zugriff bei Ihrer Bank.",
            redirectUrl=connection.bank_page_url or f"{world.base_url}/sandbox/bank/{bank.blz}/authorize?{query}",
            redirectContext=context,
            redirectContextField="state",
        )
    credentials = request.credentials
    if "PIN" not in credentials or "Onlinebanking-ID" not in credentials:
        raise FinapiProblem(
            422, "MISSING_FIELD", "Stored and given credentials lack a required field (PIN).", bank=bank.label
        )
    user_id, pin = credentials["Onlinebanking-ID"], credentials["PIN"]
    if user_id == pin == "demo_no_msa":
        return _accept(world, connection, request)
    if user_id == pin == "demo":
        pending = _new_step(world, request, "TWO_STEP_PROCEDURE_REQUIRED")
        raise _ask(
            world,
            connection,
            pending,
            "Bitte wählen Sie ein Zwei-Schritt-Verfahren.",
            twoStepProcedures=[_procedure(p) for p in PROCEDURES],
        )
    raise _reject(connection, "Die Anmeldung ist fehlgeschlagen. Bitte prüfen Sie Ihre Zugangsdaten.", world)


def _procedure(procedure: Procedure) -> dict[str, Any]:
    return {
        "procedureId": procedure.id,
        "procedureName": procedure.name,
        "procedureChallengeType": procedure.challenge_type,
        "implicitExecute": False,
    }


def _continue(world: World, connection: Connection, msa: Any, body: dict[str, Any]) -> Connection:
    pending = connection.pending
    bank = connection.bank.label
    if not isinstance(msa, dict) or not isinstance(msa.get("hash"), str):
        raise FinapiProblem(422, "MISSING_FIELD", "Field 'multiStepAuthentication.hash' is required.", bank=bank)
    if pending is None:
        raise FinapiProblem(422, "NO_EXISTING_CHALLENGE", "There is no pending challenge for this bank connection.")
    # finAPI does not document its answer to an unknown or outdated hash; the sandbox answers ILLEGAL_FIELD_VALUE.
    if msa["hash"] != pending.hash:
        raise illegal_field("The given hash is unknown or outdated.", bank)
    if world.now() - pending.created_at > timedelta(seconds=world.config.challenge_ttl_seconds):
        connection.pending = None
        raise illegal_field("The multi-step authentication has expired; start the update again.", bank)
    if pending.status == "TWO_STEP_PROCEDURE_REQUIRED":
        return _choose_procedure(world, connection, pending, msa)
    if pending.status == "CHALLENGE_RESPONSE_REQUIRED":
        return _check_tan(world, connection, pending, msa)
    if pending.status == "REDIRECT_REQUIRED":
        callback = msa.get("redirectCallback")
        if not isinstance(callback, str):
            raise illegal_field("Field 'redirectCallback' is required.", bank)
        query = parse_qs(callback)
        if "error" in query or query.get("state") != [pending.redirect_context]:
            raise _reject(connection, "Die Autorisierung bei der Bank wurde abgebrochen.", world)
        return _accept(world, connection, pending)
    if msa.get("decoupledCallback") is not True:
        raise illegal_field("Field 'decoupledCallback' must be true.", bank)
    _check_poll_interval(world, pending, bank)
    if pending.decoupled_polls < world.config.decoupled_in_progress_polls:
        step = _new_step(world, pending, "DECOUPLED_AUTH_IN_PROGRESS")
        step.decoupled_polls = pending.decoupled_polls + 1
        raise _ask(world, connection, step, "Die Freigabe in Ihrer Banking-App steht noch aus.")
    return _accept(world, connection, pending)


def _check_poll_interval(world: World, pending: PendingChallenge, bank: str) -> None:
    """finAPI: repeat the decoupled call "at most every 5 seconds"; what a bank answers to a faster one finAPI does not
    document (the sandbox: the bank refuses this access, the authorization stays pending)."""
    if pending.status != "DECOUPLED_AUTH_IN_PROGRESS":
        return
    waited = (world.now() - pending.created_at).total_seconds()
    if waited + DECOUPLED_JITTER_SECONDS < world.config.decoupled_min_interval_seconds:
        raise FinapiProblem(
            422,
            "BANK_SERVER_REJECTION",
            "Zu viele Anfragen. Bitte fragen Sie den Status der Freigabe höchstens alle 5 Sekunden ab.",
            error_type="BUSINESS",
            bank=bank,
        )


def _choose_procedure(
    world: World, connection: Connection, pending: PendingChallenge, msa: dict[str, Any]
) -> Connection:
    procedure = next((p for p in PROCEDURES if p.id == msa.get("twoStepProcedureId")), None)
    if procedure is None:
        raise FinapiProblem(
            422, "INVALID_TWO_STEP_PROCEDURE", "Unknown two-step procedure.", bank=connection.bank.label
        )
    if procedure.decoupled:
        step = _new_step(world, pending, "DECOUPLED_AUTH_REQUIRED")
        step.procedure_id = procedure.id
        raise _ask(world, connection, step, "Bitte geben Sie den Zugriff in Ihrer Banking-App frei.")
    step = _new_step(world, pending, "CHALLENGE_RESPONSE_REQUIRED")
    step.procedure_id = procedure.id
    raise _challenge(world, connection, step, procedure, "Bitte geben Sie die TAN ein.")


def _challenge(
    world: World, connection: Connection, step: PendingChallenge, procedure: Procedure, message: str
) -> FinapiProblem:
    extra: dict[str, Any] = {"challengeMessage": message, "answerFieldLabel": "TAN"}
    if procedure.challenge_type == "PHOTO":
        extra |= {"photoTanMimeType": "image/png", "photoTanData": PHOTO_TAN_PNG}
    if procedure.challenge_type == "FLICKER_CODE":
        extra |= {"opticalData": FLICKER_CODE}
    return _ask(world, connection, step, message, **extra)


def _check_tan(world: World, connection: Connection, pending: PendingChallenge, msa: dict[str, Any]) -> Connection:
    answer = msa.get("challengeResponse")
    if not isinstance(answer, str):
        raise illegal_field("Field 'challengeResponse' is required.", connection.bank.label)
    if answer == world.config.correct_tan:
        return _accept(world, connection, pending)
    attempts = pending.tan_attempts + 1
    if attempts >= world.config.max_tan_attempts:
        raise _reject(connection, "Die TAN war mehrfach falsch. Der Vorgang wurde abgebrochen.", world)
    step = _new_step(world, pending, "CHALLENGE_RESPONSE_REQUIRED")
    step.tan_attempts = attempts
    procedure = next(p for p in PROCEDURES if p.id == pending.procedure_id)
    raise _challenge(world, connection, step, procedure, "Die TAN ist ungültig. Bitte versuchen Sie es erneut.")


def _accept(world: World, connection: Connection, request: PendingChallenge) -> Connection:
    now = world.now()
    connection.pending = None
    # A successful login keeps the non-secret fields it used; the secret ones only with `storeSecrets`.
    kept = {label: value for label, value in request.credentials.items() if label not in SECRET_LABELS}
    if request.store_secrets:
        kept |= {label: value for label, value in request.credentials.items() if label in SECRET_LABELS}
    connection.stored_credentials = connection.stored_credentials | kept
    if request.user_present or request.hash:
        # A login with the user (SCA or credentials) renews the consent and clears the need for the user.
        connection.consent_expires_at = now + timedelta(days=world.config.consent_days)
        connection.user_action_required = False
    duration = connection.download_seconds if connection.download_seconds is not None else world.config.download_seconds
    world.start_download(
        connection,
        Download(
            started_at=now,
            duration=duration,
            user_present=request.user_present,
            interface=request.interface,
            import_new_accounts=request.import_new_accounts,
            account_types=request.account_types,
            skip_positions=request.skip_positions,
        ),
    )
    return connection
