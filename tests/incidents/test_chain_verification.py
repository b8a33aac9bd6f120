"""Verifying a chain again hashes only the rows that are new or changed since the last time."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from opsbinder.incidents import status_updates as su


@dataclass(frozen=True)
class Row:
    incident_id: int
    seq: int
    posted_at: datetime
    author: str
    current_status: str
    next_steps: str
    bridge_url: str
    business_impact: str
    next_update_at: datetime | None
    corrects_seq: int | None
    prev_hash: str
    author_name: str
    hash: str


def _chain(n: int) -> list[Row]:
    rows, prev = [], su.GENESIS
    for seq in range(1, n + 1):
        fields = dict(
            incident_id=424242,
            seq=seq,
            posted_at=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(minutes=seq),
            author="lena-fischer",
            current_status=f"status {seq}",
            next_steps="next",
            bridge_url="",
            business_impact="",
            next_update_at=None,
            corrects_seq=None,
            prev_hash=prev,
            author_name="Lena Fischer",
        )
        prev = su.update_hash(**fields)  # type: ignore[arg-type]
        rows.append(Row(**fields, hash=prev))  # type: ignore[arg-type]
    return rows


def test_it_hashes_only_new_and_changed_rows_when_verifying_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rows = _chain(50)
    recorded = {r.seq: r.hash for r in rows}
    real, calls = su.update_hash, []

    def counting(**fields: object) -> str:
        calls.append(fields["seq"])
        return real(**fields)  # type: ignore[arg-type]

    monkeypatch.setattr(su, "update_hash", counting)
    assert su.chain_problems(rows, recorded) == []
    first = len(calls)
    assert su.chain_problems([replace(r) for r in rows], recorded) == []
    assert len(calls) == first  # nothing hashed twice

    edited = [*rows[:9], replace(rows[9], current_status="all fine, nothing happened"), *rows[10:]]
    calls.clear()
    assert su.chain_problems(edited, recorded) == ["update #10 was changed after it was posted"]
    assert calls == [10]  # the edited row, hashed afresh; the others remembered


def test_it_hashes_only_new_and_changed_audit_records_and_still_sees_a_changed_one(
    store, clock, two_clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import text

    from opsbinder import audit
    from opsbinder.store.db import session_scope
    from tests.web.test_status_page import FIELDS

    incident = two_clients.incident_a
    for _ in range(3):
        with session_scope(store) as s:
            su.post_update(s, clock, incident, author="alice", force=True, **FIELDS)
    with session_scope(store) as s:
        assert su.verify_chain(s, incident).ok
    real, calls = audit.entry_hash, []

    def counting(*fields: object) -> str:
        calls.append(fields[0])
        return real(*fields)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "entry_hash", counting)
    with session_scope(store) as s:
        assert su.verify_chain(s, incident).ok
    assert calls == []  # every record as it was: none hashed again
    with session_scope(store) as s:  # a record rewritten behind opsbinder's back
        s.execute(
            text(
                "UPDATE audit_log SET details = :d WHERE action = 'incident.status_update' "
                "AND object_id = :i AND seq = (SELECT max(seq) FROM audit_log "
                "WHERE action = 'incident.status_update' AND object_id = :i)"
            ),
            {"d": '{"seq": 3, "hash": "' + "0" * 64 + '"}', "i": str(incident)},
        )
    with session_scope(store) as s:
        report = su.verify_chain(s, incident)
    assert report.problems == ["update #3 has no record in the audit log"] and len(calls) == 1
