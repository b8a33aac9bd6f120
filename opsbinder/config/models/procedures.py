"""A procedure: one recurring duty of a kind, its schedule, owner, runbook and escalation.

The kind decides the `params` (params.py); `Procedure` is the union the binder lists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, model_validator

from opsbinder.config.models.base import Severity, Slug, Strict, SupportLevel, located
from opsbinder.config.models.durations import Duration
from opsbinder.config.models.params import (
    ArchiveParams,
    BackupCheckParams,
    CustomParams,
    DiskCheckParams,
    ManualParams,
    PurgeParams,
    UpdateReminderParams,
)
from opsbinder.config.models.timing import CronExpr, TimeZoneName

Cadence = Literal["hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "on_demand"]


class Schedule(Strict):
    cron: CronExpr
    timezone: TimeZoneName


class Runbook(Strict):
    purpose: str = ""
    steps: list[str] = Field(default_factory=list)
    verify: str = ""
    rollback: str = ""


class _ProcedureBase(Strict):
    id: Slug
    name: str
    system: Slug | None = None
    schedule: Schedule | None = None
    on_demand: bool = Field(False, description="no schedule: run by hand (a provider changed)")
    cadence: Cadence | None = Field(None, description="bundle; derived from the cron if absent")
    owner: Slug
    support_level: SupportLevel = "L1"
    runbook: Runbook = Field(default_factory=Runbook)
    severity: Severity = "sev3"
    escalation_policy: Slug
    grace: Duration = Field(default=timedelta(minutes=30))
    late_expiry: Duration | None = Field(None, description="a run later than this is cancelled")
    timeout: Duration = Field(default=timedelta(hours=1))
    retries: int = Field(0, ge=0, le=10)
    auto_resolve: bool = True
    paused: bool = False
    tags: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _scheduled_or_on_demand(self) -> _ProcedureBase:
        """A procedure runs on a schedule or on demand; leaving the schedule out by mistake must
        not silently make a duty that never runs."""
        if self.on_demand and self.schedule is not None:
            raise located("on_demand", "an on-demand procedure has no schedule; remove one of them")
        if not self.on_demand and self.schedule is None:
            raise located(
                "schedule",
                "missing: a schedule (cron and timezone), or on_demand: true for a procedure "
                "run by hand",
                "missing_choice",
            )
        if self.on_demand and self.cadence not in (None, "on_demand"):
            raise located("cadence", "an on-demand procedure belongs to no cadence bundle")
        if not self.on_demand and self.cadence == "on_demand":
            raise located("cadence", "on_demand is for procedures without a schedule")
        return self

    def zone(self, default: str) -> str:
        """The zone its days are counted in: the schedule's, else `default` (the client's)."""
        return self.schedule.timezone if self.schedule else default


class PurgeProcedure(_ProcedureBase):
    kind: Literal["purge"]
    params: PurgeParams


class ArchiveProcedure(_ProcedureBase):
    kind: Literal["archive"]
    params: ArchiveParams


class BackupCheckProcedure(_ProcedureBase):
    kind: Literal["backup_check"]
    params: BackupCheckParams


class DiskCheckProcedure(_ProcedureBase):
    kind: Literal["disk_check"]
    params: DiskCheckParams


class UpdateReminderProcedure(_ProcedureBase):
    kind: Literal["update_reminder"]
    params: UpdateReminderParams = Field(default_factory=UpdateReminderParams)


class ManualProcedure(_ProcedureBase):
    kind: Literal["manual"]
    params: ManualParams = Field(default_factory=ManualParams)


class CustomProcedure(_ProcedureBase):
    kind: Literal["custom"]
    params: CustomParams


Procedure = Annotated[
    PurgeProcedure
    | ArchiveProcedure
    | BackupCheckProcedure
    | DiskCheckProcedure
    | UpdateReminderProcedure
    | ManualProcedure
    | CustomProcedure,
    Field(discriminator="kind"),
]
PROCEDURE_KINDS = (
    "purge",
    "archive",
    "backup_check",
    "disk_check",
    "update_reminder",
    "manual",
    "custom",
)
