"""The monthly evidence run: on the first of each month, every client's previous month as a
pack under the install's home, offered on the client's status page and sent to the contacts
the contract names (`evidence_recipients`) through the outbox.

Run twice, it does nothing twice: a month whose pack is complete on disk (its manifest written
last, the folder renamed into place whole) is not built again, and each recipient's message has
an idempotency key of client, month and contact, so the outbox holds it once. The month is the
client's own: the cron fires at 12:41 UTC on the 1st, when the month has ended in every zone
from UTC-12 to UTC+14, and each client's previous month is taken in its time zone.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from opsbinder import audit, environment, outbox
from opsbinder.binder_store import client_binder, client_contract
from opsbinder.clock import Clock, utc
from opsbinder.evidence.files import write_pack
from opsbinder.evidence.pack import gather
from opsbinder.incidents import delivery
from opsbinder.incidents.escalation import Action
from opsbinder.reports.report import Month
from opsbinder.settings import get_settings
from opsbinder.store import stored_pages
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client

# The built-in flow, stated here so flows/registry.py and the deployments say the same.
FLOW = "evidence"
ENTRYPOINT = "flows/evidence.py:evidence"
CRON = "41 12 1 * *"
TIMEZONE = "UTC"
DOES = (
    "Build every client's evidence pack of the month before (JSON, HTML, PDF, SHA-256 "
    "manifest) under the install's home, offer it on the status page and send the contract's "
    "evidence recipients a link through the outbox; a month already built is left as it is."
)
MANIFEST = "manifest.sha256"
FILES = ("evidence.pdf", "evidence.html", "evidence.json", "manifest.json", MANIFEST)
_MONTH = re.compile(r"^\d{4}-\d{2}$")


@dataclass
class Published:
    client: str
    month: str
    built: bool = False  # False: the pack was already there
    queued: list[str] = field(default_factory=list)  # "contact channel target", new rows only
    unreachable: list[str] = field(default_factory=list)  # contacts with no channel
    error: str | None = None


def packs_root() -> Path:
    return get_settings().home / "evidence"


def folder(client_id: str, month: Month) -> Path:
    return packs_root() / client_id / str(month)


def previous_month(clock: Clock, timezone: str) -> Month:
    """The last whole month in the client's own calendar."""
    local = utc(clock.now()).astimezone(ZoneInfo(timezone))
    return Month(local.year, local.month).shift(-1)


def published_packs(client_id: str, limit: int = 12) -> list[tuple[str, tuple[str, ...]]]:
    """The client's complete packs on disk, newest month first, each with the files it has (a
    pack built without Chromium has no PDF): what the status page offers."""
    base = packs_root() / client_id
    if not base.is_dir():
        return []
    months = [p.name for p in base.iterdir() if _MONTH.match(p.name) and (p / MANIFEST).is_file()]
    return [
        (month, tuple(name for name in FILES if (base / month / name).is_file()))
        for month in sorted(months, reverse=True)[:limit]
    ]


def publish_all(
    engine: Engine,
    clock: Clock,
    *,
    pdf: bool = True,
    environ: Mapping[str, str] | None = None,
) -> list[Published]:
    """Every client's previous month; one client's failure does not stop the others."""
    with session_scope(engine) as session:
        clients = list(session.execute(select(Client.id, Client.timezone).order_by(Client.id)))
    done = []
    for client_id, timezone in clients:
        month = "?"
        try:
            month = str(previous_month(clock, timezone))
            done.append(
                publish(engine, clock, client_id, Month.parse(month), pdf=pdf, environ=environ)
            )
        except Exception as exc:  # a broken client must not cost the others their pack
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
            done.append(Published(client_id, month, error=error))
    return done


