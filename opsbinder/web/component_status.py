"""Each component's state now and day by day over the last 90 days, from the incidents naming it.

What a client's status page shows per service, as public status pages do: operational, or the
worst impact of the incidents on it (Severity-1 a major outage, Severity-2 a partial one, lower
degraded performance). Days are the client's calendar days. A duplicate counts once, through its
primary; an incident the client was told is resolved no longer counts as open.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from opsbinder.clock import utc
from opsbinder.config.models import Component
from opsbinder.incidents.public import headline
from opsbinder.store.models import Incident

HISTORY_DAYS = 90
LEVEL_OF = {"sev1": "major", "sev2": "partial", "sev3": "degraded", "sev4": "degraded"}
RANK = {"operational": 0, "degraded": 1, "partial": 2, "major": 3}
WORDS = {
    "operational": "Operational",
    "degraded": "Degraded performance",
    "partial": "Partial outage",
    "major": "Major outage",
}


@dataclass
class Day:
    day: date
    level: str = "operational"
    incidents: list[str] = field(default_factory=list)  # public headlines

    @property
    def text(self) -> str:
        said = f"{self.day:%a %d %b %Y}: {WORDS[self.level]}"
        return said + (f" ({'; '.join(self.incidents)})" if self.incidents else "")


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


def component_states(
    session: Session,
    client_id: str,
    components: Sequence[Component],
    tz: ZoneInfo,
    now: datetime,
) -> list[ComponentState]:
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
        states.append(
            ComponentState(component.id, component.name, component.description, level, days)
        )
    return states
