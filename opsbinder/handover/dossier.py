"""Everything the handover shows about one client, gathered once from the store.

The site, the Markdown and the completeness audit all read this one structure, so the pages and
the audit can never disagree about, say, when a procedure last succeeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from opsbinder import audit, audit_anchor
from opsbinder.binder_store import client_binder, procedure_config
from opsbinder.clock import Clock, utc
from opsbinder.config.models import ClientBinder, Contact
from opsbinder.config.models import Procedure as ProcedureConfig
from opsbinder.config.schedules import next_runs
from opsbinder.errors import NotFound
from opsbinder.handover.words import when_in_words
from opsbinder.reports.heartbeats import LastPing, last_pings, ping_counts
from opsbinder.store.models import AuditEntry, Client, Incident, Procedure, Run, WorkItem

FAILED = ("failed", "crashed", "timed_out")
HISTORY_GROUPS = {
    "ok": "ok",
    "failed": "failed",
    "crashed": "failed",
    "timed_out": "failed",
    "missed": "missed",
    "skipped": "skipped",
    "cancelled": "skipped",
}


@dataclass
class ProcedureFacts:
    config: ProcedureConfig
    row: Procedure
    schedule_words: str
    next_runs: list[datetime]
    owner: Contact | None
    last_ok: Run | None
    last_failure: Run | None
    failure_incident: Incident | None
    verification: Run | None
    last_completed: WorkItem | None
    run_by_hand: str
    entrypoint: str
    deployment: str
    paused: bool = False  # by the binder, `opsbinder pause`, or the whole client (lockdown)

    @property
    def page(self) -> str:
        return f"procedures/{self.config.id}.html"


@dataclass
class HistoryRow:
    key: str
    name: str
    months: list[Counter[str]]

    @property
    def total(self) -> Counter[str]:
        out: Counter[str] = Counter()
        for month in self.months:
            out.update(month)
        return out


@dataclass
class Dossier:
    client: Client
    binder: ClientBinder
    generated_at: datetime
    procedures: list[ProcedureFacts]
    open_incidents: list[Incident]
    months: list[str]
    history: list[HistoryRow]
    audit_entries: list[AuditEntry]
    audit_checked: int
    audit_breaks: list[audit.ChainBreak]
    extra: dict[str, object] = field(default_factory=dict)
    heartbeat_history: list[HistoryRow] = field(default_factory=list)  # ok/failed/missed/late
    last_pings: dict[str, LastPing] = field(default_factory=dict)  # by heartbeat id

    def procedure(self, key: str) -> ProcedureFacts:
        return next(p for p in self.procedures if p.config.id == key)


# (kind, client id, procedure key) -> (flow entrypoint, Prefect deployment "flow/name"); the CLI
# supplies it from opsbinder.orchestrator (flows/registry.py), so this module needs no Prefect.
Resolver = Callable[[str, str, str], tuple[str, str]]


def _no_deployments(kind: str, client_id: str, key: str) -> tuple[str, str]:
    return "", ""


def real_runs(query: Select[Any]) -> Select[Any]:
    """Runs that count as work done: verification dry runs by a third party do not."""
    return query.where(Run.verification.is_(False), Run.dry_run.is_(False))


def _last_run(session: Session, row: Procedure, outcomes: tuple[str, ...]) -> Run | None:
    return session.execute(
        real_runs(select(Run))
        .where(Run.procedure_id == row.id, Run.outcome.in_(outcomes))
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def last_verification(session: Session, row: Procedure) -> Run | None:
    return session.execute(
        select(Run)
        .where(Run.procedure_id == row.id, Run.verification.is_(True))
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def last_completed(session: Session, row: Procedure) -> WorkItem | None:
    return session.execute(
        select(WorkItem)
        .where(WorkItem.procedure_id == row.id, WorkItem.completed_at.is_not(None))
        .order_by(WorkItem.completed_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def _incident_for(session: Session, row: Procedure, run: Run | None) -> Incident | None:
    """The incident a failed run opened or added an occurrence to.

    By flow run when the hook recorded it; else the procedure's first incident opened after the
    run started, or the one already open then (a repeat failure counts on the open incident).
    """
    if run is None:
        return None
    if run.flow_run_id:
        found = session.execute(
            select(Incident).where(Incident.flow_run_id == run.flow_run_id).limit(1)
        ).scalar_one_or_none()
        if found is not None:
            return found
    after = session.execute(
        select(Incident)
        .where(Incident.procedure_id == row.id, Incident.opened_at >= run.started_at)
        .order_by(Incident.opened_at)
        .limit(1)
    ).scalar_one_or_none()
    if after is not None:
        return after
    return session.execute(
        select(Incident)
        .where(
            Incident.procedure_id == row.id,
            Incident.opened_at <= run.started_at,
            (Incident.resolved_at.is_(None)) | (Incident.resolved_at >= run.started_at),
        )
        .order_by(Incident.opened_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def procedure_rows(session: Session, client_id: str) -> list[Procedure]:
    return list(
        session.execute(
            select(Procedure)
            .where(Procedure.client_id == client_id, Procedure.active.is_(True))
            .order_by(Procedure.key)
        ).scalars()
    )


def _months(now: datetime, count: int = 12) -> list[str]:
    year, month = now.year, now.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return list(reversed(out))


def _history(
    session: Session, rows: list[Procedure], now: datetime
) -> tuple[list[str], list[HistoryRow]]:
    months = _months(now)
    start = datetime.fromisoformat(f"{months[0]}-01T00:00:00+00:00")
    index = {m: i for i, m in enumerate(months)}
    by_id = {r.id: HistoryRow(r.key, r.name, [Counter() for _ in months]) for r in rows}
    found = session.execute(
        real_runs(select(Run.procedure_id, Run.started_at, Run.outcome)).where(
            Run.procedure_id.in_(list(by_id)), Run.started_at >= start
        )
    )
    for procedure_id, started_at, outcome in found:
        slot = index.get(utc(started_at).strftime("%Y-%m"))
        if slot is not None:
            by_id[procedure_id].months[slot][HISTORY_GROUPS.get(outcome, outcome)] += 1
    return months, list(by_id.values())


def _heartbeat_history(
    session: Session, client_id: str, binder: ClientBinder, months: list[str], now: datetime
) -> tuple[list[HistoryRow], dict[str, LastPing]]:
    """Pings per month, like runs (`opsbinder.reports.heartbeats` defines what counts)."""
    edges = [datetime.fromisoformat(f"{m}-01T00:00:00+00:00") for m in months]
    last = edges[-1]
    edges.append(last.replace(year=last.year + (last.month == 12), month=last.month % 12 + 1))
    conn = session.connection()
    counts = ping_counts(conn, edges, [client_id])
    rows = []
    for beat in binder.heartbeats:
        row = HistoryRow(beat.id, beat.name, [Counter() for _ in months])
        for i, month in enumerate(row.months):
            found = counts.get((i, client_id, beat.id))
            if found is not None:
                month.update({k: v for k, v in found.as_dict().items() if k != "pings"})
        rows.append(row)
    latest = last_pings(conn, utc(now) + timedelta(seconds=1), [client_id])
    return rows, {beat: ping for (_, beat), ping in latest.items()}


def gather(
    session: Session, client_id: str, clock: Clock, resolve: Resolver | None = None
) -> Dossier:
    resolve = resolve or _no_deployments
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r} in the store; load its binder first")
    binder = client_binder(session, client_id)
    now = clock.now()
    contacts = {c.id: c for c in binder.contacts}
    rows = procedure_rows(session, client_id)
    facts = []
    for row in rows:
        config = procedure_config(row)
        failure = _last_run(session, row, FAILED)
        entrypoint, deployment = resolve(config.kind, client_id, config.id)
        facts.append(
            ProcedureFacts(
                config=config,
                row=row,
                schedule_words=when_in_words(config),
                next_runs=next_runs(config.schedule, now, 3),
                owner=contacts.get(config.owner),
                last_ok=_last_run(session, row, ("ok",)),
                last_failure=failure,
                failure_incident=_incident_for(session, row, failure),
                verification=last_verification(session, row),
                last_completed=last_completed(session, row),
                run_by_hand=f"opsbinder run {client_id}/{config.id}",
                entrypoint=entrypoint,
                deployment=deployment,
                paused=bool(row.paused or config.paused or client.paused),
            )
        )
    incidents = list(
        session.execute(
            select(Incident)
            .where(Incident.client_id == client_id, Incident.state != "resolved")
            .order_by(Incident.opened_at.desc())
        ).scalars()
    )
    months, history = _history(session, rows, now)
    beats, pinged = _heartbeat_history(session, client_id, binder, months, now)
    entries = list(
        session.execute(
            select(AuditEntry).where(AuditEntry.client_id == client_id).order_by(AuditEntry.seq)
        ).scalars()
    )
    checked, breaks = audit.verify(session, client_id, audit_anchor.sealed_of())
    return Dossier(
        client=client,
        binder=binder,
        generated_at=now,
        procedures=facts,
        open_incidents=incidents,
        months=months,
        history=history,
        audit_entries=entries,
        audit_checked=checked,
        audit_breaks=breaks,
        heartbeat_history=beats,
        last_pings=pinged,
    )


def period_of(cadence: str) -> timedelta:
    """How long a procedure of this cadence may go without a successful run."""
    return {
        "hourly": timedelta(hours=1),
        "daily": timedelta(days=1),
        "weekly": timedelta(days=7),
        "monthly": timedelta(days=31),
        "quarterly": timedelta(days=92),
        "yearly": timedelta(days=366),
    }.get(cadence, timedelta(days=1))
