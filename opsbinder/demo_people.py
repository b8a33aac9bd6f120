"""What people and the minutely sweep did in the demo's year (demo_year.py plays it).

Everyone acts through the doors they would use: `opsbinder incidents ack|resolve|update` and
`opsbinder done` are the actions of opsbinder.actions, called here as the CLI calls them, with
the engineer's name; the sweep's own steps (sweep.py) escalate, remind of Severity-1 updates and
turn overdue checklists into incidents. The pager is the demo's: a log file in the demo folder
stands in for the webhook and the mail server, so the outbox delivers as it would.
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder import oncall, outbox, sweep, workitems
from opsbinder.actions import incidents as incident_actions
from opsbinder.actions import procedures as procedure_actions
from opsbinder.authorization import Principal
from opsbinder.clock import FrozenClock
from opsbinder.config.models import ClientBinder
from opsbinder.errors import OpsbinderError
from opsbinder.procedures.outcome import Outcome
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, WorkItem

if TYPE_CHECKING:
    from opsbinder.demo_year import Runner, Timeline

SWEEP_STEPS = ("escalation", "update cadence", "work items")
TICKS = [timedelta(minutes=m) for m in (1, 16, 31, 46, 91)]  # the ladder's timeouts: 15m, 30m
ESCALATED_EVERY = 2  # every other failure the on-call missed: the ladder paged the team lead
OUTAGES = (  # Severity-1 outages declared by hand: (days after the year began, hour local)
    (96, 14, "TMS database unreachable: storage controller of tms-db-01 failed"),
    (251, 7, "Dispatch cannot print delivery notes: TMS application server down"),
)
REMINDERS_LEFT_OPEN = timedelta(days=21)  # the newest reminders are still open today
LATE_SIGN_OFF_MONTH = 5  # the month whose restore test was signed off late (an incident)


class People:
    """The team's habits: who answers, when, with what words."""

    def __init__(
        self, timeline: Timeline, engine: Engine, clock: FrozenClock, cb: ClientBinder,
        pager: Path, rng: random.Random, end: datetime,
    ) -> None:  # fmt: skip
        self.timeline, self.engine, self.clock, self.cb = timeline, engine, clock, cb
        self.pager, self.rng, self.end = pager, rng, end
        self.zone = ZoneInfo(cb.client.timezone)
        self.dumps_stop = end - timedelta(days=3)  # demo_year.DUMP_STOPS

    def on_call(self, instant: datetime) -> str:
        for schedule in self.cb.oncall_schedules:
            if who := oncall.on_call(schedule, instant):
                return who
        return "lena-fischer"

    def tick(self) -> None:
        """The minutely sweep's steps that act on incidents and checklists, then the outbox."""
        for name in SWEEP_STEPS:
            sweep.step(name).does(self.engine, self.clock, None)
        outbox.deliver_due(self.engine, self.clock, senders=self.senders(), limit=500)

    def senders(self) -> dict[str, outbox.Sender]:
        def page(
            route: dict[str, Any], body: dict[str, Any], idempotency_key: str, *, at: datetime
        ) -> None:
            to = route.get("id") or route.get("email")
            line = {"at": at.isoformat(), "to": to, "key": idempotency_key}
            with self.pager.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({**line, "title": body.get("title", "")}) + "\n")

        return {"webhook": page, "apprise": page}

    def ticks(self, start: datetime, until: datetime) -> None:
        for offset in TICKS:
            if start + offset < min(until, self.end):
                self.timeline.at(start + offset, self.tick)
        later = start + TICKS[-1]
        while (later := later + timedelta(hours=2)) < min(until, self.end):
            self.timeline.at(later, self.tick)

    def act(self, actor: str, does: Any) -> None:
        """One person's action in its own transaction, as one CLI command is."""
        try:
            with session_scope(self.engine) as session:
                does(session, Principal.operator(actor))
        except OpsbinderError:
            pass  # already done by someone else (an auto-resolve, a colleague's ack)


