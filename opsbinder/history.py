"""Run history: the store's runs merged with what Prefect knows, so no run is missing.

The store records what a flow did (outcome, metrics). Prefect also knows runs that never reached
the store: late and never started, crashed before the flow's first line, cancelled while waiting.
Both sides are joined on the flow-run id; a Prefect run the store does not have is listed with an
outcome derived from its state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder.orchestrator.flow_history import PrefectRun
from opsbinder.store.models import HeartbeatPing, Procedure, Run

OUTCOMES = (
    "ok",
    "failed",
    "crashed",
    "timed_out",
    "cancelled",
    "skipped",
    "missed",
    "running",
    "late",
    "scheduled",
)


@dataclass(frozen=True)
class HistoryFilter:
    client_id: str | None = None
    procedure: str | None = None
    kind: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 200

    @property
    def prefect_tags(self) -> list[str]:
        tags = []
        if self.client_id:
            tags.append(f"client:{self.client_id}")
        if self.procedure:
            tags.append(f"procedure:{self.procedure}")
        if self.kind:
            tags.append(f"kind:{self.kind}")
        return tags


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    client_id: str
    procedure: str
    kind: str
    outcome: str
    source: str  # "store", "prefect" or "both"
    scheduled_for: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    flow_run_id: str | None = None
    prefect_state: str | None = None
    reason: str = ""


def outcome_of_state(run: PrefectRun, now: datetime) -> str:
    """A Prefect state in the store's words, for runs the store never saw."""
    kind, name = (run.state_type or "").upper(), run.state_name or ""
    if kind == "SCHEDULED":
        expected = run.expected_start_time
        return "late" if name == "Late" or (expected and expected < now) else "scheduled"
    if kind in ("PENDING", "RUNNING", "CANCELLING", "PAUSED"):
        return "running"
    return {
        "COMPLETED": "ok",
        "FAILED": "timed_out" if name == "TimedOut" else "failed",
        "CRASHED": "crashed",
        "CANCELLED": "cancelled",
    }.get(kind, name.lower() or "unknown")


def _utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; the store only holds UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def store_entries(engine: Engine, flt: HistoryFilter) -> list[HistoryEntry]:
    query = (
        select(Run, Procedure.key, Procedure.kind)
        .join(Procedure, Procedure.id == Run.procedure_id)
        .order_by(Run.started_at.desc(), Run.id.desc())
        .limit(flt.limit)
    )
    if flt.client_id:
        query = query.where(Run.client_id == flt.client_id)
    if flt.procedure:
        query = query.where(Procedure.key == flt.procedure)
    if flt.kind:
        query = query.where(Procedure.kind == flt.kind)
    if flt.outcome:
        query = query.where(Run.outcome == flt.outcome)
    if flt.since:
        query = query.where(Run.started_at >= flt.since)
    if flt.until:
        query = query.where(Run.started_at < flt.until)
    with Session(engine) as session:
        rows = session.execute(query).all()
    return [
        HistoryEntry(
            at=_utc(row.Run.started_at) or row.Run.started_at,
            client_id=row.Run.client_id,
            procedure=row.key,
            kind=row.kind,
            outcome=row.Run.outcome,
            source="store",
            scheduled_for=_utc(row.Run.scheduled_for),
            started_at=_utc(row.Run.started_at),
            ended_at=_utc(row.Run.ended_at),
            flow_run_id=row.Run.flow_run_id,
            reason=row.Run.reason or "",
        )
        for row in rows
    ]


# a heartbeat's ping in the words of a run; `log` pings carry no outcome and `watch` rows only
# mark when the watch began
PING_OUTCOMES = {"success": "ok", "fail": "failed", "start": "running"}


