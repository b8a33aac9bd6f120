"""The binder as pydantic models: what a client's YAML may say, checked field by field.

Cross-references between sections (a procedure naming a policy, a level naming a contact) are
checked in `references.py`, after every file of the binder is read, because they span files.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

SLUG = r"^[a-z0-9][a-z0-9_-]{0,62}$"
Slug = Annotated[str, Field(pattern=SLUG)]
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
EnvName = Annotated[str, Field(pattern=ENV_NAME, description="name of an environment variable")]

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _parse_duration(value: Any) -> Any:
    """Accept the short forms people write in binders ("30m", "4h", "2d") besides ISO 8601."""
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    return value


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


Duration = Annotated[timedelta, BeforeValidator(_parse_duration), AfterValidator(_positive)]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {value!r} (e.g. Europe/Berlin)") from exc
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


def _check_cron(value: str) -> str:
    if not isinstance(value, str) or not croniter.is_valid(value):
        raise ValueError(f"not a valid cron expression: {value!r} (five fields: m h dom mon dow)")
    if len(value.split()) != 5:
        raise ValueError(f"cron needs exactly five fields (m h dom mon dow), got {value!r}")
    return value


CronExpr = Annotated[str, AfterValidator(_check_cron)]

Severity = Literal["sev1", "sev2", "sev3", "sev4"]
SupportLevel = Literal["L1", "L2", "L3"]
Cadence = Literal["hourly", "daily", "weekly", "monthly", "yearly"]

_SECRET_KEYS = re.compile(r"(password|passwd|secret|token|api[_-]?key|private[_-]?key)$", re.I)
_URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@:\s]*:[^/@\s]+@", re.I)


def located(field: str, message: str, kind: str = "value_error") -> PydanticCustomError:
    """An error about one key of a model, raised from a model validator.

    Pydantic places model-validator errors on the whole object; `ctx["field"]` lets the loader
    point at the key itself (file line, field path, value) instead of dumping the object.
    """
    return PydanticCustomError(
        kind, message.replace("{", "{{").replace("}", "}}"), {"field": field}
    )


class Strict(BaseModel):
    """Unknown keys are an error: a typo in a binder must not silently drop a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_plaintext_secrets(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if not isinstance(value, str) or not value:
                    continue
                if _SECRET_KEYS.search(str(key)) and not str(key).endswith("_env"):
                    raise located(
                        str(key),
                        "a secret in plain text; put it in an environment variable and name "
                        "that variable in the matching *_env field (url_env, secret_env)",
                        "plaintext_secret",
                    )
                if _URL_WITH_PASSWORD.match(value):
                    raise located(
                        str(key),
                        "a URL with a password in it; put the URL in an environment variable "
                        "and name that variable instead (e.g. url_env: TMS_DB_URL)",
                        "plaintext_secret",
                    )
        return data


# --- people -----------------------------------------------------------------------------------


class Contact(Strict):
    id: Slug
    name: str
    role: str = ""
    email: str | None = None
    phone: str | None = None
    chat: str | None = Field(None, description="apprise URL for chat, e.g. mmosts://...")
    webhook: str | None = Field(None, description="id of a webhook channel of the binder")
    support_level: SupportLevel | None = None
    staff: bool = Field(True, description="MSP staff (True) or client-side person (False)")


class Stakeholder(Strict):
    contact: Slug
    severities: list[Severity] = Field(default_factory=lambda: ["sev1"])
    account_executive: bool = False


class WebhookChannel(Strict):
    id: Slug
    url: str | None = None
    url_env: EnvName | None = None
    secret_env: EnvName | None = Field(None, description="variable holding the HMAC key")

    @model_validator(mode="after")
    def _one_url(self) -> WebhookChannel:
        if bool(self.url) == bool(self.url_env):
            raise ValueError("give exactly one of url or url_env")
        return self


# --- systems ----------------------------------------------------------------------------------


class DatabaseSystem(Strict):
    id: Slug
    type: Literal["database"]
    description: str = ""
    url_env: EnvName


class PathSystem(Strict):
    id: Slug
    type: Literal["filesystem"]
    description: str = ""
    path: str


class BackupLocation(Strict):
    id: Slug
    type: Literal["backup_location"]
    description: str = ""
    path: str
    pattern: str = "*"


class SoftwareItem(Strict):
    product: str
    version: str
    end_of_support: date | None = None
    patch_cadence: Duration | None = None
    last_patched: date | None = None
    owner: Slug | None = None


class SoftwareInventory(Strict):
    id: Slug
    type: Literal["software_inventory"]
    description: str = ""
    items: list[SoftwareItem] = Field(min_length=1)


System = Annotated[
    DatabaseSystem | PathSystem | BackupLocation | SoftwareInventory,
    Field(discriminator="type"),
]

# --- procedures -------------------------------------------------------------------------------


class Schedule(Strict):
    cron: CronExpr
    timezone: TimeZoneName


class Runbook(Strict):
    purpose: str = ""
    steps: list[str] = Field(default_factory=list)
    verify: str = ""
    rollback: str = ""


class PurgeParams(Strict):
    table: str = Field(min_length=1)
    schema_name: str | None = Field(None, alias="schema")
    age_column: str = Field(min_length=1)
    retention_days: int = Field(ge=1, description="rows older than this many days go")
    batch_size: int = Field(5000, ge=1, le=1_000_000)
    max_batch_seconds: float = Field(0.1, gt=0, le=60)
    max_rows: int | None = Field(None, ge=1, description="plan guard: refuse above this")
    max_growth: float = Field(5.0, gt=1, description="plan guard: times the usual amount")
    drop_partitions: bool = True


class ArchiveParams(Strict):
    table: str = Field(min_length=1)
    schema_name: str | None = Field(None, alias="schema")
    age_column: str = Field(min_length=1)
    key_column: str = "id"
    older_than_days: int = Field(ge=1)
    destination: str = Field(min_length=1, description="directory, or schema.table")
    destination_type: Literal["file", "table"] = "file"
    format: Literal["jsonl", "csv"] = "jsonl"
    compression: Literal["gzip", "zstd"] = "gzip"
    batch_size: int = Field(10000, ge=1, le=1_000_000)


class BackupCheckParams(Strict):
    max_age: Duration
    size_tolerance: float = Field(0.5, gt=0, le=10, description="fraction of the median size")
    pg_restore_list: bool = False
    restore_drill: bool = False
    drill_database_url_env: EnvName | None = None
    sanity_queries: list[str] = Field(default_factory=list)


class DiskCheckParams(Strict):
    paths: list[str] = Field(default_factory=list)
    warn_percent: float = Field(80, gt=0, lt=100)
    critical_percent: float = Field(90, gt=0, le=100)
    database_size_warn_gb: float | None = Field(None, gt=0)
    database_size_critical_gb: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> DiskCheckParams:
        if self.warn_percent >= self.critical_percent:
            raise located(
                "warn_percent",
                f"must be below critical_percent ({self.critical_percent:g})",
            )
        return self


class UpdateReminderParams(Strict):
    remind_days_ahead: int = Field(30, ge=0, le=365)


class ManualParams(Strict):
    deadline: Duration = Field(default=timedelta(days=1), description="time to sign it off")
    lockdown: bool = Field(False, description="this checklist is the client's lockdown procedure")


class CustomParams(Strict):
    entrypoint: str = Field(pattern=r"^[\w.]+:[\w]+$", description="module.path:function")
    arguments: dict[str, Any] = Field(default_factory=dict)


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

# --- escalation and on-call -------------------------------------------------------------------


class Target(Strict):
    """Exactly one of: a contact, an on-call schedule (whoever is on call), a webhook channel."""

    contact: Slug | None = None
    oncall: Slug | None = None
    webhook: Slug | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        given = [v for v in (self.contact, self.oncall, self.webhook) if v]
        if len(given) != 1:
            raise ValueError("a target names exactly one of contact, oncall or webhook")
        return self


class EscalationLevel(Strict):
    name: str
    targets: list[Target] = Field(min_length=1)
    ack_timeout: Duration


class EscalationPolicy(Strict):
    id: Slug
    name: str = ""
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=10, description="times the whole ladder repeats")
    sev1_management: list[Target] = Field(default_factory=list)
    sev1_management_interval: Duration = Field(default=timedelta(hours=1))
    update_cadence: Duration = Field(default=timedelta(hours=4))
    min_update_interval: Duration = Field(default=timedelta(hours=2))


