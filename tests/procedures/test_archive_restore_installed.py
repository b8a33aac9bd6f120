"""`opsbinder archive restore` through the installed script, as an operator runs it after an
archive by a key of several columns, and after whole partitions were detached and dropped: the
partitions are created again from the bounds their manifests record, or the command says how."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from opsbinder.procedures import archive, archive_files
from tests.cli.installed import environment, run_cli
from tests.procedures.conftest import archive_proc

EXPIRED = ["receipts_2025_09", "receipts_2025_10", "receipts_2025_11"]


def _folder(client_db) -> Path:
    return client_db.tmp / "archive" / "nordhafen" / "tms-db" / "archive-tracking-events"


def _archive(client_db, make_ctx, **params) -> None:
    proc = archive_proc(
        table="receipts", age_column="sold_at", key_column=["receipt_id", "sold_at"], **params
    )
    result = archive.run(make_ctx("archive-tracking-events"), proc, client_db.system)
    assert result.status == "ok", result.findings
    assert result.metrics["rows_deleted"] == 230


def _restore(client_db, store: Engine, tmp_path: Path):
    env = environment(
        tmp_path / "home",
        store.url.render_as_string(hide_password=False),
        TMS_URL=client_db.url,
    )
    args = ["archive", "restore", str(_folder(client_db)), "--into", "receipts"]
    ran = run_cli([*args, "--url-env", "TMS_URL"], env)
    assert "Traceback" not in ran.output, str(ran)
    return ran


def _partitions(client_db) -> set[str]:
    with client_db.engine.connect() as conn:
        found = conn.execute(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'r%'"))
        return set(found.scalars())


def test_the_installed_command_restores_an_archive_by_a_key_of_two_columns(
    client_db, make_ctx, clock, store, tmp_path, backend
):
    client_db.fill_receipts(clock.now(), old=230, new=20, partitioned=backend == "postgresql")
    before = client_db.receipts()
    _archive(client_db, make_ctx, batch_size=100)
    assert len(client_db.receipts()) == 20
    ran = _restore(client_db, store, tmp_path)
    assert ran.code == 0, str(ran)
    assert "restored 230 rows into receipts from 3 archive files" in ran.out, str(ran)
    assert client_db.receipts() == before
    again = _restore(client_db, store, tmp_path)
    assert again.code == 0 and "230 already there" in again.out, str(again)


def test_it_creates_the_dropped_partitions_again_from_their_recorded_bounds(
    client_db, make_ctx, clock, store, tmp_path, backend
):
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    client_db.fill_receipts(clock.now(), old=230, new=20, partitioned=True)
    before = client_db.receipts()
    _archive(client_db, make_ctx, partitions="whole")
    assert not set(EXPIRED) & _partitions(client_db)
    ran = _restore(client_db, store, tmp_path)
    assert ran.code == 0, str(ran)
    names = ", ".join(f"public.{name}" for name in EXPIRED)
    assert f"; created the dropped partitions {names} again" in " ".join(ran.out.split())
    assert set(EXPIRED) <= _partitions(client_db)
    assert client_db.receipts() == before
    with client_db.engine.connect() as conn:
        bound = conn.execute(
            text("SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = :n"),
            {"n": EXPIRED[0]},
        ).scalar_one()
    assert bound == ("FOR VALUES FROM ('2025-09-01 00:00:00+00') TO ('2025-10-01 00:00:00+00')")


def test_it_refuses_a_dropped_partition_without_recorded_bounds_and_gives_the_sql(
    client_db, make_ctx, clock, store, tmp_path, backend
):
    if backend != "postgresql":
        pytest.skip("declarative partitioning is a PostgreSQL feature")
    client_db.fill_receipts(clock.now(), old=230, new=20, partitioned=True)
    _archive(client_db, make_ctx, partitions="whole")
    for manifest in archive_files.manifests_in(_folder(client_db)):
        if "partition" in manifest.body:  # as written before bounds were recorded
            del manifest.body["partition"]["bound"]
            manifest.path.write_text(json.dumps(manifest.body))
    ran = _restore(client_db, store, tmp_path)
    assert ran.code == 4, str(ran)
    said = " ".join(ran.err.split())
    assert f"partition public.{EXPIRED[0]} of receipts was dropped when archived" in said, said
    assert (
        f"create it first: CREATE TABLE public.{EXPIRED[0]} PARTITION OF receipts FOR VALUES "
        "FROM ('<lower bound>') TO ('<upper bound>');"
    ) in said
    assert len(client_db.receipts()) == 20  # nothing restored
