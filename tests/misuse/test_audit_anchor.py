"""The audit log against someone with write access to the store: cut-off entries, a client's
entry deleted, a rewrite with every hash recomputed. The anchors outside the store catch them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, select, update

from opsbinder import audit, audit_anchor
from opsbinder.clock import FrozenClock
from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry

OPSBINDER = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "opsbinder"


def write(store: Engine, clock: FrozenClock, *clients: str | None) -> None:
    """One entry per item, for that client (None: a global entry), seven seconds apart."""
    for n, client in enumerate(clients):
        with session_scope(store) as session:
            audit.record(
                session,
                clock,
                actor="lena",
                action="incident.ack",
                object_type="incident",
                object_id=str(n),
                client_id=client,
                details={"note": f"step {n}"},
            )
        clock.advance(timedelta(seconds=7))


def anchor(store: Engine, clock: FrozenClock) -> dict[str, Any]:
    outcome = audit_anchor.write_anchor(store, clock, force=True)
    assert outcome.written and outcome.line is not None, outcome.why
    return outcome.line


def breaks(store: Engine, client: str | None = None) -> list[str]:
    with session_scope(store) as session:
        _, found = audit.verify(session, client, audit_anchor.sealed_of())
    return [str(b) for b in found]


def rewrite_from(store: Engine, seq: int, **changes: Any) -> None:
    """What a forger with the database does: change entry `seq`, then recompute every hash
    after it, global and per-client links alike, so the chain verifies again."""
    with session_scope(store) as session:
        rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars().all()
        prev, client_last = audit.GENESIS, {}
        for row in rows:
            if row.seq == seq:
                for name, value in changes.items():
                    setattr(row, name, value)
            row.prev_hash = prev
            if row.client_id is not None:
                row.client_prev_hash = client_last.get(row.client_id, audit.GENESIS)
            row.hash = audit.row_hash(row)
            prev = row.hash
            if row.client_id is not None:
                client_last[row.client_id] = row.hash


def test_it_names_the_newest_entries_cut_off_after_the_anchor(store: Engine, clock) -> None:
    write(store, clock, "nordhafen", None, "nordhafen", None, "nordhafen")
    sealed = anchor(store, clock)
    assert breaks(store) == []
    with store.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
    at = datetime.fromisoformat(sealed["at"]).strftime("%Y-%m-%d %H:%M:%S")
    found = breaks(store)
    assert f"entries #4..#5 are gone (the anchor of {at} UTC sealed the log up to #5)" in found
    assert any("entry #5 of nordhafen is gone" in b for b in found)


def test_it_names_the_one_newest_entry_cut_off(store: Engine, clock) -> None:
    write(store, clock, None, None, None)
    sealed = anchor(store, clock)
    with store.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    at = datetime.fromisoformat(sealed["at"]).strftime("%Y-%m-%d %H:%M:%S")
    assert breaks(store) == [f"entry #3 is gone (the anchor of {at} UTC sealed the log up to it)"]


def test_it_catches_a_client_entry_deleted_before_a_global_one(store: Engine, clock) -> None:
    write(store, clock, "nordhafen", None, "nordhafen", None, "nordhafen", "lindqvist")
    with store.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
    found = breaks(store, "nordhafen")
    assert found == [
        "entry #5: does not chain to nordhafen's entry before it "
        "(an entry of nordhafen before it was deleted or changed)"
    ]
    assert breaks(store, "lindqvist") == []  # another client's chain is whole


def test_it_catches_the_newest_client_entry_deleted_and_the_chain_relinked(
    store: Engine, clock
) -> None:
    write(store, clock, "nordhafen", None, "nordhafen", None)
    anchor(store, clock)
    with store.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == 3))
        conn.execute(update(AuditEntry).where(AuditEntry.seq == 4).values(seq=3))
    rewrite_from(store, 1)  # the global chain verifies again
    found = breaks(store, "nordhafen")
    assert len(found) == 1 and "entry #3 of nordhafen is gone (the anchor of" in found[0]


def test_it_catches_a_rewrite_with_every_hash_recomputed(store: Engine, clock) -> None:
    write(store, clock, "nordhafen", "nordhafen")
    first = anchor(store, clock)
    write(store, clock, None, "nordhafen", None)
    anchor(store, clock)
    rewrite_from(store, 4, actor="mallory")
    with session_scope(store) as session:
        assert audit.verify(session)[1] == []  # the chain alone is fooled
    found = breaks(store)
    at = datetime.fromisoformat(first["at"]).strftime("%Y-%m-%d %H:%M:%S")
    assert found[0].startswith("entry #5: differs from what the anchor of")
    assert f"the anchor of {at} UTC still matches #2, so the change lies in #3..#5" in found[0]
    assert found[1].startswith("entry #4: differs")  # nordhafen's newest, as sealed


def test_it_refuses_to_seal_a_log_that_no_longer_matches_its_anchor(store, clock) -> None:
    write(store, clock, "nordhafen", None)
    anchor(store, clock)
    rewrite_from(store, 1, action="incident.resolve")
    write(store, clock, None)
    with pytest.raises(audit_anchor.AnchorRefused, match="entry #2 differs from what the anchor"):
        audit_anchor.write_anchor(store, clock, force=True)


def test_it_refuses_to_seal_a_log_whose_newest_stretch_is_broken(store, clock) -> None:
    write(store, clock, "nordhafen")
    anchor(store, clock)
    write(store, clock, None, None)
    with store.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="mallory"))
    with pytest.raises(audit_anchor.AnchorRefused, match="entry #2: was edited"):
        audit_anchor.write_anchor(store, clock, force=True)


def test_it_writes_an_anchor_only_when_the_log_moved_and_the_interval_passed(
    store: Engine, clock: FrozenClock
) -> None:
    write(store, clock, "nordhafen")
    assert audit_anchor.write_anchor(store, clock).written
    path = get_settings().anchor_file
    lines = path.read_text().splitlines()
    assert not audit_anchor.write_anchor(store, clock).written  # nothing new
    write(store, clock, None)
    assert "recent" in audit_anchor.write_anchor(store, clock).why  # 7 s < 60 s
    clock.advance(timedelta(minutes=1))
    assert audit_anchor.write_anchor(store, clock).written
    after = path.read_text().splitlines()
    assert after[: len(lines)] == lines and len(after) == len(lines) + 1
    newest = json.loads(after[-1])
    assert newest["seq"] == 2 and newest["clients"] == {}  # only what changed since
    assert newest["prev"] == json.loads(lines[-1])["sig"]
    clock.advance(timedelta(minutes=5))
    again = audit_anchor.write_anchor(store, clock, force=True)  # not even when forced
    assert not again.written and "nothing new" in again.why
    assert len(path.read_text().splitlines()) == len(after)


def test_it_reports_a_forged_or_removed_anchor(store: Engine, clock: FrozenClock) -> None:
    write(store, clock, "nordhafen")
    anchor(store, clock)
    write(store, clock, None)
    anchor(store, clock)
    write(store, clock, None)
    anchor(store, clock)
    path = get_settings().anchor_file
    lines = path.read_text().splitlines()
    forged = json.loads(lines[-1])
    forged["hash"] = "f" * 64
    path.write_text("\n".join([*lines[:-1], json.dumps(forged)]) + "\n")
    assert any("does not verify with this key" in b for b in breaks(store))
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert any("does not follow the anchor before it" in b for b in breaks(store))


def test_it_generates_the_anchor_key_once_with_mode_0600(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPSBINDER_HOME", str(tmp_path))
    monkeypatch.delenv("OPSBINDER_AUDIT_KEY", raising=False)
    get_settings.cache_clear()
    key = audit_anchor.anchor_key(get_settings())
    path = tmp_path / "audit_anchor_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert audit_anchor.anchor_key(get_settings()) == key
    monkeypatch.setenv("OPSBINDER_AUDIT_KEY", "from-the-vault-0123456789")
    assert audit_anchor.anchor_key(get_settings()) == b"from-the-vault-0123456789"


@pytest.mark.parametrize(
    "field, value",
    [
        ("object_id", "999"),
        ("action", "incident.resolve"),
        ("object_type", "procedure"),
        ("client_id", "lindqvist"),
        ("at", datetime(2026, 3, 20, 11, 0, tzinfo=UTC)),
        ("actor", "mallory"),
        ("details", {"note": "nothing happened"}),
        ("client_prev_hash", "a" * 64),
    ],
)
def test_it_names_an_entry_whose_field_was_edited_in_the_database(
    store: Engine, clock, field: str, value: Any
) -> None:
    """Every field is covered by the hash: an edit of any one shows as that entry edited."""
    write(store, clock, "nordhafen", "nordhafen", "nordhafen")
    with store.begin() as conn:
        conn.execute(update(AuditEntry).where(AuditEntry.seq == 3).values({field: value}))
    assert breaks(store) == ["entry #3: was edited after it was written (hash mismatch)"]


def test_it_checks_from_the_cli_against_the_anchor_and_an_export_copy(
    store: Engine, clock, tmp_path: Path
) -> None:
    write(store, clock, "nordhafen", None, "nordhafen")
    env = {**os.environ, "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    anchored = subprocess.run(
        [OPSBINDER, "audit", "anchor"], capture_output=True, text=True, env=env, timeout=120
    )
    assert anchored.returncode == 0, anchored.stderr
    assert "anchored #3" in anchored.stdout
    sealed = audit_anchor.sealed_of()
    view = audit_anchor.client_view(sealed, "nordhafen", audit_anchor.anchor_key(get_settings()))
    copy = tmp_path / "audit-anchor.json"
    copy.write_text(json.dumps(view))
    with store.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == 3))

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [OPSBINDER, "audit", "verify", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    for args in ([], ["--client", "nordhafen", "--anchor", str(copy)]):
        result = verify(*args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "#3" in result.stderr and "gone" in result.stderr
        assert "Traceback" not in result.stdout + result.stderr


def test_it_puts_the_clients_view_of_the_anchor_into_every_export(
    store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path
) -> None:
    from opsbinder.handover.export import export_client
    from opsbinder.sync import sync_binder
    from tests.web.conftest import two_client_binder

    with session_scope(store) as session:
        sync_binder(session, two_client_binder(example_dir), clock)
    write(store, clock, "lindqvist", "nordhafen", None)
    sealed = anchor(store, clock)
    with session_scope(store) as session:
        export_client(session, "nordhafen", tmp_path / "out", clock, actor="tester")
    copy = tmp_path / "out" / "audit-anchor.json"
    view = json.loads(copy.read_text())
    assert (view["kind"], view["client"], view["seq"]) == ("client", "nordhafen", sealed["seq"])
    assert "lindqvist" not in copy.read_text()  # nothing about another client
    assert (
        "audit-anchor.json" in json.loads((tmp_path / "out" / "MANIFEST.json").read_text())["files"]
    )
    assert breaks(store, "nordhafen") == []
    with store.begin() as conn:  # the newest nordhafen entry the anchor sealed, deleted
        conn.execute(delete(AuditEntry).where(AuditEntry.seq == view["head"][0]))
    with session_scope(store) as session:
        _, found = audit.verify(
            session, "nordhafen", audit_anchor.load(copy, audit_anchor.anchor_key(get_settings()))
        )
    gone = (
        f"entry #{view['head'][0]} of nordhafen is gone (the anchor of "
        f"{datetime.fromisoformat(view['at']):%Y-%m-%d %H:%M:%S} UTC sealed it as nordhafen's "
        "newest)"
    )
    assert gone in [str(b) for b in found]
