"""finAPI sandbox simulator: a real HTTP server on loopback that behaves like finAPI's sandbox and test banks."""

from finapi_sandbox.config import ConnectionSeed, FaultRule, SandboxConfig, UserSeed
from finapi_sandbox.server import SandboxServer

__all__ = ["ConnectionSeed", "FaultRule", "SandboxConfig", "SandboxServer", "UserSeed"]
