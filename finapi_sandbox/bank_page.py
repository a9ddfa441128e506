"""The test banks' own page of the redirect approach, as a browser sees it: the user allows access or cancels, and
the bank sends them back to the app's redirect URL with `state` and a `code` (or `error=access_denied`).

API clients (no `text/html` in Accept) are approved at once with a 302, so tests without a browser need no clicks."""

from __future__ import annotations

import time
from html import escape
from urllib.parse import urlencode

from finapi_sandbox.banks import BANKS
from finapi_sandbox.loopback import Answer, Request, html_answer, json_answer, see_other

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#eef1f4;color:#1d1f23}"
    "main{max-width:30rem;margin:3rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px}"
    "button{margin:1rem .5rem 0 0;padding:.5rem 1rem;font-size:1rem}"
    ":focus{outline:3px solid #1a73e8;outline-offset:2px}"
)


def wants_page(accept: str) -> bool:
    return "text/html" in accept.lower()


def answer(request: Request, blz: str) -> Answer:
    """The page (GET), or the user's decision sent back to the app (POST)."""
    fields = request.parameters if request.method == "GET" else request.form
    state, redirect = fields.get("state", ""), fields.get("redirect", "")
    if not state or not redirect.startswith(("http://", "https://")):
        return json_answer(400, {"error": "the bank page needs a state and an http(s) redirect"})
    if request.method == "GET":
        return html_answer(200, page(blz, request.path, state, redirect))
    return see_other(back_to_app(redirect, state, fields.get("decision") == "approve"))


def approve_at_once(parameters: dict[str, str]) -> Answer:
    """An API client's visit: the user allows access without a page."""
    redirect = parameters.get("redirect", "")
    if not redirect.startswith(("http://", "https://")):
        return json_answer(400, {"error": "redirect must be an http(s) URL"})
    return Answer(302, headers={"Location": back_to_app(redirect, parameters.get("state", ""), approved=True)})


def page(blz: str, action: str, state: str, redirect: str) -> str:
    name = BANKS[blz].name
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Authorize access - {escape(name)} (simulated bank)</title><style>{_STYLE}</style></head><body><main>"
        f"<p>{escape(name)} (simulated bank)</p><h1>Authorize access</h1>"
        "<p>Your app asks to read your accounts. Allow it?</p>"
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="state" value="{escape(state)}">'
        f'<input type="hidden" name="redirect" value="{escape(redirect)}">'
        '<button type="submit" name="decision" value="approve" id="approve">Allow access</button>'
        '<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>'
        "</form></main></body></html>"
    )


def back_to_app(redirect: str, state: str, approved: bool) -> str:
    parameters = {"state": state, "code": f"sandbox-{time.time_ns()}"} if approved else {"state": state}
    if not approved:
        parameters["error"] = "access_denied"
    separator = "&" if "?" in redirect else "?"
    return redirect + separator + urlencode(parameters)
