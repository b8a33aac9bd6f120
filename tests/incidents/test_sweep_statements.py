"""A steady pass of the sweep's steps reads the store a page at a time: the SQL statements of
the missed-run watch, the escalation, the heartbeat watch and the Severity-1 update cadence do
not grow with the number of procedures, heartbeats and open incidents (issue 16).

Counted, not timed: twice the procedures and incidents must not cost one statement more.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, select

from opsbinder.clock import FrozenClock
from opsbinder.incidents import escalator, heartbeat_watch, missed_runs, update_cadence
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, HeartbeatPing, Incident, IncidentEvent, Procedure, Run
from tests.support import fleet

NOW = datetime(2026, 3, 18, 10, 20, tzinfo=UTC)
CREATED = NOW - timedelta(days=10)
PER_CLIENT = 10


class Statements:
    def __init__(self, engine: Engine) -> None:
        self.n = 0
        self.engine = engine
        event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *_: Any) -> None:
        self.n += 1

    def close(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


@pytest.fixture
def counted(store: Engine) -> Iterator[Statements]:
    statements = Statements(store)
    yield statements
    statements.close()


def _steady_pass(store: Engine, counted: Statements) -> tuple[int, int]:
    """A first pass (the incidents' pages go out), then the counted one a minute later."""
    first = escalator.sweep(store, FrozenClock(NOW))
    assert first.enqueued > 0, "the incidents had nothing due: the pass below proves nothing"
    before = counted.n
    watched = missed_runs.watch(store, FrozenClock(NOW + timedelta(minutes=1)))
    escalated = escalator.sweep(store, FrozenClock(NOW + timedelta(minutes=1)))
    assert watched.missed == [] and watched.errors == [] and escalated.enqueued == 0
    return counted.n - before, escalated.incidents


def test_a_steady_pass_issues_as_many_statements_for_twice_the_procedures(
    store: Engine, counted: Statements
) -> None:
    tpl = fleet.template(store, CREATED)
    fleet.add_clients(store, tpl, 0, 5, PER_CLIENT, NOW, CREATED)
    fleet.open_incidents(store, 10, NOW - timedelta(hours=2))
    small, seen_small = _steady_pass(store, counted)
    fleet.add_clients(store, tpl, 5, 5, PER_CLIENT, NOW, CREATED)
    fleet.open_incidents(store, 10, NOW - timedelta(hours=2), skip=50)
    large, seen_large = _steady_pass(store, counted)
    assert (seen_small, seen_large) == (10, 20)
    assert large <= small, f"{small} statements for 50 procedures, {large} for 100"


def test_a_pass_still_finds_what_a_procedure_owes_among_many(store: Engine) -> None:
    """The page read only picks out who owes something: one missed slot among 100 procedures
    is still recorded and its incident opened, once."""
    tpl = fleet.template(store, CREATED)
    fleet.add_clients(store, tpl, 0, 10, PER_CLIENT, NOW, CREATED)
    with session_scope(store) as s:
        proc = s.execute(
            select(Procedure).where(
                Procedure.client_id == "c0007", Procedure.key == "check-tms-backup"
            )
        ).scalar_one()
        last = (
            s.execute(
                select(Run).where(Run.procedure_id == proc.id).order_by(Run.scheduled_for.desc())
            )
            .scalars()
            .first()
        )
        assert last is not None
        s.execute(delete(Run).where(Run.id == last.id))
        name = f"{proc.client_id}/{proc.key}"
    first = missed_runs.watch(store, FrozenClock(NOW + timedelta(minutes=1)))
    again = missed_runs.watch(store, FrozenClock(NOW + timedelta(minutes=2)))
    assert [m.split("@")[0] for m in first.missed] == [name] and again.missed == []
    with session_scope(store) as s:
        assert s.execute(select(Incident.dedup_key)).scalars().all() == [name]


def _heartbeat_pass(store: Engine, counted: Statements) -> int:
    """A first pass (the watch begins expecting the new clients' heartbeats), then the counted
    one a minute later."""
    first = heartbeat_watch.watch(store, FrozenClock(NOW))
    assert first.started, "no heartbeat was new: the pass below proves nothing"
    before = counted.n
    again = heartbeat_watch.watch(store, FrozenClock(NOW + timedelta(minutes=1)))
    assert (again.started, again.missed, again.errors) == ([], [], [])
    return counted.n - before


def test_a_steady_heartbeat_watch_issues_as_many_statements_for_twice_the_clients(
    store: Engine, counted: Statements
) -> None:
    tpl = fleet.template(store, CREATED)
    fleet.add_clients(store, tpl, 0, 5, PER_CLIENT, NOW, CREATED)
    small = _heartbeat_pass(store, counted)
    fleet.add_clients(store, tpl, 5, 5, PER_CLIENT, NOW, CREATED)
    large = _heartbeat_pass(store, counted)
    with session_scope(store) as s:
        assert len(s.execute(select(HeartbeatPing)).all()) == 10 * len(
            tpl.client["definition"]["heartbeats"]
        )
    assert large <= small, f"{small} statements for 5 clients' heartbeats, {large} for 10"


def test_a_heartbeat_watch_still_finds_the_one_missed_ping_among_many(store: Engine) -> None:
    """Every heartbeat watched for three days (longer than the page read's recent pings) and
    pinging an hour ago but one: its incident opens once, the others stay quiet."""
    tpl = fleet.template(store, CREATED)
    fleet.add_clients(store, tpl, 0, 10, PER_CLIENT, NOW, CREATED)
    started = heartbeat_watch.watch(store, FrozenClock(NOW - timedelta(days=3)))
    assert len(started.started) == 10 * len(tpl.client["definition"]["heartbeats"])
    with session_scope(store) as s:
        for client in s.execute(select(Client)).scalars():
            for beat in client.definition["heartbeats"]:
                if (client.id, beat["id"]) != ("c0007", "tms-pg-dump"):
                    s.add(
                        HeartbeatPing(
                            client_id=client.id,
                            heartbeat=beat["id"],
                            at=NOW - timedelta(hours=1),
                            kind="success",
                            method="GET",
                        )
                    )
    first = heartbeat_watch.watch(store, FrozenClock(NOW))
    again = heartbeat_watch.watch(store, FrozenClock(NOW + timedelta(minutes=1)))
    assert [m.split("@")[0] for m in first.missed] == ["c0007/tms-pg-dump"]
    assert (again.missed, again.started, first.errors, again.errors) == ([], [], [], [])
    with session_scope(store) as s:
        keys = s.execute(select(Incident.dedup_key)).scalars().all()
    assert keys == ["heartbeat:c0007:tms-pg-dump"]


def _cadence_pass(store: Engine, counted: Statements) -> tuple[int, int]:
    """A first pass (the overdue updates are marked and their ladders paged), then the counted
    one a minute later."""
    first = update_cadence.sweep(store, FrozenClock(NOW))
    assert first.enqueued > 0, "no update was overdue: the pass below proves nothing"
    before = counted.n
    again = update_cadence.sweep(store, FrozenClock(NOW + timedelta(minutes=1)))
    assert again.enqueued == 0
    return counted.n - before, again.incidents


def test_a_steady_update_cadence_issues_as_many_statements_for_twice_the_sev1_incidents(
    store: Engine, counted: Statements
) -> None:
    tpl = fleet.template(store, CREATED)
    fleet.add_clients(store, tpl, 0, 10, PER_CLIENT, NOW, CREATED)
    fleet.open_incidents(store, 10, NOW - timedelta(hours=2), sev1=10)
    small, seen_small = _cadence_pass(store, counted)
    fleet.open_incidents(store, 10, NOW - timedelta(hours=2), skip=50, sev1=10)
    large, seen_large = _cadence_pass(store, counted)
    with session_scope(store) as s:
        overdue = s.execute(select(IncidentEvent).where(IncidentEvent.kind == "update_overdue"))
        assert len(overdue.all()) == 20, "each incident's overdue update is marked once"
    assert (seen_small, seen_large) == (10, 20)
    assert large <= small, f"{small} statements for 10 Severity-1 incidents, {large} for 20"
