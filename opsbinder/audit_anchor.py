"""Anchors: the audit log's heads, signed and kept outside the store.

A hash chain shows an entry edited in place, but not its newest entries cut off, nor the whole
log rewritten with freshly computed hashes: both leave a chain that verifies. So at intervals
(the minutely sweep, or `opsbinder audit anchor`) the head of the log — its newest entry's
number and hash — and the newest entry of every client that changed since the last anchor are
written as one line of JSON, signed with HMAC-SHA256, to a file outside the database
(`OPSBINDER_AUDIT_ANCHOR_FILE`, default under OPSBINDER_HOME). Each line names the signature of
the line before it, so lines taken out of the middle show. Copies go where the store's owner
cannot reach them: every binder export carries its client's view, and a webhook receiver
(`OPSBINDER_AUDIT_WEBHOOK_URL_ENV`) gets each line as an `audit.anchor` event.

The writer never seals a log that no longer matches the last anchor or whose newest stretch
does not verify: it refuses, and the refusal is the alarm.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder import outbox
from opsbinder.audit import GENESIS, ChainWalk, Seal, Sealed
from opsbinder.clock import Clock, utc
from opsbinder.errors import OpsbinderError
from opsbinder.local_secret import local_secret
from opsbinder.settings import Settings, get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry

VERSION = 1
WEBHOOK_ID = "audit-anchor"


class AnchorRefused(OpsbinderError):
    """The store no longer matches the last anchor, or its newest entries do not verify."""

    exit_code = 1  # a broken chain (README: exit status)


@dataclass(frozen=True)
class AnchorOutcome:
    written: bool
    line: dict[str, Any] | None  # the anchor written now, else the newest one on file
    why: str


def anchor_key(settings: Settings, environ: Mapping[str, str] | None = None) -> bytes:
    return local_secret(settings.audit_key_env, settings.audit_key_file, environ).encode()


def sign(key: bytes, anchor: Mapping[str, Any]) -> str:
    body = json.dumps(
        {k: v for k, v in anchor.items() if k != "sig"}, sort_keys=True, separators=(",", ":")
    )
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def _signed(key: bytes, anchor: Mapping[str, Any]) -> bool:
    return isinstance(anchor.get("sig"), str) and hmac.compare_digest(
        sign(key, anchor), str(anchor["sig"])
    )


def write_anchor(
    engine: Engine,
    clock: Clock,
    *,
    settings: Settings | None = None,
    environ: Mapping[str, str] | None = None,
    force: bool = False,
) -> AnchorOutcome:
    """Seal the log's current head, unless nothing changed or the last anchor is too recent.

    Idempotent and cheap: it reads the last line of the file and the entries written since
    that anchor, nothing older. `force` ignores `audit_anchor_every` (not the checks).
    """
    settings = settings or get_settings()
    path = settings.anchor_file
    key = anchor_key(settings, environ)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            last = _last_line(path)
            with session_scope(engine) as session:
                line, why = _next_anchor(session, clock, key, last, settings, force)
            if line is None:
                return AnchorOutcome(False, last, why)
            _append(handle, line)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    _send(engine, clock, settings, line)
    return AnchorOutcome(True, line, why)


def _next_anchor(
    session: Session,
    clock: Clock,
    key: bytes,
    last: dict[str, Any] | None,
    settings: Settings,
    force: bool,
) -> tuple[dict[str, Any] | None, str]:
    now = utc(clock.now())
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    if last is not None:
        seal = _seal(last)
        _check_still_sealed(session, seal, head.seq if head else 0)
        if head is not None and (head.seq, head.hash) == (seal.seq, seal.hash):
            return None, f"nothing new since {seal.name} (#{seal.seq})"
        if not force and now < utc(seal.at) + timedelta(seconds=settings.audit_anchor_every):
            return None, f"{seal.name} is recent; the next one is due later"
    if head is None:
        return None, "the audit log is empty: nothing to seal"
    since = int(last["seq"]) if last else 0
    walk = ChainWalk(
        seq=since + 1, prev=str(last["hash"]) if last else GENESIS, clients=last is None
    )
    clients: dict[str, list[Any]] = {}
    rows = session.execute(
        select(AuditEntry)
        .where(AuditEntry.seq > since)
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=1000)
    ).scalars()
    for row in rows:
        breaks = walk.step(row)
        if breaks:
            raise AnchorRefused(
                f"not sealing the audit log: {breaks[0]}; run `opsbinder audit verify`"
            )
        if row.client_id is not None:
            clients[row.client_id] = [row.seq, row.hash]
    line: dict[str, Any] = {
        "v": VERSION,
        "kind": "anchor",
        "at": now.isoformat(),
        "seq": walk.expected_seq - 1,
        "hash": walk.expected_prev,
        "clients": clients,
        "prev": str(last["sig"]) if last else "",
    }
    line["sig"] = sign(key, line)
    return line, f"sealed #{line['seq']}"


def _check_still_sealed(session: Session, seal: Seal, head_seq: int) -> None:
    if head_seq < seal.seq:
        raise AnchorRefused(
            f"not sealing the audit log: entries #{head_seq + 1}..#{seal.seq} that "
            f"{seal.name} sealed are gone; run `opsbinder audit verify`"
        )
    stored = session.execute(
        select(AuditEntry.hash).where(AuditEntry.seq == seal.seq)
    ).scalar_one_or_none()
    if stored != seal.hash:
        raise AnchorRefused(
            f"not sealing the audit log: entry #{seal.seq} differs from what {seal.name} "
            "sealed; run `opsbinder audit verify`"
        )


def _seal(line: Mapping[str, Any]) -> Seal:
    return Seal(utc(datetime.fromisoformat(str(line["at"]))), int(line["seq"]), str(line["hash"]))


def _append(handle: Any, line: dict[str, Any]) -> None:
    data = (json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n").encode()
    handle.seek(0, os.SEEK_END)
    if handle.tell() > 0:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) != b"\n":  # a torn line from a crash: start a fresh one
            data = b"\n" + data
    handle.seek(0, os.SEEK_END)
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


def _send(engine: Engine, clock: Clock, settings: Settings, line: dict[str, Any]) -> None:
    if not settings.audit_webhook_url_env:
        return
    route: dict[str, Any] = {"id": WEBHOOK_ID, "url_env": settings.audit_webhook_url_env}
    if settings.audit_webhook_secret_env:
        route["secret_env"] = settings.audit_webhook_secret_env
    with session_scope(engine) as session:
        outbox.enqueue(
            session,
            clock,
            channel="webhook",
            target=WEBHOOK_ID,
            route=route,
            body={"type": "audit.anchor", "timestamp": line["at"], "data": line},
            idempotency_key=f"audit.anchor#{line['seq']}:{line['sig'][:16]}",
        )


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """JSON lines; a small file holding one indented JSON object (an export's copy) is one."""
    if path.stat().st_size < 1_000_000:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            json.loads(text)
        except ValueError:
            pass
        else:
            yield 1, text
            return
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, 1):
            if text.strip():
                yield number, text


