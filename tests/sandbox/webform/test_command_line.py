"""`python -m finapi_sandbox --webform-port 0` serves Web Form 2.0 beside Access, sharing its users and tokens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.webform import WebFormApi, user_token


def test_the_command_line_starts_the_web_form_server_too() -> None:
    root = Path(__file__).resolve().parents[3]
    process = subprocess.Popen(
        [sys.executable, "-m", "finapi_sandbox", "--port", "0", "--webform-port", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        access_url = process.stdout.readline().split(" on ")[1].split(" ")[0]
        webform_url = process.stdout.readline().split(" on ")[1].strip()
        token = user_token(access_url, "sandbox-client-id", "sandbox-client-secret", "demo-user", "demo-password")
        answer = WebFormApi(webform_url, token).create({"bankConnectionId": 1})
        assert answer.status_code == 201 and answer.json()["payload"]["bankConnectionId"] == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
