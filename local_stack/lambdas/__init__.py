"""Lambda functions run in-process: moto's Lambda backend hands every invocation to the real handler.

Each invocation runs in a thread of its own with the function's role as the caller of every AWS call it makes, and
is held to Lambda's limits: past its ``Timeout`` the caller gets Lambda's timeout error and the invocation is
abandoned (its next AWS or HTTP call ends it, as Lambda's freeze would; its environment is not reused), and request
and response payloads above 6 MB are refused.

The runtime (``runtime``), a function's environments and context (``function``), Lambda's errors and quotas
(``errors``), the functions' logs (``logs``) and moto's hand-off to the runtime (``moto_backend``). What the tests
and the bench use is exported here; the stack's own modules import from the module that defines it.
"""

from local_stack.lambdas.errors import MAX_REQUEST_BYTES, FunctionTimedOut, RequestTooLarge, ResponseTooLarge
from local_stack.lambdas.function import LocalFunction
from local_stack.lambdas.logs import LogCapture
from local_stack.lambdas.runtime import FunctionRuntime

__all__ = [
    "MAX_REQUEST_BYTES",
    "FunctionRuntime",
    "FunctionTimedOut",
    "LocalFunction",
    "LogCapture",
    "RequestTooLarge",
    "ResponseTooLarge",
]