def plan(
    timeline: Timeline,
    engine: Engine,
    clock: FrozenClock,
    cb: ClientBinder,
    start: datetime,
    end: datetime,
    rng: random.Random,
    pager: Path,
) -> People:
    """Put the year's human events on the timeline: outages, sign-offs, reminder check-offs."""
    people = People(timeline, engine, clock, cb, pager, rng, end)
    for days, hour, title in OUTAGES:
        day = (start + timedelta(days=days)).astimezone(people.zone)
        opened = day.replace(hour=hour, minute=rng.randint(0, 59), second=0, microsecond=0)
        timeline.at(opened, partial(outage, people, title))
    from opsbinder.demo_year import instants

    day = start.astimezone(people.zone).replace(hour=9, minute=40, second=0, microsecond=0)
    while (day := day + timedelta(days=1)) < end:
        timeline.at(day, partial(triage, people))
    for proc in cb.procedures:
        if proc.kind == "manual" and proc.schedule is not None:
            _sign_offs(people, proc.id, proc.owner, start, end)
        if proc.kind == "update_reminder":
            for run in instants(proc.schedule, start, end - REMINDERS_LEFT_OPEN):
                timeline.at(run + timedelta(days=2), lambda: sign_off_reminders(people))
    return people


def _sign_offs(
    people: People, procedure_id: str, owner: str, start: datetime, end: datetime
) -> None:
    """The owner signs each month's checklist off a day or two after it appears; once late."""
    from opsbinder.demo_year import instants

    proc = people.cb.procedure(procedure_id)
    for n, due in enumerate(instants(proc.schedule, start, end)):
        late = n == LATE_SIGN_OFF_MONTH
        delay = timedelta(days=4, hours=3) if late else timedelta(hours=people.rng.randint(5, 40))
        if due + delay >= end:
            continue
        minutes = people.rng.randint(35, 80)
        note = f"restored last night's dump to the scratch server in {minutes} min; smoke test ok"

        def sign(note: str = note) -> None:
            people.act(
                owner,
                lambda s, who: procedure_actions.sign_off(
                    s, people.clock, who, client_id=people.cb.client.id,
                    procedure_key=procedure_id, note=note,
                ),
            )  # fmt: skip

        people.timeline.at(due + delay, sign)
        if late:  # the sweep finds it overdue the minute its deadline passes
            deadline = due + proc.params.deadline  # type: ignore[union-attr]
            people.ticks(deadline, due + delay)


def answer_failure(runner: Runner, incident_id: int, outcome: Outcome) -> None:
    """The on-call answers a failed run's incident (or misses it and the ladder pages the team
    lead); a backup that failed is fixed and checked again by hand, which resolves it."""
    people: People = runner.people
    now = people.clock.now()
    escalated = runner.incidents % ESCALATED_EVERY == 1
    who = "mark-olsen" if escalated else people.on_call(now)
    acked = now + timedelta(
        minutes=people.rng.randint(19, 28) if escalated else people.rng.randint(3, 9)
    )
    fixed = acked + timedelta(minutes=people.rng.randint(40, 150))
    # the backups of the last nights never came: that incident is still open today
    stuck = fixed >= people.end or (outcome.kind == "backup_check" and now > people.dumps_stop)
    people.ticks(now, people.end if stuck else fixed)
    message = "looking at it"
    if outcome.kind == "backup_check" and stuck:
        message = "pg_dump on tms-db-01 has not run since; Nordhafen's DBA is on it"
    people.timeline.at(
        acked,
        lambda: people.act(
            who, lambda s, p: incident_actions.acknowledge(s, people.clock, p, incident_id, message)
        ),
    )
    if stuck:
        return

    def fix() -> None:
        if outcome.kind == "backup_check":  # the dump re-run by hand, then the check by hand
            from opsbinder.demo import write_backup

            write_backup(runner.backups, people.clock.now(), people.rng)
            runner.run(outcome.procedure_id, scheduled_for=None, actor=who)
        people.act(
            who,
            lambda s, p: incident_actions.resolve(
                s, people.clock, p, incident_id, "fixed; the procedure ran clean by hand"
            ),
        )

    people.timeline.at(fixed, fix)


