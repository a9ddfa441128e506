"""The web form's HTML: one step per page, plain server-rendered forms, every control labelled, usable by keyboard.

Bank texts come from the bank (German for the finAPI test banks) and are marked `lang="de"`.
"""

from __future__ import annotations

from html import escape

from finapi_sandbox.webform.state import Task, WebForm

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d1f23}"
    "main{max-width:32rem;margin:2rem auto;background:#fff;padding:1.5rem 2rem;border-radius:8px}"
    "label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.4rem;"
    "font-size:1rem}fieldset{border:1px solid #ccd;padding:.5rem 1rem}fieldset label{display:inline;margin:0 0 0 .3rem}"
    ".choice{margin:.4rem 0}.check label{display:inline;margin-left:.3rem}button,.button{margin-top:1rem;"
    "padding:.5rem 1rem;font-size:1rem}"
    "[role=alert]{background:#fdecea;border-left:4px solid #c62828;padding:.5rem 1rem}"
    ":focus{outline:3px solid #1a73e8;outline-offset:2px}.secondary{background:none;border:1px solid #888}"
)


def _page(title: str, heading: str, body: str, *, refresh: str | None = None, status_text: str = "") -> str:
    meta = f'<meta http-equiv="refresh" content="{escape(refresh)}">' if refresh else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - finAPI Web Form (sandbox)</title>{meta}<style>{_STYLE}</style></head>"
        f"<body><main><p>{escape(heading)}</p><h1>{escape(title)}</h1>{status_text}{body}</main></body></html>"
    )


def _notice(web_form: WebForm) -> str:
    return f'<p role="alert" lang="de">{escape(web_form.notice)}</p>' if web_form.notice else ""


def _csrf(web_form: WebForm) -> str:
    return f'<input type="hidden" name="csrf" value="{escape(web_form.csrf or "")}">'


def _abort(web_form: WebForm) -> str:
    return (
        f'<form method="post" action="/wf/{escape(web_form.id)}/abort">{_csrf(web_form)}'
        '<button type="submit" class="secondary" id="abort">Cancel and return</button></form>'
    )


def step_page(task: Task, web_form: WebForm, refresh_seconds: int, final_redirect_seconds: int) -> str:
    heading = f"{task.bank_name}: update your bank connection"
    step = web_form.step
    action = f"/wf/{escape(web_form.id)}"
    if step == "credentials":
        body = (
            f'{_notice(web_form)}<form method="post" action="{action}/credentials">{_csrf(web_form)}'
            '<label for="user-id">Onlinebanking-ID</label>'
            '<input type="text" id="user-id" name="userId" autocomplete="username" required autofocus>'
            '<label for="pin">PIN</label>'
            '<input type="password" id="pin" name="pin" autocomplete="current-password" required>'
            '<p class="check"><input type="checkbox" id="store-secrets" name="storeSecrets" value="true">'
            '<label for="store-secrets">Save my PIN at finAPI for later updates</label></p>'
            '<button type="submit" id="submit">Log in</button></form>'
        )
        return _page("Log in to your bank", heading, body + _abort(web_form))
    challenge = web_form.challenge
    if step == "procedure" and challenge is not None:
        choices = "".join(
            f'<div class="choice"><input type="radio" name="procedureId" id="procedure-{escape(p["procedureId"])}" '
            f'value="{escape(p["procedureId"])}"{" checked" if index == 0 else ""}>'
            f'<label for="procedure-{escape(p["procedureId"])}">{escape(p["procedureName"])}</label></div>'
            for index, p in enumerate(challenge.procedures)
        )
        body = (
            f'{_notice(web_form)}<form method="post" action="{action}/procedure">{_csrf(web_form)}'
            f"<fieldset><legend>Choose how to confirm</legend>{choices}</fieldset>"
            '<button type="submit" id="submit">Continue</button></form>'
        )
        return _page("Choose a TAN procedure", heading, body + _abort(web_form))
    if step == "challenge" and challenge is not None:
        label = challenge.answer_label or "TAN"
        instructions = ""
        if challenge.message and challenge.message != web_form.notice:
            instructions = f'<p lang="de" id="challenge-message">{escape(challenge.message)}</p>'
        picture = ""
        if challenge.photo_data and challenge.photo_mime_type:
            picture = (
                f'<img src="data:{escape(challenge.photo_mime_type)};base64,{escape(challenge.photo_data)}" '
                'alt="Scan this code with your TAN app" width="120" height="120">'
            )
        if challenge.optical_data:
            picture = f"<p>Flicker code for your TAN generator: <code>{escape(challenge.optical_data)}</code></p>"
        body = (
            f'{_notice(web_form)}{instructions}{picture}<form method="post" action="{action}/challenge">'
            f'{_csrf(web_form)}<label for="tan">{escape(label)}</label>'
            '<input type="text" id="tan" name="challengeResponse" inputmode="numeric" autocomplete="one-time-code" '
            'required autofocus><button type="submit" id="submit">Confirm</button></form>'
        )
        return _page("Enter your TAN", heading, body + _abort(web_form))
    if step == "decoupled":
        message = challenge.message if challenge and challenge.message else ""
        body = (
            f'<p role="status" lang="de" id="decoupled-message">{escape(message)}</p>'
            "<p>Confirm the access in your banking app. This page checks again by itself.</p>"
            f'<form method="post" action="{action}/decoupled">{_csrf(web_form)}'
            '<button type="submit" id="submit">I have confirmed</button></form>'
        )
        return _page(
            "Confirm in your banking app",
            heading,
            body + _abort(web_form),
            refresh=str(refresh_seconds),
        )
    if step == "redirect" and challenge is not None and challenge.redirect_url:
        body = (
            f"<p>{escape(task.bank_name)} asks you to log in on its own page. You will come back here afterwards.</p>"
            f'<p><a class="button" id="to-bank" href="{escape(challenge.redirect_url)}">'
            f"Continue to {escape(task.bank_name)}</a></p>"
        )
        return _page("Log in at your bank", heading, body + _abort(web_form))
    if step == "downloading":
        body = '<p role="status" id="downloading">Your accounts are being updated. This page refreshes by itself.</p>'
        return _page("Updating your accounts", heading, body, refresh=str(refresh_seconds))
    return final_page(task, web_form, final_redirect_seconds)


