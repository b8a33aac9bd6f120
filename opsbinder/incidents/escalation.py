"""The escalation engine: a pure function from (incident, frozen policy, on-call schedules,
notifications already sent, now) to the actions due. No database, no clock, no I/O.

The ladder: the policy's levels in order, each paged when it becomes due and given its
`ack_timeout` before the next level is due; the whole ladder runs `repeat` more times. An
acknowledgement (or resolution) stops the ladder. Severity-1 additionally informs
`sev1_management` at once and again every `sev1_management_interval` until resolved,
acknowledged or not. With a contract, each SLA clock that has used its pre-breach share
pages the next level above the one reached (saying which target, how much of it is used and
when it breaches), and a clock past its target yields a "breach" for the timeline. Every action
carries an idempotency key, so the caller can apply the result any number of times and each
notification still goes out once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opsbinder.clock import duration_text
from opsbinder.config.models import (
    ClientBinder,
    EscalationLevel,
    EscalationPolicy,
    OnCallSchedule,
    Target,
)
from opsbinder.incidents.sla import CLOCKS, ClockState, SlaTerms, clock_state, may_breach, may_warn
from opsbinder.oncall import on_call


@dataclass(frozen=True)
class IncidentSnapshot:
    id: int
    severity: str
    state: str  # triggered acknowledged resolved
    ladder_start: datetime  # opened, or reopened (a new epoch starts the ladder again)
    epoch: int
    # the frozen EscalationPolicy dump, or the model a pass over many incidents validated once
    policy: dict[str, Any] | EscalationPolicy
    step: int = 0  # ladder steps already recorded as reached (0: none)
    sla: SlaTerms | None = None  # the contract's targets for its severity, if any


@dataclass(frozen=True)
class Action:
    kind: str  # "notify", "escalate" or "breach" (an SLA clock ran past its target)
    key: str  # idempotency key (notify) / step marker (escalate)
    due_at: datetime
    step: int  # 1-based position in the flattened ladder; 0 for Severity-1 management
    level: int  # 1-based level of the policy; 0 for Severity-1 management
    level_name: str
    round: int  # 0 for the first pass of the ladder
    target: dict[str, str] = field(default_factory=dict)  # {"contact"|"oncall"|"webhook": id}
    recipient: str | None = None  # contact id; None for a webhook target or an on-call gap
    reason: str = ""


def target_key(target: Target) -> str:
    for kind in ("contact", "oncall", "webhook"):
        value = getattr(target, kind)
        if value:
            return f"{kind}:{value}" + (f"/{target.layer}" if target.layer else "")
    raise ValueError("empty target")


def recipient_of(target: Target, schedules: dict[str, OnCallSchedule], at: datetime) -> str | None:
    """The contact a target means at `at`: itself, or whoever its on-call schedule (or the named
    layer of it) has on."""
    if target.contact:
        return target.contact
    if target.oncall:
        schedule = schedules.get(target.oncall)
        return on_call(schedule, at, target.layer) if schedule is not None else None
    return None


def ladder(
    policy: EscalationPolicy, start: datetime, severity: str
) -> list[tuple[int, int, int, datetime]]:
    """(step, round, level index, due_at) for every step of every pass of the ladder; each level
    waits its acknowledgement timeout for the incident's severity."""
    steps, due, n = [], start, 0
    for rnd in range(policy.repeat + 1):
        for index, level in enumerate(policy.levels):
            n += 1
            steps.append((n, rnd, index, due))
            due = due + level.timeout(severity)
    return steps


