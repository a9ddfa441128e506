"""The message the scheduler puts on the queue for each due connection (ids and the due slot only)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class DueConnection(BaseModel):
    model_config = ConfigDict(frozen=True, alias_generator=to_camel, populate_by_name=True, extra="forbid")

    owner_id: str = Field(min_length=1, max_length=128)
    connection_id: int = Field(gt=0)
    slot: datetime


class StartInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    update_id: str = Field(alias="updateId", pattern=r"^[0-9a-f]{32}$")
