"""Archive recovery acts only on its own archives (SQLite and PostgreSQL): manifests name the
client, procedure, system and database they came from; folders are per client and system; the
old shared layout is still finished for its owner and left alone for everyone else; names
from a binder or a schema never lead outside the destination."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, func, select

from opsbinder.procedures import archive, archive_files
from tests.procedures.conftest import URL_ENV, archive_proc

PROC = "archive-tracking-events"


def _folder(db, client: str = "nordhafen") -> Path:
    return db.tmp / "archive" / client / "tms-db" / PROC


def _kill_after_manifest(monkeypatch) -> None:
    def stop(name: str) -> None:
        if name == "after_manifest":
            raise KeyboardInterrupt(name)

    monkeypatch.setattr(archive, "step_hook", stop)


def _rows(db) -> set[tuple[int, str]]:
    t = Table("tracking_events", MetaData(), autoload_with=db.engine)
    with db.engine.connect() as conn:
        return {(r.id, r.truck) for r in conn.execute(select(t.c.id, t.c.truck))}


def _archived(folder: Path) -> set[tuple[int, str]]:
    return {
        (int(r["id"]), r["truck"])
        for m in archive_files.manifests_in(folder)
        for r in archive_files.read_verified(m)
    }


def _ctx_on(make_ctx, db, client: str = "nordhafen"):
    ctx = make_ctx(PROC)
    ctx.client_id = client
    ctx.environ = {**ctx.environ, URL_ENV: db.url}
    return ctx


def _first_killed_after_its_first_manifest(
    client_db, other_client_db, make_ctx, clock, monkeypatch
):
    """60 old rows in each database, equal keys, other trucks; the first client's run stopped
    after the manifest of its first 25 rows. Returns both databases' rows as they were."""
    client_db.fill(clock.now(), old=60, new=0, tag="A")
    other_client_db.fill(clock.now(), old=60, new=0, tag="B")
    rows = _rows(client_db), _rows(other_client_db)
    _kill_after_manifest(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        archive.run(_ctx_on(make_ctx, client_db), archive_proc(batch_size=25), client_db.system)
    monkeypatch.setattr(archive, "step_hook", None)
    assert len(_archived(_folder(client_db))) == 25 and _rows(client_db) == rows[0]
    return rows


def test_it_names_client_procedure_system_and_database_in_every_manifest(
    client_db, make_ctx, clock
):
    client_db.fill(clock.now(), old=30, new=0)
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert result.status == "ok", result.findings
    (manifest,) = archive_files.manifests_in(_folder(client_db))
    body = manifest.body
    assert (body["version"], body["client"], body["procedure"], body["system"]) == (
        2, "nordhafen", PROC, "tms-db",
    )  # fmt: skip
    database = body["database"]
    if client_db.backend == "postgresql":
        with client_db.engine.connect() as conn:
            system_id = conn.execute(
                select(func.cast(Column("system_identifier"), String)).select_from(
                    func.pg_control_system()
                )
            ).scalar()
        assert database == {
            "kind": "postgresql",
            "system_identifier": system_id,
            "database": client_db.engine.url.database,
        }
    else:
        path = Path(client_db.engine.url.database).resolve()
        assert database == {
            "kind": "sqlite",
            "path": str(path),
            "inode": str(path.stat().st_ino),
        }


def test_it_keeps_two_clients_archives_apart_in_one_destination(
    client_db, other_client_db, make_ctx, clock, monkeypatch
):
    """The issue's case: same procedure id, destination and keys; the first client is killed
    after writing a manifest; the second client's run must not touch rows of its own whose
    keys are in the first client's file."""
    a_rows, b_rows = _first_killed_after_its_first_manifest(
        client_db, other_client_db, make_ctx, clock, monkeypatch
    )

    b = archive.run(
        _ctx_on(make_ctx, other_client_db, "elbtrans"), archive_proc(batch_size=25),
        other_client_db.system,
    )  # fmt: skip
    assert b.status == "ok", b.findings
    assert b.metrics["recovered_rows"] == 0 and b.metrics["rows_deleted"] == 60
    b_archived = _archived(_folder(other_client_db, "elbtrans"))
    assert b_archived | _rows(other_client_db) == b_rows and len(b_archived) == 60

    a = archive.run(_ctx_on(make_ctx, client_db), archive_proc(batch_size=25), client_db.system)
    assert a.status == "ok", a.findings
    assert a.metrics["recovered_rows"] == 25
    a_archived = _archived(_folder(client_db))
    assert a_archived | _rows(client_db) == a_rows and len(a_archived) == 60


def test_it_leaves_alone_a_manifest_of_another_database_in_its_own_folder(
    client_db, other_client_db, make_ctx, clock, monkeypatch
):
    """The system's URL now names another database (a copy, a staging one): the manifest a
    killed run left for the first is foreign there, reported and never acted on."""
    a_rows, b_rows = _first_killed_after_its_first_manifest(
        client_db, other_client_db, make_ctx, clock, monkeypatch
    )
    (pending,) = archive_files.manifests_in(_folder(client_db))

    moved = archive.run(
        _ctx_on(make_ctx, other_client_db), archive_proc(batch_size=25), client_db.system
    )
    assert moved.status == "ok", moved.findings
    assert moved.metrics["foreign_manifests"] == [str(pending.path)]
    assert moved.metrics["recovered_rows"] == 0
    assert "left alone 1 unfinished archive(s) of another client, system or database" in (
        moved.summary
    )
    mine = [
        m
        for m in archive_files.manifests_in(_folder(client_db))
        if m.body["database"] != pending.body["database"]
    ]
    b_archived = {(int(r["id"]), r["truck"]) for m in mine for r in archive_files.read_verified(m)}
    assert b_archived | _rows(other_client_db) == b_rows and len(b_archived) == 60
    assert not archive_files.is_done(pending)

    back = archive.run(_ctx_on(make_ctx, client_db), archive_proc(batch_size=25), client_db.system)
    assert back.status == "ok", back.findings
    assert back.metrics["recovered_rows"] == 25 and _rows(client_db) == set()
    assert back.metrics["foreign_manifests"] == []  # the other database's are all done
    assert _archived(_folder(client_db)) == a_rows | b_rows


def _to_old_layout(db, client: str) -> Path:
    """Move a client's archive folder to where archives were written before (shared by every
    client: destination/<procedure>) and make its manifests look as they were then."""
    legacy = db.tmp / "archive" / PROC
    legacy.mkdir(parents=True, exist_ok=True)
    for path in _folder(db, client).iterdir():
        if path.name.endswith(archive_files.MANIFEST_SUFFIX):
            body = json.loads(path.read_text())
            body["version"] = 1
            del body["system"], body["database"]
            path.write_text(json.dumps(body))
        shutil.move(path, legacy / path.name)
    return legacy


def test_it_finishes_the_old_shared_layout_for_its_owner_only(
    client_db, other_client_db, make_ctx, clock, monkeypatch
):
    a_rows, b_rows = _first_killed_after_its_first_manifest(
        client_db, other_client_db, make_ctx, clock, monkeypatch
    )
    legacy = _to_old_layout(client_db, "nordhafen")
    (pending,) = archive_files.manifests_in(legacy)

    b = archive.run(
        _ctx_on(make_ctx, other_client_db, "elbtrans"), archive_proc(batch_size=25),
        other_client_db.system,
    )  # fmt: skip
    assert b.status == "ok", b.findings
    assert b.metrics["foreign_manifests"] == [str(pending.path)]
    assert b.metrics["recovered_rows"] == 0
    assert _archived(_folder(other_client_db, "elbtrans")) == b_rows
    assert not archive_files.is_done(pending)

    a = archive.run(_ctx_on(make_ctx, client_db), archive_proc(batch_size=25), client_db.system)
    assert a.status == "ok", a.findings
    assert a.metrics["recovered_rows"] == 25 and a.metrics["foreign_manifests"] == []
    assert archive_files.is_done(pending)
    assert _archived(legacy) | _archived(_folder(client_db)) == a_rows
    assert len(_archived(legacy)) + len(_archived(_folder(client_db))) == 60


def test_it_keeps_a_hostile_table_name_inside_the_destination(client_db, make_ctx, clock):
    name = "../../../escape.x"
    table = Table(
        name,
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("truck", String(16)),
        Column("recorded_at", DateTime(timezone=True), nullable=False),
    )
    table.create(client_db.engine)
    old = clock.now().replace(year=2020)
    with client_db.engine.begin() as conn:
        conn.execute(table.insert(), [{"id": i, "truck": "T", "recorded_at": old} for i in (1, 2)])
    result = archive.run(make_ctx(PROC), archive_proc(table=name), client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 2
    files = sorted(p.name for p in _folder(client_db).iterdir())
    assert files[0] == f"%2E%2E%2F%2E%2E%2F%2E%2E%2Fescape%2Ex.{1:020d}-{2:020d}.jsonl.gz"
    everything = {p.resolve() for p in client_db.tmp.rglob("*") if p.is_file()}
    outside = {p for p in everything if not p.is_relative_to((client_db.tmp / "archive").resolve())}
    assert {p.name for p in outside} <= {"client.db", "client.db-journal", "other.db"}


def test_it_refuses_a_client_folder_that_leads_outside_the_destination(
    client_db, make_ctx, clock, tmp_path
):
    client_db.fill(clock.now(), old=10, new=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (client_db.tmp / "archive").mkdir()
    (client_db.tmp / "archive" / "nordhafen").symlink_to(elsewhere)
    result = archive.run(make_ctx(PROC), archive_proc(), client_db.system)
    assert result.status == "failed"
    assert "outside the destination" in result.summary
    assert client_db.count() == 10 and not any(elsewhere.iterdir())


def test_it_restores_by_procedure_only_its_own_clients_rows_from_the_old_layout(
    client_db, other_client_db, make_ctx, clock
):
    """An old shared folder mixes clients: restoring one must never insert the other's rows."""
    from opsbinder.errors import Refused
    from opsbinder.procedures import archive_restore

    client_db.fill(clock.now(), old=20, new=0, tag="A")
    other_client_db.fill(clock.now(), old=20, new=0, tag="B")
    a_rows, b_rows = _rows(client_db), _rows(other_client_db)
    # other batch sizes, so that the two clients' files have other names in the one folder
    for db, client, batch in ((client_db, "nordhafen", 8), (other_client_db, "elbtrans", 7)):
        ctx = _ctx_on(make_ctx, db, client)
        done = archive.run(ctx, archive_proc(batch_size=batch), db.system)
        assert done.status == "ok", done.findings
        legacy = _to_old_layout(db, client)
    assert len(archive_files.manifests_in(legacy)) == 6  # three files of each client

    with pytest.raises(Refused, match="holds archives of 2 procedures"):
        archive_restore.manifests_of(legacy)
    mine = archive_restore.manifests_for([_folder(client_db), legacy], "nordhafen", PROC)
    assert len(mine) == 3
    table = archive_restore.into_table(client_db.engine, "tracking_events")
    restored = archive_restore.restore(client_db.engine, table, mine)
    assert restored.rows_restored == 20
    assert _rows(client_db) == a_rows and not (_rows(client_db) & b_rows)