def decide(
    incident: IncidentSnapshot,
    schedules: dict[str, OnCallSchedule],
    sent: set[str],
    now: datetime,
) -> list[Action]:
    """Everything due at `now` that is not in `sent`, oldest first."""
    if incident.state == "resolved" or not incident.policy:
        return []
    policy = (
        incident.policy
        if isinstance(incident.policy, EscalationPolicy)
        else EscalationPolicy.model_validate(incident.policy)
    )
    base = f"inc/{incident.id}/e{incident.epoch}"
    actions: list[Action] = []
    if incident.state == "triggered":
        actions += _ladder_actions(incident, policy, schedules, sent, now, base)
    if incident.severity == "sev1":
        actions += _management_actions(incident, policy, schedules, sent, now, base)
    if incident.sla is not None:
        for name in CLOCKS:
            if _sla_may_act(incident, incident.sla, policy, sent, now, base, name):
                clock = clock_state(incident.sla, name, now)
                actions += _sla_actions(incident, policy, schedules, sent, now, base, clock)
    return sorted(actions, key=lambda a: (a.due_at, a.step, a.kind != "escalate", a.key))


def _ladder_actions(
    incident: IncidentSnapshot,
    policy: EscalationPolicy,
    schedules: dict[str, OnCallSchedule],
    sent: set[str],
    now: datetime,
    base: str,
) -> list[Action]:
    actions: list[Action] = []
    for step, rnd, index, due in ladder(policy, incident.ladder_start, incident.severity):
        if due > now:
            break
        level = policy.levels[index]
        name = level.name
        if step > incident.step and step > 1:
            before = policy.levels[index - 1] if index else policy.levels[-1]
            waited = duration_text(before.timeout(incident.severity))
            actions.append(
                Action(
                    kind="escalate",
                    key=f"{base}/step{step}",
                    due_at=due,
                    step=step,
                    level=index + 1,
                    level_name=name,
                    round=rnd,
                    reason=f"not acknowledged within {waited}",
                )
            )
        reason = name if rnd == 0 else f"{name} (repeat {rnd})"
        prefix = f"{base}/r{rnd}/l{index + 1}"
        actions += level_notices(
            prefix, index, level, schedules, sent, due, step=step, rnd=rnd, reason=reason
        )
    return actions


def level_notices(
    prefix: str,
    index: int,
    level: EscalationLevel,
    schedules: dict[str, OnCallSchedule],
    sent: set[str],
    due: datetime,
    *,
    step: int,
    rnd: int,
    reason: str,
    on_call_at: datetime | None = None,
) -> list[Action]:
    """A notification to each target of level `index` that is not in `sent` yet, keyed
    `prefix/<target>`, so a sweep that runs again sends nothing twice. An on-call target is
    whoever is on call at `on_call_at` (default: `due`), not at the time of the sweep.
    """
    return [
        Action(
            kind="notify",
            key=key,
            due_at=due,
            step=step,
            level=index + 1,
            level_name=level.name,
            round=rnd,
            target=target.model_dump(exclude_none=True),
            recipient=recipient_of(target, schedules, on_call_at or due),
            reason=reason,
        )
        for target in level.targets
        if (key := f"{prefix}/{target_key(target)}") not in sent
    ]


def _management_actions(
    incident: IncidentSnapshot,
    policy: EscalationPolicy,
    schedules: dict[str, OnCallSchedule],
    sent: set[str],
    now: datetime,
    base: str,
) -> list[Action]:
    """Only the latest tick: a sweeper that was down sends one update, not a backlog."""
    if now < incident.ladder_start:
        return []
    interval = policy.sev1_management_interval
    tick = int((now - incident.ladder_start) / interval)
    due = incident.ladder_start + tick * interval
    actions = []
    for target in policy.sev1_management:
        key = f"{base}/sev1/t{tick}/{target_key(target)}"
        if key in sent:
            continue
        actions.append(
            Action(
                kind="notify",
                key=key,
                due_at=due,
                step=0,
                level=0,
                level_name="Severity-1 management",
                round=tick,
                target=target.model_dump(exclude_none=True),
                recipient=recipient_of(target, schedules, due),
                reason="Severity-1: management informed"
                + ("" if tick == 0 else f" (reminder {tick})"),
            )
        )
    return actions


