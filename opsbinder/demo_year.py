"""A year of history for the demo client, made by the code that makes history in production.

Without it the demo's store is one minute old: the export, the status page, the console and
the manager's report a newcomer opens would show a client nobody ever ran. This walks a moved
clock through the twelve months before now and, at every scheduled instant of every scheduled
procedure, takes the steps the procedure flow takes (flows/procedures.py: plan, skip or start,
run the kind, finish, the state hook's report), calling the core directly: Prefect would take
hours for 3,000 runs and adds nothing the history shows. Between the runs, what the people and
the minutely sweep do (demo_people.py): escalations, acknowledgements, resolutions, Severity-1
updates on cadence, checklist sign-offs. No row is written here but by those functions.

The demo's systems age with the clock: the client's own cron writes a nightly dump (a few nights
it did not, so the backup check fails and pages), and stops three nights before today, which
is why today's bundle finds the newest backup stale.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from opsbinder import demo_people
from opsbinder.binder_store import client_binder
from opsbinder.clock import FrozenClock
from opsbinder.config.schedules import next_runs
from opsbinder.demo import write_backup, write_backups
from opsbinder.incidents import first_page
from opsbinder.incidents.hook_reports import HookReport, apply
from opsbinder.procedures import execution
from opsbinder.procedures.outcome import Outcome, ProcedureFailed, exception_result
from opsbinder.store.db import session_scope
from opsbinder.store.models import Run

DAYS = 365
DUMPS_KEPT = 8  # the backup NAS keeps a week and a day of nightly dumps
DUMP_STOPS = timedelta(days=3)  # the client's cron has not run since: today's check fails
NIGHTS_MISSED = 4  # nights in the year the dump did not happen: the check fails and pages
# how long a run of each kind takes (the clock moves by it between start and finish)
DURATION = {
    "purge": timedelta(seconds=41),
    "archive": timedelta(minutes=2, seconds=10),
    "backup_check": timedelta(seconds=4),
    "disk_check": timedelta(seconds=2),
    "update_reminder": timedelta(seconds=3),
    "manual": timedelta(seconds=1),
    "custom": timedelta(seconds=6),
}


@dataclass
class Timeline:
    """What happens when: the runs, the client's cron, the people and the sweep, in order."""

    clock: FrozenClock
    events: list[tuple[datetime, int, Callable[[], None]]] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def at(self, instant: datetime, does: Callable[[], None]) -> None:
        heapq.heappush(self.events, (instant, next(self.counter), does))

    def play(self, until: datetime) -> None:
        while self.events and self.events[0][0] < until:
            instant, _, does = heapq.heappop(self.events)
            # schedules give local times; the clock, and so every row, says UTC
            self.clock.set(max(instant, self.clock.now()).astimezone(UTC))
            does()


@dataclass(frozen=True)
class YearReport:
    runs: int
    failed: int
    incidents: int
    start: datetime
    end: datetime


def has_history(engine: Engine, client_id: str) -> bool:
    with session_scope(engine) as session:
        count = session.execute(
            select(func.count()).select_from(Run).where(Run.client_id == client_id)
        ).scalar_one()
    return bool(count)


def build_year(
    engine: Engine, client_id: str, backups: Path, now: datetime, *, seed: int = 7, days: int = DAYS
) -> YearReport:
    """Play the `days` before `now` into the store (the binder loaded, the demo systems made)."""
    rng = random.Random(seed)
    clock = FrozenClock(now - timedelta(days=days))
    start = clock.now()
    with session_scope(engine) as session:
        cb = client_binder(session, client_id)
    timeline = Timeline(clock)
    people = demo_people.plan(
        timeline, engine, clock, cb, start, now, rng, backups.parent / "pager.log"
    )
    runner = Runner(engine, clock, client_id, timeline, rng, people, backups)
    for proc in cb.procedures:
        for instant in instants(proc.schedule, start, now - timedelta(minutes=30)):
            timeline.at(instant, runner.scheduled(proc.id, instant))
    _nightly_dumps(timeline, backups, cb.client.timezone, start, now, rng)
    timeline.play(now)
    write_backups(backups, now, random.Random(seed))  # the demo's stale week, as prepare made it
    return YearReport(runner.runs, runner.failed, runner.incidents, start, now)


