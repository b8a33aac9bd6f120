"""Status updates: append-only and hash-chained per incident, on incidents of every severity.

There is no edit and no delete: a correction is a new update naming the one it corrects
(`corrects_seq`). Each update's hash covers its fields and the previous update's hash, so a row
changed or removed behind our back breaks the chain, and the status page says so.

The cadence is the policy's Severity-1 cadence, so it binds Severity-1 incidents only: the next
update is due `update_cadence` after this one (4 h by default) and a new one sooner than
`min_update_interval` (2 h by default) is refused unless the author insists (`force=True`), so
stakeholders are not flooded while responders should be fixing things. An update on another
severity promises a next one only when its author names a time.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock, duration_text, utc
from opsbinder.config.models import Duration
from opsbinder.errors import NotFound, OpsbinderError, Refused
from opsbinder.incidents import lifecycle
from opsbinder.store.models import Incident, StatusUpdate

GENESIS = "0" * 64
DEFAULT_CADENCE = timedelta(hours=4)
DEFAULT_MIN_INTERVAL = timedelta(hours=2)
_duration = TypeAdapter(Duration)


class UpdateInvalid(OpsbinderError):
    """An update field is missing or unacceptable; the message names the field and value."""

    exit_code = 2


class TooSoon(Refused):
    """The policy's minimum interval since the last update has not passed; `force` overrides.

    Carries the instants, so each door can say them in its reader's zone."""

    def __init__(self, last_seq: int, last_posted: datetime, allowed: datetime, every: str):
        self.last_seq, self.last_posted, self.allowed, self.every = (
            last_seq,
            last_posted,
            allowed,
            every,
        )
        super().__init__(
            f"update #{last_seq} was posted at {last_posted:%H:%M} UTC; the policy allows the "
            f"next one from {allowed:%H:%M} UTC (one every {every} at most); insist with force "
            "to post anyway"
        )


@dataclass(frozen=True)
class Cadence:
    every: timedelta
    min_interval: timedelta


@dataclass(frozen=True)
class ChainReport:
    count: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _policy_duration(policy: dict[str, Any], key: str, default: timedelta) -> timedelta:
    value = policy.get(key)
    if value is None:
        return default
    try:
        return _duration.validate_python(value)
    except ValidationError:
        return default


def cadence_rule(incident: Incident) -> Cadence | None:
    """The cadence that binds this incident's updates: the policy's, for Severity-1 only."""
    return cadence_of(incident) if incident.severity == "sev1" else None


def cadence_of(incident: Incident) -> Cadence:
    policy = incident.policy_snapshot or {}
    return Cadence(
        _policy_duration(policy, "update_cadence", DEFAULT_CADENCE),
        _policy_duration(policy, "min_update_interval", DEFAULT_MIN_INTERVAL),
    )