def final_page(task: Task, web_form: WebForm, final_redirect_seconds: int) -> str:
    heading = f"{task.bank_name}: update your bank connection"
    support = ""
    if web_form.customer_support_url:
        support = f'<p><a id="support" href="{escape(web_form.customer_support_url)}">Contact customer support</a></p>'
    if web_form.status == "COMPLETED":
        if web_form.redirect_url:
            target = escape(web_form.redirect_url)
            body = (
                '<p role="status" id="result">Your accounts are up to date.</p>'
                f'<p><a id="back" href="{target}">Back to the application</a></p>'
            )
            return _page("Done", heading, body, refresh=f"{final_redirect_seconds};url={web_form.redirect_url}")
        body = '<p role="status" id="result">Your accounts are up to date. You can close this page now.</p>'
        return _page("Done", heading, body)
    if web_form.status == "ABORTED":
        body = '<p role="status" id="result">You cancelled the update. You can close this page now.</p>'
        return _page("Cancelled", heading, body + support)
    if web_form.status == "EXPIRED":
        body = '<p role="status" id="result">This web form has expired. Please start the update again.</p>'
        return _page("Expired", heading, body + support)
    reason = f'<p role="alert" lang="de" id="bank-message">{escape(web_form.notice)}</p>' if web_form.notice else ""
    back = ""
    if web_form.error_redirect_url:
        back = f'<p><a id="back" href="{escape(web_form.error_redirect_url)}">Back to the application</a></p>'
    body = f'{reason}<p id="result">The update could not be completed ({escape(web_form.error_code or "")}).</p>'
    return _page("Update failed", heading, body + back + support)


def refused_page(title: str, message: str) -> str:
    return _page(title, "finAPI Web Form", f'<p role="alert">{escape(message)}</p>')


def bank_page(bank_name: str, action: str, state: str, redirect: str) -> str:
    """The simulated bank's own login page of the redirect approach: approve or cancel, then back."""
    hidden = (
        f'<input type="hidden" name="state" value="{escape(state)}">'
        f'<input type="hidden" name="redirect" value="{escape(redirect)}">'
    )
    body = (
        f"<p>{escape(bank_name)} asks you to allow access to your accounts.</p>"
        f'<form method="post" action="{escape(action)}">{hidden}'
        '<button type="submit" name="decision" value="approve" id="approve">Allow access</button> '
        '<button type="submit" name="decision" value="cancel" id="cancel" class="secondary">Cancel</button></form>'
    )
    return _page("Authorize access", f"{bank_name} (simulated bank)", body)
