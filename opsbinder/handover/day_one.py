"""The export's front page: what a successor must know on day one, most urgent first.

A technician handed the binder on a Monday morning asks, in this order: is anything burning
(open incidents and how far their SLA clocks have run), what falls due (end of support, expiring
certificates, overdue patches), what runs in the next three days and which of those runs
deletes data, who answers the pager this week, whether the client is locked down, when the
pager moves to them, and what the audit says is missing. Everything is read at the dossier's
instant (the Clock the export was given), so the page says what was true when it was written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import calendar
from opsbinder.clock import utc
from opsbinder.config.models import SoftwareInventory
from opsbinder.handover import oncall_view
from opsbinder.handover.contradictions import DESTRUCTIVE
from opsbinder.handover.dossier import Dossier
from opsbinder.handover.oncall_view import Segment
from opsbinder.incidents.sla import ClockState
from opsbinder.incidents.sla_terms import clocks_of
from opsbinder.incidents.slots import fire_times
from opsbinder.procedures.update_reminder import deadlines
from opsbinder.store.models import Incident, WorkItem

RUNS_AHEAD = timedelta(hours=72)
ONCALL_AHEAD = timedelta(days=7)
MAX_RUNS = 200  # an every-minute procedure would drown the page: the rest is on its own page


@dataclass(frozen=True)
class OpenIncident:
    incident: Incident
    clocks: tuple[ClockState, ...]

    @property
    def worst(self) -> str:
        """The state of the clock nearest to breaking its promise ('' without a contract)."""
        order = ("breached", "at risk", "running", "paused", "met")
        states = [c.state for c in self.clocks]
        return next((s for s in order if s in states), "")


@dataclass(frozen=True)
class Risk:
    due: date
    what: str  # "end of support", "certificate expiry", "patch"
    subject: str
    owner: str | None
    reminder: WorkItem | None

    def days_left(self, today: date) -> int:
        return (self.due - today).days


@dataclass(frozen=True)
class UpcomingRun:
    at: datetime  # in the client's zone
    procedure: str
    name: str
    kind: str
    page: str
    suppressed: str | None  # why a maintenance window or holiday skips it
    paused: bool

    @property
    def destructive(self) -> bool:
        return self.kind in DESTRUCTIVE


@dataclass(frozen=True)
class DayOne:
    now: datetime  # in the client's zone
    incidents: list[OpenIncident]
    risks: list[Risk]
    runs: list[UpcomingRun]
    runs_cut: bool  # more runs than MAX_RUNS in the window
    oncall: dict[str, list[Segment]]

    @property
    def today(self) -> date:
        return self.now.date()


def gather_day_one(session: Session, dossier: Dossier) -> DayOne:
    zone = ZoneInfo(dossier.binder.client.timezone)
    now = dossier.generated_at
    runs = _runs(dossier, zone)
    return DayOne(
        now=utc(now).astimezone(zone),
        incidents=_incidents(session, dossier),
        risks=_risks(session, dossier),
        runs=runs[:MAX_RUNS],
        runs_cut=len(runs) > MAX_RUNS,
        oncall={
            s.id: oncall_view.segments(s, now, now + ONCALL_AHEAD)
            for s in dossier.binder.oncall_schedules
        },
    )


def _incidents(session: Session, dossier: Dossier) -> list[OpenIncident]:
    binder = dossier.binder
    found = [
        OpenIncident(
            i,
            clocks_of(session, i, binder.contract, binder.client.timezone, dossier.generated_at),
        )
        for i in dossier.open_incidents
    ]
    # the most severe first, then the longest open
    return sorted(found, key=lambda o: (o.incident.severity, utc(o.incident.opened_at)))


def _risks(session: Session, dossier: Dossier) -> list[Risk]:
    open_reminders = {
        w.title: w
        for w in session.execute(
            select(WorkItem).where(
                WorkItem.client_id == dossier.client.id,
                WorkItem.kind == "reminder",
                WorkItem.completed_at.is_(None),
            )
        ).scalars()
    }
    found = []
    for system in dossier.binder.systems:
        if not isinstance(system, SoftwareInventory):
            continue
        for item in system.items:
            for deadline in deadlines(item):
                certificate = "certificate" in item.product.lower()
                what = deadline.what
                if what == "end of support" and certificate:
                    what = "certificate expiry"
                found.append(
                    Risk(
                        deadline.due,
                        what,
                        f"{item.product} {item.version}",
                        item.owner,
                        open_reminders.get(deadline.title),
                    )
                )
    return sorted(found, key=lambda r: (r.due, r.subject))


def _runs(dossier: Dossier, zone: ZoneInfo) -> list[UpcomingRun]:
    now = dossier.generated_at
    found = []
    for facts in dossier.procedures:
        schedule = facts.config.schedule
        if schedule is None:
            continue
        for at in fire_times(schedule.cron, schedule.timezone, now, now + RUNS_AHEAD):
            found.append(
                UpcomingRun(
                    at.astimezone(zone),
                    facts.config.id,
                    facts.config.name,
                    facts.config.kind,
                    facts.page,
                    calendar.suppression(dossier.binder, facts.config.id, at),
                    facts.paused,
                )
            )
    return sorted(found, key=lambda r: (r.at, r.procedure))
