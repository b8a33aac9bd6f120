"""What the binder says about runs: last success, last failure and the incident it counted on."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.handover.dossier import gather
from opsbinder.incidents import lifecycle
from opsbinder.store.db import session_scope
from tests.handover.conftest import add_run


def test_it_links_a_repeat_failure_to_the_incident_already_open(
    loaded: Engine, clock: FrozenClock
) -> None:
    earlier = FrozenClock(clock.now() - timedelta(days=2))
    with session_scope(loaded) as session:
        opened = lifecycle.trigger(
            session,
            earlier,
            client_id="nordhafen",
            procedure_key="check-disk-space",
            dedup_key="nordhafen/check-disk-space:failed",
            title="Disk above 90%",
            severity="sev2",
            details={},
        ).id
    add_run(loaded, clock, "check-disk-space", "ok", timedelta(days=3))
    add_run(loaded, clock, "check-disk-space", "failed", timedelta(hours=1), reason="91% used")
    add_run(loaded, clock, "purge-tracking-events", "failed", timedelta(hours=1))

    with session_scope(loaded) as session:
        dossier = gather(session, "nordhafen", clock)

    disk = dossier.procedure("check-disk-space")
    assert disk.failure_incident is not None and disk.failure_incident.id == opened
    assert disk.last_failure is not None and disk.last_failure.reason == "91% used"
    assert disk.last_ok is not None
    purge = dossier.procedure("purge-tracking-events")
    assert purge.last_failure is not None and purge.failure_incident is None
    assert purge.last_ok is None
