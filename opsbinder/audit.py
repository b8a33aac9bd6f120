"""The audit log: append-only and hash-chained, so an edited or deleted entry is detectable.

Two chains run through the same rows. The global chain: each entry's hash covers every field
and the previous entry's hash. The client chain: an entry of a client also covers the hash of
that client's previous entry (`client_prev_hash`), so one client's history can be walked, and
a deleted entry of it found, without reading anyone else's. A chain alone cannot show that its
newest entries were cut off or that everything was rewritten with fresh hashes: the anchors
(`opsbinder.audit_anchor`), kept outside the store, seal the heads of both chains for that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, select, text
from sqlalchemy.orm import Session

from opsbinder import redaction
from opsbinder.clock import Clock, utc
from opsbinder.errors import OpsbinderError
from opsbinder.store.models import AuditEntry

__all__ = ["ChainBreak", "ChainBroken", "Seal", "Sealed", "entry_hash", "record", "utc", "verify"]

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
    client_prev_hash: str | None = None,
) -> str:
    fields: list[Any] = [
        seq,
        at,
        actor,
        action,
        object_type,
        object_id,
        client_id,
        details,
        prev_hash,
    ]
    if client_prev_hash is not None:  # entries older than client chains hash as they always did
        fields.append(client_prev_hash)
    body = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(body.encode()).hexdigest()


CHECKED_MOST = 100_000  # records remembered as checked; past this it starts over
_checked: dict[tuple[Any, ...], bool] = {}


def intact_records(
    session: Session, *, object_type: str, object_ids: Sequence[str], action: str
) -> Iterator[tuple[str, Any]]:
    """(object id, details) of each record of `action` on these objects whose own hash still
    matches its stored fields, oldest first.

    A status page checks these on every render; a record whose every stored field (the details
    as their stored text) is exactly as when it was last checked is not hashed again, so a
    render hashes only new or changed records (a change in any field misses this memo)."""
    rows = session.execute(
        select(
            AuditEntry.seq,
            AuditEntry.at,
            AuditEntry.actor,
            AuditEntry.action,
            AuditEntry.object_type,
            AuditEntry.object_id,
            AuditEntry.client_id,
            cast(AuditEntry.details, Text).label("details"),
            AuditEntry.prev_hash,
            AuditEntry.client_prev_hash,
            AuditEntry.hash,
        )
        .where(
            AuditEntry.object_type == object_type,
            AuditEntry.object_id.in_(object_ids),
            AuditEntry.action == action,
        )
        .order_by(AuditEntry.seq)
    )
    for row in rows:
        details = json.loads(row.details) if row.details is not None else None
        key = tuple(row)
        intact = _checked.get(key)
        if intact is None:
            intact = row.hash == row_hash(row, details)  # type: ignore[arg-type]
            if len(_checked) >= CHECKED_MOST:
                _checked.clear()
            _checked[key] = intact
        if intact:
            yield row.object_id, details


def row_hash(row: AuditEntry, details: Any = None) -> str:
    """The hash the row's stored fields give now (equal to `row.hash` unless edited); `details`
    when the row was read with them as text (then parsed by the caller)."""
    return entry_hash(
        row.seq,
        utc(row.at).isoformat(),
        row.actor,
        row.action,
        row.object_type,
        row.object_id,
        row.client_id,
        row.details if details is None else details,
        row.prev_hash,
        row.client_prev_hash,
    )


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
    """Append one entry in the caller's transaction, chained to the newest one (and to the
    client's newest one)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    client_prev = None
    if client_id is not None:
        client_prev = (
            session.execute(
                select(AuditEntry.hash)
                .where(AuditEntry.client_id == client_id)
                .order_by(AuditEntry.seq.desc())
                .limit(1)
            ).scalar_one_or_none()
            or GENESIS
        )
    details = redaction.for_session(session).deep(
        json.loads(json.dumps(details or {}, default=str))
    )
    entry = AuditEntry(
        seq=seq,
        at=utc(clock.now()),
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        client_id=client_id,
        details=details,
        prev_hash=prev,
        client_prev_hash=client_prev,
        hash="",
    )
    entry.hash = row_hash(entry)
    session.add(entry)
    session.flush()
    return entry


class ChainBroken(OpsbinderError):
    """The log does not verify: the work found a failure (exit 1)."""

    exit_code = 1  # README: exit status


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str
    sentence: str = ""  # a whole sentence, when "entry #n: ..." does not fit (entries gone)

    def __str__(self) -> str:
        return self.sentence or f"entry #{self.seq}: {self.problem}"


@dataclass(frozen=True)
class Seal:
    """One anchor: the head of the log as it stood at `at`."""

    at: datetime
    seq: int
    hash: str

    @property
    def name(self) -> str:
        return f"the anchor of {utc(self.at):%Y-%m-%d %H:%M:%S} UTC"


@dataclass(frozen=True)
class Sealed:
    """What the anchors kept outside the store say the log held (see opsbinder.audit_anchor).

    `seals` oldest first; `clients` is each client's newest entry as the latest anchor that
    mentions the client sealed it; `problems` are anchors that did not verify themselves.
    """

    seals: Sequence[Seal] = ()
    clients: Mapping[str, tuple[int, str, Seal]] = field(default_factory=dict)
    problems: Sequence[str] = ()

    @property
    def latest(self) -> Seal | None:
        return self.seals[-1] if self.seals else None


