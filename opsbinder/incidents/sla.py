"""SLA clocks: how much of a target has run between two instants, and when it runs out.

A clock counts only inside the client's service hours (a weekly calendar of local wall-clock
spans, minus the contract's holidays, or every minute for 24/7) and stands still while the
incident waits on the client. Spans are laid out on the local calendar and only then turned
into instants, so a DST change makes a "08:00-18:00" day as long as the wall clock says
(a 00:00-24:00 day is 23 or 25 hours). Pure functions: the instants come in as arguments.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsbinder.config.models import Contract

Span = tuple[datetime, datetime]
Pause = tuple[datetime, datetime | None]  # an open pause (None) runs until further notice
Week = tuple[tuple[tuple[int, int], ...], ...]  # Monday first: (start, end) minutes of the day

HORIZON_DAYS = 366 * 20  # a deadline further out than this is "never" (a one-minute week)
_FOREVER = datetime(9000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ServiceCalendar:
    """When a clock runs: `week` None means always (24/7)."""

    zone: ZoneInfo
    week: Week | None = None
    holidays: frozenset[date] = frozenset()

    @classmethod
    def always(cls) -> ServiceCalendar:
        return cls(ZoneInfo("UTC"))

    @classmethod
    def of(cls, contract: Contract, zone_name: str, severity: str) -> ServiceCalendar:
        """The calendar a severity's clocks count in under this contract."""
        target = contract.target(severity)
        hours = contract.service_hours
        if hours is None or (target is not None and target.counted == "always"):
            return cls.always()
        return cls(ZoneInfo(zone_name), hours.week(), frozenset(hours.holidays))


def service_spans(
    calendar: ServiceCalendar, start: datetime, end: datetime | None
) -> Iterator[Span]:
    """The service time between `start` and `end` (None: open-ended), as UTC spans in order."""
    stop = _FOREVER if end is None else end.astimezone(UTC)
    start = start.astimezone(UTC)
    if start >= stop:
        return
    if calendar.week is None:
        yield start, stop
        return
    day = start.astimezone(calendar.zone).date() - timedelta(days=1)
    for _ in range(HORIZON_DAYS):
        for first, last in _day_spans(calendar, day):
            if first >= stop:
                return
            if last > start:
                yield max(first, start), min(last, stop)
        day += timedelta(days=1)


def _day_spans(calendar: ServiceCalendar, day: date) -> Iterator[Span]:
    if day in calendar.holidays or calendar.week is None:
        return
    midnight = datetime.combine(day, time(), tzinfo=calendar.zone)
    for first, last in calendar.week[day.weekday()]:
        # wall-clock arithmetic on an aware datetime (24:00 is the next midnight), then the
        # instant: a span is as long as the wall clock says on a DST-change day
        opens = midnight + timedelta(minutes=first)
        closes = midnight + timedelta(minutes=last)
        yield opens.astimezone(UTC), closes.astimezone(UTC)


def _merged(pauses: Sequence[Pause]) -> list[Span]:
    spans = sorted((a.astimezone(UTC), (b or _FOREVER).astimezone(UTC)) for a, b in pauses)
    out: list[Span] = []
    for first, last in spans:
        if out and first <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], last))
        elif last > first:
            out.append((first, last))
    return out


def _minus(spans: Iterator[Span], pauses: Sequence[Pause]) -> Iterator[Span]:
    """The spans with the pauses cut out of them."""
    cuts = _merged(pauses)
    for first, last in spans:
        for cut_start, cut_end in cuts:
            if cut_end <= first or cut_start >= last:
                continue
            if cut_start > first:
                yield first, cut_start
            first = max(first, cut_end)
            if first >= last:
                break
        if first < last:
            yield first, last
        if cuts and first >= cuts[-1][0] and cuts[-1][1] == _FOREVER:
            return


def elapsed(
    calendar: ServiceCalendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()
) -> timedelta:
    """Service time between two instants that the client was not being waited on."""
    total = timedelta(0)
    for first, last in _minus(service_spans(calendar, start, end), pauses):
        total += last - first
    return total


