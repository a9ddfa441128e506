"""The web form's steps with the user: each one is an Access update call (with the user present) and its answer.

The Access answer decides the next page: 200 the download, 510 the bank's next question (procedure, TAN, decoupled
confirmation, redirect), 422 MISSING_FIELD the credentials page, a bank rejection the end of the flow.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from finapi_sandbox.webform.access import AccessAnswer, failure_code
from finapi_sandbox.webform.engine import WebFormEngine
from finapi_sandbox.webform.problems import PageRefused
from finapi_sandbox.webform.state import USER_STEPS, Challenge, Step, Task, WebForm

LINK_PARAMETERS = {
    "redirectUrl": "redirect_url",
    "errorRedirectUrl": "error_redirect_url",
    "customerSupportUrl": "customer_support_url",
}


class WebFormFlow:
    def __init__(self, engine: WebFormEngine) -> None:
        self.engine = engine

    # ------------------------------------------------------------------------------------------------ opening

    def open(self, task: Task, session: str | None, links: dict[str, str], psu: dict[str, str]) -> str | None:
        """Let this browser in; returns a new session cookie on the first opening. Caller holds the task's lock."""
        web_form = _web_form(task)
        self.engine.expire_if_due(task)
        if web_form.session is None:
            if web_form.status == "EXPIRED":
                return None  # the expired page, for anyone holding the link
            if web_form.status != "NOT_YET_OPENED":
                raise PageRefused(410, "Web form not available", "This web form can no longer be opened.")
            for name, value in links.items():
                if name in LINK_PARAMETERS and not _absolute_http_url(value):
                    raise PageRefused(400, "Invalid link", f"The parameter {name} must be an absolute http(s) URL.")
            web_form.session = secrets.token_urlsafe(24)
            web_form.csrf = secrets.token_urlsafe(24)
            web_form.status = "IN_PROGRESS"
            web_form.psu = psu
            for name, attribute in LINK_PARAMETERS.items():
                setattr(web_form, attribute, links.get(name))
            return web_form.session
        if session != web_form.session:
            # "Web Form token is a one-time token. You will be able to open the URL just once." (finAPI docs)
            raise PageRefused(410, "Web form already opened", "This web form was already opened in another browser.")
        return None

    def refresh(self, task: Task) -> None:
        """What a page load does besides showing the page: start, poll the decoupled approval, watch the download."""
        web_form = _web_form(task)
        if web_form.step == "start":
            if "CREDENTIALS" in (task.details.manageSavedSettings or []):
                web_form.step = "credentials"
            else:
                self._call(task, {})
        elif web_form.step == "decoupled":
            self.confirm_decoupled(task)
        elif web_form.step == "downloading":
            self.engine.check_download(task)

    # ------------------------------------------------------------------------------------------------ steps

    def submit_credentials(self, task: Task, user_id: str, pin: str, store_secrets: bool) -> None:
        web_form = _web_form(task)
        if web_form.step != "credentials":
            return
        if not user_id or not pin:
            web_form.notice = "Please enter your Onlinebanking-ID and your PIN."
            return
        credentials = [{"label": "Onlinebanking-ID", "value": user_id}, {"label": "PIN", "value": pin}]
        self._call(task, {"loginCredentials": credentials, "storeSecrets": store_secrets})

    def choose_procedure(self, task: Task, procedure_id: str) -> None:
        web_form = _web_form(task)
        if web_form.step != "procedure" or web_form.challenge is None:
            return
        if procedure_id not in {p["procedureId"] for p in web_form.challenge.procedures}:
            web_form.notice = "Please choose one of the procedures."
            return
        self._call(
            task, {"multiStepAuthentication": {"hash": web_form.challenge.hash, "twoStepProcedureId": procedure_id}}
        )

    def answer_challenge(self, task: Task, answer: str) -> None:
        web_form = _web_form(task)
        if web_form.step != "challenge" or web_form.challenge is None:
            return
        if not answer:
            web_form.notice = f"Please enter the {web_form.challenge.answer_label or 'TAN'}."
            return
        self._call(task, {"multiStepAuthentication": {"hash": web_form.challenge.hash, "challengeResponse": answer}})

    def confirm_decoupled(self, task: Task) -> None:
        web_form = _web_form(task)
        if web_form.step != "decoupled" or web_form.challenge is None:
            return
        now = self.engine.now()
        pause = timedelta(seconds=self.engine.config.decoupled_poll_seconds)
        if web_form.last_decoupled_poll is not None and now - web_form.last_decoupled_poll < pause:
            return  # asked the bank too recently; the page keeps waiting
        self._call(task, {"multiStepAuthentication": {"hash": web_form.challenge.hash, "decoupledCallback": True}})

    def return_from_bank(self, task: Task, query: str) -> None:
        """The bank sent the user back (to our /callback, or via a licensed mandator's own URL) with this query."""
        web_form = _web_form(task)
        if web_form.step != "redirect" or web_form.challenge is None:
            return
        self._call(task, {"multiStepAuthentication": {"hash": web_form.challenge.hash, "redirectCallback": query}})

    def abort(self, task: Task) -> None:
        web_form = _web_form(task)
        if web_form.step in USER_STEPS:
            # The sandbox updates one interface, so nothing was finished before the abort: ABORTED, never COMPLETED.
            self.engine.finish_web_form(task, "ABORTED", None)

    # ------------------------------------------------------------------------------------------------ Access

    def _call(self, task: Task, extra: dict[str, Any]) -> None:
        web_form = _web_form(task)
        previous = web_form.challenge.status if web_form.challenge else None
        answer = self.engine.update(task, web_form.psu, **extra)
        web_form.notice = None
        if answer.status == 200:
            web_form.challenge = None
            self.engine.start_download(task)
        elif answer.status == 510 and answer.challenge is not None:
            self._ask(task, web_form, answer, previous)
        elif answer.status == 422 and answer.error_code == "MISSING_FIELD":
            web_form.step = "credentials"
        else:
            web_form.notice = answer.error_message if answer.status == 422 else None
            self.engine.finish_web_form(task, "COMPLETED_WITH_ERROR", failure_code(answer))

    def _ask(self, task: Task, web_form: WebForm, answer: AccessAnswer, previous: str | None) -> None:
        found = answer.challenge or {}
        challenge = Challenge(
            hash=str(found.get("hash")),
            status=str(found.get("status")),
            message=found.get("challengeMessage") or answer.error_message,
            answer_label=found.get("answerFieldLabel"),
            procedures=list(found.get("twoStepProcedures") or []),
            redirect_url=self._interactive_bank_page(found.get("redirectUrl")),
            redirect_context=found.get("redirectContext"),
            photo_mime_type=found.get("photoTanMimeType"),
            photo_data=found.get("photoTanData"),
            optical_data=found.get("opticalData"),
        )
        web_form.challenge = challenge
        steps: dict[str, Step] = {
            "TWO_STEP_PROCEDURE_REQUIRED": "procedure",
            "CHALLENGE_RESPONSE_REQUIRED": "challenge",
            "DECOUPLED_AUTH_REQUIRED": "decoupled",
            "DECOUPLED_AUTH_IN_PROGRESS": "decoupled",
            "REDIRECT_REQUIRED": "redirect",
        }
        web_form.step = steps.get(challenge.status, "failed")
        if challenge.status == "CHALLENGE_RESPONSE_REQUIRED" and previous == "CHALLENGE_RESPONSE_REQUIRED":
            web_form.notice = challenge.message  # the bank refused the TAN and asks again
        if web_form.step == "decoupled":
            web_form.last_decoupled_poll = self.engine.now()
        if challenge.redirect_context:
            self.engine.remember_redirect_context(challenge.redirect_context, web_form)
        if web_form.step == "failed":
            self.engine.finish_web_form(task, "COMPLETED_WITH_ERROR", "UNEXPECTED_ACCESS_RESPONSE")

    def _interactive_bank_page(self, url: str | None) -> str | None:
        """The Access sandbox's bank page approves at once (for API clients); a browser gets the bank's own page
        on this port instead, with approve and cancel, and the same `state` and return address."""
        if url is None:
            return None
        parts = urlsplit(url)
        match = re.fullmatch(r"/sandbox/bank/(DEMO000[12])/authorize", parts.path)
        if match is None:
            return url
        return f"{self.engine.base_url}/bank/{match.group(1)}/authorize?{parts.query}"


def _web_form(task: Task) -> WebForm:
    assert task.web_form is not None
    return task.web_form


def _absolute_http_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
