"""A procedure: one recurring duty of a kind, its schedule, owner, runbook and escalation.

The kind decides the `params` (params.py); `Procedure` is the union the binder lists.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field

from opsbinder.config.models.base import Severity, Slug, Strict, SupportLevel
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

Cadence = Literal["hourly", "daily", "weekly", "monthly", "yearly"]


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
    schedule: Schedule
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
