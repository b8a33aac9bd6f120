"""What a client's month proves, gathered from the store: runs, sign-offs, backups, retention,
incidents against the contract, missed runs, binder changes, the audit log's head and anchor.

Counts and rates are computed by the database (the manager report's GROUP BYs, filtered to one
client and one month in the client's own calendar); the lists are the rows behind them, so an
auditor can recount every figure from the same pack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from opsbinder import audit_anchor
from opsbinder.binder_store import client_contract
from opsbinder.clock import utc
from opsbinder.errors import NotFound
from opsbinder.evidence.heartbeats import heartbeat_month
from opsbinder.incidents.sla_terms import clocks_of
from opsbinder.reports.figures import Figures, incident_figures, update_figures
from opsbinder.reports.report import Month
from opsbinder.reports.run_days import run_figures
from opsbinder.store.models import (
    AuditEntry,
    Client,
    Incident,
    IncidentEvent,
    Procedure,
    Run,
    WorkItem,
)

RETENTION_KINDS = ("purge", "archive")
BINDER_ACTIONS = ("client.%", "procedure.%")


def _t(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value is not None else None


def gather(session: Session, client_id: str, month: Month) -> dict[str, Any]:
    """Every figure and list of the pack, as plain JSON-able data."""
    client = session.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r} in the store; load the binder first")
    start, end = month.bounds(client.timezone)
    procedures = list(
        session.execute(
            select(Procedure).where(Procedure.client_id == client_id).order_by(Procedure.key)
        ).scalars()
    )
    conn = session.connection()
    per_procedure = run_figures(conn, [start, end], [client_id])
    incidents_fig = incident_figures(conn, [start, end], [client_id])
    updates_fig = update_figures(conn, [start, end], [client_id])
    total = Figures()
    for fig in (*per_procedure.values(), *incidents_fig.values(), *updates_fig.values()):
        total.add(fig)
    contract = client_contract(client)
    on_time_targets = {t.procedure: t.target for t in (contract.on_time if contract else [])}
    runs = _runs(session, client_id, start, end)
    return {
        "client": {"id": client.id, "name": client.name, "timezone": client.timezone},
        "month": str(month),
        "period": {"start": start.isoformat(), "end": end.isoformat()},
        "totals": total.as_dict(),
        "procedures": [
            _procedure(p, per_procedure.get((0, p.id), Figures()), on_time_targets.get(p.key))
            for p in procedures
        ],
        "runs": runs,
        "missed_runs": [r for r in runs if r["outcome"] == "missed"],
        "backup_checks": [r for r in runs if r["kind"] == "backup_check"],
        "restore_tests": _restore_tests(session, procedures, runs, start, end),
        "heartbeats": heartbeat_month(session, client, start, end),
        "sign_offs": _sign_offs(session, client_id, start, end),
        "retention": _retention(procedures, runs),
        "incidents": _incidents(session, client, start, end),
        "binder_changes": _binder_changes(session, client_id, start, end),
        "audit": _audit_head(session, end),
    }


def _procedure(p: Procedure, fig: Figures, target: float | None) -> dict[str, Any]:
    rate = fig.on_time_rate
    return {
        "procedure": p.key,
        "name": p.name,
        "kind": p.kind,
        **fig.as_dict(),
        "on_time_target": target,
        "on_time_met": None if target is None or rate is None else rate >= target,
    }


def _runs(session: Session, client_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    rows = session.execute(
        select(Run, Procedure.key, Procedure.kind)
        .join(Procedure, Procedure.id == Run.procedure_id)
        .where(
            Run.client_id == client_id,
            Run.started_at >= start,
            Run.started_at < end,
            Run.dry_run.is_(False),
        )
        .order_by(Run.started_at, Run.id)
    ).all()
    return [
        {
            "procedure": key,
            "kind": kind,
            "scheduled_for": _t(run.scheduled_for),
            "started_at": _t(run.started_at),
            "ended_at": _t(run.ended_at),
            "outcome": run.outcome,
            "reason": run.reason,
            "actor": run.actor,
            "metrics": run.metrics or {},
        }
        for run, key, kind in rows
    ]


def _sign_offs(
    session: Session, client_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(WorkItem)
        .where(
            WorkItem.client_id == client_id,
            WorkItem.completed_at >= start,
            WorkItem.completed_at < end,
        )
        .order_by(WorkItem.completed_at)
    ).scalars()
    return [
        {
            "title": w.title,
            "kind": w.kind,
            "completed_by": w.completed_by,
            "completed_at": _t(w.completed_at),
            "due_at": _t(w.due_at),
            "note": w.note,
        }
        for w in rows
    ]


def _retention(procedures: list[Procedure], runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per purged or archived table: the policy, and each run's cutoff and what it measured."""
    out = []
    for p in procedures:
        if p.kind not in RETENTION_KINDS:
            continue
        params = (p.definition or {}).get("params", {})
        out.append(
            {
                "procedure": p.key,
                "kind": p.kind,
                "table": params.get("table"),
                "policy": _policy(params),
                "runs": [_retention_run(r) for r in runs if r["procedure"] == p.key],
            }
        )
    return out


