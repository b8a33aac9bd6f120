"""When a client's status page next changes by time alone, so it is rendered then and not before.

A kept page is rendered by the writer of each change to its data; the minutely sweep renders it
again only once this instant has passed (`opsbinder.store.stored_pages.due`). Everything the page
shows that moves while no data changes is listed here, and a new one must be added here:

- a maintenance window starting or ending (the "Scheduled maintenance" list drops a window at
  its end; a component is "Under maintenance" from its start to its end);
- a recurring window's next occurrence entering the list's horizon (`AHEAD`, 92 days);
- the 90-day strips moving to a new day at the client's midnight (only when it has components;
  the strips also drop incidents resolved before their first day then);
- a resolved incident leaving "Recently resolved" 14 days after its resolution.

The "As of" line is not rendered anew for time: the server writes the time it sends a page that
is current (`opsbinder.web.as_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from opsbinder.calendar import windows_between
from opsbinder.clock import utc
from opsbinder.config.models import ClientBinder, MaintenanceWindow

AHEAD = timedelta(days=92)  # how far ahead the page lists a recurring window's occurrences
LOOK_PAST_AHEAD = timedelta(days=1)  # recurring occurrences sought beyond it; then look again
SOON_AFTER = timedelta(milliseconds=1)  # the first instant after one that still shows a thing


def next_midnight(now: datetime, tz: ZoneInfo) -> datetime:
    """The next start of a calendar day in `tz` (a day of 23 or 25 hours at a DST change)."""
    today: date = utc(now).astimezone(tz).date()
    return utc(datetime.combine(today + timedelta(days=1), time(), tz))


def next_change(
    now: datetime,
    tz: ZoneInfo,
    windows: Iterable[MaintenanceWindow],
    recurring: ClientBinder | None,
    resolved_at: Iterable[datetime],
    recent: timedelta,
    day_strips: bool,
) -> datetime | None:
    """The earliest instant after `now` at which the page, its data unchanged, would read
    differently; None when nothing on it changes by time alone.

    `windows`: every occurrence the page uses (listed and in the strips' history);
    `recurring`: the client's binder holding only its recurring windows (None: it has none);
    `resolved_at`: the resolution times of the resolved incidents it lists, kept `recent`."""
    now = utc(now)
    found: list[datetime] = []
    for window in windows:
        found.extend(t for t in (window.start, window.end) if t is not None and utc(t) > now)
    gone = recent + SOON_AFTER  # listed while resolved at or after now - recent
    found.extend(utc(t) + gone for t in resolved_at if utc(t) + gone > now)
    if day_strips:
        found.append(next_midnight(now, tz))
    if recurring is not None:
        found.append(_next_entering(recurring, now))
    return min((utc(t) for t in found), default=None)


def _next_entering(recurring: ClientBinder, now: datetime) -> datetime:
    """When the next occurrence beyond the horizon enters it; a day on if none is that near."""
    horizon = now + AHEAD
    later: Sequence[MaintenanceWindow] = windows_between(
        recurring, horizon, horizon + LOOK_PAST_AHEAD
    )
    starts = [
        utc(w.start) - AHEAD for w in later if w.start is not None and utc(w.start) >= horizon
    ]
    return min([*starts, now + LOOK_PAST_AHEAD])
