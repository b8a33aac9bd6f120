"""The store's tables as typed SQLAlchemy models. Schema changes go through Alembic migrations.

Times are stored as UTC. Append-only tables (audit log, incident events, status updates) are
never updated by the code; their rows carry hashes so an edit made behind our back shows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from opsbinder.store.base import NAMING, Base, BigId, UtcDateTime
from opsbinder.store.run_days import RunDay, RunMonth
from opsbinder.store.shadows import ShadowPeriod
from opsbinder.store.staff import AccessToken, ConsoleSession, SignInFailures, User
from opsbinder.store.stored_pages import StoredPage

# Every table, for `from opsbinder.store.models import ...`: the staff's tables live in staff.py.
__all__ = [
    "NAMING",
    "AccessToken",
    "AuditEntry",
    "Base",
    "BigId",
    "ChangeEvent",
    "Client",
    "ConsoleSession",
    "HeartbeatPing",
    "Incident",
    "IncidentEvent",
    "IncidentWait",
    "OutboxMessage",
    "Procedure",
    "Run",
    "RunDay",
    "RunGrant",
    "RunMonth",
    "ShadowPeriod",
    "SignInFailures",
    "StatusUpdate",
    "StoredPage",
    "User",
    "UtcDateTime",
    "WorkItem",
]


class Client(Base):
    __tablename__ = "clients"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_hash: Mapped[str] = mapped_column(String(64), default="")
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_down: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    procedures: Mapped[list[Procedure]] = relationship(back_populates="client")


class Procedure(Base):
    """A procedure as last loaded from the binder; `definition` is its frozen YAML form."""

    __tablename__ = "procedures"
    __table_args__ = (UniqueConstraint("client_id", "key", name="uq_procedures_client_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(32))
    cron: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64))
    cadence: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(8))
    owner: Mapped[str] = mapped_column(String(64))
    grace_seconds: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    config_hash: Mapped[str] = mapped_column(String(64))
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(
        Boolean, default=True, doc="False once removed from the binder"
    )
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    client: Mapped[Client] = relationship(back_populates="procedures")


class Run(Base):
    """One execution (or a recorded non-execution: skipped, missed) of a procedure."""

    __tablename__ = "runs"
    __table_args__ = (
        Index("ix_runs_procedure_started", "procedure_id", "started_at"),
        Index("ix_runs_client_started", "client_id", "started_at"),
        Index("ix_runs_scheduled", "procedure_id", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id", ondelete="CASCADE"))
    flow_run_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    scheduled_for: Mapped[datetime | None]
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    outcome: Mapped[str] = mapped_column(
        String(16), doc="running ok failed crashed timed_out cancelled skipped missed"
    )
    reason: Mapped[str] = mapped_column(Text, default="")
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    verification: Mapped[bool] = mapped_column(Boolean, default=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(String(100), default="scheduler")


class RunGrant(Base):
    """An admin's run of a locked-down client's procedure, waiting for its flow to claim it.

    While a client is locked down a flow runs only by claiming one of these (once, before it
    expires); see `opsbinder.run_grants`.
    """

    __tablename__ = "run_grants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    procedure_id: Mapped[int] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE"), index=True
    )
    granted_by: Mapped[str] = mapped_column(String(100))
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class WorkItem(Base):
    """A due manual checklist (or a reminder) that a person signs off."""

    __tablename__ = "work_items"
    __table_args__ = (UniqueConstraint("dedup_key", name="uq_work_items_dedup_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    procedure_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedures.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16), doc="checklist or reminder")
    dedup_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    steps: Mapped[list[Any]] = mapped_column(default=list)
    assignee: Mapped[str | None] = mapped_column(String(64))
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str] = mapped_column(Text, default="")
    incident_id: Mapped[int | None] = mapped_column(BigId)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # one open incident per dedup key; resolved ones keep their key for history
        Index(
            "uq_incidents_open_dedup",
            "dedup_key",
            unique=True,
            sqlite_where=text("state != 'resolved'"),
            postgresql_where=text("state != 'resolved'"),
        ),
        Index("ix_incidents_client_state", "client_id", "state"),
        Index("ix_incidents_client_component", "client_id", "component"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    procedure_id: Mapped[int | None] = mapped_column(
        ForeignKey("procedures.id", ondelete="SET NULL")
    )
    dedup_key: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    severity: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), doc="triggered acknowledged resolved")
    opened_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    assignee: Mapped[str | None] = mapped_column(String(100))
    commander: Mapped[str | None] = mapped_column(String(100))
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    last_occurrence_at: Mapped[datetime]
    flow_run_id: Mapped[str | None] = mapped_column(String(36))
    policy_snapshot: Mapped[dict[str, Any]] = mapped_column(default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    next_update_due: Mapped[datetime | None]
    source: Mapped[str] = mapped_column(
        String(16),
        default="flow",
        server_default="flow",
        doc="flow manual pagerduty alertmanager heartbeat",
    )
    component: Mapped[str | None] = mapped_column(String(200), doc="a component of the client")

    # what the client's status page shows, apart from the internal title and state: nothing
    # but "under investigation" until staff give a public title (`opsbinder.incidents.public`)
    public_title: Mapped[str | None] = mapped_column(String(500))
    public_state: Mapped[str] = mapped_column(
        String(16),
        default="investigating",
        server_default="investigating",
        doc="investigating identified monitoring resolved",
    )
    primary_incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"), doc="set on a duplicate"
    )


class IncidentWait(Base):
    """A stretch during which the incident waits on the client: its SLA clocks stand still.

    Set and cleared by staff (audited on the timeline); `ended_at` NULL while it lasts.
    """

    __tablename__ = "incident_waits"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    started_at: Mapped[datetime]
    started_by: Mapped[str] = mapped_column(String(100))
    ended_at: Mapped[datetime | None]
    ended_by: Mapped[str | None] = mapped_column(String(100))


class HeartbeatPing(Base):
    """One ping of a job opsbinder does not run (a binder `heartbeats:` entry), kept like a run."""

    __tablename__ = "heartbeat_pings"
    __table_args__ = (Index("ix_heartbeat_pings_client_heartbeat", "client_id", "heartbeat", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    heartbeat: Mapped[str] = mapped_column(String(64), doc="the heartbeat's key in the binder")
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(8), doc="start success fail log")
    exit_status: Mapped[int | None] = mapped_column(Integer)
    method: Mapped[str] = mapped_column(String(8))
    remote_addr: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="", doc="the ping's log, cut at a limit")
    body_truncated: Mapped[bool] = mapped_column(Boolean, default=False)


class ChangeEvent(Base):
    """A change on a client's systems that a tool reported (PagerDuty change events): a deploy,
    a configuration push. Never an incident; shown next to the incidents that follow it."""

    __tablename__ = "change_events"
    __table_args__ = (Index("ix_change_events_client_at", "client_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(doc="when it changed: the tool's timestamp, else received")
    received_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(String(1024))
    source: Mapped[str] = mapped_column(String(255), default="")
    integration: Mapped[str] = mapped_column(String(100), doc="the integration key's name")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict, doc="custom_details, links")


class IncidentEvent(Base):
    """The incident's append-only timeline."""

    __tablename__ = "incident_events"
    __table_args__ = (Index("ix_incident_events_incident", "incident_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(100))
    message: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StatusUpdate(Base):
    """A status update: append-only, hash-chained per incident."""

    __tablename__ = "status_updates"
    __table_args__ = (
        UniqueConstraint("incident_id", "seq", name="uq_status_updates_incident_seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    posted_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(100))
    author_name: Mapped[str] = mapped_column(
        String(200), default="", server_default="", doc="the name the status page shows"
    )
    current_status: Mapped[str] = mapped_column(Text)
    next_steps: Mapped[str] = mapped_column(Text)
    bridge_url: Mapped[str] = mapped_column(String(500), default="")
    business_impact: Mapped[str] = mapped_column(Text)
    next_update_at: Mapped[datetime | None] = mapped_column(doc="None: no cadence promised")
    corrects_seq: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """A notification not yet delivered. Senders claim rows atomically and retry with backoff."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        Index("ix_outbox_pending", "delivered_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str | None] = mapped_column(String(64))
    incident_id: Mapped[int | None] = mapped_column(BigId)
    channel: Mapped[str] = mapped_column(String(16), doc="webhook or apprise")
    target: Mapped[str] = mapped_column(String(500), doc="webhook id/url or apprise URL env name")
    recipient: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    delivered_at: Mapped[datetime | None]
    given_up_at: Mapped[datetime | None]


class AuditEntry(Base):
    """Who did what: append-only, each row's hash covers the previous row's hash and, for a
    client's entry, the hash of that client's previous entry (its own chain)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_client_seq", "client_id", "seq"),
        Index("ix_audit_log_object", "object_type", "object_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    client_prev_hash: Mapped[str | None] = mapped_column(
        String(64), doc="NULL for global entries and for entries older than per-client chains"
    )
    hash: Mapped[str] = mapped_column(String(64))
