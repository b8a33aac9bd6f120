"""A month's report for one client (or all): figures per procedure, per client, and the trend."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select

from opsbinder.errors import NotFound, OpsbinderError
from opsbinder.reports.figures import Figures, incident_figures, update_figures
from opsbinder.reports.heartbeats import LastPing, PingCounts, as_dict, last_pings, ping_counts
from opsbinder.reports.run_days import run_figures
from opsbinder.store.models import Client, Procedure

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        match = _MONTH.match(text.strip())
        if not match:
            raise OpsbinderError(f"--month must look like 2026-10 (year-month), got {text!r}")
        return cls(int(match.group(1)), int(match.group(2)))

    def shift(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def bounds(self, tz: str) -> tuple[datetime, datetime]:
        """The month in the client's own calendar, as UTC instants [start, end)."""
        zone = ZoneInfo(tz)
        nxt = self.shift(1)
        start = datetime(self.year, self.month, 1, tzinfo=zone).astimezone(UTC)
        end = datetime(nxt.year, nxt.month, 1, tzinfo=zone).astimezone(UTC)
        return start, end

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass
class ProcedureLine:
    client_id: str
    key: str
    name: str
    kind: str
    severity: str
    figures: Figures


@dataclass
class ClientLine:
    client_id: str
    name: str
    timezone: str
    figures: Figures


@dataclass
class HeartbeatLine:
    """A job that pings (the binder's `heartbeats:`), counted like a procedure's runs."""

    client_id: str
    key: str
    name: str
    counts: PingCounts
    last: LastPing | None


@dataclass
class TrendPoint:
    month: str
    figures: Figures


@dataclass
class Report:
    month: str
    timezone: str
    start: datetime
    end: datetime
    generated_at: datetime
    clients: list[ClientLine]
    procedures: list[ProcedureLine]
    trend: list[TrendPoint] = field(default_factory=list)
    heartbeats: list[HeartbeatLine] = field(default_factory=list)

    @property
    def total(self) -> Figures:
        total = Figures()
        for line in self.clients:
            total.add(line.figures)
        return total

    @property
    def at_risk(self) -> list[ClientLine]:
        """Clients whose incidents of this month already breached an SLA clock: the month's
        attainment can no longer be 100%, and the client is the one to call."""
        return [c for c in self.clients if c.figures.breach_count]

    @property
    def title(self) -> str:
        if len(self.clients) == 1:
            return f"{self.clients[0].name} — operations report {self.month}"
        return f"Operations report {self.month} — {len(self.clients)} clients"

    def as_dict(self) -> dict[str, Any]:
        return {
            "month": self.month,
            "timezone": self.timezone,
            "period": {"start": self.start.isoformat(), "end": self.end.isoformat()},
            "generated_at": self.generated_at.isoformat(),
            "total": self.total.as_dict(),
            "clients": [
                {"client": c.client_id, "name": c.name, **c.figures.as_dict()} for c in self.clients
            ],
            "procedures": [
                {
                    "client": p.client_id,
                    "procedure": p.key,
                    "name": p.name,
                    "kind": p.kind,
                    "severity": p.severity,
                    **p.figures.as_dict(),
                }
                for p in self.procedures
            ],
            "trend": [{"month": t.month, **t.figures.as_dict()} for t in self.trend],
            "clients_at_risk": [c.client_id for c in self.at_risk],
            "heartbeats": [
                {
                    "client": h.client_id,
                    "heartbeat": h.key,
                    "name": h.name,
                    **as_dict(h.counts, h.last),
                }
                for h in self.heartbeats
            ],
        }