def deadline(
    calendar: ServiceCalendar, start: datetime, target: timedelta, pauses: Sequence[Pause] = ()
) -> datetime | None:
    """The instant `target` of service time has run since `start`; None while it cannot run out
    (paused until further notice, or beyond the horizon)."""
    left = target
    for first, last in _minus(service_spans(calendar, start, None), pauses):
        if last - first >= left:
            return first + left
        left -= last - first
    return None


@dataclass(frozen=True)
class SlaTerms:
    """One incident's promise: its targets, when its clocks started and stopped, its waits."""

    calendar: ServiceCalendar
    response: timedelta
    resolution: timedelta
    start: datetime  # opened, or reopened: a new epoch starts new clocks
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    pauses: tuple[Pause, ...] = ()
    share: float = 0.75  # of a target used before the next level is paged
    public: bool = False  # the contract shows breaches on the status page


@dataclass(frozen=True)
class ClockState:
    """Where one clock stands at an instant."""

    name: str  # "response" or "resolution"
    target: timedelta
    used: timedelta  # service time counted until it stopped, or until now
    warn_at: datetime | None  # None: cannot be reached while the incident waits on the client
    due_at: datetime | None
    stopped_at: datetime | None  # acknowledged (response) or resolved (both)
    breached: bool
    at_risk: bool  # running, the pre-breach share used, not yet breached

    @property
    def running(self) -> bool:
        return self.stopped_at is None

    @property
    def state(self) -> str:
        if self.breached:
            return "breached"
        if not self.running:
            return "met"
        if self.due_at is None:
            return "paused"
        return "at risk" if self.at_risk else "running"


CLOCKS = ("response", "resolution")


def clock_states(terms: SlaTerms, now: datetime) -> tuple[ClockState, ClockState]:
    """The response clock (stops at the acknowledgement) and the resolution clock."""
    return clock_state(terms, "response", now), clock_state(terms, "resolution", now)


def clock_state(terms: SlaTerms, name: str, now: datetime) -> ClockState:
    """One of the two clocks (`CLOCKS`) at `now`."""
    return _state(terms, name, _target(terms, name), _stopped(terms, name), now)


def _target(terms: SlaTerms, name: str) -> timedelta:
    return terms.response if name == "response" else terms.resolution


def _stopped(terms: SlaTerms, name: str) -> datetime | None:
    if name == "response":
        return terms.acknowledged_at or terms.resolved_at
    return terms.resolved_at


def may_breach(terms: SlaTerms, name: str, now: datetime) -> bool:
    """False when the clock cannot be past its target at `now`, found without laying out one
    service span: service time never runs faster than the wall clock (spans are cut to the
    clock's start and pauses only remove time), so the deadline is at least `target` after the
    start. A minutely pass over every open incident asks this first and computes the clock only
    when it is True (most clocks of a steady pass are far from their targets)."""
    stopped = _stopped(terms, name)
    return _since_start(terms, stopped if stopped is not None else now) > _target(terms, name)


def may_warn(terms: SlaTerms, name: str, now: datetime) -> bool:
    """False when the clock cannot be running past its pre-breach share at `now` (the share's
    instant is at least `share x target` after the start, as in `may_breach`)."""
    if _stopped(terms, name) is not None:
        return False
    return _since_start(terms, now) >= _target(terms, name) * terms.share


def _since_start(terms: SlaTerms, instant: datetime) -> timedelta:
    """Real time, not wall-clock time: two datetimes of one zone subtract as wall clocks, an
    hour short across a fall-back change."""
    return instant.astimezone(UTC) - terms.start.astimezone(UTC)


def _state(
    terms: SlaTerms, name: str, target: timedelta, stopped: datetime | None, now: datetime
) -> ClockState:
    until = stopped if stopped is not None else now
    used = elapsed(terms.calendar, terms.start, until, terms.pauses)
    due = deadline(terms.calendar, terms.start, target, terms.pauses)
    warn = deadline(terms.calendar, terms.start, target * terms.share, terms.pauses)
    breached = due is not None and until > due
    at_risk = stopped is None and not breached and warn is not None and now >= warn
    return ClockState(name, target, used, warn, due, stopped, breached, at_risk)
