"""finAPI sandbox simulator: a real HTTP server on loopback that behaves like finAPI's sandbox and test banks.

A request's way: `server.py` serves it over `loopback.py` (the HTTP both simulators share; Web Form 2.0 is `webform/`);
`exchange.py` gives it its request id, faults and log entries, `routes.py` the endpoint: `tokens.py`, `updates.py`
(the bank's login in `authentication.py`) or `reads.py`, working on `world.py` (`state.py`, `ledger.py`) and answering
through `render.py`. `/sandbox/...` is `controls.py`; `openapi.py` and `conformance.py` hold every V1 exchange to
finAPI's spec. What it models and where it guesses: docs/finapi-fidelity.md.
"""

from finapi_sandbox.config import ConnectionSeed, FaultRule, SandboxConfig, UserSeed
from finapi_sandbox.server import SandboxServer

__all__ = ["ConnectionSeed", "FaultRule", "SandboxConfig", "SandboxServer", "UserSeed"]