def update_hash(
    *,
    incident_id: int,
    seq: int,
    posted_at: datetime,
    author: str,
    current_status: str,
    next_steps: str,
    bridge_url: str,
    business_impact: str,
    next_update_at: datetime | None,
    corrects_seq: int | None,
    prev_hash: str,
    author_name: str = "",
) -> str:
    """The author's public name is covered once there is one; updates posted before names
    were kept hash exactly as they did then."""
    fields: list[Any] = [
        incident_id,
        seq,
        utc(posted_at).isoformat(),
        author,
        current_status,
        next_steps,
        bridge_url,
        business_impact,
        utc(next_update_at).isoformat() if next_update_at is not None else "",
        corrects_seq,
        prev_hash,
    ]
    if author_name:
        fields.append(author_name)
    body = json.dumps(fields, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()


HASHED_MOST = 100_000  # row contents remembered with their hash; past this it starts over
_hashed: dict[tuple[Any, ...], str] = {}


def _row_hash(row: StatusUpdate) -> str:
    """The hash of a row as stored now. A status page verifies every chain it shows on each
    render; a row whose every hashed field is exactly as when it was last hashed is not hashed
    again, so a render costs a SHA-256 only for new or changed rows (a change in any field, made
    however, misses this memo and is hashed and compared afresh)."""
    fields = (
        row.incident_id,
        row.seq,
        row.posted_at,
        row.author,
        row.current_status,
        row.next_steps,
        row.bridge_url,
        row.business_impact,
        row.next_update_at,
        row.corrects_seq,
        row.prev_hash,
        row.author_name or "",
    )
    known = _hashed.get(fields)
    if known is None:
        known = update_hash(
            incident_id=row.incident_id,
            seq=row.seq,
            posted_at=row.posted_at,
            author=row.author,
            current_status=row.current_status,
            next_steps=row.next_steps,
            bridge_url=row.bridge_url,
            business_impact=row.business_impact,
            next_update_at=row.next_update_at,
            corrects_seq=row.corrects_seq,
            prev_hash=row.prev_hash,
            author_name=row.author_name or "",
        )
        if len(_hashed) >= HASHED_MOST:
            _hashed.clear()
        _hashed[fields] = known
    return known


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """Only characters XML 1.0 allows: the feed's last guard, for text stored before."""
    return _NOT_XML.sub("", text)


def clean_text(name: str, value: str) -> str:
    """What a status update may say: a NUL is refused (PostgreSQL cannot store it), other C0
    control characters (terminal escapes, bells, form feeds), lone surrogates and non-characters
    are dropped, line breaks become \\n. They would make the Atom feed ill-formed for every
    reader, for as long as the update is shown, and they mean nothing on a status page."""
    if "\x00" in value:
        raise UpdateInvalid(f"{name}: contains a NUL character (\\x00); remove it")
    return xml_safe(value.replace("\r\n", "\n").replace("\r", "\n"))


def _required(name: str, value: str, limit: int = 10_000) -> str:
    value = clean_text(name, value or "").strip()
    if not value:
        raise UpdateInvalid(f"{name}: required, it is empty")
    if len(value) > limit:
        raise UpdateInvalid(f"{name}: {len(value)} characters, at most {limit}")
    return value


def _bridge(value: str) -> str:
    value = (value or "").strip()
    if not value:
        return ""
    parts = urlsplit(value)
    if (
        parts.scheme not in {"http", "https"}
        or not parts.netloc
        or len(value) > 500
        or any(c.isspace() or not c.isprintable() for c in value)
    ):
        raise UpdateInvalid(f"bridge_url: {value!r} is not an http(s) link")
    return value


def updates_of(session: Session, incident_id: int) -> list[StatusUpdate]:
    return list(
        session.execute(
            select(StatusUpdate)
            .where(StatusUpdate.incident_id == incident_id)
            .order_by(StatusUpdate.seq)
        ).scalars()
    )


def post_update(
    session: Session,
    clock: Clock,
    incident_id: int,
    *,
    author: str,
    current_status: str,
    next_steps: str,
    business_impact: str,
    bridge_url: str = "",
    next_update_at: datetime | None = None,
    corrects_seq: int | None = None,
    force: bool = False,
    notify: bool = True,
    author_name: str = "",
) -> StatusUpdate:
    """Append one update in the caller's transaction; refuses what the policy forbids.

    `author` is who the audit log names; `author_name` the name the status page shows."""
    incident = session.execute(
        select(Incident).where(Incident.id == incident_id).with_for_update()
    ).scalar_one_or_none()
    if incident is None:
        raise NotFound(f"incident: no incident #{incident_id}")
    fields = {
        "current_status": _required("current_status", current_status),
        "next_steps": _required("next_steps", next_steps),
        "business_impact": _required("business_impact", business_impact),
        "bridge_url": _bridge(bridge_url),
    }
    now = utc(clock.now())
    cadence = cadence_rule(incident)
    previous = updates_of(session, incident_id)
    last = previous[-1] if previous else None
    if corrects_seq is not None and corrects_seq not in {u.seq for u in previous}:
        raise UpdateInvalid(f"corrects_seq: incident #{incident_id} has no update #{corrects_seq}")
    if cadence is not None and last is not None and corrects_seq is None and not force:
        allowed = utc(last.posted_at) + cadence.min_interval
        if now < allowed:
            raise TooSoon(
                last.seq, utc(last.posted_at), allowed, duration_text(cadence.min_interval)
            )
    due = _next_due(now, next_update_at, cadence, force)
    seq = last.seq + 1 if last else 1
    prev_hash = last.hash if last else GENESIS
    row = StatusUpdate(
        incident_id=incident_id,
        seq=seq,
        posted_at=now,
        author=author,
        author_name=(author_name or "").strip()[:200],
        next_update_at=due,
        corrects_seq=corrects_seq,
        prev_hash=prev_hash,
        hash="",
        **fields,
    )
    row.hash = _row_hash(row)
    session.add(row)
    incident.next_update_due = due if incident.state != "resolved" else None
    session.flush()
    lifecycle.record_event(
        session,
        clock,
        incident,
        "status_update",
        author,
        f"Status update #{seq} posted" + (f" (corrects #{corrects_seq})" if corrects_seq else ""),
        {"seq": seq, "hash": row.hash, "corrects_seq": corrects_seq, "forced": force},
    )
    if notify:
        from opsbinder.incidents.stakeholders import notify_update

        notify_update(session, clock, incident, row)
    return row


def _next_due(
    now: datetime, asked: datetime | None, cadence: Cadence | None, force: bool
) -> datetime | None:
    """When the next update is promised: the time asked for, else the cadence's; none without."""
    if asked is None:
        return now + cadence.every if cadence is not None else None
    due = utc(asked)
    if due <= now:
        raise UpdateInvalid(f"next_update_at: {due.isoformat()} is not in the future")
    if cadence is not None and due > now + cadence.every and not force:
        raise Refused(
            f"next_update_at: {due.isoformat()} is later than the policy allows "
            f"(every {duration_text(cadence.every)}); insist with force to promise a later update"
        )
    return due


def chain_problems(rows: Sequence[Any], recorded: Mapping[int, str]) -> list[str]:
    """Recompute every hash of one incident's updates (oldest first); say what does not match.

    A chain alone is fooled by a rewrite that recomputes its hashes onward, so each update is
    also compared with `recorded`, the hash the audit log kept when it was posted (see
    `recorded_hashes`; the audit log's own rewrites are caught by its anchors).
    """
    problems: list[str] = []
    expected_prev, expected_seq = GENESIS, 1
    for row in rows:
        if row.seq != expected_seq:
            problems.append(f"update #{expected_seq} is missing (next is #{row.seq})")
        elif row.prev_hash != expected_prev:
            problems.append(f"update #{row.seq} does not chain to the update before it")
        if _row_hash(row) != row.hash:
            problems.append(f"update #{row.seq} was changed after it was posted")
        elif recorded.get(row.seq) is None:
            problems.append(f"update #{row.seq} has no record in the audit log")
        elif recorded[row.seq] != row.hash:
            problems.append(
                f"update #{row.seq} differs from what the audit log recorded when it was posted"
            )
        expected_prev, expected_seq = row.hash, row.seq + 1
    return problems


def recorded_hashes(session: Session, incident_ids: Iterable[int]) -> dict[int, dict[int, str]]:
    """incident -> update number -> the hash the audit log recorded when the update was posted.

    The first intact record of each update counts: a record whose own hash no longer matches
    proves nothing, and one appended later cannot override the original.
    """
    ids = sorted({str(i) for i in incident_ids})
    found: dict[int, dict[int, str]] = {int(i): {} for i in ids}
    if not ids:
        return found
    records = audit.intact_records(
        session, object_type="incident", object_ids=ids, action="incident.status_update"
    )
    for object_id, details in records:
        seq, hash_ = (details or {}).get("seq"), (details or {}).get("hash")
        if isinstance(seq, int) and isinstance(hash_, str):
            found[int(object_id)].setdefault(seq, hash_)
    return found


def verify_chain(session: Session, incident_id: int) -> ChainReport:
    rows = updates_of(session, incident_id)
    recorded = recorded_hashes(session, [incident_id])[incident_id]
    return ChainReport(len(rows), chain_problems(rows, recorded))