def _policy(params: dict[str, Any]) -> str | None:
    """The retention as the binder wrote it: purge's `retention`, archive's `older_than`, or
    either's number of days."""
    for period, days in (("retention", "retention_days"), ("older_than", "older_than_days")):
        if params.get(period):
            return str(params[period])
        if params.get(days):
            return f"{params[days]} days"
    return None


def _retention_run(r: dict[str, Any]) -> dict[str, Any]:
    """A run's cutoff and what the run itself measured after it: the oldest row left, its age,
    and whether anything older than the cutoff was left (None: the run did not measure)."""
    m = r["metrics"]
    left = m.get("older_than_cutoff_left")
    return {
        "started_at": r["started_at"],
        "outcome": r["outcome"],
        "cutoff": m.get("cutoff"),
        "rows": m.get("rows_deleted", m.get("rows_archived")),
        "oldest_remaining": m.get("oldest_remaining"),
        "oldest_remaining_age_days": m.get("oldest_remaining_age_days"),
        "nothing_older_kept": None if left is None else not left,
    }


def _restore_tests(
    session: Session,
    procedures: list[Procedure],
    runs: list[dict[str, Any]],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    """Backup checks that restore the backup (restore_drill): their own category, as a
    restored backup proves more than a readable one. Counts by the database; the runs listed."""
    drills = {
        p.id: p.key
        for p in procedures
        if p.kind == "backup_check" and (p.definition or {}).get("params", {}).get("restore_drill")
    }
    counts = {
        outcome: n
        for outcome, n in session.execute(
            select(Run.outcome, func.count())
            .where(
                Run.procedure_id.in_(drills),
                Run.started_at >= start,
                Run.started_at < end,
                Run.dry_run.is_(False),
            )
            .group_by(Run.outcome)
        )
    }
    return {
        "procedures": sorted(drills.values()),
        "outcomes": counts,
        "runs": [
            {
                "procedure": r["procedure"],
                "started_at": r["started_at"],
                "outcome": r["outcome"],
                "restore_to": r["metrics"].get("restore_to"),
                "drill_seconds": r["metrics"].get("drill_seconds"),
                "reason": r["reason"],
            }
            for r in runs
            if r["procedure"] in drills.values()
        ],
    }


def _incidents(
    session: Session, client: Client, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    contract = client_contract(client)
    rows = session.execute(
        select(Incident)
        .where(
            Incident.client_id == client.id, Incident.opened_at >= start, Incident.opened_at < end
        )
        .order_by(Incident.opened_at, Incident.id)
    ).scalars()
    out = []
    for inc in rows:
        breaches = session.execute(
            select(IncidentEvent.data).where(
                IncidentEvent.incident_id == inc.id, IncidentEvent.kind == "sla_breached"
            )
        ).scalars()
        clocks = clocks_of(session, inc, contract, client.timezone, end)
        out.append(
            {
                "id": inc.id,
                "severity": inc.severity,
                "title": inc.title,
                "opened_at": _t(inc.opened_at),
                "acknowledged_at": _t(inc.acknowledged_at),
                "resolved_at": _t(inc.resolved_at),
                "sla": {
                    c.name: {
                        "target_seconds": c.target.total_seconds(),
                        "used_seconds": c.used.total_seconds(),
                        "state": c.state,
                    }
                    for c in clocks
                },
                "breaches": sorted(str(d.get("clock")) for d in breaches if isinstance(d, dict)),
            }
        )
    return out


def _binder_changes(
    session: Session, client_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(AuditEntry)
        .where(
            AuditEntry.client_id == client_id,
            AuditEntry.at >= start,
            AuditEntry.at < end,
            or_(*(AuditEntry.action.like(pattern) for pattern in BINDER_ACTIONS)),
        )
        .order_by(AuditEntry.seq)
    ).scalars()
    return [
        {"seq": e.seq, "at": _t(e.at), "actor": e.actor, "action": e.action, "object": e.object_id}
        for e in rows
    ]


def _audit_head(session: Session, end: datetime) -> dict[str, Any]:
    """The chain's head at month end, and the newest anchor sealed by then (if any)."""
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash)
        .where(AuditEntry.at < end)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).first()
    sealed = [s for s in audit_anchor.sealed_of().seals if s.at < end]
    anchor = sealed[-1] if sealed else None
    return {
        "head_at_month_end": {"seq": head.seq, "hash": head.hash} if head else None,
        "anchor": {"at": anchor.at.isoformat(), "seq": anchor.seq, "hash": anchor.hash}
        if anchor
        else None,
    }
