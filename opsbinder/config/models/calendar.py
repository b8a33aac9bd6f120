"""The client's calendar: maintenance windows and holidays during which runs are skipped.

A window is one stretch (`start`, `end`) or a recurring one: an `rrule` (RFC 5545, its first
occurrence at `start`) or a `cron`, each lasting `duration`. A holiday is a `date` or an `rrule`
of dates (`FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=25`, `FREQ=YEARLY;BYEASTER=1` for Easter Monday);
`then: next_working_day` moves a run that falls on it instead of only skipping it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from opsbinder.config.models.base import Slug, Strict, located
from opsbinder.config.models.durations import Duration
from opsbinder.config.models.recurrence import RRuleText
from opsbinder.config.models.timing import BinderDate, BinderDateTime, CronExpr, check_span


class MaintenanceWindow(Strict):
    name: str
    start: BinderDateTime | None = Field(None, description="one window, or a rule's first")
    end: BinderDateTime | None = None
    rrule: RRuleText | None = Field(None, description="recurring: FREQ=WEEKLY;BYDAY=SU")
    cron: CronExpr | None = Field(None, description="recurring: when each window starts")
    duration: Duration | None = Field(None, description="how long each recurring window lasts")
    procedures: list[Slug] = Field(default_factory=list, description="empty: all of them")
    components: list[Slug] = Field(
        default_factory=list, description="shown under maintenance on the status page meanwhile"
    )

    @property
    def recurring(self) -> bool:
        return bool(self.rrule or self.cron)

    @model_validator(mode="after")
    def _one_form(self) -> MaintenanceWindow:
        if self.rrule and self.cron:
            raise located("cron", "give rrule or cron, not both")
        if self.recurring:
            if self.end is not None:
                raise located("end", "a recurring window lasts a duration; remove end")
            if self.duration is None:
                raise located("duration", "missing: how long each window lasts, e.g. 6h",
                              "missing_choice")  # fmt: skip
            if self.rrule and self.start is None:
                raise located("start", "missing: the first window's start, which the rrule "
                              "repeats", "missing_choice")  # fmt: skip
            return self
        if self.duration is not None:
            raise located("duration", "a duration needs rrule or cron; one window has an end")
        if self.start is None or self.end is None:
            missing = "start" if self.start is None else "end"
            raise located(missing, "missing: a window has start and end, or rrule/cron and "
                          "duration", "missing_choice")  # fmt: skip
        check_span(self.start, self.end, "window")
        return self


class Holiday(Strict):
    date: BinderDate | None = None
    rrule: RRuleText | None = Field(None, description="every year: FREQ=YEARLY;BYEASTER=1")
    name: str = ""
    then: Literal["skip", "next_working_day"] = "skip"
    procedures: list[Slug] = Field(default_factory=list, description="empty: all of them")

    @model_validator(mode="after")
    def _one_form(self) -> Holiday:
        if (self.date is None) == (self.rrule is None):
            raise located("date", "a holiday has a date or an rrule (one of them)",
                          "missing_choice" if self.date is None else "value_error")  # fmt: skip
        return self
