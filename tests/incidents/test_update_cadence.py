"""The next Severity-1 update is enforced: reminder to the commander, overdue escalates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from opsbinder.config.loader import load_binder
from opsbinder.incidents import lifecycle, status_updates, update_cadence
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, OutboxMessage

T0 = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)


def snap(example_dir, **extra):
    cb = load_binder(example_dir).clients[0]
    policy = cb.escalation_policies[0].model_dump(mode="json")
    values = {
        "id": 7,
        "severity": "sev1",
        "state": "acknowledged",
        "due": T0 + timedelta(hours=4),
        "policy": policy,
        "commander": "mark-olsen",
    }
    return update_cadence.CadenceSnapshot(**{**values, **extra}), {
        s.id: s for s in cb.oncall_schedules
    }


def keys(actions):
    return [a.key.split("/", 4)[-1] for a in actions]


def test_it_reminds_the_commander_fifteen_minutes_before_the_update_is_due(example_dir):
    incident, schedules = snap(example_dir)
    due = incident.due
    assert update_cadence.decide(incident, schedules, set(), due - timedelta(minutes=16)) == []
    actions = update_cadence.decide(incident, schedules, set(), due - timedelta(minutes=15))
    assert [(a.recipient, a.reason) for a in actions] == [
        ("mark-olsen", "Severity-1 update due at 14:00 UTC")
    ]
    sent = {a.key for a in actions}
    assert update_cadence.decide(incident, schedules, sent, due - timedelta(minutes=5)) == []


def test_it_reminds_the_on_call_level_when_the_incident_has_no_commander(example_dir):
    incident, schedules = snap(example_dir, commander=None)
    actions = update_cadence.decide(incident, schedules, set(), incident.due - timedelta(minutes=1))
    assert {a.target.get("oncall") or a.target.get("webhook") for a in actions} == {
        "l1-weekly",
        "ops-pager",
    }
    assert all(a.recipient or a.target.get("webhook") for a in actions)


def test_it_escalates_an_overdue_update_up_the_ladder_like_an_unacknowledged_incident(
    example_dir,
):
    incident, schedules = snap(example_dir)
    due = incident.due
    at_due = update_cadence.decide(incident, schedules, set(), due)
    assert [a.level for a in at_due] == [1, 1]
    assert all("overdue since 14:00 UTC" in a.reason for a in at_due)
    sent = {a.key for a in at_due}
    # L1's acknowledgement timeout is 15m, then L2 (mark-olsen), L2's 30m later L3 (priya-nair)
    assert update_cadence.decide(incident, schedules, sent, due + timedelta(minutes=14)) == []
    l2 = update_cadence.decide(incident, schedules, sent, due + timedelta(minutes=15))
    assert [(a.level, a.recipient) for a in l2] == [(2, "mark-olsen")]
    sent |= {a.key for a in l2}
    l3 = update_cadence.decide(incident, schedules, sent, due + timedelta(minutes=45))
    assert [(a.level, a.recipient) for a in l3] == [(3, "priya-nair")]
    assert all(a.step == 0 for a in at_due + l2 + l3)  # never moves the incident's own ladder


@pytest.mark.parametrize("change", [{"severity": "sev2"}, {"state": "resolved"}, {"policy": {}}])
def test_it_leaves_other_incidents_alone(example_dir, change):
    overdue, schedules = snap(example_dir)
    late = overdue.due + timedelta(hours=1)
    assert update_cadence.decide(overdue, schedules, set(), late) != []  # control: it would act
    incident, schedules = snap(example_dir, **change)
    assert update_cadence.decide(incident, schedules, set(), late) == []


def test_it_sweeps_the_store_once_per_due_time_and_starts_afresh_after_an_update(
    store, clock, two_clients, monkeypatch
):
    monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailtos://relay.example")
    with session_scope(store) as s:
        lifecycle.acknowledge(s, clock, two_clients.incident_a, actor="alice")
        s.get(Incident, two_clients.incident_a).commander = "mark-olsen"
        status_updates.post_update(
            s,
            clock,
            two_clients.incident_a,
            author="alice",
            current_status="s",
            next_steps="n",
            business_impact="b",
            notify=False,
        )
    with session_scope(store) as s:
        s.get(Incident, two_clients.incident_b).state = "resolved"  # only incident_a is in play

    def outbox_keys():
        with session_scope(store) as s:
            return [
                k.split("#")[0]
                for k in s.execute(
                    select(OutboxMessage.idempotency_key).order_by(OutboxMessage.id)
                ).scalars()
            ]

    clock.set(T0 + timedelta(hours=3, minutes=50))
    report = update_cadence.sweep(store, clock)
    assert (report.reminders, report.overdue) == (1, 0)
    assert update_cadence.sweep(store, clock).enqueued == 0  # idempotent
    clock.set(T0 + timedelta(hours=4, minutes=1))
    report = update_cadence.sweep(store, clock)
    assert report.overdue == 2 and report.enqueued >= 2
    update_cadence.sweep(store, clock)
    with session_scope(store) as s:
        kinds = [e.kind for e in lifecycle.events(s, two_clients.incident_a)]
    assert kinds.count("update_overdue") == 1
    before = outbox_keys()
    assert any("/remind/contact:mark-olsen" in k for k in before)
    assert any("/r0/l1/webhook:ops-pager" in k for k in before)
    # a new update moves the due time: nothing more until the new reminder window
    with session_scope(store) as s:
        status_updates.post_update(
            s,
            clock,
            two_clients.incident_a,
            author="alice",
            current_status="s2",
            next_steps="n2",
            business_impact="b2",
            notify=False,
        )
    clock.advance(timedelta(minutes=30))
    assert update_cadence.sweep(store, clock).enqueued == 0
    assert outbox_keys() == before


@pytest.mark.prefect
@pytest.mark.slow
def test_it_runs_as_a_prefect_flow_against_the_configured_store(
    store, clock, two_clients, prefect_api
):
    from flows.sweep import sweep

    # the incidents opened at the frozen clock's 10:00 (2026) owe a first update by 10:30:
    # against the real clock that is long overdue, so the sweep escalates both
    result = sweep()["update cadence"]
    assert result["incidents"] == 2 and result["overdue"] >= 2
    with session_scope(store) as s:
        kinds = [e.kind for e in lifecycle.events(s, two_clients.incident_a)]
    assert "update_overdue" in kinds
