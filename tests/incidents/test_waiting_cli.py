"""`opsbinder incidents wait` through the installed console script: set, refuse twice (exit 4),
show the clocks standing still, clear; an unknown incident is exit 3; all audited."""

from __future__ import annotations

import re

from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, IncidentWait
from tests.support.console import opsbinder


def test_it_sets_shows_refuses_twice_and_clears_waiting(paged: Engine, clock: FrozenClock):
    with session_scope(paged) as s:
        iid = lifecycle.trigger(
            s, clock, client_id="nordhafen", procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup", title="TMS backup missing", severity="sev3", details={},
        ).id  # fmt: skip
    env = {"OPSBINDER_ACTOR": "lena-fischer"}
    ran = opsbinder("incidents", "wait", str(iid), "-m", "asked for the NAS password", env=env)
    assert ran.code == 0 and "waits on the client" in ran.out, ran.output
    twice = opsbinder("incidents", "wait", str(iid), env=env)
    assert twice.code == 4 and "already waits on the client since" in twice.err, twice.output
    shown = opsbinder("incidents", "show", str(iid))
    assert shown.code == 0, shown.output
    # opened on the fixed test clock in March, long past its targets by today's wait
    assert re.search(
        r"SLA response +breached \(\d+h\d\dm of 4h00m used, due 2026-03-20 14:00 UTC\)", shown.out
    )
    assert "on the client since" in shown.out and "asked for the NAS password" in shown.out
    cleared = opsbinder("incidents", "wait", str(iid), "--clear", env=env)
    assert cleared.code == 0 and "SLA clocks run" in cleared.out, cleared.output
    again = opsbinder("incidents", "wait", str(iid), "--clear", env=env)
    assert again.code == 4 and "is not waiting on the client" in again.err
    missing = opsbinder("incidents", "wait", "999999", env=env)
    assert missing.code == 3 and "no incident #999999" in missing.err
    for each in (ran, twice, shown, cleared, again, missing):
        assert "Traceback" not in each.output
    with session_scope(paged) as s:
        [wait] = s.execute(select(IncidentWait)).scalars()
        assert wait.started_by == "lena-fischer" and wait.ended_by == "lena-fischer"
        actions = s.execute(
            select(AuditEntry.action).where(AuditEntry.object_id == str(iid))
        ).scalars()
        assert {"incident.waiting_on_client", "incident.client_replied"} <= set(actions)


def test_resolving_ends_the_wait(paged: Engine, clock: FrozenClock):
    with session_scope(paged) as s:
        iid = lifecycle.trigger(
            s, clock, client_id="nordhafen", procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup", title="TMS backup missing", severity="sev3", details={},
        ).id  # fmt: skip
    assert opsbinder("incidents", "wait", str(iid)).code == 0
    assert opsbinder("incidents", "resolve", str(iid)).code == 0
    with session_scope(paged) as s:
        [wait] = s.execute(select(IncidentWait)).scalars()
        assert wait.ended_at is not None
