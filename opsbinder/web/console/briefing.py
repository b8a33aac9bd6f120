"""What an engineer opening an incident needs before acting: why the run failed and its last log
lines, the procedure's runbook from the binder, the flow run in the Prefect UI, and how far the
escalation has gone and when the next level is paged.

Nothing is decided here: the escalation figures come from the engine's own ladder
(`opsbinder.incidents.escalation.ladder`) over the incident's frozen policy and the steps the
escalator recorded, so the page says what the sweeper will do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.binder_store import procedure_config
from opsbinder.clock import utc
from opsbinder.config.models import EscalationPolicy, Runbook
from opsbinder.incidents.escalation import ladder
from opsbinder.incidents.escalator import snapshot
from opsbinder.store.models import Incident, Procedure, Run


@dataclass(frozen=True)
class Escalation:
    policy: str
    levels: int
    reached: str | None  # the level paged last ("L2 team lead"), None before the first page
    reached_level: int
    reached_at: datetime | None
    next_level: str | None  # None: acknowledged, resolved, or the ladder is done
    next_at: datetime | None
    stopped: str  # why nothing more is paged, when next_level is None


@dataclass(frozen=True)
class Briefing:
    reason: str
    state: str
    log_lines: list[str] = field(default_factory=list)
    run: Run | None = None
    procedure: str | None = None
    runbook: Runbook | None = None
    flow_run_link: str | None = None
    escalation: Escalation | None = None


def briefing(session: Session, incident: Incident) -> Briefing:
    details = incident.details or {}
    run = _failed_run(session, incident)
    proc = session.get(Procedure, incident.procedure_id) if incident.procedure_id else None
    runbook = None
    if proc is not None:
        try:
            runbook = procedure_config(proc).runbook
        except Exception:  # a stored definition the current models no longer read
            runbook = None
    return Briefing(
        reason=str(details.get("error") or (run.reason if run else "") or ""),
        state=str(details.get("state") or (run.outcome if run else "") or ""),
        log_lines=[str(line) for line in details.get("log_lines") or []],
        run=run,
        procedure=proc.name if proc else None,
        runbook=runbook,
        flow_run_link=_flow_run_link(details.get("link"), incident.flow_run_id),
        escalation=escalation_of(incident),
    )


def _failed_run(session: Session, incident: Incident) -> Run | None:
    """The run the incident is about: by its flow run, or the run the missed-run watch named."""
    if incident.flow_run_id:
        run = session.execute(
            select(Run).where(Run.flow_run_id == incident.flow_run_id)
        ).scalar_one_or_none()
        if run is not None:
            return run
    run_id = (incident.details or {}).get("run_id")
    if isinstance(run_id, int) and run_id > 0:
        run = session.get(Run, run_id)
        if run is not None and run.client_id == incident.client_id:
            return run
    return None


def _flow_run_link(recorded: object, flow_run_id: str | None) -> str | None:
    """The link the failure hook recorded (made in the run's own process, so it names the
    server that ran it: serve's local one under `opsbinder serve`), else one made now."""
    if isinstance(recorded, str) and recorded.startswith(("http://", "https://")):
        return recorded
    if not flow_run_id:
        return None
    try:
        from opsbinder.orchestrator.flow_runs import flow_run_page  # imports Prefect: only now

        return flow_run_page(flow_run_id)
    except Exception:  # a link is a convenience: the page must show without one
        return None


def escalation_of(incident: Incident) -> Escalation | None:
    if not incident.policy_snapshot:
        return None
    snap = snapshot(incident)
    policy = EscalationPolicy.model_validate(snap.policy)
    steps = ladder(policy, snap.ladder_start, snap.severity)
    reached = steps[snap.step - 1] if 0 < snap.step <= len(steps) else None
    following = steps[snap.step] if snap.step < len(steps) else None
    stopped = ""
    if incident.state == "resolved":
        stopped, following = "resolved: nobody more is paged", None
    elif incident.state == "acknowledged":
        stopped, following = "acknowledged: the escalation stopped", None
    elif following is None:
        stopped = "every level has been paged"
    return Escalation(
        policy=policy.name or policy.id,
        levels=len(policy.levels),
        reached=policy.levels[reached[2]].name if reached else None,
        reached_level=reached[2] + 1 if reached else 0,
        reached_at=utc(reached[3]) if reached else None,
        next_level=policy.levels[following[2]].name if following else None,
        next_at=utc(following[3]) if following else None,
        stopped=stopped,
    )
