"""The minutely sweep: all of opsbinder's catch-up work, in order, as one unit.

Hooks record (and send a failure's first page at once, opsbinder.incidents.first_page), the
sweep escalates and retries. One flow run a minute runs every step as its own task, so
Prefect's run list holds 1,440 sweep runs a day, not 5,760 from four sweepers of their own. The
order is the chain a failure travels: spooled hook reports go into the store first, so the
missed-run and heartbeat watches and the escalation see them; runs a holiday moved to this minute
start; escalation, the Severity-1 update cadence and
overdue work items enqueue messages; the audit log's head is then anchored outside the store
(after the steps that write to it; its webhook event is enqueued too); kept status pages are
rendered again where they are due (time alone changed them, a check of their chains); the outbox goes last, so
what they enqueued leaves in the same minute. Every step is idempotent and catches up by itself, so a missed or overlapping
minute is harmless, and one step failing does not stop the others.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine

from opsbinder import audit_anchor, moved_runs, outbox, workitems
from opsbinder.clock import Clock
from opsbinder.errors import OpsbinderError, RunFailed
from opsbinder.incidents import escalator, heartbeat_watch, missed_runs, update_cadence
from opsbinder.incidents.hook_reports import replay_spool
from opsbinder.incidents.missed_runs import Orchestrator
from opsbinder.procedures.outcome import exception_text
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope


@dataclass(frozen=True)
class Step:
    name: str
    does: Callable[[Engine, Clock, Orchestrator | None], dict[str, Any]]
    retries: int = 0  # for errors worth a second try within the minute (a locked row)


def _replay_spool(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    return asdict(replay_spool(engine, get_settings().spool, clock))


def _watch_missed_runs(
    engine: Engine, clock: Clock, orchestrator: Orchestrator | None
) -> dict[str, Any]:
    return asdict(missed_runs.watch(engine, clock, orchestrator=orchestrator))


def _watch_heartbeats(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    return asdict(heartbeat_watch.watch(engine, clock))


def _start_moved_runs(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    from opsbinder.orchestrator.local import launch_procedure

    return asdict(moved_runs.start_due(engine, clock, launch_procedure))


def _escalate(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    return asdict(escalator.sweep(engine, clock))


def _update_cadence(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    return asdict(update_cadence.sweep(engine, clock))


def _overdue_work_items(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    with session_scope(engine) as session:
        return {"escalated": len(workitems.escalate_overdue(session, clock))}


def _anchor_audit_log(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    """Seal the audit log's head outside the store; a log that no longer matches its last
    anchor makes this step fail (AnchorRefused), which is the alarm."""
    outcome = audit_anchor.write_anchor(engine, clock)
    seq = outcome.line["seq"] if outcome.line else None
    return {"written": outcome.written, "seq": seq, "why": outcome.why}


def _render_status_pages(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    """Kept status pages that are due (time alone changed them, a change no writer rendered, a
    check of their hash chains): here, so that the web server never renders one in a client's
    request. A pass with nothing due renders nothing and writes nothing."""
    from opsbinder.web.page_render import render_due  # the web's templates, only when needed

    settings = get_settings()
    swept = render_due(
        engine, clock, settings.status_check_minutes * 60, settings.status_checks_per_pass
    )
    if swept.failed:
        raise OpsbinderError(f"status pages not rendered: {', '.join(swept.failed)}")
    return asdict(swept)


def _deliver_outbox(engine: Engine, clock: Clock, _: Orchestrator | None) -> dict[str, Any]:
    return asdict(outbox.deliver_due(engine, clock, limit=200))


STEPS: tuple[Step, ...] = (
    Step("replay spool", _replay_spool),
    Step("missed-run watch", _watch_missed_runs),
    Step("heartbeat watch", _watch_heartbeats),
    Step("moved runs", _start_moved_runs),
    Step("escalation", _escalate),
    Step("update cadence", _update_cadence, retries=2),
    Step("work items", _overdue_work_items),
    Step("audit anchor", _anchor_audit_log),
    Step("status pages", _render_status_pages),
    Step("outbox delivery", _deliver_outbox),
)


@contextmanager
def heap_set_aside() -> Iterator[None]:
    """Around one pass: what the process has loaded by now (modules, models, Prefect's engine:
    most of its objects, none of them the pass's garbage) is kept out of the garbage
    collector's full walks, as `opsbinder web` does for its workers. A pass makes many
    short-lived rows; each full collection otherwise walked the whole process, twice a pass,
    about a third of a steady pass's CPU at 4,000 procedures in a flow-run process
    (bench/README.md). Given back afterwards, so a process that runs sweeps among other work
    (a test) still collects what it loaded; left alone if something else has frozen already."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def step(name: str) -> Step:
    for found in STEPS:
        if found.name == name:
            return found
    raise OpsbinderError(f"no sweep step {name!r} (steps: {', '.join(s.name for s in STEPS)})")


class SweepFailed(RunFailed):
    """Some steps failed (each one's traceback is in its task's log): one line naming them and
    why, and what the other steps did."""

    def __init__(self, failed: Mapping[str, str], done: Mapping[str, Any]) -> None:
        self.failed = dict(failed)
        self.done = dict(done)
        reasons = "; ".join(f"{name}: {why}" for name, why in failed.items())
        super().__init__(f"{len(failed)} of {len(STEPS)} sweep steps failed: {reasons}"[:2000])

    def __reduce__(self) -> tuple[type, tuple[dict[str, str], dict[str, Any]]]:
        return (type(self), (self.failed, self.done))


def failure(failed: Mapping[str, BaseException], done: Mapping[str, Any]) -> SweepFailed:
    return SweepFailed({name: exception_text(exc) for name, exc in failed.items()}, done)
