"""Declared incidents, severity changes with the Severity-1 process, duplicates, public view."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from opsbinder.actions import incidents as actions
from opsbinder.authorization import Principal
from opsbinder.clock import FrozenClock, utc
from opsbinder.errors import BadInput, NotFound
from opsbinder.incidents import lifecycle, update_cadence
from opsbinder.incidents.lifecycle import IncidentStateError
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, OutboxMessage

LENA = Principal.operator("lena")


@pytest.fixture(autouse=True)
def _mail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every contact of the example binder has an e-mail address: with SMTP set, all reachable."""
    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailtos://relay.example")


def declare(engine: Engine, clock: FrozenClock, severity: str = "sev1", **extra: str) -> int:
    fields = {
        "title": "Client called: TMS down in all warehouses",
        "public_title": "Transport management system unavailable",
        "impact": "No delivery notes can be printed",
        **extra,
    }
    with session_scope(engine) as s:
        return actions.declare(
            s, clock, LENA, client_id="nordhafen", severity=severity, **fields
        ).id


def outbox(engine: Engine, incident_id: int) -> list[OutboxMessage]:
    with session_scope(engine) as s:
        return list(
            s.execute(
                select(OutboxMessage).where(OutboxMessage.incident_id == incident_id)
            ).scalars()
        )


def management_and_stakeholders(rows: list[OutboxMessage]) -> tuple[set[str], set[str]]:
    management = {m.recipient for m in rows if "/sev1/t" in m.idempotency_key}
    told = {m.recipient for m in rows if "/stakeholder/" in m.idempotency_key}
    return {r for r in management if r}, {r for r in told if r}


def test_it_starts_the_severity1_process_at_once_when_declared(loaded, clock):
    number = declare(loaded, clock)
    management, told = management_and_stakeholders(outbox(loaded, number))
    assert management == {"claudia-roth", "jonas-weber"}  # sev1_management of the policy
    assert told == {"dirk-hansen", "sabine-kurz", "jonas-weber"}  # the binder's sev1 people
    with session_scope(loaded) as s:
        inc = lifecycle.get(s, number)
        assert inc.public_title == "Transport management system unavailable"
        assert inc.public_state == "investigating" and inc.details["impact"]
        assert utc(inc.next_update_due) == utc(clock.now()) + update_cadence.FIRST_UPDATE_WITHIN
        kinds = [e.kind for e in lifecycle.events(s, number)]
        assert kinds[0] == "triggered" and "severity1_started" in kinds
    # stakeholders read the public title, never the internal one
    notices = [m for m in outbox(loaded, number) if "/stakeholder/" in m.idempotency_key]
    for m in notices:
        assert "Client called" not in str(m.payload)
        assert "Transport management system unavailable" in m.payload["body"]["title"]


def test_it_starts_nothing_for_a_lower_declaration_until_raised_and_stops_when_lowered(
    loaded, clock
):
    number = declare(loaded, clock, "sev2")
    assert management_and_stakeholders(outbox(loaded, number))[0] == set()
    clock.advance(timedelta(hours=3))
    with session_scope(loaded) as s:
        actions.change_severity(s, clock, LENA, number, "sev1", "whole site down")
        assert utc(lifecycle.get(s, number).next_update_due) == (
            utc(clock.now()) + update_cadence.FIRST_UPDATE_WITHIN
        )
    management, told = management_and_stakeholders(outbox(loaded, number))
    assert management == {"claudia-roth", "jonas-weber"}
    assert "dirk-hansen" in told
    with session_scope(loaded) as s:
        audited = s.execute(
            select(AuditEntry).where(AuditEntry.action == "incident.severity")
        ).scalar_one()
        assert audited.actor == "lena" and audited.details["from"] == "sev2"
        assert audited.details["reason"] == "whole site down"
        actions.change_severity(s, clock, LENA, number, "sev3")
        assert lifecycle.get(s, number).next_update_due is None
    # lowered: the cadence sweep and management updates leave it alone from now on
    clock.advance(timedelta(hours=2))
    assert update_cadence.sweep(loaded, clock).incidents == 0  # no sev1 open
    with session_scope(loaded) as s:
        with pytest.raises(IncidentStateError, match="already sev3"):
            actions.change_severity(s, clock, LENA, number, "sev3")
        with pytest.raises(BadInput, match="sev9"):
            actions.change_severity(s, clock, LENA, number, "sev9")


def test_it_tells_stakeholders_again_after_a_lowering_but_not_twice_for_one_raise(loaded, clock):
    number = declare(loaded, clock, "sev2")
    with session_scope(loaded) as s:
        actions.change_severity(s, clock, LENA, number, "sev1")
    first = len(management_and_stakeholders(outbox(loaded, number))[1])
    with session_scope(loaded) as s:
        actions.change_severity(s, clock, LENA, number, "sev2")
        actions.change_severity(s, clock, LENA, number, "sev1")
    rows = [m for m in outbox(loaded, number) if "/stakeholder/" in m.idempotency_key]
    assert first == 3 and len(rows) == 6


