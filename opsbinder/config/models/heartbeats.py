"""Jobs that run elsewhere and ping opsbinder: the `heartbeats:` section of the binder.

The `uuid` is the ping URL's secret-ish address (`/ping/<uuid>`), as in Healthchecks: it lets a
job say "I ran", nothing more. Either a cron with a time zone says when the job is due, or a
period says how often; `grace` is how late a ping may be before it counts as missed.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from pydantic import Field, model_validator

from opsbinder.config.models.base import Severity, Slug, Strict, located
from opsbinder.config.models.durations import Duration
from opsbinder.config.models.timing import CronExpr, TimeZoneName


class Heartbeat(Strict):
    id: Slug
    name: str = Field(min_length=1, max_length=300)
    uuid: UUID
    cron: CronExpr | None = None
    timezone: TimeZoneName | None = None
    period: Duration | None = None
    grace: Duration = Field(default=timedelta(hours=1))
    severity: Severity = "sev3"
    escalation_policy: Slug | None = Field(None, description="default: the client's first")
    component: str | None = Field(None, max_length=200)
    max_log_bytes: int = Field(10_000, ge=0, le=100_000, description="a ping's body kept")

    @model_validator(mode="after")
    def _one_schedule(self) -> Heartbeat:
        if (self.cron is None) == (self.period is None):
            raise located("cron", "give either cron (with timezone) or period, not both or none")
        if self.cron is not None and self.timezone is None:
            raise located("timezone", "a cron needs its time zone (e.g. Europe/Berlin)")
        return self
