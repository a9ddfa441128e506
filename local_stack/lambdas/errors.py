"""What Lambda reports to the caller of an invocation: its errors, under the names Lambda gives them (Step Functions'
Retry and Catch match on those names), and its 6 MB payload quotas."""

from __future__ import annotations

import json
from typing import Any

# Lambda's synchronous payload quotas (bytes), as its errors state them.
MAX_REQUEST_BYTES = 6_291_456
MAX_RESPONSE_BYTES = 6_291_556


class FunctionError(Exception):
    """An invocation that failed the way Lambda reports it (FunctionError "Unhandled" with this errorType)."""

    error_type = "Unhandled"


class InjectedFailure(FunctionError):
    def __init__(self, error_type: str) -> None:
        super().__init__(f"{error_type}: injected by the test")
        self.error_type = error_type


class FunctionTimedOut(FunctionError):
    error_type = "Sandbox.Timedout"


class ResponseTooLarge(FunctionError):
    error_type = "Function.ResponseSizeTooLarge"


class RequestTooLarge(Exception):
    """Lambda refuses the Invoke call itself (RequestEntityTooLargeException, HTTP 413)."""


class CallerGaveUp(Exception):
    """The caller stopped waiting before the function ended (API Gateway's integration timeout)."""


def request_within_limit(event: Any) -> None:
    if len(json.dumps(event).encode()) > MAX_REQUEST_BYTES:
        raise RequestTooLarge(
            f"Request must be smaller than {MAX_REQUEST_BYTES} bytes for the InvokeFunction operation"
        )


def response_within_limit(result: Any) -> Any:
    if len(json.dumps(result).encode()) > MAX_RESPONSE_BYTES:
        raise ResponseTooLarge(
            f"Response payload size exceeded maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)."
        )
    return result
