"""Loading the binder into the store: create, update, deactivate, each change audited once."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from opsbinder import audit
from opsbinder.cli.main import app
from opsbinder.clock import utc
from opsbinder.config.loader import load_binder
from opsbinder.config.models import Binder
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Client, Procedure
from opsbinder.sync import sync_binder


@pytest.fixture
def binder(example_dir) -> Binder:
    return load_binder(example_dir)


def _replace_procedures(binder: Binder, procedures) -> Binder:
    client = binder.clients[0].model_copy(update={"procedures": procedures})
    return binder.model_copy(update={"clients": [client]})


def _sync(store: Engine, binder: Binder, clock):
    with session_scope(store) as session:
        return sync_binder(session, binder, clock, actor="lena")


def _audit(store: Engine) -> list[tuple[str, str]]:
    with session_scope(store) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
        return [(row.action, row.object_id) for row in rows]


def _procedures(store: Engine) -> dict[str, Procedure]:
    with session_scope(store) as session:
        return {p.key: p for p in session.execute(select(Procedure)).scalars()}


def test_it_creates_the_client_and_every_procedure_with_an_audit_entry_each(store, clock, binder):
    report = _sync(store, binder, clock)
    keys = [p.id for p in binder.clients[0].procedures]
    assert report.created == [f"nordhafen/{k}" for k in keys]
    rows = _procedures(store)
    assert set(rows) == set(keys)
    purge = rows["purge-tracking-events"]
    assert (purge.kind, purge.cron, purge.timezone, purge.cadence, purge.active) == (
        "purge", "15 1 * * *", "Europe/Berlin", "daily", True,
    )  # fmt: skip
    assert purge.definition["params"]["retention_days"] == 90
    assert _audit(store) == [("client.created", "nordhafen")] + [
        ("procedure.created", f"nordhafen/{k}") for k in keys
    ]
    with session_scope(store) as session:
        assert session.get(Client, "nordhafen").timezone == "Europe/Berlin"
        assert audit.verify(session)[1] == []


def test_it_changes_nothing_and_audits_nothing_when_synced_again(store, clock, binder):
    _sync(store, binder, clock)
    entries = _audit(store)
    clock.advance(timedelta(hours=1))
    report = _sync(store, binder, clock)
    assert (report.created, report.updated, report.removed) == ([], [], [])
    assert len(report.unchanged) == len(binder.clients[0].procedures)
    assert _audit(store) == entries


def test_it_updates_a_changed_procedure_and_audits_the_new_hash(store, clock, binder):
    _sync(store, binder, clock)
    procs = list(binder.clients[0].procedures)
    procs[0] = procs[0].model_copy(update={"severity": "sev1"})
    clock.advance(timedelta(hours=1))
    report = _sync(store, _replace_procedures(binder, procs), clock)
    assert report.updated == ["nordhafen/purge-tracking-events"]
    row = _procedures(store)["purge-tracking-events"]
    assert row.severity == "sev1" and row.definition["severity"] == "sev1"
    assert utc(row.updated_at) == clock.now()
    assert _audit(store)[-1] == ("procedure.updated", "nordhafen/purge-tracking-events")


def test_it_deactivates_a_removed_procedure_once_and_revives_it_when_it_returns(
    store, clock, binder
):
    _sync(store, binder, clock)
    procs = list(binder.clients[0].procedures)
    without = _replace_procedures(binder, procs[1:])
    report = _sync(store, without, clock)
    assert report.removed == ["nordhafen/purge-tracking-events"]
    assert _procedures(store)["purge-tracking-events"].active is False  # kept for its history
    assert _audit(store)[-1] == ("procedure.removed", "nordhafen/purge-tracking-events")

    count = len(_audit(store))
    assert _sync(store, without, clock).removed == []  # no second "removed"
    assert len(_audit(store)) == count

    back = _sync(store, binder, clock)
    assert back.updated == ["nordhafen/purge-tracking-events"]
    assert _procedures(store)["purge-tracking-events"].active is True
    assert _audit(store)[-1] == ("procedure.updated", "nordhafen/purge-tracking-events")


def test_it_audits_a_client_level_change(store, clock, binder):
    _sync(store, binder, clock)
    client = binder.clients[0]
    renamed = client.model_copy(
        update={"client": client.client.model_copy(update={"name": "Nordhafen Logistik AG"})}
    )
    report = _sync(store, binder.model_copy(update={"clients": [renamed]}), clock)
    assert report.updated == []  # procedures untouched
    assert _audit(store)[-1] == ("client.updated", "nordhafen")
    with session_scope(store) as session:
        assert session.get(Client, "nordhafen").name == "Nordhafen Logistik AG"


def test_it_loads_from_the_cli_and_reports_what_changed(store, example_dir, tmp_path):
    runner = CliRunner()
    first = runner.invoke(app, ["load", str(example_dir)], env={"OPSBINDER_ACTOR": "lena"})
    assert first.exit_code == 0, first.output
    assert "created  nordhafen/purge-tracking-events" in first.output
    assert "8 created, 0 updated, 0 unchanged, 0 removed" in first.output

    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    procedures = folder / "procedures.yaml"
    procedures.write_text(
        procedures.read_text().replace("retention_days: 90", "retention_days: 120")
    )
    second = runner.invoke(app, ["load", str(folder)], env={"OPSBINDER_ACTOR": "lena"})
    assert second.exit_code == 0, second.output
    assert "updated  nordhafen/purge-tracking-events" in second.output
    assert "0 created, 1 updated, 7 unchanged, 0 removed" in second.output
    with session_scope(store) as session:
        actors = set(session.execute(select(AuditEntry.actor)).scalars())
    assert actors == {"lena"}
    assert _procedures(store)["purge-tracking-events"].definition["params"]["retention_days"] == 120


def test_it_loads_nothing_from_a_broken_binder(store, example_dir, tmp_path):
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    procedures = folder / "procedures.yaml"
    text = procedures.read_text()
    assert '"30 6 * * *"' in text  # the hour 25 below really breaks the binder
    procedures.write_text(text.replace('"30 6 * * *"', '"30 25 * * *"'))
    result = CliRunner().invoke(app, ["load", str(folder)])
    assert result.exit_code != 0
    assert _procedures(store) == {} and _audit(store) == []


def test_it_keeps_where_items_moved_without_calling_it_a_change(store, clock, binder):
    _sync(store, binder, clock)
    client = binder.clients[0]
    moved = {**client.locations, "procedures[check-disk-space]": "procedures/disks.yaml:2"}
    assert moved != client.locations  # the move is real
    again = binder.model_copy(update={"clients": [client.model_copy(update={"locations": moved})]})
    before = _audit(store)
    report = _sync(store, again, clock)
    assert _audit(store) == before  # no client.updated: where a line is written is no setting
    assert report.updated == []
    with session_scope(store) as session:
        row = session.get(Client, "nordhafen")
        assert row.definition["locations"]["procedures[check-disk-space]"] == (
            "procedures/disks.yaml:2"
        )