class Rotation(Strict):
    name: str = ""
    members: list[Slug] = Field(min_length=1)
    handoff_day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] | None = "mon"
    handoff_time: time = time(9, 0)
    length: Literal["daily", "weekly"] = "weekly"
    start: date = Field(description="the first hand-off date of this rotation")
    restrict_from: time | None = Field(None, description="layer active from (local time)")
    restrict_to: time | None = None


class Override(Strict):
    contact: Slug
    start: datetime
    end: datetime
    reason: str = ""

    @field_validator("start", "end")
    @classmethod
    def _aware_or_naive(cls, value: datetime) -> datetime:
        return value

    @model_validator(mode="after")
    def _ordered(self) -> Override:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise located("end", "give start and end both with a UTC offset or both without")
        if self.end <= self.start:
            raise located("end", f"the override ends before it starts ({self.start.isoformat()})")
        return self


class OnCallSchedule(Strict):
    id: Slug
    name: str = ""
    timezone: TimeZoneName
    layers: list[Rotation] = Field(min_length=1, description="later layers win where active")
    overrides: list[Override] = Field(default_factory=list)


# --- calendars --------------------------------------------------------------------------------


class MaintenanceWindow(Strict):
    name: str
    start: datetime
    end: datetime
    procedures: list[Slug] = Field(default_factory=list, description="empty: all of them")

    @model_validator(mode="after")
    def _ordered(self) -> MaintenanceWindow:
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise located("end", "give start and end both with a UTC offset or both without")
        if self.end <= self.start:
            raise located("end", f"the window ends before it starts ({self.start.isoformat()})")
        return self