def test_it_refuses_a_dedup_key_that_is_open_and_keeps_keys_per_client(loaded, clock):
    number = declare(loaded, clock, "sev3", dedup_key="tms-down")
    with pytest.raises(IncidentStateError, match=f"#{number} is already open for 'tms-down'"):
        declare(loaded, clock, "sev3", dedup_key="tms-down")
    with session_scope(loaded) as s:
        assert lifecycle.get(s, number).dedup_key == "nordhafen/tms-down"
        actions.resolve(s, clock, LENA, number)
    again = declare(loaded, clock, "sev3", dedup_key="tms-down")  # resolved: a new one
    assert again != number


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("title", "   ", "title: required"),
        ("title", "x" * 501, "title: 501 characters"),
        ("public_title", "p" * 201, "public_title: 201 characters"),
        ("impact", "bad\x00", "NUL"),
    ],
)
def test_it_refuses_bad_fields_and_writes_nothing(loaded, clock, field, value, words):
    with pytest.raises(BadInput if field != "impact" else Exception, match=words):
        declare(loaded, clock, **{field: value})
    with session_scope(loaded) as s:
        assert s.execute(select(Incident)).first() is None


def test_it_refuses_an_unknown_client_or_severity(loaded, clock):
    with session_scope(loaded) as s:
        with pytest.raises(NotFound, match="no client 'nobody'"):
            actions.declare(s, clock, LENA, client_id="nobody", severity="sev1", title="t")
        with pytest.raises(BadInput, match="severity: 'sev0'"):
            actions.declare(s, clock, LENA, client_id="nordhafen", severity="sev0", title="t")


def test_it_links_a_duplicate_to_its_primary_and_resolves_it(loaded, clock):
    primary, dup, third = (declare(loaded, clock, "sev3") for _ in range(3))
    with session_scope(loaded) as s:
        actions.link_duplicate(s, clock, LENA, dup, primary)
        inc = lifecycle.get(s, dup)
        assert inc.primary_incident_id == primary and inc.state == "resolved"
        assert inc.public_state == "resolved"
        assert "duplicate_linked" in [e.kind for e in lifecycle.events(s, primary)]
    with session_scope(loaded) as s:
        with pytest.raises(IncidentStateError, match="already a duplicate"):
            actions.link_duplicate(s, clock, LENA, dup, third)
        with pytest.raises(IncidentStateError, match=f"link to #{primary}"):
            actions.link_duplicate(s, clock, LENA, third, dup)
        with pytest.raises(IncidentStateError, match="primary of other incidents"):
            actions.link_duplicate(s, clock, LENA, primary, third)
        with pytest.raises(BadInput, match="itself"):
            actions.link_duplicate(s, clock, LENA, third, third)
        with pytest.raises(NotFound):
            actions.link_duplicate(s, clock, LENA, third, 999999)


def test_it_publishes_and_changes_the_public_view_apart_from_the_internal_one(loaded, clock):
    number = declare(loaded, clock, "sev2", public_title="")
    with session_scope(loaded) as s:
        inc = lifecycle.get(s, number)
        assert inc.public_title is None and inc.public_state == "investigating"
        actions.set_public(s, clock, LENA, number, title="Slow order entry")
        actions.set_public(s, clock, LENA, number, state="identified")
        inc = lifecycle.get(s, number)
        assert (inc.public_title, inc.public_state, inc.state) == (
            "Slow order entry",
            "identified",
            "triggered",
        )
        kinds = [e.kind for e in lifecycle.events(s, number)]
        assert kinds.count("published") == 1 and kinds.count("public") == 1
        with pytest.raises(IncidentStateError, match="already shows"):
            actions.set_public(s, clock, LENA, number, state="identified")
        with pytest.raises(BadInput, match="public_state: 'fixed'"):
            actions.set_public(s, clock, LENA, number, state="fixed")
        actions.resolve(s, clock, LENA, number)
        assert lifecycle.get(s, number).public_state == "resolved"
        actions.reopen(s, clock, LENA, number)
        assert lifecycle.get(s, number).public_state == "investigating"


def test_it_takes_a_component_of_the_clients_binder_only(loaded, clock):
    number = declare(loaded, clock, "sev3", component="tms")
    with session_scope(loaded) as s:
        inc = lifecycle.get(s, number)
        assert (inc.component, inc.source) == ("tms", "manual")
    with pytest.raises(BadInput, match=r"component: 'tmz' is not a component of nordhafen \(tms,"):
        declare(loaded, clock, "sev3", component="tmz")
