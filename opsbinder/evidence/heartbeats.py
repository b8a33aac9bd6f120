"""The month of each heartbeat (jobs that run elsewhere and ping opsbinder): what was due, and
which pings came on time, late, failed or never.

Pings are counted by the database (per heartbeat and kind); what was due comes from the
binder's schedule, which the store does not hold as rows, so each due time is matched here to
the pings the database returned. The rule is the heartbeat watch's: a due time is answered by
the first successful ping at or after it and before the next due time (for a `period`, the next
one counts from the ping that answered); on time within `grace`, late after it, missed with
none. A due time inside a maintenance window or holiday is suppressed, as the watch does, and
due times before the watch began expecting the heartbeat are not counted.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from opsbinder.binder_store import client_binder
from opsbinder.calendar import suppression
from opsbinder.clock import utc
from opsbinder.config.models import ClientBinder, Heartbeat
from opsbinder.incidents.heartbeats import beats_of
from opsbinder.incidents.missed_runs import fire_times
from opsbinder.store.models import Client, HeartbeatPing

TINY = timedelta(microseconds=1)
AFTER = timedelta(days=1)  # how far past the month a ping may still answer its last due time
MAX_DUE = 50_000  # a one-minute period over a month is 44,640


def heartbeat_month(
    session: Session, client: Client, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    beats = beats_of(client)
    if not beats:
        return []
    binder = client_binder(session, client.id, with_procedures=False)
    counts: dict[str, dict[str, int]] = {}
    for beat_id, kind, n in session.execute(
        select(HeartbeatPing.heartbeat, HeartbeatPing.kind, func.count())
        .where(
            HeartbeatPing.client_id == client.id,
            HeartbeatPing.at >= start,
            HeartbeatPing.at < end,
        )
        .group_by(HeartbeatPing.heartbeat, HeartbeatPing.kind)
    ):
        counts.setdefault(beat_id, {})[kind] = n
    return [
        _one(session, binder, client.id, beat, counts.get(beat.id, {}), start, end)
        for beat in beats
    ]


def _one(
    session: Session,
    binder: ClientBinder,
    client_id: str,
    beat: Heartbeat,
    counts: dict[str, int],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    mine = (HeartbeatPing.client_id == client_id, HeartbeatPing.heartbeat == beat.id)
    watched = session.execute(select(func.min(HeartbeatPing.at)).where(*mine)).scalar()
    horizon = end + (beat.period or AFTER) + beat.grace
    before = session.execute(
        select(func.max(HeartbeatPing.at)).where(
            *mine, HeartbeatPing.kind == "success", HeartbeatPing.at < start
        )
    ).scalar()
    successes = [
        utc(at)
        for at in session.execute(
            select(HeartbeatPing.at)
            .where(*mine, HeartbeatPing.kind == "success", HeartbeatPing.at >= start)
            .where(HeartbeatPing.at < horizon)
            .order_by(HeartbeatPing.at)
        ).scalars()
    ]
    failed = session.execute(
        select(HeartbeatPing.at, HeartbeatPing.exit_status)
        .where(*mine, HeartbeatPing.kind == "fail", HeartbeatPing.at >= start)
        .where(HeartbeatPing.at < end)
        .order_by(HeartbeatPing.at)
    ).all()
    since = max(start, utc(watched)) if watched is not None else end
    slots = _slots(beat, since, end, successes, utc(before) if before else None)
    out: dict[str, Any] = {
        "heartbeat": beat.id,
        "name": beat.name,
        "schedule": (beat.cron and f"{beat.cron} ({beat.timezone})") or f"every {beat.period}",
        "grace_seconds": beat.grace.total_seconds(),
        "pings": counts,
        "due": 0,
        "on_time": 0,
        "late": [],
        "missed": [],
        "suppressed": 0,
        "failed": [{"at": utc(at).isoformat(), "exit_status": s} for at, s in failed],
    }
    for due, answer in slots:
        if suppression(binder, beat.id, due):
            out["suppressed"] += 1
            continue
        out["due"] += 1
        if answer is None:
            out["missed"].append(due.isoformat())
        elif answer > due + beat.grace:
            out["late"].append({"due": due.isoformat(), "pinged": answer.isoformat()})
        else:
            out["on_time"] += 1
    return out


def _slots(
    beat: Heartbeat,
    since: datetime,
    end: datetime,
    successes: list[datetime],
    before: datetime | None,
) -> list[tuple[datetime, datetime | None]]:
    """Each due time in [since, end) with the ping that answered it (None: none did); a
    period's ping may come early (before its due time): it is on time."""
    if since >= end:
        return []
    if beat.cron is not None and beat.timezone is not None:
        fires = fire_times(beat.cron, beat.timezone, since - TINY, end + AFTER)[:MAX_DUE]
        nexts = [*fires[1:], end + AFTER][: len(fires)]
        pairs = zip(fires, nexts, strict=True)
        return [(d, _first(successes, d, n)) for d, n in pairs if d < end]
    assert beat.period is not None
    slots: list[tuple[datetime, datetime | None]] = []
    last = before or since  # the last ping (or the watch's start) the next due time counts from
    while last + beat.period < end and len(slots) < MAX_DUE:
        due = last + beat.period
        i = bisect.bisect_right(successes, last)
        answer = successes[i] if i < len(successes) and successes[i] < due + beat.period else None
        if due >= since:
            slots.append((due, answer))
        last = answer if answer is not None else due
    return slots


def _first(times: list[datetime], lo: datetime, hi: datetime) -> datetime | None:
    """The first of the sorted `times` in [lo, hi)."""
    i = bisect.bisect_left(times, lo)
    return times[i] if i < len(times) and times[i] < hi else None