def publish(
    engine: Engine,
    clock: Clock,
    client_id: str,
    month: Month,
    *,
    pdf: bool = True,
    environ: Mapping[str, str] | None = None,
) -> Published:
    """Build the month's pack unless it is there, then queue each recipient's message once."""
    result = Published(client_id, str(month))
    target = folder(client_id, month)
    if not (target / MANIFEST).is_file():
        with session_scope(engine) as session:
            pack = gather(session, client_id, month)
        result.built = _build(pack, target, pdf=pdf)
    digest = hashlib.sha256((target / MANIFEST).read_bytes()).hexdigest()
    with session_scope(engine) as session:
        _send(session, clock, client_id, month, digest, result, environment.variables(environ))
        if result.built:
            audit.record(
                session, clock, actor="evidence", action="evidence.published",
                object_type="evidence_pack", object_id=f"{client_id}/{month}",
                client_id=client_id,
                details={"manifest_sha256": digest, "files": sorted(os.listdir(target)),
                         "queued": result.queued, "unreachable": result.unreachable},
            )  # fmt: skip
            stored_pages.mark(session, clock, client_id)  # the page offers the new pack
    return result


def _build(pack: dict[str, Any], target: Path, *, pdf: bool) -> bool:
    """Write the pack beside its place and rename it in whole: a crash leaves no half pack
    under the month's name. False when a concurrent run put it there first."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        write_pack(pack, work, pdf=pdf)
        if target.exists() and not (target / MANIFEST).is_file():
            shutil.rmtree(target)  # ours, and incomplete: never renamed into place whole
        try:
            os.rename(work, target)
        except OSError:
            if (target / MANIFEST).is_file():
                return False
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return True


def _send(
    session: Session,
    clock: Clock,
    client_id: str,
    month: Month,
    digest: str,
    result: Published,
    environ: Mapping[str, str],
) -> None:
    """One outbox row per recipient (their e-mail when there is one, else their first
    channel), keyed by client, month and contact: a second run adds nothing."""
    client = session.get(Client, client_id)
    contract = client_contract(client) if client is not None else None
    if client is None or contract is None or not contract.evidence_recipients:
        return
    binder = client_binder(session, client_id, with_procedures=False)
    link = f"{get_settings().base_url.rstrip('/')}/status/{client_id}#evidence"
    title = f"[{client_id}] Evidence pack {month}: {client.name}"
    for contact in contract.evidence_recipients:
        key = f"evidence/{client_id}/{month}/{contact}"
        action = Action(
            kind="notify", key=key, due_at=utc(clock.now()), step=0, level=0,
            level_name="evidence recipients", round=0, target={"contact": contact},
            recipient=contact, reason="monthly evidence pack",
        )  # fmt: skip
        messages, person = delivery.routes_for(binder, action, environ)
        if not messages:
            result.unreachable.append(contact)
            continue
        chosen = next((m for m in messages if m.target.startswith("mail:")), messages[0])
        body = {
            "event": "evidence.published",
            "title": title,
            "text": f"{title}\nOn the status page: {link}\nSHA-256 of {MANIFEST}: {digest}",
            "link": link,
            "evidence": {"client": client_id, "month": str(month), "manifest_sha256": digest},
            "recipient": {"id": contact, "name": person.name if person else contact},
        }
        row = outbox.enqueue(
            session, clock, channel=chosen.channel, target=chosen.target, route=chosen.route,
            body=body, idempotency_key=key, client_id=client_id, recipient=contact,
        )  # fmt: skip
        if row is not None:
            result.queued.append(f"{contact} {chosen.channel} {chosen.target}")


def duty() -> dict[str, Any]:
    """The monthly run as the binder export lists it, next to the housekeeping."""
    return {
        "procedure": FLOW,
        "kind": "built-in",
        "flow_entrypoint": ENTRYPOINT,
        "deployment": f"{FLOW}/{FLOW}",
        "cron": CRON,
        "timezone": TIMEZONE,
        "enabled": get_settings().evidence_packs,
        "does": DOES,
        "run_by_hand": "opsbinder evidence --client CLIENT --month YYYY-MM -o OUT/",
    }


def as_dicts(done: list[Published]) -> list[dict[str, Any]]:
    return [asdict(p) for p in done]
