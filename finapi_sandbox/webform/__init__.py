"""finAPI Web Form 2.0 simulator: the Web Form API, callbacks and the web form pages, beside the Access sandbox."""

from finapi_sandbox.webform.config import CallbackPolicy, WebFormConfig, WebFormFault
from finapi_sandbox.webform.server import WebFormServer

__all__ = ["CallbackPolicy", "WebFormConfig", "WebFormFault", "WebFormServer"]