class Holiday(Strict):
    date: date
    name: str = ""
    procedures: list[Slug] = Field(default_factory=list, description="empty: all of them")


# --- the client binder ------------------------------------------------------------------------


class ClientInfo(Strict):
    id: Slug
    name: str
    timezone: TimeZoneName = "UTC"
    description: str = ""
    account_executive: Slug | None = None
    status_page_title: str | None = None


class ClientBinder(Strict):
    """Everything one client's folder of YAML says, merged across its files."""

    client: ClientInfo
    contacts: list[Contact] = Field(default_factory=list)
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    webhooks: list[WebhookChannel] = Field(default_factory=list)
    systems: list[System] = Field(default_factory=list)
    procedures: list[Procedure] = Field(default_factory=list)
    escalation_policies: list[EscalationPolicy] = Field(default_factory=list)
    oncall_schedules: list[OnCallSchedule] = Field(default_factory=list)
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=list)
    holidays: list[Holiday] = Field(default_factory=list)

    def procedure(self, procedure_id: str) -> Procedure:
        for procedure in self.procedures:
            if procedure.id == procedure_id:
                return procedure
        raise KeyError(procedure_id)

    def contact(self, contact_id: str) -> Contact:
        return next(c for c in self.contacts if c.id == contact_id)

    def system(self, system_id: str) -> System:
        return next(s for s in self.systems if s.id == system_id)

    def policy(self, policy_id: str) -> EscalationPolicy:
        return next(p for p in self.escalation_policies if p.id == policy_id)

    def oncall(self, schedule_id: str) -> OnCallSchedule:
        return next(s for s in self.oncall_schedules if s.id == schedule_id)


SECTIONS = tuple(name for name in ClientBinder.model_fields if name != "client")


class Binder(BaseModel):
    """All clients found under one configuration folder."""

    model_config = ConfigDict(frozen=True)

    clients: list[ClientBinder]
    sources: dict[str, str] = Field(default_factory=dict, description="client id -> folder")

    def client(self, client_id: str) -> ClientBinder:
        for client in self.clients:
            if client.client.id == client_id:
                return client
        known = ", ".join(c.client.id for c in self.clients) or "none"
        raise KeyError(f"no client {client_id!r} in the binder (known: {known})")

    def find_procedure(self, procedure_id: str) -> tuple[ClientBinder, Procedure]:
        """Find a procedure by id, or `client/procedure` when ids repeat across clients."""
        client_id, _, proc_id = procedure_id.rpartition("/")
        matches = [
            (c, p)
            for c in self.clients
            if not client_id or c.client.id == client_id
            for p in c.procedures
            if p.id == proc_id
        ]
        if not matches:
            raise KeyError(f"no procedure {procedure_id!r} in the binder")
        if len(matches) > 1:
            names = ", ".join(f"{c.client.id}/{p.id}" for c, p in matches)
            raise KeyError(f"procedure {procedure_id!r} is ambiguous: use one of {names}")
        return matches[0]