def outage(people: People, title: str) -> None:
    """A Severity-1 outage: declared by the on-call, updates on cadence, resolved in hours."""
    now = people.clock.now()
    who = people.on_call(now)
    commander = "mark-olsen"
    with session_scope(people.engine) as session:
        incident = incident_actions.declare(
            session, people.clock, Principal.operator(who), client_id=people.cb.client.id,
            severity="sev1", title=title, public_title="TMS unavailable",
            impact="Warehouses cannot dispatch; drivers wait at the gates.", component="tms",
        )  # fmt: skip
        incident_id = incident.id
    people.ticks(now, now + timedelta(hours=5))
    steps = [
        (timedelta(minutes=4), "acknowledge", "on the bridge"),
        (timedelta(minutes=18), "update", "Cause found; the team is failing over to the standby."),
        (timedelta(hours=2, minutes=26), "update", "Standby up; replaying the last transactions."),
        (timedelta(hours=4, minutes=31), "resolve", "TMS back on the standby; orders flowing."),
    ]
    for offset, kind, text in steps:
        people.timeline.at(now + offset, _outage_step(people, incident_id, commander, kind, text))


def _outage_step(people: People, incident_id: int, commander: str, kind: str, text: str) -> Any:
    clock = people.clock

    def step() -> None:
        if kind == "acknowledge":
            people.act(
                commander, lambda s, p: incident_actions.acknowledge(s, clock, p, incident_id, text)
            )
            return
        people.act(
            commander,
            lambda s, p: incident_actions.post_update(
                s, clock, p, incident_id, current_status=text,
                next_steps="Resolved: a post-incident review follows within 5 working days."
                if kind == "resolve" else "Next update when the standby takes traffic.",
                business_impact="Dispatch and delivery notes stopped in all three warehouses.",
            ),
        )  # fmt: skip
        if kind == "resolve":
            people.act(
                commander, lambda s, p: incident_actions.resolve(s, clock, p, incident_id, text)
            )

    return step


def sign_off_reminders(people: People) -> None:
    """Owners check their reminders off within a week (the newest stay open, as they would)."""
    with session_scope(people.engine) as session:
        items = workitems.open_items(session, client_id=people.cb.client.id)
        due = [(i.id, i.assignee) for i in items if i.kind == "reminder"]
    for item_id, assignee in due:
        people.act(
            assignee or "mark-olsen",
            lambda s, p, item_id=item_id: _complete(s, people.clock, p, item_id),
        )


def _complete(session: Session, clock: FrozenClock, who: Principal, item_id: int) -> None:
    item = session.get(WorkItem, item_id)
    if item is not None and item.completed_at is None:
        workitems.complete(session, clock, item, actor=who.actor, note="done: patched or renewed")


def triage(people: People) -> None:
    """The morning's look at the incidents no run's failure opened: an overdue checklist or
    reminder is acknowledged by its owner, and resolved once it is signed off (a reminder whose
    date passed: once the upgrade is planned, which the owner says)."""
    with session_scope(people.engine) as session:
        open_ = session.execute(
            select(
                Incident.id, Incident.state, WorkItem.assignee, WorkItem.completed_at, WorkItem.kind
            )
            .join(WorkItem, WorkItem.incident_id == Incident.id)
            .where(Incident.state != "resolved", Incident.client_id == people.cb.client.id)
        ).all()
    for incident_id, state, assignee, completed, kind in open_:
        who = assignee or people.on_call(people.clock.now())
        if state == "triggered":
            people.act(
                who,
                lambda s, p, i=incident_id: incident_actions.acknowledge(
                    s, people.clock, p, i, "mine; on it"
                ),
            )
        if completed is not None or kind == "reminder":
            said = "signed off" if completed else "upgrade planned"
            people.act(
                who,
                lambda s, p, i=incident_id, said=said: incident_actions.resolve(
                    s, people.clock, p, i, said
                ),
            )
