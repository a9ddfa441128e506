"""Run the SAM application locally without Docker or AWS: moto (server mode) + in-process handlers + HTTP API."""

from local_stack.frontend import FrontEnd
from local_stack.stack import LocalStack

__all__ = ["FrontEnd", "LocalStack"]
