"""The AWS side of the simulation: the quota buckets and Lambda's pools (local_stack/quotas.py), and what each quota
met: calls refused, refused calls that later went through, calls that failed for good, and when each first bound."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from local_stack.quotas import ConcurrencyPool, Quotas, TokenBucket

RATE_KEYS = (
    "stepfunctions.StartExecution.standard",
    "stepfunctions.StartExecution.express",
    "stepfunctions.SendTaskSuccess",
    "stepfunctions.SendTaskFailure",
    "stepfunctions.SendTaskHeartbeat",
    "stepfunctions.DescribeExecution",
    "stepfunctions.StateTransition.standard",
    "kms.symmetric",
    "events.PutEvents",
    "apigateway.account",
    "apigateway.stage",
    "dynamodb.partition.write",
)


@dataclass
class _Function:
    envs: int = 0  # execution environments made so far (kept warm for the run)
    in_flight: int = 0
    limit: int | None = None  # reserved concurrency or its event source's maximum
    reserved: bool = False  # reserved concurrency: its own pool, not the account's
    scaling: TokenBucket | None = None


@dataclass
class AwsPlane:
    quotas: Quotas
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    account: ConcurrencyPool = field(init=False)
    functions: dict[str, _Function] = field(default_factory=lambda: defaultdict(_Function))
    met: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    absorbed: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    failed: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    first_refusal: dict[str, float] = field(default_factory=dict)
    taken: dict[tuple[str, int], float] = field(
        default_factory=lambda: defaultdict(float)
    )  # tokens taken per quota and minute
    peak_concurrency: int = 0
    peak_by_function: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.buckets = {key: self.quotas.bucket(key) for key in RATE_KEYS}
        self.account = self.quotas.pool("lambda.concurrency")
        for key, spec in self.quotas.specs.items():
            if key.startswith("lambda.function."):
                function = self.functions[key.removeprefix("lambda.function.")]
                function.limit, function.reserved = int(spec.size), spec.reserved

    def refused(self, key: str, now: float, n: float = 1) -> None:
        self.met[key] += n
        self.first_refusal.setdefault(key, now)

    def take(self, key: str, now: float, n: float = 1) -> bool:
        if self.buckets[key].take(now, n):
            self.taken[(key, math.floor(now / 60))] += n
            return True
        self.refused(key, now, n)
        return False

    def take_up_to(self, key: str, now: float, n: int) -> int:
        """As many of ``n`` calls as the bucket serves now (a cohort of updates making the same call)."""
        granted = min(n, math.floor(self.buckets[key].available(now) + 1e-9))
        if granted:
            self.buckets[key].take(now, granted)
            self.taken[(key, math.floor(now / 60))] += granted
        if granted < n:
            self.refused(key, now, n - granted)
        return granted

    def invoke(self, function: str, now: float, n: int = 1) -> int:
        """Start up to ``n`` executions of ``function``: account concurrency, the function's own cap, and its scaling
        rate for environments it has not made yet. Returns how many started; the rest got TooManyRequestsException."""
        state = self.functions[function]
        if state.scaling is None:
            state.scaling = self.quotas.bucket("lambda.scaling")
        room = n if state.reserved else min(n, self.account.free)
        if state.limit is not None:
            room = min(room, state.limit - state.in_flight)
        new_envs = max(0, state.in_flight + room - state.envs)
        if new_envs:
            allowed = min(new_envs, math.floor(state.scaling.available(now) + 1e-9))
            state.scaling.take(now, allowed)
            room -= new_envs - allowed
            state.envs += allowed
        room = max(0, room)
        if room:
            if not state.reserved:
                self.account.acquire(room)
            state.in_flight += room
            self.peak_concurrency = max(self.peak_concurrency, self.account.in_use + self._reserved_in_use())
            self.peak_by_function[function] = max(self.peak_by_function[function], state.in_flight)
        if room < n:
            self.refused("lambda.concurrency", now, n - room)
        return room

    def release(self, function: str, n: int = 1) -> None:
        state = self.functions[function]
        state.in_flight -= n
        if not state.reserved:
            self.account.release(n)

    @property
    def concurrency_limit(self) -> int:
        """The account's concurrency: the unreserved pool and every function's reservation."""
        return self.account.limit + sum(f.limit or 0 for f in self.functions.values() if f.reserved)

    def _reserved_in_use(self) -> int:
        return sum(f.in_flight for f in self.functions.values() if f.reserved)

    def busiest_minute_share(self, key: str) -> float:
        """The largest share of a quota's refill that one minute used (1.0: the whole steady rate)."""
        spec = self.quotas.spec(key)
        minutes = [n for (k, _), n in self.taken.items() if k == key]
        if not minutes or spec.refill_per_second == 0:
            return 0.0
        return max(minutes) / (spec.refill_per_second * 60)
