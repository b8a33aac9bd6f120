"""A dry run is a preview: it never opens, updates or resolves an incident, never pages, and it
still previews inside a maintenance window (issue 17, item 11)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from flows import procedures
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, OutboxMessage, Run, WorkItem

pytestmark = pytest.mark.prefect


def _count(store: Engine, model: type) -> int:
    with session_scope(store) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_it_opens_no_incident_for_a_failed_dry_run_and_one_for_the_real_run(
    acme: Path, store: Engine
) -> None:
    dry = procedures.backup_check(
        client_id="acme", procedure_id="check-old-backup", dry_run=True, return_state=True
    )
    assert dry.is_failed()  # the preview found the stale backup...
    assert (_count(store, Incident), _count(store, OutboxMessage)) == (0, 0)  # ...and told no one
    with session_scope(store) as session:
        run = session.execute(
            select(Run).where(Run.flow_run_id == str(dry.state_details.flow_run_id))
        ).scalar_one()
        assert (run.outcome, run.dry_run) == ("failed", True)
    real = procedures.backup_check(
        client_id="acme", procedure_id="check-old-backup", return_state=True
    )
    assert real.is_failed()
    assert _count(store, Incident) == 1  # the same failure, for real, does open one


def test_it_previews_a_dry_run_in_a_maintenance_window(acme: Path, store: Engine) -> None:
    real = procedures.manual(client_id="acme", procedure_id="windowed", return_state=True)
    assert real.name == "Skipped"
    dry = procedures.manual(
        client_id="acme", procedure_id="windowed", dry_run=True, return_state=True
    )
    assert dry.is_completed() and dry.name != "Skipped"
    with session_scope(store) as session:
        run = session.execute(
            select(Run).where(Run.flow_run_id == str(dry.state_details.flow_run_id))
        ).scalar_one()
        assert run.outcome == "ok"
        assert run.reason.endswith(
            "(previewed in maintenance window 'upgrade': a real run now would be skipped)"
        )
    assert _count(store, WorkItem) == 0  # a preview opens no checklist either
