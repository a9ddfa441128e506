import pytest
from pydantic import ValidationError

from bankupdate.api.models import TriggerUpdateRequest

CREDENTIALS = [{"label": "PIN", "value": "1234"}]


def test_credentials_without_interface_are_refused_naming_interface() -> None:
    # Given a trigger with login credentials but no interface
    # When it is validated
    with pytest.raises(ValidationError) as refused:
        TriggerUpdateRequest.model_validate({"loginCredentials": CREDENTIALS})
    # Then the one problem is the missing interface, and the PIN is not echoed
    problems = refused.value.errors()
    assert [(p["loc"], p["msg"]) for p in problems] == [(("interface",), "required when loginCredentials are given")]
    assert "1234" not in str(refused.value)


def test_credentials_with_interface_and_interface_alone_are_fine() -> None:
    assert TriggerUpdateRequest.model_validate({"interface": "XS2A", "loginCredentials": CREDENTIALS}).interface
    assert TriggerUpdateRequest.model_validate({}).interface is None
