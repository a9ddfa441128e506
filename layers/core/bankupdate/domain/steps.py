"""What a workflow step tells the state machine to do next (the Choice states route on ``next``)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class NextStep(StrEnum):
    START = "START"
    POLL = "POLL"
    AWAIT_USER = "AWAIT_USER"
    FINALIZE = "FINALIZE"


class StepOutput(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)

    next: NextStep
    wait_seconds: int = 0

    def to_state(self) -> dict[str, object]:
        return {"next": self.next.value, "waitSeconds": self.wait_seconds}
