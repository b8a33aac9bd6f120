"""What a state hook records, as a plain value: applied to the store now, or spooled and
replayed later. Applying a report twice has the effect of applying it once (keyed by its id).
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder import audit, redaction, runs, shadow, spool
from opsbinder.binder_store import procedure_config
from opsbinder.clock import Clock, FrozenClock, utc
from opsbinder.errors import OpsbinderError
from opsbinder.incidents import lifecycle
from opsbinder.spool import ReplayReport
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, IncidentEvent, Procedure, Run

# Prefect state name -> Run.outcome
OUTCOMES = {"Failed": "failed", "TimedOut": "timed_out", "Crashed": "crashed"}


@dataclass
class HookReport:
    kind: str  # "failure" or "success"
    client_id: str
    procedure_key: str | None
    flow_run_id: str | None
    state_name: str
    at: str  # ISO instant the hook fired
    message: str = ""
    flow_name: str = ""
    link: str | None = None
    log_lines: list[str] = field(default_factory=list)
    dry_run: bool = False  # a preview: it marks its run, never an incident
    id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HookReport:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    @property
    def dedup_key(self) -> str:
        return f"{self.client_id}/{self.procedure_key or self.flow_name or 'flow'}"

    @property
    def instant(self) -> datetime:
        return utc(datetime.fromisoformat(self.at))


def _already_applied(session: Session, report: HookReport) -> bool:
    rows = session.execute(
        select(IncidentEvent.data)
        .join(Incident, Incident.id == IncidentEvent.incident_id)
        .where(
            Incident.dedup_key == report.dedup_key,
            Incident.last_occurrence_at >= report.instant,
        )
    ).scalars()
    return any(isinstance(d, dict) and d.get("report_id") == report.id for d in rows)


def apply(session: Session, clock: Clock, report: HookReport) -> Incident | None:
    """Record the report: mark the store's run, then open/occur or auto-resolve the incident.

    The report's own instant is used as the time of the change, so a replay an hour later
    still says when the failure happened.
    """
    at = FrozenClock(report.instant)
    redact = redaction.for_session(session)  # a flow's error may quote a URL it was given
    report.message, report.link = redact(report.message), redact(report.link or "") or None
    report.log_lines = [redact(line) for line in report.log_lines]
    proc = None
    if report.procedure_key:
        proc = session.execute(
            select(Procedure).where(
                Procedure.client_id == report.client_id, Procedure.key == report.procedure_key
            )
        ).scalar_one_or_none()
    if report.dry_run or shadow.current(session, report.client_id) is not None:
        # A dry run changes nothing, incidents included: a failed preview opens none, a good one
        # resolves none, so nobody is paged for (or relieved by) a rehearsal. Every run of a
        # shadowed client is one, whatever the flow's parameters said.
        if report.kind == "failure":
            _mark_run(session, at, report)
        return None
    if report.kind == "success":
        if proc is not None and not procedure_config(proc).auto_resolve:
            return None
        return lifecycle.auto_resolve(
            session, at, dedup_key=report.dedup_key, flow_run_id=report.flow_run_id
        )
    if _already_applied(session, report):
        return None
    _mark_run(session, at, report)
    severity = proc.severity if proc is not None else "sev3"
    name = proc.name if proc is not None else report.procedure_key or report.flow_name
    details: dict[str, Any] = {
        "state": report.state_name,
        "error": report.message,
        "link": report.link,
        "log_lines": report.log_lines[-20:],
        "report_id": report.id,
    }
    return lifecycle.trigger(
        session,
        at,
        client_id=report.client_id,
        procedure_key=report.procedure_key,
        dedup_key=report.dedup_key,
        title=f"{name}: {report.state_name}",
        severity=severity,
        details=details,
        flow_run_id=report.flow_run_id,
        actor="hook",
    )


def _mark_run(session: Session, clock: Clock, report: HookReport) -> None:
    if not report.flow_run_id:
        return
    outcome = OUTCOMES.get(report.state_name, "failed")
    before = session.execute(
        select(Run.outcome).where(Run.flow_run_id == report.flow_run_id)
    ).scalar_one_or_none()
    run = runs.finish_flow_run(
        session, clock, report.flow_run_id, outcome, (report.message or report.state_name)[:2000]
    )
    if run is None or run.outcome == before:
        return
    audit.record(
        session,
        clock,
        actor="hook",
        action=f"run.{run.outcome}",
        object_type="run",
        object_id=str(run.id),
        client_id=run.client_id,
        details={"flow_run_id": report.flow_run_id, "state": report.state_name},
    )


def replay_spool(engine: Engine, directory: Path, clock: Clock) -> ReplayReport:
    """Put spooled hook reports into the store; safe to run any number of times."""

    def _apply(record: dict[str, Any]) -> None:
        try:
            report = HookReport.from_json(record)
            report.instant  # noqa: B018 - a bad timestamp is a bad record
        except (TypeError, ValueError) as exc:
            raise OpsbinderError(f"not a hook report: {exc}") from exc
        with session_scope(engine) as session:
            apply(session, clock, report)

    return spool.replay(directory, _apply, permanent=(OpsbinderError,))
