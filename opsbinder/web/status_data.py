"""What one client's status page shows, gathered in a few queries (no query per incident).

Everything here is filtered by client id first: this module is the wall between clients.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbinder.binder_store import client_binder
from opsbinder.calendar import windows_between
from opsbinder.clock import Clock, utc
from opsbinder.config.models import MaintenanceWindow
from opsbinder.evidence.monthly import published_packs
from opsbinder.incidents.public import headline
from opsbinder.incidents.status_updates import chain_problems, recorded_hashes
from opsbinder.store.models import Client, Incident, IncidentEvent, Procedure, Run, StatusUpdate
from opsbinder.web.component_status import HISTORY_DAYS, ComponentState, component_states
from opsbinder.web.page_changes import AHEAD, next_change

RECENT = timedelta(days=14)
FAILING = {"failed", "crashed", "timed_out", "cancelled"}
GROUP_ORDER = ("hourly", "daily", "weekly", "monthly", "quarterly", "yearly", "on_demand")


@dataclass
class IncidentView:
    incident: Incident
    updates: list[StatusUpdate]  # newest first
    chain_ok: bool
    chain_problems: list[str]
    title: str = ""  # the public headline: never the internal title
    component: str | None = None  # the component's name, when it is one of the binder's
    breaches: list[tuple[str, datetime]] = field(default_factory=list)  # (clock, due) if shown

    @property
    def cadence(self) -> bool:
        """Whether the policy owes the client updates (Severity-1 only)."""
        return self.incident.severity == "sev1"

    @property
    def next_update_at(self) -> datetime | None:
        if self.incident.state == "resolved":
            return None
        if self.incident.next_update_due is not None:
            return utc(self.incident.next_update_due)
        newest = self.updates[0].next_update_at if self.updates else None
        return utc(newest) if newest is not None else None


@dataclass
class ProcedureState:
    key: str
    name: str
    paused: bool
    last_outcome: str | None
    last_at: datetime | None


@dataclass
class GroupState:
    name: str
    state: str  # ok failing missed paused none
    procedures: list[ProcedureState] = field(default_factory=list)


@dataclass
class StatusPage:
    client: Client
    title: str
    tz: ZoneInfo
    now: datetime
    open: list[IncidentView]
    resolved: list[IncidentView]
    maintenance: list[MaintenanceWindow]
    groups: list[GroupState]
    components: list[ComponentState] = field(default_factory=list)
    evidence: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # month, files
    changes_at: datetime | None = None  # when it next reads differently by time alone

    @property
    def updated(self) -> datetime:
        stamps = [self.now - RECENT]
        for view in self.open + self.resolved:
            stamps.append(utc(view.incident.last_occurrence_at))
            stamps.extend(utc(u.posted_at) for u in view.updates[:1])
            if view.incident.resolved_at:
                stamps.append(utc(view.incident.resolved_at))
        return max(stamps)


def _breaches(session: Session, ids: list[int]) -> dict[int, list[tuple[str, datetime]]]:
    """The SLA breaches the sweep recorded, for a contract that shows them to the client."""
    found: dict[int, list[tuple[str, datetime]]] = defaultdict(list)
    if ids:
        rows = session.execute(
            select(IncidentEvent.incident_id, IncidentEvent.data)
            .where(IncidentEvent.incident_id.in_(ids), IncidentEvent.kind == "sla_breached")
            .order_by(IncidentEvent.id)
        )
        for incident_id, data in rows:
            if isinstance(data, dict) and data.get("clock") and data.get("due_at"):
                due = utc(datetime.fromisoformat(str(data["due_at"])))
                found[incident_id].append((str(data["clock"]), due))
    return found


def _views(
    session: Session,
    incidents: list[Incident],
    names: dict[str, str] | None = None,
    show_breaches: bool = False,
) -> list[IncidentView]:
    ids = [i.id for i in incidents]
    by_incident: dict[int, list[Any]] = defaultdict(list)  # plain rows shaped like updates
    if ids:
        # plain rows, not ORM objects: a page may hold a thousand updates, read-only
        rows = session.execute(
            select(*StatusUpdate.__table__.columns)
            .where(StatusUpdate.incident_id.in_(ids))
            .order_by(StatusUpdate.incident_id, StatusUpdate.seq.desc())
        )
        for row in rows:
            by_incident[row.incident_id].append(row)
    views = []
    recorded = recorded_hashes(session, ids)
    breaches = _breaches(session, ids) if show_breaches else {}
    for incident in incidents:
        updates = by_incident[incident.id]
        report = chain_problems(list(reversed(updates)), recorded[incident.id])
        component = (names or {}).get(incident.component or "")
        title = headline(incident, component)
        views.append(
            IncidentView(
                incident,
                updates,
                not report,
                report,
                title,
                component,
                breaches.get(incident.id, []),
            )
        )
    return views


def procedure_groups(session: Session, client_id: str) -> list[GroupState]:
    """Plain rows of the columns shown, not ORM objects: building twenty procedures with their
    stored definitions and their last runs was a fifth of a normal page's render."""
    procs = session.execute(
        select(Procedure.id, Procedure.key, Procedure.name, Procedure.paused, Procedure.cadence)
        .where(Procedure.client_id == client_id, Procedure.active.is_(True))
        .order_by(Procedure.name)
    ).all()
    newest = (
        select(Run.procedure_id, func.max(Run.id).label("run_id"))
        .where(Run.client_id == client_id, Run.outcome != "running", Run.dry_run.is_(False))
        .group_by(Run.procedure_id)
        .subquery()
    )
    last_runs = {
        r.procedure_id: r
        for r in session.execute(
            select(Run.procedure_id, Run.outcome, Run.started_at, Run.ended_at).join(
                newest, Run.id == newest.c.run_id
            )
        )
    }
    groups: dict[str, GroupState] = {}
    for proc in procs:
        run = last_runs.get(proc.id)
        state = ProcedureState(
            proc.key,
            proc.name,
            proc.paused,
            run.outcome if run else None,
            utc(run.ended_at or run.started_at) if run else None,
        )
        groups.setdefault(proc.cadence, GroupState(proc.cadence, "none")).procedures.append(state)
    for group in groups.values():
        outcomes = {p.last_outcome for p in group.procedures}
        if outcomes & FAILING:
            group.state = "failing"
        elif "missed" in outcomes:
            group.state = "missed"
        elif outcomes & {"ok", "skipped"}:
            group.state = "ok"
        elif all(p.paused for p in group.procedures):
            group.state = "paused"
    order = {name: i for i, name in enumerate(GROUP_ORDER)}
    return sorted(groups.values(), key=lambda g: order.get(g.name, 99))