@contextmanager
def _connected(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection of its own from an engine, or the caller's (the web request's) as is."""
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.connect() as conn:
        yield conn


def _periods(
    engine: Engine | Connection, edges: list[datetime], client_ids: list[str] | None
) -> tuple[dict[tuple[int, int], Figures], dict[tuple[int, str, int | None], Figures]]:
    """Run figures per (period, procedure); incident and update figures per (period, client,
    procedure). Three queries in all, however many months the trend covers."""
    with _connected(engine) as conn:
        runs = run_figures(conn, edges, client_ids, detail_from=len(edges) - 2)
        incidents = incident_figures(conn, edges, client_ids)
        for key, fig in update_figures(conn, edges, client_ids).items():
            incidents.setdefault(key, Figures()).add(fig)
    return runs, incidents


def build_report(
    engine: Engine | Connection,
    month: Month,
    *,
    client_id: str | None = None,
    trend_months: int = 6,
    now: datetime | None = None,
) -> Report:
    with _connected(engine) as conn:
        client_query = select(Client).order_by(Client.id)
        if client_id is not None:
            client_query = client_query.where(Client.id == client_id)
        clients = list(conn.execute(client_query))
        if client_id is not None and not clients:
            raise NotFound(f"no client {client_id!r} in the store")
        proc_query = select(
            Procedure.id,
            Procedure.client_id,
            Procedure.key,
            Procedure.name,
            Procedure.kind,
            Procedure.severity,
            Procedure.active,
        ).order_by(Procedure.client_id, Procedure.key)
        if client_id is not None:
            proc_query = proc_query.where(Procedure.client_id == client_id)
        procedures = list(conn.execute(proc_query))
    tz = clients[0].timezone if client_id is not None else "UTC"
    ids = [client_id] if client_id is not None else None
    months = [month.shift(-back) for back in range(trend_months, -1, -1)]
    edges = [m.bounds(tz)[0] for m in months] + [month.bounds(tz)[1]]
    start, end = edges[-2], edges[-1]
    runs, incidents = _periods(engine, edges, ids)
    current = len(months) - 1
    heartbeats = _heartbeat_lines(engine, clients, start, end, ids)

    proc_lines: list[ProcedureLine] = []
    by_client: dict[str, Figures] = {c.id: Figures() for c in clients}
    for p in procedures:
        fig = Figures()
        fig.add(runs.get((current, p.id), Figures()))
        fig.add(incidents.get((current, p.client_id, p.id), Figures()))
        if not p.active and fig.runs == 0 and fig.incident_count == 0 and fig.missed == 0:
            continue  # removed from the binder and nothing to say about it this month
        proc_lines.append(ProcedureLine(p.client_id, p.key, p.name, p.kind, p.severity, fig))
        by_client[p.client_id].add(fig)
    for (i, cid, pid), fig in incidents.items():
        if i == current and pid is None and cid in by_client:  # raised by hand, not by a run
            by_client[cid].add(fig)

    totals = [Figures() for _ in months]
    for (i, _pid), fig in runs.items():
        totals[i].add(fig)
    for (i, _cid, _procedure_id), fig in incidents.items():
        totals[i].add(fig)
    trend = [TrendPoint(str(m), totals[i]) for i, m in enumerate(months)]

    return Report(
        month=str(month),
        timezone=tz,
        start=start,
        end=end,
        generated_at=now or datetime.now(UTC),
        clients=[ClientLine(c.id, c.name, c.timezone, by_client[c.id]) for c in clients],
        procedures=proc_lines,
        trend=trend,
        heartbeats=heartbeats,
    )


def _heartbeat_lines(
    engine: Engine | Connection,
    clients: list[Any],
    start: datetime,
    end: datetime,
    ids: list[str] | None,
) -> list[HeartbeatLine]:
    """Each client's heartbeats in its binder, and any other that pinged in the month."""
    with _connected(engine) as conn:
        counts = ping_counts(conn, [start, end], ids)
        last = last_pings(conn, end, ids)
    names = {
        (c.id, str(b.get("id"))): str(b.get("name") or b.get("id"))
        for c in clients
        for b in (c.definition or {}).get("heartbeats") or []
    }
    keys = sorted({*names, *((cid, beat) for _, cid, beat in counts)})
    return [
        HeartbeatLine(
            cid,
            beat,
            names.get((cid, beat), beat),
            counts.get((0, cid, beat), PingCounts()),
            last.get((cid, beat)),
        )
        for cid, beat in keys
    ]
