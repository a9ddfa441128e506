"""The production-ratio slice (see test_production_timing.py) in Web Form 2.0 mode: a callback finAPI loses is made up
for by the wait's fallback poll, at production's ratios."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from samtranslator.yaml_helper import yaml_parse

from tests.conftest import ROOT, BankUser, running_stack
from tests.support.scaled import FACTOR, environment_names, scaled_parameters, scaled_settings, scaled_template
from tests.workflow.test_webform_mode import complete_web_form, user_waits

TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())


@pytest.fixture(scope="module")
def stack(sandbox: Any, webform_sandbox: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    template = scaled_template(tmp_path_factory.mktemp("scaled-webform"), FACTOR)
    parameters = scaled_parameters(TEMPLATE["Parameters"], FACTOR)
    parameters |= {"Integration": "WEB_FORM", "WebFormBaseUrl": webform_sandbox.base_url}
    with running_stack(
        sandbox,
        template=template,
        time_scale=FACTOR,
        wait_scale=1.0,
        retry_scale=FACTOR,
        env=scaled_settings(environment_names(TEMPLATE), FACTOR),
        parameter_overrides=parameters,
    ) as local:
        yield local


@pytest.fixture
def callbacks(webform_sandbox: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=webform_sandbox.base_url, timeout=10) as client:
        client.delete("/sandbox/callbacks")
        yield client
        client.delete("/sandbox/callbacks")


def test_one_lost_callback_is_made_up_for_by_the_fallback_poll(new_user: Any, stack: Any, callbacks: Any) -> None:
    # Given an update waiting for its user in finAPI's web form, and finAPI losing every callback from now on
    user: BankUser = new_user(consent_expires_at=None)
    started = user.api.trigger(user.connections["DEMO0001"], {})
    waiting = user.api.wait_for(started.json()["updateId"], {"AUTHENTICATION_REQUIRED"}, timeout=60)
    assert callbacks.post("/sandbox/callbacks/policy", json={"drop": True}).status_code == 201
    # When the user completes the form
    complete_web_form(waiting["authentication"]["webFormUrl"])
    # Then the wait for the user runs into its fallback poll (60 s, scaled) and the update succeeds
    done = user.api.wait_for(waiting["updateId"], {"SUCCEEDED"}, timeout=90)
    assert done["status"] == "SUCCEEDED"
    assert user_waits(stack, waiting["updateId"])[-1] == "TaskTimedOut"
    assert any(c["kind"] == "finalised" and c["dropped"] for c in callbacks.get("/sandbox/callbacks").json())
