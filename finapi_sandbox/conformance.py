"""Every V1 request the sandbox receives and every answer it gives, checked against finAPI's official spec.

The sandbox refuses a V1 request that breaks the spec (as finAPI does) whether or not the log is on. The log, which
the test suites switch on (``SandboxConfig.check_conformance``), keeps each exchange that broke the spec, so a test
can fail on it: an answer that breaks the spec is a simulator bug; a request that breaks it is a bug in whoever sent
it (our client, unless a test sends it on purpose); a request that breaks it and was still accepted is both.

V2 (`/api/v2`) cannot be checked: there is no official V2 file in the repository (see docs/finapi-fidelity.md).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from finapi_sandbox.openapi import Problem, access_spec

# Where finAPI documents a behaviour its V1 file contradicts. Each key is explained, with finAPI's source, in
# docs/finapi-fidelity.md under the heading named by the value; a test keeps the two in step.
DOCUMENTED_DEVIATIONS: dict[tuple[str, str, str], str] = {
    # V1 types the header `format: ipv4`; finAPI's V2 documentation says a non-IPv4 value is replaced by finAPI's own
    # IPv4 address, so a client passes an IPv6 user's address on.
    ("header", "PSU-IP-Address", "format"): "PSU-IP-Address may be IPv6",
}


def is_v1(path: str) -> bool:
    return path == "/oauth/token" or path.startswith("/api/v1/")


def request_problems(
    method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes
) -> list[Problem]:
    """How a V1 request breaks the spec, documented deviations left out. ``headers`` with lower-case names."""
    problems = access_spec().check_request(method, path, query, headers, body)
    return [p for p in problems if (p.location, p.field, p.rule) not in DOCUMENTED_DEVIATIONS]


def answer_problems(method: str, path: str, status: int, headers: dict[str, str], body: bytes) -> list[Problem]:
    return access_spec().check_answer(method, path, status, headers, body)


@dataclass(frozen=True)
class Finding:
    """One exchange that broke the spec. ``status`` 0: the sandbox dropped the connection (an injected fault)."""

    kind: Literal["request", "answer"]
    operation: str
    status: int
    problems: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300 or self.status == 510

    def __str__(self) -> str:
        return f"{self.kind} {self.operation} -> {self.status}: {'; '.join(self.problems)}"


class ConformanceLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._findings: list[Finding] = []
        self.checked = 0

    def record(self, method: str, path: str, status: int, requested: list[Problem], answered: list[Problem]) -> None:
        operation = f"{method} {path}"
        with self._lock:
            self.checked += 1
            if requested:
                self._findings.append(Finding("request", operation, status, tuple(str(p) for p in requested)))
            if answered:
                self._findings.append(Finding("answer", operation, status, tuple(str(p) for p in answered)))

    def take(self) -> list[Finding]:
        """The findings since the last call (and forget them)."""
        with self._lock:
            findings, self._findings = self._findings, []
            return findings
