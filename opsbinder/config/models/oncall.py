"""On-call schedules: rotations (layers) with a hand-off time in a zone, and overrides."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import Field, model_validator

from opsbinder.config.models.base import Slug, Strict
from opsbinder.config.models.timing import (
    BinderDate,
    BinderDateTime,
    TimeZoneName,
    check_span,
)


class Rotation(Strict):
    name: str = ""
    members: list[Slug] = Field(min_length=1)
    handoff_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = "mon"
    handoff_time: time = time(9, 0)
    length: Literal["daily", "weekly"] = "weekly"
    start: BinderDate = Field(description="the first hand-off date of this rotation")
    restrict_from: time | None = Field(None, description="layer active from (local time)")
    restrict_to: time | None = None


class Override(Strict):
    contact: Slug
    layer: str | None = Field(None, min_length=1, description="only this layer (by name)")
    start: BinderDateTime
    end: BinderDateTime
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        check_span(self.start, self.end, "override")
        return self


class OnCallSchedule(Strict):
    id: Slug
    name: str = ""
    timezone: TimeZoneName
    layers: list[Rotation] = Field(min_length=1, description="later layers win where active")
    overrides: list[Override] = Field(default_factory=list)
