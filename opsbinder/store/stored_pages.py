"""Status pages rendered when their data changed, kept in the store for the web server to send.

A client's status page can be large (a Severity-1 outage with a thousand updates renders in about
0.25 s of CPU), and its readers reload it while updates arrive. So the process that changes the
page's data renders it, as a person's post returns, and keeps the bytes here; the web server only
sends them and never renders a kept page in a request. Every writer of what the page shows calls
`mark` in its transaction (incident events and updates, runs, binder loads, pauses, evidence
packs); when that transaction commits, every marked page that is kept (one a reader has asked
for) is re-rendered by `opsbinder.web.page_render`. Readers get the previous page until the new
one is stored.

What changes with time alone is the minutely sweep's, and only when it is due: each render
stores `changes_at`, the instant its content next changes by time alone (a maintenance window
starting or ending, a resolved incident ageing out, the day strips moving at the client's
midnight; `opsbinder.web.page_changes`), and the sweep renders the pages whose instant has
passed (`due`, one indexed query). A writer's mark sets `changes_at` to its own now and counts
one more in `marks`, in the writer's transaction: a page whose writer died before rendering is
due for the sweep, and a render that read fewer marks than the row holds when it stores its
page (a change committed between its read and its write) leaves the page due instead of
claiming it current. `checked_at` is when the page was last rendered, so its hash chains last
verified: the sweep renders a bounded number of the least recently checked pages each pass
(edits behind opsbinder's back show within `status_check_minutes`).

`changes_at` and `checked_at` are the domain clock's epoch seconds (the sweep's clock decides).
`rendered_at` is the wall time (seconds since the epoch, not the domain clock: it orders renders
across processes) at which the render began to read. A render only replaces a stored page that
read earlier, so two writers rendering at once never leave the older snapshot's page behind.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Text,
    case,
    delete,
    event,
    literal,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from opsbinder.clock import Clock
from opsbinder.store.base import Base

log = logging.getLogger(__name__)
_MARKED, _DUE = "stored_pages.marked", "stored_pages.due"
NEVER = 253402300799.0  # 9999-12-31: nothing on the page changes by time alone


class StoredPage(Base):
    """The newest rendered status page of a client and the fingerprint of the data it shows."""

    __tablename__ = "stored_pages"
    __table_args__ = (
        Index("ix_stored_pages_changes_at", "changes_at"),
        Index("ix_stored_pages_checked_at", "checked_at"),
    )

    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    rendered_at: Mapped[float] = mapped_column(Float, doc="wall time the render read (epoch s)")
    changes_at: Mapped[float] = mapped_column(
        Float, server_default="0", doc="domain time the content next changes, or a writer marked"
    )
    checked_at: Mapped[float] = mapped_column(
        Float, server_default="0", doc="domain time of the render: its chains last verified"
    )
    marks: Mapped[int] = mapped_column(
        Integer, server_default="0", doc="changes writers committed to the page's data"
    )


@dataclass(frozen=True)
class Kept:
    """What a reader checks before it fetches the body."""

    fingerprint: str
    rendered_at: float
    changes_at: float
    checked_at: float


def kept(session: Session, client_id: str) -> Kept | None:
    row = session.execute(
        select(
            StoredPage.fingerprint,
            StoredPage.rendered_at,
            StoredPage.changes_at,
            StoredPage.checked_at,
        ).where(StoredPage.client_id == client_id)
    ).one_or_none()
    return Kept(*row) if row is not None else None


def marks(session: Session, client_id: str) -> int:
    """The writers' marks on the page as this session reads them: read BEFORE the page's data,
    so whatever the data then shows includes at least the changes counted here."""
    found = session.execute(
        select(StoredPage.marks).where(StoredPage.client_id == client_id)
    ).scalar_one_or_none()
    return found or 0


def fingerprints(session: Session) -> dict[str, str]:
    """Every kept page's client and fingerprint (columns stored before the body: no page read)."""
    rows = session.execute(select(StoredPage.client_id, StoredPage.fingerprint))
    return {r.client_id: r.fingerprint for r in rows}


