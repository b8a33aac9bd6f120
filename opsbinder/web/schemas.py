"""The JSON API's request and response bodies (its OpenAPI schemas), apart from the routes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from opsbinder.clock import utc
from opsbinder.store.models import Incident, IncidentEvent, StatusUpdate

# Every instant the API gives carries its offset (UTC), whichever store it came from: SQLite
# hands back naive times, which a client would read as its own local time.
Instant = Annotated[datetime, AfterValidator(utc)]
Severity = Literal["sev1", "sev2", "sev3", "sev4"]
StateFilter = Literal["triggered", "acknowledged", "resolved", "open"]


class IncidentOut(BaseModel):
    id: int
    client_id: str
    title: str
    severity: str
    state: str
    opened_at: Instant
    acknowledged_at: Instant | None
    acknowledged_by: str | None
    resolved_at: Instant | None
    resolved_by: str | None
    assignee: str | None
    commander: str | None
    occurrences: int
    next_update_due: Instant | None
    public_title: str | None = Field(description="what the client sees; None: unpublished")
    public_state: str
    primary_incident_id: int | None = Field(description="set on a duplicate")
    source: str = Field(description="flow manual pagerduty alertmanager heartbeat")
    component: str | None = Field(description="the component it affects, when known")

    @classmethod
    def of(cls, row: Incident) -> IncidentOut:
        return cls.model_validate(row, from_attributes=True)


class EventOut(BaseModel):
    at: Instant
    kind: str
    actor: str
    message: str

    @classmethod
    def of(cls, row: IncidentEvent) -> EventOut:
        return cls.model_validate(row, from_attributes=True)


class UpdateOut(BaseModel):
    seq: int
    posted_at: Instant
    author: str
    author_name: str
    current_status: str
    next_steps: str
    bridge_url: str
    business_impact: str
    next_update_at: Instant | None
    corrects_seq: int | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: StatusUpdate) -> UpdateOut:
        return cls.model_validate(row, from_attributes=True)


class IncidentDetail(IncidentOut):
    timeline: list[EventOut]
    updates: list[UpdateOut]
    chain_ok: bool


class UpdatesOut(BaseModel):
    incident_id: int
    chain_ok: bool
    chain_problems: list[str]
    updates: list[UpdateOut]


class Message(BaseModel):
    message: str = Field("", max_length=5000)


class NoteIn(BaseModel):
    message: str = Field(min_length=1, max_length=5000)


PublicState = Literal["investigating", "identified", "monitoring", "resolved"]


class DeclareIn(BaseModel):
    client_id: str | None = Field(
        None, max_length=64, description="the client; a client-scoped token may leave it out"
    )
    severity: Severity
    title: str = Field(min_length=1, max_length=500, description="the internal title")
    public_title: str = Field("", max_length=200, description="what the client sees")
    impact: str = Field("", max_length=5000, description="business impact")
    dedup_key: str | None = Field(
        None, max_length=150, description="the client's own key: one open incident per key"
    )
    component: str | None = Field(None, max_length=64, description="a component id of the binder")


class SeverityIn(BaseModel):
    severity: Severity
    reason: str = Field("", max_length=2000)


class DuplicateIn(BaseModel):
    primary_id: int = Field(ge=1, le=2**63 - 1, description="the incident this one duplicates")


class PublicIn(BaseModel):
    public_title: str | None = Field(None, max_length=200)
    public_state: PublicState | None = None


class WaitingIn(BaseModel):
    waiting: bool = Field(description="true: waiting on the client (SLA clocks stand still)")
    message: str = Field("", max_length=5000)


class AssignIn(BaseModel):
    assignee: str = Field(min_length=1, max_length=100, description="who owns the incident now")


class UpdateIn(BaseModel):
    current_status: str = Field(min_length=1, max_length=10000)
    next_steps: str = Field(min_length=1, max_length=10000)
    business_impact: str = Field(min_length=1, max_length=10000)
    bridge_url: str = Field("", max_length=500)
    next_update_at: datetime | None = None
    corrects_seq: int | None = Field(None, ge=1, le=1_000_000)
    force: bool = False


class StakeholderIn(BaseModel):
    contact: str = Field(
        min_length=1, max_length=64, description="a contact id of the client, or account_executive"
    )


class StakeholderOut(BaseModel):
    contact: str
    name: str
    role: str
    source: str
    account_executive: bool


class CommanderIn(BaseModel):
    contact: str = Field(min_length=1, max_length=64, description="a contact id of the client")


class ProcedureOut(BaseModel):
    id: int
    client_id: str
    key: str
    name: str
    kind: str
    cron: str
    timezone: str
    paused: bool


class Done(BaseModel):
    message: str


class OnCallOut(BaseModel):
    client: str
    client_id: str
    schedule: str
    contact: str
    name: str
    phone: str


class PublicUpdateOut(BaseModel):
    """An update as the client reads it: the author's display name, never a login."""

    seq: int
    posted_at: Instant
    author: str
    current_status: str
    next_steps: str
    bridge_url: str
    business_impact: str
    next_update_at: Instant | None
    corrects_seq: int | None


class PublicIncidentOut(BaseModel):
    """An incident as the client reads it: the public view, never the internal title or state."""

    id: int
    title: str
    state: str = Field(description="investigating identified monitoring resolved")
    severity: str
    component: str | None = Field(description="the component's name, as the client calls it")
    opened_at: Instant
    resolved_at: Instant | None
    next_update_at: Instant | None
    updates: list[PublicUpdateOut]
    chain_ok: bool


class ComponentOut(BaseModel):
    id: str
    name: str
    level: str = Field(description="operational degraded partial major")
    status: str = Field(description="the level in words")


class StatusOut(BaseModel):
    """What the client's status page shows, as JSON (a status-page token may read it)."""

    client_id: str
    title: str
    timezone: str
    components: list[ComponentOut]
    open: list[PublicIncidentOut]
    resolved: list[PublicIncidentOut]
    groups: dict[str, str]