def instants(schedule: object, start: datetime, end: datetime) -> list[datetime]:
    found: list[datetime] = []
    after = start
    while schedule is not None:
        batch = next_runs(schedule, after, 64)  # type: ignore[arg-type]
        found += [t for t in batch if t < end]
        if not batch or batch[-1] >= end:
            return found
        after = batch[-1]
    return found


def _nightly_dumps(
    timeline: Timeline, folder: Path, zone: str, start: datetime, now: datetime, rng: random.Random
) -> None:
    """The client's pg_dump at 01:30 local, rotated on the NAS; some nights it did not run."""
    for old in folder.glob("tms-*.dump"):  # the demo's stale week is put back at the end
        old.unlink()
    first = start.astimezone(ZoneInfo(zone)).date() - timedelta(days=DUMPS_KEPT)
    last = (now - DUMP_STOPS).astimezone(ZoneInfo(zone)).date()
    nights = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    missed = set(rng.sample(nights[DUMPS_KEPT + 7 : -7], NIGHTS_MISSED))
    for night in nights:
        instant = datetime(night.year, night.month, night.day, 1, 30, tzinfo=ZoneInfo(zone))
        if night in missed or instant > now - DUMP_STOPS:
            continue

        def dump(at: datetime = instant) -> None:
            write_backup(folder, at, rng)
            for stale in sorted(folder.glob("tms-*.dump"))[:-DUMPS_KEPT]:
                stale.unlink()

        if instant < start:
            dump()
        else:
            timeline.at(instant, dump)


@dataclass
class Runner:
    """The procedure flow's steps without Prefect: what a scheduled flow run does, in order."""

    engine: Engine
    clock: FrozenClock
    client_id: str
    timeline: Timeline
    rng: random.Random
    people: demo_people.People
    backups: Path
    runs: int = 0
    failed: int = 0
    incidents: int = 0

    def scheduled(self, procedure_id: str, instant: datetime) -> Callable[[], None]:
        def run() -> None:
            self.clock.advance(timedelta(seconds=self.rng.randint(2, 40)))  # the worker's pickup
            self.run(procedure_id, scheduled_for=instant, actor="scheduler")

        return run

    def run(self, procedure_id: str, *, scheduled_for: datetime | None, actor: str) -> Outcome:
        plan = execution.plan(
            self.engine,
            client_id=self.client_id,
            procedure_id=procedure_id,
            kind=None,
            instant=scheduled_for or self.clock.now(),
            scheduled=scheduled_for is not None,
        )
        if skip := plan.skip_reason(False):
            return execution.skip(
                self.engine, self.clock, plan, reason=skip, flow_run_id=None,
                scheduled_for=scheduled_for, dry_run=False, actor=actor,
            )  # fmt: skip
        run_id = execution.begin(
            self.engine, self.clock, plan, flow_run_id=None, scheduled_for=scheduled_for,
            dry_run=False, actor=actor,
        )  # fmt: skip
        forced = None
        try:
            result = execution.execute(
                self.engine, self.clock, plan, dry_run=False, approve=False, actor=actor,
                flow_run_id=None,
            )  # fmt: skip
        except Exception as exc:  # as the flow does: recorded as a failed run
            forced, result = exception_result(exc, plan.timeout_seconds)
        self.clock.advance(DURATION.get(plan.kind, timedelta(seconds=5)))
        outcome = execution.finish(self.engine, self.clock, plan, run_id, result, outcome=forced)
        self.runs += 1
        self._hook(outcome)
        return outcome

    def _hook(self, outcome: Outcome) -> None:
        """What the flow's state hook records (flows/hooks.py): a failure opens or counts an
        incident, a success resolves the procedure's open one; then the people answer it."""
        failed = outcome.failed
        report = HookReport(
            kind="failure" if failed else "success",
            client_id=outcome.client_id,
            procedure_key=outcome.procedure_id,
            flow_run_id=None,
            state_name="Failed" if failed else "Completed",
            at=self.clock.now().isoformat(),
            message=str(ProcedureFailed(outcome)) if failed else "",
            flow_name=outcome.kind,
        )
        with session_scope(self.engine) as session:
            incident = apply(session, self.clock, report)
            opened = incident is not None and failed and incident.occurrences == 1
            incident_id = incident.id if incident is not None else None
        if failed:
            self.failed += 1
            if incident_id is not None:  # the hook's first page (flows/hooks.py)
                first_page.page(self.engine, self.clock, incident_id, using=self.people.senders())
        if opened and incident_id is not None:
            self.incidents += 1
            demo_people.answer_failure(self, incident_id, outcome)