def ping_entries(engine: Engine, flt: HistoryFilter) -> list[HistoryEntry]:
    """Heartbeat pings, listed like runs (kind `heartbeat`, the heartbeat's id as procedure)."""
    kinds = [k for k, outcome in PING_OUTCOMES.items() if flt.outcome in (None, outcome)]
    if (flt.kind and flt.kind != "heartbeat") or not kinds:
        return []
    query = (
        select(HeartbeatPing)
        .where(HeartbeatPing.kind.in_(kinds))
        .order_by(HeartbeatPing.at.desc(), HeartbeatPing.id.desc())
        .limit(flt.limit)
    )
    if flt.client_id:
        query = query.where(HeartbeatPing.client_id == flt.client_id)
    if flt.procedure:
        query = query.where(HeartbeatPing.heartbeat == flt.procedure)
    if flt.since:
        query = query.where(HeartbeatPing.at >= flt.since)
    if flt.until:
        query = query.where(HeartbeatPing.at < flt.until)
    with Session(engine) as session:
        pings = list(session.execute(query).scalars())
    return [
        HistoryEntry(
            at=_utc(p.at) or p.at,
            client_id=p.client_id,
            procedure=p.heartbeat,
            kind="heartbeat",
            outcome=PING_OUTCOMES[p.kind],
            source="store",
            started_at=_utc(p.at),
            reason=" ".join(
                part
                for part in (
                    f"exit status {p.exit_status}" if p.exit_status is not None else "",
                    (p.body.strip().splitlines() or [""])[-1][:200],
                )
                if part
            ),
        )
        for p in pings
    ]


def merge(
    stored: list[HistoryEntry],
    prefect: list[PrefectRun],
    flt: HistoryFilter,
    now: datetime,
    kinds: dict[tuple[str, str], str] | None = None,
) -> list[HistoryEntry]:
    """Join on flow-run id; add Prefect's runs the store lacks; newest first."""
    by_id = {r.id: r for r in prefect}
    merged: list[HistoryEntry] = []
    seen: set[str] = set()
    for entry in stored:
        run = by_id.get(entry.flow_run_id or "")
        if run is None:
            merged.append(entry)
            continue
        seen.add(run.id)
        merged.append(
            HistoryEntry(**{**entry.__dict__, "source": "both", "prefect_state": run.state_name})
        )
    for run in prefect:
        if run.id in seen or not run.client_id or not run.procedure_key:
            continue
        outcome = outcome_of_state(run, now)
        if flt.outcome and outcome != flt.outcome:
            continue
        if outcome == "scheduled":
            continue  # future runs are the schedule, not the history
        key = (run.client_id, run.procedure_key)
        merged.append(
            HistoryEntry(
                at=run.start_time or run.expected_start_time or now,
                client_id=run.client_id,
                procedure=run.procedure_key,
                kind=(kinds or {}).get(key) or _tag(run, "kind") or "",
                outcome=outcome,
                source="prefect",
                scheduled_for=run.expected_start_time,
                started_at=run.start_time,
                ended_at=run.end_time,
                flow_run_id=run.id,
                prefect_state=run.state_name,
                reason=run.message,
            )
        )
    merged.sort(key=lambda e: e.at, reverse=True)
    return merged[: flt.limit]


def _tag(run: PrefectRun, prefix: str) -> str | None:
    for tag in run.deployment_tags:
        if tag.startswith(f"{prefix}:"):
            return tag.split(":", 1)[1]
    return None


@dataclass(frozen=True)
class History:
    entries: list[HistoryEntry]
    note: str  # where the entries came from, said plainly


def history(
    engine: Engine,
    flt: HistoryFilter,
    now: datetime,
    read_prefect: Callable[[HistoryFilter], list[PrefectRun]] | None,
) -> History:
    """The merged history; `read_prefect` None (no server) or failing gives the store only.
    Heartbeat pings are the store's own: Prefect never ran those jobs."""
    stored = sorted(
        [*store_entries(engine, flt), *ping_entries(engine, flt)], key=lambda e: e.at, reverse=True
    )[: flt.limit]
    if read_prefect is None:
        return History(stored, "store only: no Prefect server configured (PREFECT_API_URL)")
    try:
        prefect = read_prefect(flt)
    except Exception as exc:  # the history must still show what the store knows
        return History(stored, f"store only: the Prefect API did not answer ({exc})")
    merged = merge(stored, prefect, flt, now)
    extra = sum(1 for e in merged if e.source == "prefect")
    return History(merged, f"store and Prefect: {extra} run(s) known only to Prefect")