class ChainWalk:
    """Checks entries one by one, oldest first: numbering, links, hashes, client links.

    Used whole by `verify` and on the newest stretch by the anchor writer, which must not seal
    a chain that is already broken.
    """

    def __init__(
        self, *, seq: int = 1, prev: str = GENESIS, clients: bool = True, global_links: bool = True
    ) -> None:
        self.expected_seq, self.expected_prev = seq, prev
        self.check_clients, self.global_links = clients, global_links
        self.client_last: dict[str, str] = {}
        self.client_chained: set[str] = set()
        self.count = 0

    def step(self, row: AuditEntry) -> list[ChainBreak]:
        breaks: list[ChainBreak] = []
        self.count += 1
        if self.global_links:
            if row.seq != self.expected_seq:
                missing = (
                    f"#{self.expected_seq}"
                    if row.seq == self.expected_seq + 1
                    else f"#{self.expected_seq}..#{row.seq - 1}"
                )
                breaks.append(ChainBreak(row.seq, f"entry {missing} before it was deleted"))
            elif row.prev_hash != self.expected_prev:
                breaks.append(ChainBreak(row.seq, "does not chain to the entry before it"))
        if row_hash(row) != row.hash:
            breaks.append(ChainBreak(row.seq, "was edited after it was written (hash mismatch)"))
        if self.check_clients and row.client_id is not None:
            client_breaks = self._client_step(row)
            if not breaks:  # the global chain already named what is wrong here
                breaks.extend(client_breaks)
        self.expected_prev, self.expected_seq = row.hash, row.seq + 1
        return breaks

    def _client_step(self, row: AuditEntry) -> list[ChainBreak]:
        client = str(row.client_id)
        previous = self.client_last.get(client, GENESIS)
        self.client_last[client] = row.hash
        if row.client_prev_hash is None:  # older than client chains, or stripped of its link
            if client in self.client_chained:
                return [ChainBreak(row.seq, f"is not linked into {client}'s own chain")]
            return []
        self.client_chained.add(client)
        if row.client_prev_hash != previous:
            return [
                ChainBreak(
                    row.seq,
                    f"does not chain to {client}'s entry before it "
                    f"(an entry of {client} before it was deleted or changed)",
                )
            ]
        return []


def verify(
    session: Session, client_id: str | None = None, sealed: Sealed | None = None
) -> tuple[int, list[ChainBreak]]:
    """Walk the chain and check it against the anchors; return entries checked and breaks.

    Without `client_id` the global chain is walked whole. With it, only that client's own
    chain: its entries, their links to each other, and its newest entry as the anchor sealed it.
    """
    sealed = sealed or Sealed()
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if client_id is not None:
        query = query.where(AuditEntry.client_id == client_id)
    walk = ChainWalk(global_links=client_id is None)
    wanted = _sealed_seqs(sealed, client_id)
    seen: dict[int, str] = {}
    breaks: list[ChainBreak] = []
    last_seq = 0
    for row in session.execute(query.execution_options(yield_per=1000)).scalars():
        breaks.extend(walk.step(row))
        if row.seq in wanted:
            seen[row.seq] = row.hash
        last_seq = row.seq
    breaks.extend(sealed_breaks(sealed, seen, last_seq, client_id))
    return walk.count, breaks


def _sealed_seqs(sealed: Sealed, client_id: str | None) -> set[int]:
    if client_id is not None:
        head = sealed.clients.get(client_id)
        return {head[0]} if head else set()
    return {s.seq for s in sealed.seals} | {head[0] for head in sealed.clients.values()}


def sealed_breaks(
    sealed: Sealed, seen: Mapping[int, str], last_seq: int, client_id: str | None
) -> list[ChainBreak]:
    """Compare what the store holds (`seen`: seq -> hash at the sealed numbers) with the seals."""
    breaks = [ChainBreak(0, problem, sentence=problem) for problem in sealed.problems]
    if client_id is None and sealed.latest is not None:
        breaks.extend(_global_seal_breaks(sealed.seals, seen, last_seq))
    clients = (
        sealed.clients.items()
        if client_id is None
        else [(client_id, sealed.clients[client_id])]
        if client_id in sealed.clients
        else []
    )
    for client, (seq, hash_, seal) in clients:
        if seq not in seen:
            text_ = f"entry #{seq} of {client} is gone ({seal.name} sealed it as {client}'s newest)"
            breaks.append(ChainBreak(seq, "", sentence=text_))
        elif seen[seq] != hash_:
            breaks.append(ChainBreak(seq, f"differs from what {seal.name} sealed"))
    return _unique(breaks)


def _global_seal_breaks(
    seals: Sequence[Seal], seen: Mapping[int, str], last_seq: int
) -> list[ChainBreak]:
    latest = seals[-1]
    if latest.seq > last_seq:
        sentence = (
            f"entries #{last_seq + 1}..#{latest.seq} are gone "
            f"({latest.name} sealed the log up to #{latest.seq})"
            if latest.seq > last_seq + 1
            else f"entry #{latest.seq} is gone ({latest.name} sealed the log up to it)"
        )
        return [ChainBreak(latest.seq, "", sentence=sentence)]
    if seen.get(latest.seq) == latest.hash:
        return []
    if latest.seq not in seen:
        return [ChainBreak(latest.seq, f"is gone ({latest.name} sealed it)")]
    problem = f"differs from what {latest.name} sealed"
    matching = [i for i, s in enumerate(seals) if seen.get(s.seq) == s.hash]
    if matching:
        good = seals[matching[-1]]
        first_bad = next(s for s in seals[matching[-1] + 1 :] if seen.get(s.seq) != s.hash)
        problem += (
            f"; {good.name} still matches #{good.seq}, so the change lies in "
            f"#{good.seq + 1}..#{first_bad.seq}"
        )
    return [ChainBreak(latest.seq, problem)]


def _unique(breaks: Iterable[ChainBreak]) -> list[ChainBreak]:
    out: list[ChainBreak] = []
    for item in breaks:
        if item not in out:
            out.append(item)
    return out
