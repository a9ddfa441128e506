"""The template's HTTP API on loopback: routes from the translated OpenAPI body, payload v2.0 events, and local
stand-ins for the JWT authorizer (tokens this stack issues) and for AWS_IAM (SigV4 with the stack's credentials).

As API Gateway: a function is invoked only if its resource-based policy lets apigateway.amazonaws.com in for this
route's ARN, a function error is a bare 500, and an integration still running at 30 s is a bare 503.

CORS (``x-amazon-apigateway-cors``, the template's ``CorsConfiguration``) as HTTP APIs do it: a preflight (OPTIONS with
``Origin`` and ``Access-Control-Request-Method``) is answered by the API itself, before any authorizer, unless a route
of method OPTIONS or ANY takes it (AWS documents that the ``$default`` route catches OPTIONS requests; an ANY route
does the same); an integration's answer to an allowed origin gets the configured headers, and the function's own
CORS headers are dropped. Without a configuration a preflight is an ordinary request: it meets the route table, and
with no OPTIONS route that is API Gateway's 404.

Routing and serving (``gateway``), the authorizers (``authorizers``), CORS (``cors``) and the Lambda payload format
(``payload``). What the tests, the bench and ``make local`` use is exported here.
"""

from local_stack.credentials import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY
from local_stack.http_api.gateway import HttpApi

__all__ = ["LOCAL_ACCESS_KEY", "LOCAL_SECRET_KEY", "HttpApi"]
