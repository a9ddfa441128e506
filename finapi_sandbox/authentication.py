"""The bank's login for an update (finAPI's multi-step authentication): its questions (510 with the pending challenge),
each answer's next step (procedure, TAN, decoupled confirmation, redirect), a rejection, or the success that starts
the download. Credentials and TANs are the test banks' (``banks.py``)."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

from finapi_sandbox import render
from finapi_sandbox.banks import FLICKER_CODE, PHOTO_TAN_PNG, PROCEDURES, SECRET_LABELS, Procedure
from finapi_sandbox.problems import FinapiProblem, illegal_field
from finapi_sandbox.state import Connection, Download, PendingChallenge, UpdateResultState
from finapi_sandbox.world import World

# Loopback and thread scheduling can shift two polls' arrival by a little; the sandbox does not count that against
# a client that waits the 5 seconds from its own send.
DECOUPLED_JITTER_SECONDS = 0.5


def _ask(connection: Connection, pending: PendingChallenge, message: str, **fields: Any) -> FinapiProblem:
    """The bank's next question (510), ``pending`` from now on; ``fields`` of the spec's `MultiStepAuthentication`."""
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
    return FinapiProblem(
        510,
        "ADDITIONAL_AUTHENTICATION_REQUIRED",
        message,
        error_type="BUSINESS",
        msa=challenge,
        bank=connection.bank.label,
    )


def _new_step(world: World, previous: PendingChallenge, status: str) -> PendingChallenge:
    """The same request one step on, under a new hash (only the latest hash is taken)."""
    step = PendingChallenge(**{**previous.__dict__, "hash": secrets.token_hex(16), "status": status})
    step.created_at = world.now()
    return step


def _reject(connection: Connection, message: str, world: World) -> FinapiProblem:
    """The bank refuses the login: the flow ends, and the user has to act before the next update."""
    connection.user_action_required = True
    connection.pending = None
    connection.last_manual_update["XS2A"] = UpdateResultState("BANK_SERVER_REJECTION", world.now(), message, "BUSINESS")
    return FinapiProblem(422, "BANK_SERVER_REJECTION", message, error_type="BUSINESS", bank=connection.bank.label)


def begin(world: World, connection: Connection, request: PendingChallenge, redirect_url: str | None) -> Connection:
    """The bank's login for an update that needs the user: its first question (raised), or at once its success."""
    bank = connection.bank
    if bank.redirect:
        context = secrets.token_hex(8)
        pending = _new_step(world, request, "REDIRECT_REQUIRED")
        pending.redirect_context = context
        query = urlencode({"state": context, "redirect": redirect_url})
        raise _ask(
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
        return accept(world, connection, request)
    if user_id == pin == "demo":
        pending = _new_step(world, request, "TWO_STEP_PROCEDURE_REQUIRED")
        raise _ask(
            connection,
            pending,
            "Bitte wählen Sie ein Zwei-Schritt-Verfahren.",
            twoStepProcedures=render.two_step_procedures(),
        )
    raise _reject(connection, "Die Anmeldung ist fehlgeschlagen. Bitte prüfen Sie Ihre Zugangsdaten.", world)


def proceed(world: World, connection: Connection, msa: Any) -> Connection:
    """The client's answer (``multiStepAuthentication``) to the pending question: the next question (raised), or the
    login's success."""
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
        return accept(world, connection, pending)
    if msa.get("decoupledCallback") is not True:
        raise illegal_field("Field 'decoupledCallback' must be true.", bank)
    _check_poll_interval(world, pending, bank)
    if pending.decoupled_polls < world.config.decoupled_in_progress_polls:
        step = _new_step(world, pending, "DECOUPLED_AUTH_IN_PROGRESS")
        step.decoupled_polls = pending.decoupled_polls + 1
        raise _ask(connection, step, "Die Freigabe in Ihrer Banking-App steht noch aus.")
    return accept(world, connection, pending)


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
        raise _ask(connection, step, "Bitte geben Sie den Zugriff in Ihrer Banking-App frei.")
    step = _new_step(world, pending, "CHALLENGE_RESPONSE_REQUIRED")
    step.procedure_id = procedure.id
    raise _challenge(connection, step, procedure, "Bitte geben Sie die TAN ein.")


def _challenge(connection: Connection, step: PendingChallenge, procedure: Procedure, message: str) -> FinapiProblem:
    extra: dict[str, Any] = {"challengeMessage": message, "answerFieldLabel": "TAN"}
    if procedure.challenge_type == "PHOTO":
        extra |= {"photoTanMimeType": "image/png", "photoTanData": PHOTO_TAN_PNG}
    if procedure.challenge_type == "FLICKER_CODE":
        extra |= {"opticalData": FLICKER_CODE}
    return _ask(connection, step, message, **extra)


def _check_tan(world: World, connection: Connection, pending: PendingChallenge, msa: dict[str, Any]) -> Connection:
    answer = msa.get("challengeResponse")
    if not isinstance(answer, str):
        raise illegal_field("Field 'challengeResponse' is required.", connection.bank.label)
    if answer == world.config.correct_tan:
        return accept(world, connection, pending)
    attempts = pending.tan_attempts + 1
    if attempts >= world.config.max_tan_attempts:
        raise _reject(connection, "Die TAN war mehrfach falsch. Der Vorgang wurde abgebrochen.", world)
    step = _new_step(world, pending, "CHALLENGE_RESPONSE_REQUIRED")
    step.tan_attempts = attempts
    procedure = next(p for p in PROCEDURES if p.id == pending.procedure_id)
    raise _challenge(connection, step, procedure, "Die TAN ist ungültig. Bitte versuchen Sie es erneut.")


def accept(world: World, connection: Connection, request: PendingChallenge) -> Connection:
    """The bank let the login in: the download starts."""
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
