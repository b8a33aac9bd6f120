"""`opsbinder binder import FOLDER`: the successor's side of the handover.

It reads the machine-readable binder of an export (FOLDER/binder/, or a plain binder folder),
checks it like any binder (every problem with file, line and field; nothing written when one
is found) and syncs it into this install's store, in one transaction. Deploying is then the
usual `opsbinder deploy` or `opsbinder serve`: the store is what they build from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from opsbinder import audit, shadow
from opsbinder.clock import Clock
from opsbinder.config.loader import load_binder
from opsbinder.errors import ConfigError, ConfigProblem
from opsbinder.sync import SyncReport, sync_binder


@dataclass(frozen=True)
class ImportResult:
    folder: Path
    clients: list[str]
    report: SyncReport
    shadows: dict[str, str] = field(default_factory=dict)  # client -> why its runs are dry


def binder_folder(folder: Path) -> Path:
    """An export holds its binder in binder/; a plain binder folder is accepted as it is."""
    folder = Path(folder)
    if (folder / "binder").is_dir():
        return folder / "binder"
    if folder.is_dir():
        return folder
    raise ConfigError([ConfigProblem(str(folder), None, "", None, "no such export folder")])


def import_binder(
    session: Session,
    folder: Path,
    clock: Clock,
    *,
    actor: str,
    shadow_until: date | None = None,
) -> ImportResult:
    """Sync the binder; with `shadow_until`, in the same transaction put its clients in a shadow
    period, so not one run of theirs does real work before the successor says so."""
    source = binder_folder(folder)
    binder = load_binder(source)
    report = sync_binder(session, binder, clock, actor=actor)
    clients = [c.client.id for c in binder.clients]
    for client_id in clients:
        audit.record(
            session,
            clock,
            actor=actor,
            action="binder.imported",
            object_type="client",
            object_id=client_id,
            client_id=client_id,
            details={
                "folder": str(source.resolve()),
                "created": len(report.created),
                "updated": len(report.updated),
            },
        )
    shadows = {}
    for client_id in clients:
        if shadow_until is not None:
            shadow.begin(
                session, clock, client_id, shadow_until, actor=actor, source=str(source.resolve())
            )
        if (why := shadow.note(session, client_id, clock.now())) is not None:
            shadows[client_id] = why
    return ImportResult(source, clients, report, shadows)
