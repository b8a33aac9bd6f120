"""The audit log's hash chain: appends verify, and a row edited or deleted in the database shows."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, text
from typer.testing import CliRunner

from opsbinder import audit
from opsbinder.cli.main import app
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry


def _write_entries(store, clock, n: int = 5) -> None:
    for i in range(n):
        with session_scope(store) as session:
            audit.record(
                session,
                clock,
                actor="lena",
                action="incident.ack",
                object_type="incident",
                object_id=str(i),
                client_id="nordhafen",
                details={"note": f"step {i}"},
            )
        clock.advance(timedelta(seconds=7))


def test_it_verifies_an_untouched_chain(store, clock):
    _write_entries(store, clock)
    with session_scope(store) as session:
        count, breaks = audit.verify(session)
    assert (count, breaks) == (5, [])


def test_it_names_the_entry_edited_in_the_database(store, clock):
    _write_entries(store, clock)
    with store.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
    with session_scope(store) as session:
        _, breaks = audit.verify(session)
    assert [(b.seq, "edited" in b.problem) for b in breaks] == [(3, True)]


def test_it_names_the_entry_deleted_from_the_database(store, clock):
    _write_entries(store, clock)
    with store.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    with session_scope(store) as session:
        _, breaks = audit.verify(session)
    assert len(breaks) == 1
    assert breaks[0].seq == 3 and "#2" in breaks[0].problem


def _hash_as_if(entry: AuditEntry, **changes: str) -> str:
    """The hash a forger would compute for `entry` with some fields changed."""
    fields = {
        "actor": entry.actor,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "client_id": entry.client_id,
        "details": entry.details,
        **changes,
    }
    return audit.entry_hash(
        entry.seq,
        audit.utc(entry.at).isoformat(),
        prev_hash=entry.prev_hash,
        client_prev_hash=entry.client_prev_hash,
        **fields,
    )


def test_it_catches_an_edit_that_recomputed_its_own_hash(store, clock):
    """A forger who rewrites entry #4 and its hash still breaks the link from #5 to #4."""
    _write_entries(store, clock)
    with session_scope(store) as session:
        entry = session.execute(select(AuditEntry).where(AuditEntry.seq == 4)).scalar_one()
        forged_hash = _hash_as_if(entry, actor="mallory")
    with store.begin() as conn:
        conn.execute(
            text("UPDATE audit_log SET actor = 'mallory', hash = :hash WHERE seq = 4"),
            {"hash": forged_hash},
        )
    with session_scope(store) as session:
        _, breaks = audit.verify(session)
    assert [(b.seq, b.problem) for b in breaks] == [(5, "does not chain to the entry before it")]


def test_it_exits_nonzero_from_the_cli_when_broken(store, clock):
    _write_entries(store, clock, 3)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "3 entries" in ok.output
    with store.begin() as conn:
        conn.execute(text("UPDATE audit_log SET details = '{}' WHERE seq = 1"))
    broken = runner.invoke(app, ["audit", "verify"])
    assert broken.exit_code == 1
    assert "entry #1" in broken.output
