"""Inputs of the state machine's Lambda tasks: ids only, never secrets."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _TaskInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    update_id: str = Field(alias="updateId", pattern=r"^[0-9a-f]{32}$")


class PollInput(_TaskInput):
    pass


class AwaitUserInput(_TaskInput):
    task_token: str = Field(alias="taskToken", min_length=1, max_length=1024)


class FinalizeInput(_TaskInput):
    failure: dict[str, Any] | None = None
