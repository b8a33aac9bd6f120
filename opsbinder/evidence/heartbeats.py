"""The month of each heartbeat (jobs that run elsewhere and ping opsbinder) in the pack: the
manager report's figures (opsbinder/reports/heartbeats.py, one definition, by the database) and
the rows behind them, so an auditor can recount: each failed ping, and each silence the heartbeat
watch recorded (missed: no ping within the grace; late: a ping ended it, when).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.clock import utc
from opsbinder.incidents.heartbeats import beats_of
from opsbinder.reports.heartbeats import SILENCE, PingCounts, as_dict, last_pings, ping_counts
from opsbinder.store.models import Client, HeartbeatPing, Incident


def _t(value: datetime | None) -> str | None:
    return utc(value).isoformat() if value is not None else None


def heartbeat_month(
    session: Session, client: Client, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    beats = beats_of(client)
    if not beats:
        return []
    conn = session.connection()
    counts = ping_counts(conn, [start, end], [client.id])
    last = last_pings(conn, end, [client.id])
    failed = session.execute(
        select(HeartbeatPing.heartbeat, HeartbeatPing.at, HeartbeatPing.exit_status)
        .where(
            HeartbeatPing.client_id == client.id,
            HeartbeatPing.kind == "fail",
            HeartbeatPing.at >= start,
            HeartbeatPing.at < end,
        )
        .order_by(HeartbeatPing.at, HeartbeatPing.id)
    ).all()
    silences = session.execute(
        select(Incident)
        .where(
            Incident.client_id == client.id,
            Incident.source == "heartbeat",
            Incident.details["state"].as_string() == SILENCE,
            Incident.opened_at >= start,
            Incident.opened_at < end,
        )
        .order_by(Incident.opened_at, Incident.id)
    ).scalars()
    silenced: dict[str, list[dict[str, Any]]] = {}
    for inc in silences:
        silenced.setdefault(str((inc.details or {}).get("heartbeat")), []).append(
            {
                "incident": inc.id,
                "noticed_at": _t(inc.opened_at),
                "why": (inc.details or {}).get("error"),
                "ended_at": _t(inc.resolved_at),
                "ended_by": inc.resolved_by,
                "late_ping": inc.resolved_by == "heartbeat",
            }
        )
    return [
        {
            "heartbeat": beat.id,
            "name": beat.name,
            "schedule": f"{beat.cron} ({beat.timezone})" if beat.cron else f"every {beat.period}",
            "grace_seconds": beat.grace.total_seconds(),
            **as_dict(
                counts.get((0, client.id, beat.id), PingCounts()), last.get((client.id, beat.id))
            ),
            "failed_pings": [
                {"at": _t(at), "exit_status": status}
                for beat_id, at, status in failed
                if beat_id == beat.id
            ],
            "silences": silenced.get(beat.id, []),
        }
        for beat in beats
    ]
