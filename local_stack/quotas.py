"""AWS's throttling quotas as token buckets and concurrency pools: one model for the local stack and the scale bench.

Pure and dependency-free (standard library only), and clocked by the caller: every call takes ``now`` in seconds, so
the local stack can pass ``time.monotonic()`` and a simulation its own virtual time. What each quota's default is,
where AWS documents it and what a refused call gets back is in ``local_stack/quota_table.py``.

    quotas = Quotas.default("eu-central-1", other_workloads_concurrency=200)
    bucket = quotas.bucket("stepfunctions.StartExecution.standard")
    if not bucket.take(now):
        raise quotas.refusal("stepfunctions.StartExecution.standard")   # ThrottlingException, HTTP 400
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from local_stack.quota_table import REGIONAL_DEFAULTS, SPECS, QuotaKind, QuotaSpec, Refusal

# "You can reserve up to the Unreserved account concurrency value minus 100": Lambda keeps 100 for the functions
# without a reservation (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
MIN_UNRESERVED_CONCURRENCY = 100

__all__ = ["ConcurrencyPool", "QuotaKind", "QuotaSpec", "Quotas", "Refusal", "Throttled", "TokenBucket"]


class Throttled(Exception):
    """A call AWS refused for a quota: carries the error AWS answers with."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.service}: {refusal.error_code} ({refusal.http_status}) {refusal.message}")
        self.refusal = refusal


@dataclass
class TokenBucket:
    """AWS's token bucket: ``size`` tokens at most, ``refill_per_second`` added continuously; a call takes one.

    Starts full (an idle account has its whole burst). Time never runs backwards for a bucket: a ``now`` earlier than
    the last one seen refills nothing (callers on several threads may read the clock in any order)."""

    size: float
    refill_per_second: float
    tokens: float = field(default=math.nan)
    last: float | None = None

    def __post_init__(self) -> None:
        if self.size <= 0 or self.refill_per_second < 0:
            raise ValueError("a bucket needs a positive size and a refill rate of at least zero")
        if math.isnan(self.tokens):
            self.tokens = self.size

    def _refill(self, now: float) -> None:
        if self.last is not None and now > self.last:
            self.tokens = min(self.size, self.tokens + (now - self.last) * self.refill_per_second)
        if self.last is None or now > self.last:
            self.last = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self.tokens

    def take(self, now: float, n: float = 1) -> bool:
        """Take ``n`` tokens if the bucket has them (all or nothing: a refused call takes none)."""
        self._refill(now)
        if self.tokens + 1e-9 >= n:
            self.tokens = max(0.0, self.tokens - n)
            return True
        return False

    def seconds_until(self, now: float, n: float = 1) -> float:
        """How long until ``n`` tokens are there (0 if they are now; infinite if they never come)."""
        missing = n - self.available(now)
        if missing <= 1e-9:
            return 0.0
        if self.refill_per_second == 0 or n > self.size:
            return math.inf
        return missing / self.refill_per_second


@dataclass
class ConcurrencyPool:
    """Lambda's concurrency: at most ``limit`` executions at once; one that ends gives its place back."""

    limit: int
    in_use: int = 0
    peak: int = 0

    def acquire(self, n: int = 1) -> bool:
        if self.in_use + n > self.limit:
            return False
        self.in_use += n
        self.peak = max(self.peak, self.in_use)
        return True

    def release(self, n: int = 1) -> None:
        if n > self.in_use:
            raise ValueError(f"released {n} of {self.in_use} executions")
        self.in_use -= n

    @property
    def free(self) -> int:
        return self.limit - self.in_use


