"""The audit log: append-only and hash-chained, so an edited or deleted entry is detectable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from opsbinder.clock import Clock, utc

__all__ = ["ChainBreak", "entry_hash", "record", "utc", "verify"]
from opsbinder.store.models import AuditEntry

GENESIS = "0" * 64
_LOCK_KEY = 0x0A0D17  # PostgreSQL advisory lock that serialises appends to the chain


def entry_hash(
    seq: int,
    at: str,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    client_id: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        [seq, at, actor, action, object_type, object_id, client_id, details, prev_hash],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def record(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    client_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry in the caller's transaction, chained to the newest one."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    at = utc(clock.now())
    details = json.loads(json.dumps(details or {}, default=str))
    entry = AuditEntry(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        client_id=client_id,
        details=details,
        prev_hash=prev,
        hash=entry_hash(
            seq,
            at.isoformat(),
            actor,
            action,
            object_type,
            str(object_id),
            client_id,
            details,
            prev,
        ),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str

    def __str__(self) -> str:
        return f"entry #{self.seq}: {self.problem}"


def verify(session: Session, client_id: str | None = None) -> tuple[int, list[ChainBreak]]:
    """Walk the whole chain; return the number of entries checked and every break found.

    `client_id` only filters what is reported: the chain is global, so it is always walked whole.
    """
    breaks: list[ChainBreak] = []
    expected_prev, expected_seq, count = GENESIS, 1, 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()
    for row in rows:
        count += 1
        if row.seq != expected_seq:
            missing = (
                f"#{expected_seq}"
                if row.seq == expected_seq + 1
                else f"#{expected_seq}..#{row.seq - 1}"
            )
            breaks.append(ChainBreak(row.seq, f"entry {missing} before it was deleted"))
        elif row.prev_hash != expected_prev:
            breaks.append(ChainBreak(row.seq, "does not chain to the entry before it"))
        actual = entry_hash(
            row.seq,
            utc(row.at).isoformat(),
            row.actor,
            row.action,
            row.object_type,
            row.object_id,
            row.client_id,
            row.details,
            row.prev_hash,
        )
        if actual != row.hash:
            breaks.append(ChainBreak(row.seq, "was edited after it was written (hash mismatch)"))
        expected_prev, expected_seq = row.hash, row.seq + 1
    if client_id is not None:
        ids = set(
            session.execute(
                select(AuditEntry.seq).where(AuditEntry.client_id == client_id)
            ).scalars()
        )
        breaks = [b for b in breaks if b.seq in ids or b.seq - 1 in ids]
    return count, breaks
