"""The demo's year of history: played through the core with a moved clock, it is a client's
real year to every reader of the store (the audit, the manager's report, the export)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock, utc
from opsbinder.config.loader import load_binder
from opsbinder.demo import demo_env, prepare_demo
from opsbinder.demo_year import build_year, has_history
from opsbinder.store.db import session_scope
from opsbinder.store.models import (
    Incident,
    IncidentEvent,
    Procedure,
    Run,
    StatusUpdate,
    WorkItem,
)
from opsbinder.sync import sync_binder
from tests.support.store import migrated_engine

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # the year: 1 Dec 2025 to 30 Nov 2026
MONTHS = [f"{2025 + (11 + m) // 12}-{(11 + m) % 12 + 1:02d}" for m in range(12)]
KINDS = {"purge", "archive", "backup_check", "disk_check", "update_reminder", "manual", "custom"}


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory, example_dir_path: Path) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("demo-year")
    engine = migrated_engine(f"sqlite:///{root / 'store.db'}")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in demo_env(root / "demo").items():
            mp.setenv(name, value)
        mp.setenv("OPSBINDER_DATABASE_URL", engine.url.render_as_string(hide_password=False))
        clock = FrozenClock(NOW)
        systems = prepare_demo(root / "demo", clock, rows=4000, history_days=365)
        with session_scope(engine) as session:
            sync_binder(session, load_binder(example_dir_path), clock)
        assert not has_history(engine, "nordhafen")
        build_year(engine, "nordhafen", systems.root / "backups", NOW)
        yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def example_dir_path() -> Path:
    return Path(__file__).resolve().parent.parent / "config" / "example"


def _every_kind_runs_in_every_month_of_the_year(year: Engine) -> None:
    seen: dict[str, set[str]] = defaultdict(set)
    with session_scope(year) as session:
        rows = session.execute(
            select(
                Run.started_at, Run.scheduled_for, Procedure.kind, Run.outcome, Run.dry_run
            ).join(Procedure, Procedure.id == Run.procedure_id)
        ).all()
    for started, scheduled, kind, outcome, dry_run in rows:
        assert not dry_run and utc(started) < NOW
        if scheduled is not None:  # every scheduled run started on time, in UTC like the slot
            assert timedelta(0) <= utc(started) - utc(scheduled) < timedelta(minutes=5)
        if outcome == "ok":
            seen[f"{utc(started):%Y-%m}"].add(kind)
    assert {month: seen[month] for month in MONTHS} == {month: KINDS for month in MONTHS}
    assert has_history(year, "nordhafen")


def _failed_runs_opened_incidents_the_ladder_escalated(year: Engine) -> None:
    with session_scope(year) as session:
        failed = session.execute(select(Run).where(Run.outcome == "failed")).scalars().all()
        incidents = session.execute(
            select(Incident).where(Incident.source == "flow")
        ).scalars().all()  # fmt: skip
        escalated = {
            e.incident_id
            for e in session.execute(
                select(IncidentEvent).where(IncidentEvent.kind == "escalated")
            ).scalars()
        }
        assert failed and incidents
        assert any(i.id in escalated and i.state == "resolved" for i in incidents)
        assert all(i.acknowledged_by for i in incidents)
        # the last nights' dumps never came: today's bundle finds that incident still open
        still_open = [i for i in incidents if i.state != "resolved"]
        assert [i.dedup_key for i in still_open] == ["nordhafen/check-tms-backup"]


def _severity_1_outages_got_their_updates_on_cadence(year: Engine) -> None:
    with session_scope(year) as session:
        outages = session.execute(
            select(Incident).where(Incident.severity == "sev1")
        ).scalars().all()  # fmt: skip
        assert len(outages) == 2 and all(o.state == "resolved" for o in outages)
        for outage in outages:
            updates = session.execute(
                select(StatusUpdate)
                .where(StatusUpdate.incident_id == outage.id)
                .order_by(StatusUpdate.seq)
            ).scalars().all()  # fmt: skip
            assert len(updates) == 3
            for before, after in itertools.pairwise(updates):
                assert utc(after.posted_at) <= utc(before.next_update_at)  # on time


def _checklists_were_signed_off_and_the_restore_test_counts(year: Engine) -> None:
    from opsbinder.handover.completeness import audit_client

    with session_scope(year) as session:
        done = session.execute(
            select(WorkItem).where(WorkItem.completed_at.is_not(None))
        ).scalars().all()  # fmt: skip
        checklists = [w for w in done if w.kind == "checklist"]
        assert len(checklists) >= 11 and "scratch server" in checklists[0].note
        assert any(utc(w.completed_at) > utc(w.due_at) and w.incident_id for w in checklists)
        findings = {f.code for f in audit_client(session, "nordhafen", FrozenClock(NOW)).findings}
    assert not findings & {
        "never-run",
        "manual-never-completed",
        "backup-never-restore-tested",
        "destructive-untried",
        "runbook-restore-not-drilled",
        "runbook-sends-nothing",
        "runbook-cadence-mismatch",
    }


def _the_managers_report_and_the_export_show_the_year(year: Engine, tmp_path: Path) -> None:
    from opsbinder.handover.export import export_client
    from opsbinder.reports.report import Month, build_report

    for month in ("2026-03", "2026-08"):  # the months of the two outages
        report = build_report(year, Month.parse(month), client_id="nordhafen", now=NOW)
        figures = report.clients[0].figures
        assert figures.runs > 200 and figures.ok > 0 and figures.rows_purged > 0
        assert figures.incidents["sev1"] == 1 and figures.updates_due > 0
    with session_scope(year) as session:
        export_client(session, "nordhafen", tmp_path / "export", FrozenClock(NOW), actor="test")
    logged = json.loads((tmp_path / "export" / "runs.json").read_text())["runs"]
    assert len(logged) > 3000
    assert {r["procedure"] for r in logged} >= {"purge-tracking-events", "monthly-restore-test"}


@pytest.mark.slow
def test_the_year_reads_as_a_real_year_to_every_reader(year: Engine, tmp_path: Path) -> None:
    """One test over the one year: as separate tests, xdist split them and both workers built the
    year (about a minute each)."""
    _every_kind_runs_in_every_month_of_the_year(year)
    _failed_runs_opened_incidents_the_ladder_escalated(year)
    _severity_1_outages_got_their_updates_on_cadence(year)
    _checklists_were_signed_off_and_the_restore_test_counts(year)
    _the_managers_report_and_the_export_show_the_year(year, tmp_path)
