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