@dataclass(frozen=True)
class Quotas:
    """The quotas in force for one account and region: the documented defaults, with the operator's overrides."""

    region: str
    specs: Mapping[str, QuotaSpec]

    @classmethod
    def default(
        cls,
        region: str = "eu-central-1",
        *,
        other_workloads_concurrency: int = 0,
        function_limits: Mapping[str, int] | None = None,
        reserved: Mapping[str, int] | None = None,
        stage: str = "prod",
    ) -> Quotas:
        """The defaults AWS documents for ``region``, less the Lambda concurrency other workloads of the account
        hold (a parameter: the account's 1,000 are shared), with a ``lambda.function.<name>`` pool per function whose
        concurrency is capped: an event source's MaximumConcurrency (``function_limits``: within the account's) or
        reserved concurrency (``reserved``: out of the account's), and the HTTP API's stage throttle of ``stage`` (the
        template's ``Stage``: ``prod`` or another)."""
        regional = REGIONAL_DEFAULTS.get(region)
        if regional is None:
            raise ValueError(f"no quota defaults recorded for {region}: known {sorted(REGIONAL_DEFAULTS)}")
        specs: dict[str, QuotaSpec] = {}
        for key, spec in SPECS.items():
            size, refill = regional.get(key, (spec.size, spec.refill_per_second))
            specs[key] = replace(spec, size=size, refill_per_second=refill)
        chosen = "apigateway.stage.prod" if stage == "prod" else "apigateway.stage.dev"
        specs["apigateway.stage"] = replace(specs[chosen], key="apigateway.stage")
        del specs["apigateway.stage.prod"], specs["apigateway.stage.dev"]
        account = specs["lambda.concurrency"]
        specs["lambda.concurrency"] = replace(account, size=account.size - other_workloads_concurrency)
        if specs["lambda.concurrency"].size <= 0:
            raise ValueError("other workloads hold the account's whole Lambda concurrency")
        for name, limit in (function_limits or {}).items():
            specs[f"lambda.function.{name}"] = _function_pool(
                name, limit, specs, f"{name}: its event source's MaximumConcurrency", reserved=False
            )
        return cls(region=region, specs=specs).with_reserved(reserved or {})

    def with_reserved(self, reserved: Mapping[str, int]) -> Quotas:
        """The same quotas with functions' reserved concurrency: each function its own pool of that size, taken out of
        the account's; as Lambda does, refused when it would leave other functions fewer than 100
        (PutFunctionConcurrency and CloudFormation fail with InvalidParameterValueException)."""
        if not reserved:
            return self
        specs = dict(self.specs)
        account = specs["lambda.concurrency"]
        # Reservations replace earlier ones: what those took goes back to the account first.
        earlier = [key for key, spec in specs.items() if spec.reserved]
        total = account.size + sum(specs.pop(key).size for key in earlier)
        unreserved = total - sum(reserved.values())
        if unreserved < MIN_UNRESERVED_CONCURRENCY:
            raise ValueError(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED_CONCURRENCY}]"
            )
        specs["lambda.concurrency"] = replace(account, size=unreserved)
        for name, limit in reserved.items():
            specs[f"lambda.function.{name}"] = _function_pool(
                name, limit, specs, f"{name}: its reserved concurrency", reserved=True
            )
        return replace(self, specs=specs)

    def with_overrides(self, **sizes: tuple[float, float]) -> Quotas:
        """The same quotas with some raised (Service Quotas): ``key=(bucket size or limit, refill per second)``.
        Keys use ``__`` for dots: ``stepfunctions__StartExecution__standard=(2000, 500)``."""
        specs = dict(self.specs)
        for name, (size, refill) in sizes.items():
            key = name.replace("__", ".")
            if key not in specs:
                raise KeyError(key)
            specs[key] = replace(specs[key], size=size, refill_per_second=refill)
        return replace(self, specs=specs)

    def spec(self, key: str) -> QuotaSpec:
        return self.specs[key]

    def bucket(self, key: str) -> TokenBucket:
        """A fresh, full bucket for a rate quota."""
        spec = self.specs[key]
        if spec.kind is not QuotaKind.RATE:
            raise ValueError(f"{key} is a concurrency limit, not a rate: use pool()")
        return TokenBucket(size=spec.size, refill_per_second=spec.refill_per_second)

    def pool(self, key: str) -> ConcurrencyPool:
        spec = self.specs[key]
        if spec.kind is not QuotaKind.CONCURRENCY:
            raise ValueError(f"{key} is a rate, not a concurrency limit: use bucket()")
        return ConcurrencyPool(limit=int(spec.size))

    def refusal(self, key: str) -> Throttled:
        return Throttled(self.specs[key].refusal)


def _function_pool(name: str, limit: int, specs: Mapping[str, QuotaSpec], what: str, *, reserved: bool) -> QuotaSpec:
    return QuotaSpec(
        key=f"lambda.function.{name}",
        service="lambda",
        description=what,
        kind=QuotaKind.CONCURRENCY,
        size=limit,
        refill_per_second=0,
        refusal=specs["lambda.concurrency"].refusal,
        source="template.yaml",
        adjustable=True,
        reserved=reserved,
    )
