"""Everything that makes a sandbox scenario, as data: knobs, faults and the seeded world (JSON files or code)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from finapi_sandbox.ledger import FeedConfig


class StrictModel(BaseModel):
    """Refuses a field it does not have: a misspelt knob in a scenario or a control call is an error, not a default."""

    model_config = ConfigDict(extra="forbid")


class HttpFault(StrictModel):
    """An injected fault on the requests whose method and path (a substring) match, ``times`` times or for good.

    ``status`` can only be 500: the one error finAPI's specs declare for every operation (an injected 502/503 would be
    an answer finAPI never gives). Timeouts are ``delay_seconds``, broken connections ``drop``.
    """

    method: str | None = None
    path: str | None = None
    status: Literal[500] | None = None
    delay_seconds: float = Field(0.0, ge=0, le=120)
    drop: bool = False
    times: int | None = Field(None, ge=1)


class FaultRule(HttpFault):
    """A fault on finAPI Access, also for one connection only, before or after the sandbox does the work (an answer
    lost after the update started), with a probability; 423 is ``lock``."""

    connection_id: int | None = None
    lock: bool = False
    when: Literal["before", "after"] = "before"
    probability: float = Field(1.0, ge=0, le=1)


class ConnectionSeed(StrictModel):
    id: int | None = None
    bank_blz: Literal["DEMO0001", "DEMO0002"] = "DEMO0001"
    stored_pin: bool = False
    consent_days_left: float | None = 90.0  # None: no consent (the first update needs the PIN)
    imported_account_count: int = Field(2, ge=0, le=3)
    download_seconds: float | None = None
    failing_account_indexes: list[int] = []
    user_action_required: bool = False
    # Stands for a mandator on finAPI's old (V1) Web Form: an update that needs the user answers 451 (V1 only).
    legacy_web_form: bool = False
    # The redirect bank's page as its 510 names it (None: the sandbox's own page). Anything goes, e.g.
    # "javascript:alert(1)": a finAPI answering hostile URLs, for tests that clients never make them links.
    bank_page_url: str | None = Field(None, max_length=2048)


class UserSeed(StrictModel):
    username: str
    password: str
    connections: list[ConnectionSeed] = []


class SandboxConfig(StrictModel):
    client_id: str = "sandbox-client-id"
    client_secret: str = "sandbox-client-secret"
    token_ttl_seconds: int = Field(3600, ge=1)
    download_seconds: float = Field(2.0, ge=0)
    categorization_seconds: float = Field(1.0, ge=0)
    decoupled_in_progress_polls: int = Field(2, ge=0)
    # finAPI: repeat a decoupled confirmation "at most every 5 seconds" (some banks limit requests per minute).
    decoupled_min_interval_seconds: float = Field(5.0, ge=0)
    challenge_ttl_seconds: float = Field(600.0, gt=0)
    max_tan_attempts: int = Field(3, ge=1)
    unattended_daily_limit: int = Field(4, ge=0)
    consent_days: int = Field(90, ge=1)
    correct_tan: str = "123456"
    rng_seed: int = 7  # also the seed of every account's bookings and of finAPI's transaction ids (ledger.py)
    transaction_feed: FeedConfig = Field(default_factory=FeedConfig)
    # Keep every V1 exchange that breaks finAPI's official spec (finapi_sandbox/conformance.py); tests switch it on.
    check_conformance: bool = False
    # A PSU-IP-Address that is no IPv4 address: finAPI's V2 documentation says finAPI replaces it with its own IPv4
    # address ("replaced", the user still counts as present); its V1 spec types the header `format: ipv4`, so a finAPI
    # that applies the spec answers 400 BAD_REQUEST naming the header ("refused"). Which one finAPI does is unconfirmed
    # (docs/finapi-fidelity.md): the client must cope with both.
    psu_ipv6: Literal["replaced", "refused"] = "replaced"
    faults: list[FaultRule] = []
    users: list[UserSeed] = []

    @classmethod
    def default(cls) -> SandboxConfig:
        return cls.from_file(Path(__file__).with_name("scenarios") / "default.json")

    @classmethod
    def from_file(cls, path: str | Path) -> SandboxConfig:
        return cls.model_validate_json(Path(path).read_text())
