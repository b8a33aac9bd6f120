from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from opsbinder.clock import FrozenClock
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, IncidentEvent


def _trigger(store: Engine, clock: FrozenClock, **kw: object) -> int:
    args: dict = dict(
        client_id="nordhafen",
        procedure_key="check-tms-backup",
        dedup_key="nordhafen/check-tms-backup",
        title="backup check failed",
        severity="sev2",
        details={"error": "no dump"},
        flow_run_id=None,
    )
    args.update(kw)
    with session_scope(store) as s:
        return lifecycle.trigger(s, clock, **args).id


def test_it_opens_an_incident_with_a_frozen_policy(loaded: Engine, clock: FrozenClock) -> None:
    iid = _trigger(loaded, clock)
    with session_scope(loaded) as s:
        inc = s.get(Incident, iid)
        assert inc.state == "triggered" and inc.severity == "sev2"
        assert inc.policy_snapshot["id"] == "standard"
        assert [lv["name"] for lv in inc.policy_snapshot["levels"]][:2] == [
            "L1 on-call",
            "L2 team lead",
        ]
        assert inc.procedure_id is not None
        kinds = [e.kind for e in lifecycle.events(s, iid)]
        assert kinds == ["triggered"]
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "incident.triggered")
            )
            == 1
        )


def test_it_adds_an_occurrence_instead_of_a_second_incident(
    loaded: Engine, clock: FrozenClock
) -> None:
    first = _trigger(loaded, clock)
    clock.advance(timedelta(minutes=5))
    second = _trigger(loaded, clock, severity="sev1")
    assert first == second
    with session_scope(loaded) as s:
        inc = s.get(Incident, first)
        assert inc.occurrences == 2
        assert inc.severity == "sev1"  # a worse occurrence raises the severity
        kinds = [e.kind for e in lifecycle.events(s, first)]
        assert kinds[:3] == ["triggered", "occurrence", "severity"]
        assert kinds[-1] == "severity1_started"  # and starts the Severity-1 process at once
        assert inc.next_update_due is not None
        assert s.scalar(select(func.count()).select_from(Incident)) == 1


def test_it_opens_a_new_incident_after_the_old_one_is_resolved(
    loaded: Engine, clock: FrozenClock
) -> None:
    first = _trigger(loaded, clock)
    with session_scope(loaded) as s:
        lifecycle.resolve(s, clock, first, actor="lena")
    second = _trigger(loaded, clock)
    assert second != first


def test_it_walks_the_lifecycle_and_guards_transitions(loaded: Engine, clock: FrozenClock) -> None:
    iid = _trigger(loaded, clock)
    with session_scope(loaded) as s:
        lifecycle.acknowledge(s, clock, iid, actor="lena")
    with (
        pytest.raises(lifecycle.IncidentStateError, match="already acknowledged by lena"),
        session_scope(loaded) as s,
    ):
        lifecycle.acknowledge(s, clock, iid, actor="tom")
    with (
        pytest.raises(lifecycle.IncidentStateError, match="not resolved"),
        session_scope(loaded) as s,
    ):
        lifecycle.reopen(s, clock, iid, actor="tom")
    with session_scope(loaded) as s:
        lifecycle.assign(s, clock, iid, actor="lena", assignee="priya")
        lifecycle.add_note(s, clock, iid, actor="priya", message="looking at the NAS")
        lifecycle.resolve(s, clock, iid, actor="priya", message="dump was late")
    with (
        pytest.raises(lifecycle.IncidentStateError, match="already resolved by priya"),
        session_scope(loaded) as s,
    ):
        lifecycle.resolve(s, clock, iid, actor="tom")
    with (
        pytest.raises(lifecycle.IncidentStateError, match="reopen it first"),
        session_scope(loaded) as s,
    ):
        lifecycle.acknowledge(s, clock, iid, actor="tom")
    with session_scope(loaded) as s:
        inc = lifecycle.reopen(s, clock, iid, actor="tom", message="failed again")
        assert inc.state == "triggered" and lifecycle.epoch(inc) == 1
        assert inc.acknowledged_at is None and inc.resolved_at is None
    with session_scope(loaded) as s:
        kinds = [e.kind for e in lifecycle.events(s, iid)]
        # resolving and reopening change what the client reads: its stakeholders are told (here
        # unreachable, without SMTP, which the timeline notes)
        assert [k for k in kinds if k != "notify_skipped"] == [
            "triggered",
            "acknowledged",
            "assigned",
            "note",
            "resolved",
            "reopened",
        ]
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.object_type == "incident")
        ).scalars()
        assert sorted(set(actions)) == sorted({f"incident.{k}" for k in kinds})


def test_it_refuses_to_reopen_when_another_incident_is_open_for_the_key(
    loaded: Engine, clock: FrozenClock
) -> None:
    first = _trigger(loaded, clock)
    with session_scope(loaded) as s:
        lifecycle.resolve(s, clock, first, actor="lena")
    _trigger(loaded, clock)
    with (
        pytest.raises(lifecycle.IncidentStateError, match="already open"),
        session_scope(loaded) as s,
    ):
        lifecycle.reopen(s, clock, first, actor="lena")


def test_it_writes_nothing_when_a_transition_is_refused(loaded: Engine, clock: FrozenClock) -> None:
    iid = _trigger(loaded, clock)
    with session_scope(loaded) as s:
        before = s.scalar(select(func.count()).select_from(IncidentEvent))
    with pytest.raises(lifecycle.IncidentStateError), session_scope(loaded) as s:
        lifecycle.acknowledge(s, clock, iid, actor="x")  # allowed: written before the refusal
        lifecycle.reopen(s, clock, iid, actor="x")
    with session_scope(loaded) as s:
        assert s.scalar(select(func.count()).select_from(IncidentEvent)) == before
    with session_scope(loaded) as s:  # control: the same acknowledgement alone is written
        lifecycle.acknowledge(s, clock, iid, actor="x")
    with session_scope(loaded) as s:
        assert s.scalar(select(func.count()).select_from(IncidentEvent)) > before


def test_it_keeps_one_open_incident_under_concurrent_triggers(
    loaded: Engine, clock: FrozenClock
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(lambda _: _trigger(loaded, FrozenClock(clock.now())), range(12)))
    assert len(set(ids)) == 1
    with session_scope(loaded) as s:
        inc = s.get(Incident, ids[0])
        assert inc.occurrences == 12
