"""The client's calendar: maintenance windows and holidays during which runs are skipped."""

from __future__ import annotations

from pydantic import Field, model_validator

from opsbinder.config.models.base import Slug, Strict
from opsbinder.config.models.timing import BinderDate, BinderDateTime, check_span


class MaintenanceWindow(Strict):
    name: str
    start: BinderDateTime
    end: BinderDateTime
    procedures: list[Slug] = Field(default_factory=list, description="empty: all of them")

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        check_span(self.start, self.end, "window")
        return self


class Holiday(Strict):
    date: BinderDate
    name: str = ""
    procedures: list[Slug] = Field(default_factory=list, description="empty: all of them")
