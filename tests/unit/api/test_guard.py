"""What every HTTP request must be before anything parses it (api.guard, no I/O)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from bankupdate.api.guard import MAX_BODY_BYTES, MAX_DEPTH, checked_event
from bankupdate.api.statuses import http_status_of
from bankupdate.domain.errors import BankUpdateError


def event(body: str | None, *, method: str = "POST", content_type: str = "application/json", raw: bool = False) -> Any:
    return {
        "requestContext": {"http": {"method": method}},
        "headers": {"content-type": content_type},
        "body": body,
        "isBase64Encoded": raw,
    }


def refused(request: Any) -> BankUpdateError:
    with pytest.raises(BankUpdateError) as caught:
        checked_event(request)
    return caught.value


def test_a_plain_json_body_passes_unchanged() -> None:
    checked = checked_event(event('{"interface": "XS2A"}'))
    assert checked["body"] == '{"interface": "XS2A"}' and checked["isBase64Encoded"] is False


def test_a_lone_surrogate_is_refused_naming_the_field() -> None:
    # Given a PIN that is valid JSON but not encodable Unicode ("\ud800")
    body = '{"loginCredentials": [{"label": "PIN", "value": "\\ud800"}]}'
    # Then it is a 422 naming the field, before it can reach finAPI (the value itself is never echoed)
    error = refused(event(body))
    assert (http_status_of(error), error.code) == (422, "INVALID_REQUEST")
    assert "loginCredentials[0].value" in error.message and "ud800" not in json.dumps(error.details)


def test_invalid_utf8_is_a_400() -> None:
    raw = base64.b64encode(b'{"interface": "\xff\xfe"}').decode()
    error = refused(event(raw, raw=True))
    assert (http_status_of(error), error.code) == (400, "MALFORMED_REQUEST") and "UTF-8" in error.message


def test_base64_bodies_that_are_utf8_json_are_decoded() -> None:
    raw = base64.b64encode(b'{"enabled": true}').decode()
    assert checked_event(event(raw, raw=True))["body"] == '{"enabled": true}'


def test_deep_nesting_is_refused_before_the_parser_recurses() -> None:
    error = refused(event("[" * 5000 + "]" * 5000))
    assert (http_status_of(error), error.code) == (400, "MALFORMED_REQUEST") and str(MAX_DEPTH) in error.message


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    assert checked_event(event(json.dumps({"label": "[" * 100})))


def test_an_oversized_body_is_a_413() -> None:
    error = refused(event(json.dumps({"x": "a" * (MAX_BODY_BYTES + 1)})))
    assert (http_status_of(error), error.code) == (413, "PAYLOAD_TOO_LARGE")


def test_a_body_that_is_not_json_is_a_400() -> None:
    error = refused(event("{not json"))
    assert (http_status_of(error), error.code) == (400, "MALFORMED_REQUEST")


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/x-www-form-urlencoded"])
def test_a_body_of_another_media_type_is_a_415(content_type: str) -> None:
    error = refused(event('{"enabled": true}', content_type=content_type))
    assert (http_status_of(error), error.code) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_a_charset_parameter_is_fine() -> None:
    assert checked_event(event("{}", content_type="application/json; charset=utf-8"))


def test_an_empty_body_needs_no_media_type() -> None:
    assert checked_event(event("", content_type=""))["body"] is None


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ('{"interface": "XS2A", "interface": "FINTS_SERVER"}', "interface"),
        ('{"enabled": false, "enabled": true}', "enabled"),
        ('{"loginCredentials": [{"label": "PIN", "value": "1", "value": "2"}], "interface": "XS2A"}', "value"),
    ],
)
def test_a_key_given_twice_is_a_400_naming_it(body: str, key: str) -> None:
    # Given a body with one key twice (a JSON parser would keep the last one silently)
    # When the guard checks it
    error = refused(event(body))
    # Then it is refused, naming the key, and no value is echoed
    assert (http_status_of(error), error.code) == (400, "MALFORMED_REQUEST")
    assert f'"{key}"' in error.message and error.details["field"] == key
    assert "FINTS_SERVER" not in error.message and '"2"' not in json.dumps(error.details)


def test_the_same_key_in_different_objects_is_fine() -> None:
    body = '{"loginCredentials": [{"label": "a", "value": "1"}, {"label": "b", "value": "2"}], "interface": "XS2A"}'
    assert checked_event(event(body))["body"] == body