def _last_line(path: Path) -> dict[str, Any] | None:
    """The newest complete anchor of the file (a torn last line from a crash is skipped)."""
    if not path.exists():
        return None
    last = None
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        chunk, buffer = 65536, b""
        position = end
        while position > 0:
            step = min(chunk, position)
            position -= step
            handle.seek(position)
            buffer = handle.read(step) + buffer
            lines = [x for x in buffer.split(b"\n") if x.strip()]
            complete = lines if position == 0 else lines[1:]
            for raw in reversed(complete):
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(parsed, dict) and parsed.get("kind") == "anchor":
                    last = parsed
                    break
            if last is not None:
                break
    return last


def load(path: Path, key: bytes) -> Sealed:
    """Every anchor of a file (the store's own, a receiver's copy, or an export's view)."""
    if not path.exists():
        return Sealed()
    seals: list[Seal] = []
    clients: dict[str, tuple[int, str, Seal]] = {}
    problems: list[str] = []
    prev = ""
    lines = list(_lines(path))
    for index, (number, text) in enumerate(lines):
        where = f"{path.name} line {number}"
        try:
            anchor = json.loads(text)
            seal = _seal(anchor)
        except (ValueError, KeyError, TypeError):
            if index < len(lines) - 1:  # a torn last line is a crash mid-write, nothing more
                problems.append(f"{where} is not an anchor (damaged)")
            continue
        if not _signed(key, anchor):
            problems.append(
                f"{where}: {seal.name} does not verify with this key (forged, or signed "
                "with another key)"
            )
            continue
        if anchor.get("kind") == "client":
            head = anchor.get("head")
            if head:
                clients[str(anchor["client"])] = (int(head[0]), str(head[1]), seal)
            seals.append(seal)
            continue
        if anchor.get("prev", "") != prev and seals:
            problems.append(f"{where}: {seal.name} does not follow the anchor before it")
        prev = str(anchor["sig"])
        seals.append(seal)
        for client, (seq, hash_) in dict(anchor.get("clients") or {}).items():
            clients[client] = (int(seq), str(hash_), seal)
    return Sealed(seals, clients, problems)


def client_view(sealed: Sealed, client_id: str, key: bytes) -> dict[str, Any] | None:
    """The latest anchor as one client may see it: the log's head and that client's newest
    entry, signed again (other clients' names and heads are not in it)."""
    seal = sealed.latest
    if seal is None:
        return None
    head = sealed.clients.get(client_id)
    view: dict[str, Any] = {
        "v": VERSION,
        "kind": "client",
        "at": seal.at.isoformat(),
        "seq": seal.seq,
        "hash": seal.hash,
        "client": client_id,
        "head": [head[0], head[1]] if head else None,
    }
    view["sig"] = sign(key, view)
    return view


def sealed_of(settings: Settings | None = None, path: Path | None = None) -> Sealed:
    settings = settings or get_settings()
    return load(path or settings.anchor_file, anchor_key(settings))