def _sla_actions(
    incident: IncidentSnapshot,
    policy: EscalationPolicy,
    schedules: dict[str, OnCallSchedule],
    sent: set[str],
    now: datetime,
    base: str,
    clock: ClockState,
) -> list[Action]:
    """A running clock past its pre-breach share pages the next level up, once per clock;
    a clock past its target is a breach, recorded once."""
    actions: list[Action] = []
    what = f"{clock.name} target {duration_text(clock.target)} for {incident.severity}"
    if (
        clock.breached
        and clock.due_at is not None
        and f"{base}/sla/{clock.name}/breach" not in sent
    ):
        actions.append(
            Action(
                kind="breach",
                key=f"{base}/sla/{clock.name}/breach",
                due_at=clock.due_at,
                step=0,
                level=0,
                level_name="SLA",
                round=0,
                reason=f"SLA breached: {what} missed at {clock.due_at:%Y-%m-%d %H:%M} UTC",
            )
        )
    if not clock.running or clock.warn_at is None or now < clock.warn_at:
        return actions
    level_index = _sla_level(incident, policy, now)
    level = policy.levels[level_index]
    due = f"{clock.due_at:%Y-%m-%d %H:%M} UTC" if clock.due_at else "?"
    if clock.breached:
        why = f"SLA breached: {what} missed at {due}; paging {level.name}"
    else:
        share = round(100 * clock.used / clock.target)
        why = f"SLA at risk: {share}% of the {what} used, breaches at {due}; paging {level.name}"
    prefix = f"{base}/sla/{clock.name}/warn"
    actions += level_notices(
        prefix,
        level_index,
        level,
        schedules,
        sent,
        clock.warn_at,
        step=0,
        rnd=0,
        reason=why,
        on_call_at=now,
    )
    return actions


def _sla_may_act(
    incident: IncidentSnapshot,
    terms: SlaTerms,
    policy: EscalationPolicy,
    sent: set[str],
    now: datetime,
    base: str,
    name: str,
) -> bool:
    """Whether `_sla_actions` could return anything for this clock, decided without computing
    it (laying out service spans is most of a pass over open incidents): a breach only when
    the clock may be past its target and its breach is not recorded yet; a page only when it
    may be past its share and a target of the level it would page has not had this page."""
    if may_breach(terms, name, now) and f"{base}/sla/{name}/breach" not in sent:
        return True
    if not may_warn(terms, name, now):
        return False
    level = policy.levels[_sla_level(incident, policy, now)]
    prefix = f"{base}/sla/{name}/warn"
    return any(f"{prefix}/{target_key(target)}" not in sent for target in level.targets)


def _sla_level(incident: IncidentSnapshot, policy: EscalationPolicy, now: datetime) -> int:
    """The level a clock past its share pages: the next one above the one reached."""
    return min(_reached(incident, policy, now), len(policy.levels) - 1)


def _reached(incident: IncidentSnapshot, policy: EscalationPolicy, now: datetime) -> int:
    """How many levels have been paged (their count, so also the index of the next one)."""
    step = incident.step
    if incident.state == "triggered":
        step = max(
            [
                step,
                *(
                    n
                    for n, _, _, due in ladder(policy, incident.ladder_start, incident.severity)
                    if due <= now
                ),
            ]
        )
    return (step - 1) % len(policy.levels) + 1 if step else 0


def frozen_policy(
    cb: ClientBinder, procedure_key: str | None, policy_id: str | None = None
) -> dict[str, Any]:
    """The policy an incident keeps for life: the one named (an event's route, a heartbeat's),
    the procedure's, or the client's first one."""
    policy = None
    if policy_id is not None:
        policy = next((p for p in cb.escalation_policies if p.id == policy_id), None)
    if policy is None and procedure_key is not None:
        try:
            policy = cb.policy(cb.procedure(procedure_key).escalation_policy)
        except (KeyError, StopIteration):
            policy = None
    if policy is None and cb.escalation_policies:
        policy = cb.escalation_policies[0]
    return policy.model_dump(mode="json") if policy is not None else {}
