"""Each component's state now and day by day over the last 90 days, from the incidents naming it.

What a client's status page shows per service, as public status pages do: operational, or the
worst impact of the incidents on it (Severity-1 a major outage, Severity-2 a partial one, lower
degraded performance). Days are the client's calendar days. A duplicate counts once, through its
primary; an incident the client was told is resolved no longer counts as open.

A maintenance window that names a component (`components:` of the binder's window) shows it
"Under maintenance" while it lasts, and marks the days it touched in the strip, so planned work
is not read as an outage nor hidden; an incident during the work still shows, as worse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsbinder.clock import utc
from opsbinder.config.models import Component, MaintenanceWindow
from opsbinder.incidents.public import headline
from opsbinder.store.models import Incident

HISTORY_DAYS = 90
LEVEL_OF = {"sev1": "major", "sev2": "partial", "sev3": "degraded", "sev4": "degraded"}
RANK = {"operational": 0, "maintenance": 1, "degraded": 2, "partial": 3, "major": 4}
WORDS = {
    "operational": "Operational",
    "maintenance": "Under maintenance",
    "degraded": "Degraded performance",
    "partial": "Partial outage",
    "major": "Major outage",
}


@dataclass
class Day:
    day: date
    level: str = "operational"
    incidents: list[str] = field(default_factory=list)  # public headlines
    maintenance: list[str] = field(default_factory=list)  # names of the windows

    @property
    def text(self) -> str:
        said = f"{self.day:%a %d %b %Y}: {WORDS[self.level]}"
        causes = self.incidents + [f"maintenance: {name}" for name in self.maintenance]
        return said + (f" ({'; '.join(causes)})" if causes else "")


@dataclass
class ComponentState:
    id: str
    name: str
    description: str
    level: str
    days: list[Day]

    @property
    def word(self) -> str:
        return WORDS[self.level]

    @property
    def troubled_days(self) -> list[Day]:
        return [d for d in self.days if d.level != "operational"]


def _worse(day: Day, level: str, title: str) -> None:
    if RANK[level] > RANK[day.level]:
        day.level = level
    if title not in day.incidents:
        day.incidents.append(title)


def _maintained(day: Day, name: str) -> None:
    if RANK[day.level] < RANK["maintenance"]:
        day.level = "maintenance"
    if name not in day.maintenance:
        day.maintenance.append(name)


def component_states(
    session: Session,
    client_id: str,
    components: Sequence[Component],
    tz: ZoneInfo,
    now: datetime,
    windows: Sequence[MaintenanceWindow] = (),
) -> list[ComponentState]:
    """`windows`: the occurrences (UTC bounds, as `calendar.windows_between` gives them) of the
    client's maintenance windows over the last `HISTORY_DAYS` days up to now."""
    if not components:
        return []
    today = utc(now).astimezone(tz).date()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    since = datetime.combine(first, time(), tz)
    rows = session.execute(
        select(Incident).where(
            Incident.client_id == client_id,
            Incident.component.in_([c.id for c in components]),
            Incident.primary_incident_id.is_(None),
            Incident.opened_at <= utc(now),
            or_(Incident.resolved_at.is_(None), Incident.resolved_at >= since),
        )
    ).scalars()
    by_component: dict[str, list[Incident]] = {}
    for incident in rows:
        by_component.setdefault(incident.component or "", []).append(incident)
    states = []
    for component in components:
        days = [Day(first + timedelta(days=n)) for n in range(HISTORY_DAYS)]
        level = "operational"
        for incident in by_component.get(component.id, []):
            impact = LEVEL_OF.get(incident.severity, "degraded")
            title = headline(incident, component.name)
            start = max(utc(incident.opened_at).astimezone(tz).date(), first)
            end = utc(incident.resolved_at).astimezone(tz).date() if incident.resolved_at else today
            for n in range((start - first).days, (min(end, today) - first).days + 1):
                _worse(days[n], impact, title)
            if incident.state != "resolved" and incident.public_state != "resolved":
                level = impact if RANK[impact] > RANK[level] else level
        for window in (w for w in windows if component.id in w.components):
            assert window.start is not None and window.end is not None
            start = max(utc(window.start).astimezone(tz).date(), first)
            end = min(utc(window.end - timedelta(microseconds=1)).astimezone(tz).date(), today)
            for n in range((start - first).days, (end - first).days + 1):
                _maintained(days[n], window.name)
            if (
                utc(window.start) <= utc(now) < utc(window.end)
                and RANK[level] < RANK["maintenance"]
            ):
                level = "maintenance"
        states.append(
            ComponentState(component.id, component.name, component.description, level, days)
        )
    return states
