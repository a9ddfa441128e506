"""LookAtUpdate: a look the timer delivered (a delayed message on the look queue, or a Web Form 2.0 callback)."""

from __future__ import annotations

from dataclasses import dataclass

from bankupdate.contract import LookMessage
from bankupdate.flow.looking import LookLoop
from bankupdate.ports import Invocation


@dataclass
class LookAtUpdate:
    looks: LookLoop

    def __call__(self, message: LookMessage, invocation: Invocation) -> None:
        self.looks.run(message, invocation)