def status_page(session: Session, clock: Clock, client_id: str) -> StatusPage | None:
    client = session.get(Client, client_id)
    if client is None:
        return None
    now = utc(clock.now())
    cb = client_binder(session, client_id)
    names = {c.id: c.name for c in cb.components}
    open_incidents = list(
        session.execute(
            select(Incident)
            .where(
                Incident.client_id == client_id,
                Incident.state != "resolved",
                Incident.primary_incident_id.is_(None),
            )
            .order_by(Incident.opened_at.desc(), Incident.id.desc())
        ).scalars()
    )
    resolved = list(
        session.execute(
            select(Incident)
            .where(
                Incident.client_id == client_id,
                Incident.state == "resolved",
                Incident.resolved_at >= now - RECENT,
                Incident.primary_incident_id.is_(None),  # a duplicate is told once, as its primary
            )
            .order_by(Incident.resolved_at.desc(), Incident.id.desc())
            .limit(20)
        ).scalars()
    )
    # every coming one-off window, and each occurrence of a recurring one in the next quarter
    one_off = cb.model_copy(
        update={"maintenance_windows": [w for w in cb.maintenance_windows if not w.recurring]}
    )
    recurring = cb.model_copy(
        update={"maintenance_windows": [w for w in cb.maintenance_windows if w.recurring]}
    )
    windows = sorted(
        windows_between(one_off, now, datetime(2200, 1, 1, tzinfo=UTC))
        + windows_between(recurring, now, now + AHEAD),
        key=lambda w: (w.start, w.name),
    )
    shown = cb.contract is not None and cb.contract.breaches_on_status_page
    tz = ZoneInfo(client.timezone)
    history = windows_between(
        cb, now - timedelta(days=HISTORY_DAYS + 1), now + timedelta(seconds=1)
    )
    resolved_views = _views(session, resolved, names, shown)
    return StatusPage(
        client=client,
        title=cb.client.status_page_title or f"{client.name} — service status",
        tz=tz,
        now=now,
        open=_views(session, open_incidents, names, shown),
        resolved=resolved_views,
        maintenance=windows,
        groups=procedure_groups(session, client_id),
        components=component_states(session, client_id, cb.components, tz, now, history),
        evidence=published_packs(client_id),
        changes_at=next_change(
            now,
            tz,
            [*windows, *history],
            recurring if recurring.maintenance_windows else None,
            [utc(v.incident.resolved_at) for v in resolved_views if v.incident.resolved_at],
            RECENT,
            day_strips=bool(cb.components),
        ),
    )
