"""An incident's SLA terms read from the store: its client's contract, its times, its waits.

The clocks themselves are pure (sla.py); this is the one place that gathers what they need,
for the escalator, the console, the CLI and the status page alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from opsbinder.clock import utc
from opsbinder.config.models import Contract
from opsbinder.incidents import waits
from opsbinder.incidents.sla import ClockState, Pause, ServiceCalendar, SlaTerms, clock_states
from opsbinder.store.models import Incident


def terms_of(
    session: Session,
    incident: Incident,
    contract: Contract | None,
    zone: str,
    pauses: Sequence[Pause] | None = None,
    calendars: dict[tuple[str, str], ServiceCalendar] | None = None,
) -> SlaTerms | None:
    """None when the client has no contract or it sets no target for this severity. `pauses`,
    when a pass over many incidents has read them all at once, saves a query per incident;
    `calendars`, kept by such a pass for one contract and zone, lays out each severity's
    service week once instead of once per incident."""
    target = contract.target(incident.severity) if contract is not None else None
    if contract is None or target is None:
        return None
    start = (incident.details or {}).get("ladder_start")
    kept = None if calendars is None else calendars.get((zone, incident.severity))
    calendar = kept or ServiceCalendar.of(contract, zone, incident.severity)
    if calendars is not None:
        calendars[(zone, incident.severity)] = calendar
    return SlaTerms(
        calendar=calendar,
        response=target.response,
        resolution=target.resolution,
        start=utc(datetime.fromisoformat(start)) if start else utc(incident.opened_at),
        acknowledged_at=utc(incident.acknowledged_at) if incident.acknowledged_at else None,
        resolved_at=utc(incident.resolved_at) if incident.resolved_at else None,
        pauses=tuple(waits.pauses_of(session, incident.id) if pauses is None else pauses),
        share=contract.pre_breach_share,
        public=contract.breaches_on_status_page,
    )


def clocks_of(
    session: Session, incident: Incident, contract: Contract | None, zone: str, now: datetime
) -> tuple[ClockState, ...]:
    """The incident's response and resolution clocks at `now` (none without a contract)."""
    terms = terms_of(session, incident, contract, zone)
    return () if terms is None else clock_states(terms, utc(now))
