"""Stakeholders hear when a flow (not only a person) opens a Severity-1 incident, and each time
the state the client reads changes (investigating, identified, monitoring, resolved): through
the outbox, once per change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.clock import FrozenClock, utc
from opsbinder.incidents import lifecycle, stakeholders, update_cadence
from opsbinder.incidents.hook_reports import HookReport, apply
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, OutboxMessage

LENA = Principal.operator("lena")


@pytest.fixture(autouse=True)
def _mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every contact of the example binder has an e-mail address: with SMTP set, all reachable."""
    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailtos://relay.example")


def notices(engine: Engine, incident_id: int, event: str) -> list[OutboxMessage]:
    with session_scope(engine) as s:
        rows = s.execute(
            select(OutboxMessage)
            .where(OutboxMessage.incident_id == incident_id)
            .order_by(OutboxMessage.id)
        ).scalars()
        found = [m for m in rows if "/stakeholder/" in m.idempotency_key]
        s.expunge_all()
    return [m for m in found if m.payload["body"]["event"] == event]


def failure(clock: FrozenClock, procedure: str) -> HookReport:
    return HookReport(
        kind="failure",
        client_id="nordhafen",
        procedure_key=procedure,
        flow_run_id=None,
        state_name="Failed",
        at=clock.now().isoformat(),
        message="checklist not signed off",
    )


def test_a_flow_that_opens_a_severity1_incident_starts_the_severity1_process(loaded, clock):
    with session_scope(loaded) as s:
        apply(s, clock, failure(clock, "lockdown-checklist"))  # severity: sev1 in the binder
        number = s.execute(select(Incident.id)).scalar_one()
    told = notices(loaded, number, "incident.severity1")
    assert {m.recipient for m in told} == {"dirk-hansen", "sabine-kurz", "jonas-weber"}
    with session_scope(loaded) as s:
        incident = lifecycle.get(s, number)
        assert (incident.source, incident.severity) == ("flow", "sev1")
        assert utc(incident.next_update_due) == clock.now() + update_cadence.FIRST_UPDATE_WITHIN
        kinds = [e.kind for e in lifecycle.events(s, number)]
        assert kinds[0] == "triggered" and kinds.count("severity1_started") == 1
    for m in told:  # the client's people read the public headline, never the internal title
        assert "lockdown" not in str(m.payload["body"]).lower()
    clock.advance(timedelta(minutes=5))
    with session_scope(loaded) as s:
        apply(s, clock, failure(clock, "lockdown-checklist"))  # a repeat: one occurrence more
    assert len(notices(loaded, number, "incident.severity1")) == 3, "told once, not per failure"


def test_a_lower_flow_incident_tells_no_severity1_stakeholder(loaded, clock):
    """The same door with a sev3 procedure: proves the notices above come from the severity."""
    with session_scope(loaded) as s:
        apply(s, clock, failure(clock, "check-tms-backup"))
        number = s.execute(select(Incident.id)).scalar_one()
        assert lifecycle.get(s, number).next_update_due is None
    assert notices(loaded, number, "incident.severity1") == []


def test_each_public_state_change_is_told_once_to_each_stakeholder(loaded, clock):
    with session_scope(loaded) as s:
        number = actions.declare(
            s, clock, LENA, client_id="nordhafen", severity="sev2", title="Slow order entry"
        ).id
    assert notices(loaded, number, "incident.public_state") == []
    for state in ("identified", "monitoring"):
        clock.advance(timedelta(minutes=10))
        with session_scope(loaded) as s:
            actions.set_public(s, clock, LENA, number, state=state)
    clock.advance(timedelta(minutes=10))
    with session_scope(loaded) as s:
        actions.set_public(s, clock, LENA, number, title="Order entry is slow")  # no new state
        actions.resolve(s, clock, LENA, number)
    told = notices(loaded, number, "incident.public_state")
    # sev2: the binder's sev2 stakeholder is Sabine Kurz alone
    assert [(m.recipient, m.payload["body"]["public_state"]) for m in told] == [
        ("sabine-kurz", "identified"),
        ("sabine-kurz", "monitoring"),
        ("sabine-kurz", "resolved"),
    ]
    assert len({m.idempotency_key for m in told}) == 3
    with session_scope(loaded) as s:  # a sender that retries the same change adds nothing
        incident = lifecycle.get(s, number)
        last = lifecycle.events(s, number)[-1]
        assert last.kind == "resolved"
        stakeholders.notify_public_state(s, clock, incident, last)
    assert len(notices(loaded, number, "incident.public_state")) == 3
    with session_scope(loaded) as s:
        actions.reopen(s, clock, LENA, number)
    reopened = notices(loaded, number, "incident.public_state")[-1]
    assert reopened.payload["body"]["public_state"] == "investigating"
    assert "Order entry is slow" in reopened.payload["body"]["title"]


def test_a_flow_incident_resolving_itself_tells_its_stakeholders(loaded, clock):
    with session_scope(loaded) as s:
        apply(s, clock, failure(clock, "lockdown-checklist"))
        number = s.execute(select(Incident.id)).scalar_one()
    clock.advance(timedelta(minutes=5))
    with session_scope(loaded) as s:
        success = HookReport(
            kind="success",
            client_id="nordhafen",
            procedure_key="lockdown-checklist",
            flow_run_id=None,
            state_name="Completed",
            at=clock.now().isoformat(),
        )
        apply(s, clock, success)
        assert lifecycle.get(s, number).state == "resolved"
    told = notices(loaded, number, "incident.public_state")
    assert {(m.recipient, m.payload["body"]["public_state"]) for m in told} == {
        ("dirk-hansen", "resolved"),
        ("sabine-kurz", "resolved"),
        ("jonas-weber", "resolved"),
    }


def test_a_missed_severity1_run_tells_the_stakeholders_too(store, example_dir, tmp_path):
    """The missed-run watch, the other flow-side door: the lockdown checklist made yearly (sev1,
    09:00 Europe/Berlin on 1 January, grace 1 day; the example's is on demand) never ran."""
    import shutil
    from datetime import UTC, datetime

    from opsbinder.config.loader import load_binder
    from opsbinder.incidents import missed_runs
    from opsbinder.sync import sync_binder

    binder = tmp_path / "binder"
    shutil.copytree(example_dir, binder)
    procedures = binder / "procedures.yaml"
    on_demand = (
        "    on_demand: true  # run the day it is needed: `opsbinder lockdown --client nordhafen`\n"
    )
    yearly = '    schedule: {cron: "0 9 1 1 *", timezone: Europe/Berlin}\n    cadence: yearly\n'
    assert on_demand in procedures.read_text()
    procedures.write_text(procedures.read_text().replace(on_demand, yearly))
    with session_scope(store) as s:
        sync_binder(s, load_binder(binder), FrozenClock(datetime(2026, 12, 31, 12, tzinfo=UTC)))
    report = missed_runs.watch(store, FrozenClock(datetime(2027, 1, 2, 9, tzinfo=UTC)))
    assert any(m.startswith("nordhafen/lockdown-checklist@") for m in report.missed), report
    with session_scope(store) as s:
        number = s.execute(
            select(Incident.id).where(Incident.dedup_key == "nordhafen/lockdown-checklist")
        ).scalar_one()
    told = notices(store, number, "incident.severity1")
    assert {m.recipient for m in told} == {"dirk-hansen", "sabine-kurz", "jonas-weber"}
