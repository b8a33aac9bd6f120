"""Status updates: append-only, hash-chained, cadence from the frozen policy, stakeholders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from opsbinder.errors import Refused
from opsbinder.incidents import lifecycle, stakeholders, status_updates
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, IncidentEvent, OutboxMessage, StatusUpdate

FIELDS = {
    "current_status": "TMS database restored from last night's backup; replaying WAL.",
    "next_steps": "Finish WAL replay, then re-enable warehouse scanners.",
    "business_impact": "Warehouses 1-3 cannot print delivery notes.",
    "bridge_url": "https://meet.example/sev1-tms",
}


def post(engine, clock, incident_id, **extra):
    with session_scope(engine) as s:
        return status_updates.post_update(
            s, clock, incident_id, author="alice", **{**FIELDS, **extra}
        )


def test_it_chains_updates_and_sets_the_next_due_time_from_the_policy(store, clock, two_clients):
    first = post(store, clock, two_clients.incident_a)
    clock.advance(timedelta(hours=2))
    second = post(store, clock, two_clients.incident_a, current_status="WAL replay done.")
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == status_updates.GENESIS and second.prev_hash == first.hash
    with session_scope(store) as s:
        assert status_updates.verify_chain(s, two_clients.incident_a).ok
        incident = lifecycle.get(s, two_clients.incident_a)
        # the example policy says every 4h
        assert status_updates.cadence_of(incident).every == timedelta(hours=4)
        assert incident.next_update_due is not None
        assert abs(
            (incident.next_update_due.replace(tzinfo=None) - clock.now().replace(tzinfo=None))
            - timedelta(hours=4)
        ) < timedelta(seconds=1)
        kinds = [e.kind for e in lifecycle.events(s, two_clients.incident_a)]
        assert kinds.count("status_update") == 2
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.action == "incident.status_update")
        ).all()
        assert len(actions) == 2


def test_it_refuses_an_update_sooner_than_the_minimum_interval_unless_forced(
    store, clock, two_clients
):
    post(store, clock, two_clients.incident_a)
    clock.advance(timedelta(minutes=30))
    with pytest.raises(Refused, match="insist with force"):
        post(store, clock, two_clients.incident_a)
    forced = post(store, clock, two_clients.incident_a, force=True)
    assert forced.seq == 2
    with session_scope(store) as s:
        event = (
            s.execute(
                select(IncidentEvent)
                .where(IncidentEvent.kind == "status_update")
                .order_by(IncidentEvent.id.desc())
            )
            .scalars()
            .first()
        )
        assert event.data["forced"] is True


def test_it_takes_a_correction_at_once_and_says_what_it_corrects(store, clock, two_clients):
    post(store, clock, two_clients.incident_a)
    clock.advance(timedelta(minutes=5))
    fix = post(
        store, clock, two_clients.incident_a, business_impact="Only warehouse 2.", corrects_seq=1
    )
    assert fix.corrects_seq == 1 and fix.seq == 2
    with pytest.raises(status_updates.UpdateInvalid, match="corrects_seq"):
        post(store, clock, two_clients.incident_a, corrects_seq=7)


def test_it_refuses_bad_fields_and_writes_nothing(store, clock, two_clients):
    with session_scope(store) as s:  # control: good fields on the other incident are written
        status_updates.post_update(s, clock, two_clients.incident_b, author="alice", **FIELDS)
    for bad in (
        {"current_status": "  "},
        {"bridge_url": "javascript:alert(1)"},
        {"next_update_at": clock.now() - timedelta(minutes=1)},
    ):
        with pytest.raises(status_updates.UpdateInvalid):
            post(store, clock, two_clients.incident_a, **bad)
    with pytest.raises(Refused, match="later than the policy"):
        post(store, clock, two_clients.incident_a, next_update_at=clock.now() + timedelta(hours=9))
    with session_scope(store) as s:
        written = s.execute(select(StatusUpdate.incident_id)).scalars().all()
        assert written == [two_clients.incident_b]


def test_it_takes_updates_below_sev1_without_the_severity1_cadence(store, clock, two_clients):
    with session_scope(store) as s:
        s.execute(
            text("UPDATE incidents SET severity='sev2' WHERE id=:i"), {"i": two_clients.incident_a}
        )
    first = post(store, clock, two_clients.incident_a)
    assert first.next_update_at is None  # nothing promised that nobody enforces
    clock.advance(timedelta(minutes=5))
    # no minimum interval and no latest next update: the Severity-1 cadence binds sev1 only
    second = post(
        store, clock, two_clients.incident_a, next_update_at=clock.now() + timedelta(hours=9)
    )
    assert second.seq == 2 and second.next_update_at is not None
    with session_scope(store) as s:
        assert status_updates.verify_chain(s, two_clients.incident_a).ok
        assert lifecycle.get(s, two_clients.incident_a).next_update_due is not None
    # the same on sev1 is refused: the difference is the rule, not the setup
    with pytest.raises(Refused, match="insist with force"):
        post(store, clock, two_clients.incident_b)
        clock.advance(timedelta(minutes=5))
        post(store, clock, two_clients.incident_b)


def test_it_detects_an_update_edited_or_removed_behind_its_back(store, clock, two_clients):
    post(store, clock, two_clients.incident_a)
    clock.advance(timedelta(hours=2))
    post(store, clock, two_clients.incident_a)
    clock.advance(timedelta(hours=2))
    post(store, clock, two_clients.incident_a)
    with session_scope(store) as s:
        s.execute(
            text("UPDATE status_updates SET business_impact='none' WHERE seq=2 AND incident_id=:i"),
            {"i": two_clients.incident_a},
        )
    with session_scope(store) as s:
        report = status_updates.verify_chain(s, two_clients.incident_a)
        assert not report.ok and "update #2 was changed" in report.problems[0]
    with session_scope(store) as s:
        s.execute(
            text("DELETE FROM status_updates WHERE seq=2 AND incident_id=:i"),
            {"i": two_clients.incident_a},
        )
    with session_scope(store) as s:
        report = status_updates.verify_chain(s, two_clients.incident_a)
        assert report.problems == ["update #2 is missing (next is #3)"]


# the world's Severity-1 incident told management and stakeholders as it opened; these are the
# notices of its updates
UPDATE_NOTICE = OutboxMessage.idempotency_key.like("inc/%/update/%")


def test_it_notifies_binder_and_added_stakeholders_once_per_update(
    store, clock, two_clients, monkeypatch
):
    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailtos://relay.example")
    with session_scope(store) as s:
        incident = lifecycle.get(s, two_clients.incident_a)
        before = {p.contact for p in stakeholders.stakeholders(s, incident)}
        # sev1 stakeholders of the example binder (sabine-kurz is sev1+sev2, jonas-weber the AE)
        assert before == {"dirk-hansen", "sabine-kurz", "jonas-weber"}
        stakeholders.add_stakeholder(
            s, clock, two_clients.incident_a, contact="mark-olsen", actor="alice"
        )
        with pytest.raises(Refused, match="already"):
            stakeholders.add_stakeholder(
                s, clock, two_clients.incident_a, contact="account_executive", actor="alice"
            )
    first = post(store, clock, two_clients.incident_a)
    with session_scope(store) as s:
        messages = list(s.execute(select(OutboxMessage).where(UPDATE_NOTICE)).scalars())
        # the same update notified again (a retried transaction) adds nothing
        incident = lifecycle.get(s, two_clients.incident_a)
        row = status_updates.updates_of(s, two_clients.incident_a)[0]
        assert stakeholders.notify_update(s, clock, incident, row) == 0
    assert {m.recipient for m in messages} == {
        "dirk-hansen",
        "sabine-kurz",
        "jonas-weber",
        "mark-olsen",
    }
    for m in messages:
        assert m.channel == "apprise" and m.target.startswith("mail:")
        body = m.payload["body"]
        assert body["link"].endswith(f"/status/nordhafen#incident-{two_clients.incident_a}")
        assert FIELDS["current_status"] not in str(m.payload)  # the page holds the text
        assert m.idempotency_key.startswith(f"inc/{two_clients.incident_a}/update/{first.seq}/")


def test_it_notes_stakeholders_it_cannot_reach(store, clock, two_clients, monkeypatch):
    monkeypatch.delenv("OPSBINDER_SMTP_URL", raising=False)
    post(store, clock, two_clients.incident_a)
    with session_scope(store) as s:
        assert s.execute(select(OutboxMessage).where(UPDATE_NOTICE)).first() is None
        skipped = [
            e
            for e in lifecycle.events(s, two_clients.incident_a)
            if e.kind == "notify_skipped" and "/update/" in e.data["key"]
        ]
        assert len(skipped) == 1 and "dirk-hansen" in skipped[0].message
