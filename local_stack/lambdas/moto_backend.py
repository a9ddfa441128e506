"""Where moto's Lambda backend meets the runtime: every Invoke moto receives (boto3's, Step Functions' Lambda tasks)
runs the real handler in-process, and the answer carries Lambda's error shape (``x-amz-function-error``)."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from typing import Any
from unittest import mock

from moto.awslambda_simple.models import LambdaSimpleBackend

from local_stack.lambdas.errors import FunctionError
from local_stack.lambdas.function import LocalFunction


def invocations_handed_to(
    find: Callable[[str], LocalFunction | None], invoke: Callable[[LocalFunction, Any], Any]
) -> Any:
    """A patch of moto's Lambda backend: ``find`` a function by name, ``invoke`` it (Lambda's errors raised)."""

    def handed_over(
        backend: LambdaSimpleBackend,
        function_name: str,
        qualifier: Any,
        body: Any,
        headers: Any,
        response_headers: Any,
    ) -> bytes:
        name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
        function = find(name)
        if function is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ResourceNotFoundException", "errorMessage": name}).encode()
        payload = json.loads(body) if body else {}
        try:
            result = invoke(function, payload)
        except FunctionError as error:  # Lambda's own errors carry Lambda's names
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": error.error_type, "errorMessage": str(error)}).encode()
        except Exception as error:  # Lambda reports the class name: that is what ASL Retry/Catch match on
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(
                {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "stackTrace": traceback.format_tb(error.__traceback__)[-5:],
                }
            ).encode()
        return json.dumps(result).encode()

    return mock.patch.object(LambdaSimpleBackend, "invoke", handed_over)
