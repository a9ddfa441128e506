"""``BankGateway`` through finAPI Web Form 2.0 (for mandators without their own licence, or on the web form).

The update runs as a background task at finAPI; when the bank needs the user, the task waits for a web form the user
completes at finAPI (our API shows its URL). Reads of the connection and its accounts still go to Access.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bankupdate.domain.errors import BankRejected, ChallengeMismatch, InvalidRequest
from bankupdate.domain.model import AccountOutcome, AccountType
from bankupdate.domain.upstream import (
    Accepted,
    AnswerRequest,
    ConnectionFacts,
    Failed,
    PollOutcome,
    PollTarget,
    StartOutcome,
    StartRequest,
    StillRunning,
    UserNeeded,
)
from bankupdate.domain.urls import LinkPolicy
from bankupdate.domain.webform import TaskSnapshot, TaskVerdict, WebFormSnapshot, decide_task, quoting_the_bank
from bankupdate.finapi.access_gateway import AccessGateway, judge
from bankupdate.finapi.mapping import snapshot_from
from bankupdate.finapi.webform_client import Task, WebFormClient

# Web Form 2.0 spells account types in upper snake case and has no "Pocket".
_ACCOUNT_TYPES = {
    AccountType.CHECKING: "CHECKING",
    AccountType.SAVINGS: "SAVINGS",
    AccountType.CREDIT_CARD: "CREDIT_CARD",
    AccountType.SECURITY: "SECURITY",
    AccountType.LOAN: "LOAN",
    AccountType.MEMBERSHIP: "MEMBERSHIP",
    AccountType.BAUSPAREN: "BAUSPAREN",
}


def task_body(request: StartRequest) -> dict[str, Any]:
    """The background update task. No ``redirectUrl``: finAPI forbids it for mandators without a licence (the users
    of Web Form 2.0 mode); the app's return address goes onto the web form's URL instead (``api.views``)."""
    options = request.options
    body: dict[str, Any] = {
        "bankConnectionId": request.connection_id,
        "importNewAccounts": options.import_new_accounts,
        "skipPositionsDownload": options.skip_positions_download,
        "loadOwnerData": options.load_owner_data,
    }
    if options.account_types:
        unsupported = [t.value for t in options.account_types if t not in _ACCOUNT_TYPES]
        if unsupported:
            raise InvalidRequest(
                f"Web Form 2.0 has no account type {', '.join(unsupported)}", details={"field": "accountTypes"}
            )
        body["accountTypes"] = [_ACCOUNT_TYPES[t] for t in options.account_types]
    if options.manage_saved_settings:
        body["manageSavedSettings"] = list(options.manage_saved_settings)
    if request.callbacks is not None:
        body["callbacks"] = {
            "finalised": request.callbacks.finalised,
            "webFormRequired": request.callbacks.web_form_required,
        }
    metadata = user_metadata(request)
    if metadata is not None:
        body["userMetadata"] = metadata
    return body


def user_metadata(request: StartRequest) -> dict[str, str] | None:
    """The present user, as finAPI's ``UserMetadata`` wants them: all three fields (the spec requires each), or none.
    Without the user's IP address the task goes out without it, as an unattended access (the update says so)."""
    psu = request.psu
    if psu is None or not (psu.ip_address and psu.device_os and psu.user_agent):
        return None
    return {"ipAddress": psu.ip_address, "deviceOs": psu.device_os, "userAgent": psu.user_agent}


class WebFormGateway:
    def __init__(self, webform: WebFormClient, access: AccessGateway) -> None:
        self.webform = webform
        self.access = access
        self.links = LinkPolicy.for_upstream(webform.base_url)  # which web form URLs reach the user as links

    def connection_facts(self, owner_id: str, connection_id: int) -> ConnectionFacts:
        return self.access.connection_facts(owner_id, connection_id)

    def list_connections(self, owner_id: str) -> list[ConnectionFacts]:
        return self.access.list_connections(owner_id)

    def read_accounts(
        self, owner_id: str, account_ids: Sequence[int], *, interface: str | None, known_ids: Sequence[int]
    ) -> tuple[AccountOutcome, ...]:
        return self.access.read_accounts(owner_id, account_ids, interface=interface, known_ids=known_ids)

    def start(self, owner_id: str, request: StartRequest) -> StartOutcome:
        if request.credentials:
            raise InvalidRequest(
                "in Web Form 2.0 mode the bank credentials are entered in finAPI's web form, never sent to us",
                details={"field": "loginCredentials"},
            )
        task = self.webform.create_background_update(owner_id, task_body(request))
        unattended = request.psu is not None and user_metadata(request) is None
        return Accepted(upstream_ref=task.id, counted_as_unattended=unattended)

    def answer(self, owner_id: str, request: AnswerRequest) -> StartOutcome:
        raise ChallengeMismatch("in Web Form 2.0 mode the user answers the bank in finAPI's web form")

    def poll(self, owner_id: str, target: PollTarget, now: datetime) -> PollOutcome:
        if target.upstream_ref is None:
            return StillRunning(seen="UNKNOWN")  # the task's creation was never confirmed; the deadline ends the wait
        task = self.webform.get_task(owner_id, target.upstream_ref)
        decision = decide_task(
            self._snapshot(owner_id, task),
            deadline_at=target.deadline_at,
            now=now,
            waiting_for_user=target.waiting_for_user,
        )
        if decision.verdict is TaskVerdict.RUNNING:
            return StillRunning(seen=task.status)
        if decision.verdict is TaskVerdict.NEEDS_USER and decision.challenge is not None:
            return UserNeeded(decision.challenge)
        if decision.verdict is TaskVerdict.FAILED and decision.error is not None:
            if isinstance(decision.error, BankRejected):
                # The task names only the code; the bank's words are on the connection, as in Access mode.
                said = snapshot_from(self.access.connection(owner_id, target.connection_id))
                return Failed(quoting_the_bank(decision.error, said, since=target.triggered_at))
            return Failed(decision.error)
        # COMPLETED: the result is what Access says about the connection now.
        connection = self.access.connection(owner_id, target.connection_id)
        confirmed = target.model_copy(
            update={"wait_for_categorization": False, "start_confirmed": True, "waiting_for_user": False}
        )
        return judge(connection, confirmed, now)

    def _snapshot(self, owner_id: str, task: Task) -> TaskSnapshot:
        ref = task.payload.web_form
        form = None
        if ref is not None:
            expires_at = None
            error_code = None
            if task.status in ("WEB_FORM_REQUIRED", "COMPLETED_WITH_ERROR"):
                # The task shows the form's status only; its expiry and error come with the form itself.
                full = self.webform.get_web_form(owner_id, ref.id)
                expires_at, error_code = full.expires_at, full.payload.error_code
            form = WebFormSnapshot(
                form_id=ref.id,
                url=self.links.link(ref.url),
                status=ref.status,
                expires_at=expires_at,
                error_code=error_code,
            )
        return TaskSnapshot(task_id=task.id, status=task.status, error_code=task.payload.error_code, web_form=form)