def due(session: Session, now: float, checked_before: float, checks: int) -> dict[str, str]:
    """client id -> why its page is to be rendered, in one statement: every page whose content
    changed by time or was marked by a writer by `now` ("changed"), and the `checks` least
    recently checked pages checked before `checked_before` ("check")."""
    changed = select(StoredPage.client_id, literal("changed").label("why")).where(
        StoredPage.changes_at <= now
    )
    oldest = (
        select(StoredPage.client_id)
        .where(StoredPage.checked_at <= checked_before)
        .order_by(StoredPage.checked_at, StoredPage.client_id)
        .limit(max(checks, 0))
        .subquery()
    )
    checked = select(oldest.c.client_id, literal("check").label("why"))
    found: dict[str, str] = {}
    for client_id, why in session.execute(union_all(changed, checked)):
        found.setdefault(client_id, why)  # "changed" first: the stronger reason
    return found


def body(session: Session, client_id: str, fingerprint: str) -> bytes | None:
    found = session.execute(
        select(StoredPage.body).where(
            StoredPage.client_id == client_id, StoredPage.fingerprint == fingerprint
        )
    ).scalar_one_or_none()
    return bytes(found) if found is not None else None


def save(
    session: Session,
    client_id: str,
    fingerprint: str,
    page: bytes,
    read_at: float | None = None,
    *,
    changes_at: float = NEVER,
    checked_at: float | None = None,
    marks_read: int = 0,
) -> None:
    """Keep `page`, rendered from what was committed at `read_at` (default: now), as the
    client's, unless a render that read later is kept already (one row per client).

    `changes_at` is stored only when the row still holds the `marks_read` the render read: a
    writer that marked the page since committed data the page may not show, so it stays due.
    `checked_at` (when its chains were checked, domain time) defaults to `read_at`."""
    read_at = time.time() if read_at is None else read_at
    checked_at = read_at if checked_at is None else checked_at
    values = {
        "client_id": client_id,
        "fingerprint": fingerprint,
        "body": page,
        "rendered_at": read_at,
        "changes_at": changes_at,
        "checked_at": checked_at,
        "marks": marks_read,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(StoredPage).values(values)
    fresh: dict[str, Any] = {
        k: statement.excluded[k] for k in values if k not in ("client_id", "marks")
    }
    fresh["changes_at"] = case(
        (StoredPage.marks == marks_read, statement.excluded.changes_at),
        else_=StoredPage.changes_at,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[StoredPage.client_id],
            set_=fresh,
            where=StoredPage.rendered_at <= statement.excluded.rendered_at,
        )
    )


def forget(session: Session, client_id: str) -> None:
    session.execute(delete(StoredPage).where(StoredPage.client_id == client_id))


def mark(session: Session, clock: Clock, client_id: str) -> None:
    """The client's page shows data this transaction changed: render it when it commits."""
    session.info.setdefault(_MARKED, {})[client_id] = clock


@event.listens_for(Session, "before_commit")
def _pending(session: Session) -> None:
    """Only pages someone reads are kept, so only those are rendered by the writer; the mark is
    written in the change's own transaction, so the page is due until a render that read the
    change stores it (the writer's, or the sweep's if the writer dies first). A savepoint's
    commit is not the change's: its transaction still holds the rows this marks, so a render
    then would wait on a lock its own transaction holds (seen as a hang on PostgreSQL)."""
    if session.in_nested_transaction():
        return
    marked: dict[str, Clock] = session.info.pop(_MARKED, {})
    due = {}
    for client_id, clock in sorted(marked.items()):  # rows locked in one order: no deadlock
        found = session.execute(
            update(StoredPage)
            .where(StoredPage.client_id == client_id)
            .values(marks=StoredPage.marks + 1, changes_at=clock.now().timestamp())
        )
        if getattr(found, "rowcount", 0):
            due[client_id] = clock
    if due:
        session.info[_DUE] = due


@event.listens_for(Session, "after_commit")
def _render_due(session: Session) -> None:
    if session.in_nested_transaction():
        return
    due: dict[str, Clock] = session.info.pop(_DUE, {})
    if not due:
        return
    from opsbinder.web.page_render import refresh  # the web's templates, only when needed

    engine = session.get_bind().engine
    for client_id, clock in due.items():
        try:
            refresh(engine, clock, client_id)
        except Exception:  # the change is committed and the page due: the sweep renders it
            log.exception("rendering the status page of %s after a change failed", client_id)


@event.listens_for(Session, "after_rollback")
def _dropped(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's: the transaction's marks still stand
        return
    session.info.pop(_MARKED, None)
    session.info.pop(_DUE, None)
