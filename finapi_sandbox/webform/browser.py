"""What a user's browser sees: the web form's pages (`/wf/{id}`), the return from the bank (`/callback`) and the
simulated bank's own page of the redirect approach (`/bank/{blz}/authorize`, approve or cancel)."""

from __future__ import annotations

import re

from finapi_sandbox import bank_page
from finapi_sandbox.banks import BANKS
from finapi_sandbox.loopback import Answer, Request, html_answer, see_other
from finapi_sandbox.webform import pages
from finapi_sandbox.webform.flow import WebFormFlow
from finapi_sandbox.webform.problems import PageRefused
from finapi_sandbox.webform.state import FINAL_WEB_FORM_STATUSES, Task

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_PAGE = re.compile(rf"^/wf/({_UUID})(?:/(credentials|procedure|challenge|decoupled|abort))?$")
_BANK = re.compile(r"^/bank/(DEMO000[12])/authorize$")
_COOKIE = "wf_session"


def browser_answer(flow: WebFormFlow, request: Request) -> Answer:
    try:
        page = _PAGE.match(request.path)
        if page:
            return _web_form_page(flow, request, page.group(1), page.group(2))
        if request.path == "/callback" and request.method == "GET":
            return _back_from_bank(flow, request)
        bank = _BANK.match(request.path)
        if bank:
            return _bank(request, bank.group(1))
        raise PageRefused(404, "Not found", "There is no page here.")
    except PageRefused as refused:
        return _html(refused.status, pages.refused_page(refused.title, refused.message))


def _html(status: int, html: str, headers: dict[str, str] | None = None) -> Answer:
    return html_answer(status, html, (headers or {}) | {"Cache-Control": "no-store"})


def _web_form_page(flow: WebFormFlow, request: Request, web_form_id: str, action: str | None) -> Answer:
    task = flow.engine.task_by_web_form(web_form_id)
    if task is None or task.web_form is None:
        raise PageRefused(404, "Web form not found", "This web form does not exist.")
    web_form = task.web_form
    with task.lock:
        if request.method == "GET" and action is None:
            session = flow.open(task, _cookie(request), request.parameters, _psu(request))
            if web_form.status not in FINAL_WEB_FORM_STATUSES:
                flow.refresh(task)
            cookie = {}
            if session is not None:
                cookie = {"Set-Cookie": f"{_COOKIE}={session}; Path=/wf/{web_form.id}; HttpOnly; SameSite=Lax"}
            config = flow.engine.config
            html = pages.step_page(task, web_form, config.page_refresh_seconds, config.final_redirect_seconds)
            return _html(200, html, cookie)
        if request.method != "POST" or action is None:
            raise PageRefused(405, "Not allowed", "This page only takes form submissions.")
        form = request.form
        if _cookie(request) != web_form.session or form.get("csrf") != web_form.csrf or web_form.session is None:
            raise PageRefused(403, "Not allowed", "This form does not belong to your browser session.")
        _submit(flow, task, action, form)
    return see_other(f"/wf/{web_form.id}")


def _submit(flow: WebFormFlow, task: Task, action: str, form: dict[str, str]) -> None:
    if action == "credentials":
        flow.submit_credentials(task, form.get("userId", ""), form.get("pin", ""), form.get("storeSecrets") == "true")
    elif action == "procedure":
        flow.choose_procedure(task, form.get("procedureId", ""))
    elif action == "challenge":
        flow.answer_challenge(task, form.get("challengeResponse", ""))
    elif action == "decoupled":
        flow.confirm_decoupled(task)
    elif action == "abort":
        flow.abort(task)


def _back_from_bank(flow: WebFormFlow, request: Request) -> Answer:
    state = request.parameters.get("state", "")
    task = flow.engine.task_by_redirect_context(state) if state else None
    if task is None or task.web_form is None:
        raise PageRefused(404, "Unknown return", "The bank sent you back with an unknown state.")
    with task.lock:
        flow.return_from_bank(task, request.query)
    return see_other(f"/wf/{task.web_form.id}")


def _bank(request: Request, blz: str) -> Answer:
    if request.method == "GET":
        parameters = request.parameters
        state, redirect = parameters.get("state", ""), parameters.get("redirect", "")
        if not state or not redirect.startswith(("http://", "https://")):
            raise PageRefused(400, "Bad request", "The bank page needs a state and an http(s) redirect.")
        return _html(200, pages.bank_page(BANKS[blz].name, request.path, state, redirect))
    form = request.form
    redirect = form.get("redirect", "")
    if not redirect.startswith(("http://", "https://")):
        raise PageRefused(400, "Bad request", "The bank page needs an http(s) redirect.")
    return see_other(bank_page.back_to_app(redirect, form.get("state", ""), form.get("decision") == "approve"))


def _cookie(request: Request) -> str | None:
    for part in request.headers.get("Cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == _COOKIE:
            return value
    return None


def _psu(request: Request) -> dict[str, str]:
    agent = request.headers.get("User-Agent", "")
    systems = (("Android", "Android"), ("iPhone", "iOS"), ("Windows", "Windows"), ("Mac OS", "macOS"))
    device = next((name for marker, name in systems if marker in agent), "Linux" if "Linux" in agent else "unknown")
    return {"ipAddress": request.client_ip, "deviceOs": device, "userAgent": agent[:1024] or "unknown"}
