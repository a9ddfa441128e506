"""The faults injected into one simulator's answers: which rule a request meets, and its network part (delay, drop)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from finapi_sandbox.config import HttpFault
from finapi_sandbox.loopback import Dropped

Rule = TypeVar("Rule", bound=HttpFault)


class FaultRules(Generic[Rule]):
    def __init__(self, rules: Iterable[Rule] = ()) -> None:
        self._lock = threading.Lock()
        self._rules = list(rules)
        self._uses: dict[int, int] = {}

    def __len__(self) -> int:
        with self._lock:
            return len(self._rules)

    def add(self, rule: Rule) -> None:
        with self._lock:
            self._rules.append(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules = []
            self._uses = {}

    def take(self, method: str, path: str, fits: Callable[[Rule], bool] = lambda _: True) -> Rule | None:
        """The first rule for this request that is not used up (and counts this use). ``fits`` is asked last, so that
        a rule drawn by chance draws only for the requests it matches otherwise."""
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.method and rule.method.upper() != method.upper():
                    continue
                if rule.path and rule.path not in path:
                    continue
                if rule.times is not None and self._uses.get(index, 0) >= rule.times:
                    continue
                if not fits(rule):
                    continue
                self._uses[index] = self._uses.get(index, 0) + 1
                return rule
            return None


def delay_or_drop(rule: HttpFault) -> None:
    """What a fault does to the connection: wait, then maybe close it unanswered (its error answer is each API's)."""
    if rule.delay_seconds:
        time.sleep(rule.delay_seconds)
    if rule.drop:
        raise Dropped
