"""Status pages rendered when their data changed, kept in the store for the web server to send.

A client's status page can be large (a Severity-1 outage with a thousand updates renders in about
0.25 s of CPU), and its readers reload it while updates arrive. So the process that changes the
page's data renders it, as a person's post returns, and keeps the bytes here; the web server only
sends them and never renders a kept page in a request. Every writer of what the page shows calls
`mark` in its transaction (incident events and updates, runs, binder loads, pauses, evidence
packs); when that transaction commits, every marked page that is kept (one a reader has asked
for) is re-rendered by `opsbinder.web.page_render`. In the transaction itself the row is only
marked pending (cheap); readers get the previous page until the new one is stored. What changes
with time alone (the "as of" line, a window starting, a resolved incident ageing out) and edits
made behind opsbinder's back are the minutely sweep's: it renders every kept page again once it
is older than the `status_cache_seconds` setting or its data's fingerprint moved.

`rendered_at` is the wall time (seconds since the epoch, not the domain clock: it orders renders
across processes) at which the render began to read. A render only replaces a stored page that
read earlier, so two writers rendering at once never leave the older snapshot's page behind.
`pending_at` is the wall time a writer marked the page.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from sqlalchemy import Float, ForeignKey, LargeBinary, Text, delete, event, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from opsbinder.clock import Clock
from opsbinder.store.base import Base

log = logging.getLogger(__name__)
_MARKED, _DUE = "stored_pages.marked", "stored_pages.due"


class StoredPage(Base):
    """The newest rendered status page of a client and the fingerprint of the data it shows."""

    __tablename__ = "stored_pages"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("clients.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(Text)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    rendered_at: Mapped[float] = mapped_column(Float, doc="wall time the render read (epoch s)")
    pending_at: Mapped[float | None] = mapped_column(
        Float, doc="set when a writer committed a change and is rendering the page anew"
    )


@dataclass(frozen=True)
class Kept:
    """What a reader checks before it fetches the body."""

    fingerprint: str
    rendered_at: float
    pending_at: float | None


def kept(session: Session, client_id: str) -> Kept | None:
    row = session.execute(
        select(StoredPage.fingerprint, StoredPage.rendered_at, StoredPage.pending_at).where(
            StoredPage.client_id == client_id
        )
    ).one_or_none()
    return Kept(row.fingerprint, row.rendered_at, row.pending_at) if row is not None else None


def kept_pages(session: Session) -> list[tuple[str, str, float]]:
    """Every kept page as (client id, fingerprint, rendered_at): what the sweep looks after."""
    rows = session.execute(
        select(StoredPage.client_id, StoredPage.fingerprint, StoredPage.rendered_at).order_by(
            StoredPage.client_id
        )
    )
    return [(r.client_id, r.fingerprint, r.rendered_at) for r in rows]


def body(session: Session, client_id: str, fingerprint: str) -> bytes | None:
    found = session.execute(
        select(StoredPage.body).where(
            StoredPage.client_id == client_id, StoredPage.fingerprint == fingerprint
        )
    ).scalar_one_or_none()
    return bytes(found) if found is not None else None


def save(
    session: Session, client_id: str, fingerprint: str, page: bytes, read_at: float | None = None
) -> None:
    """Keep `page`, rendered from what was committed at `read_at` (default: now), as the
    client's, unless a render that read later is kept already (one row per client)."""
    read_at = time.time() if read_at is None else read_at
    values = {
        "client_id": client_id,
        "fingerprint": fingerprint,
        "body": page,
        "rendered_at": read_at,
        "pending_at": None,
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(StoredPage).values(values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[StoredPage.client_id],
            set_={k: statement.excluded[k] for k in values if k != "client_id"},
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
    """Only pages someone reads are kept, so only those are rendered by the writer. A savepoint's
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
            .values(pending_at=time.time())
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
        except Exception:  # the change is committed; a reader renders the page instead
            log.exception("rendering the status page of %s after a change failed", client_id)


@event.listens_for(Session, "after_rollback")
def _dropped(session: Session) -> None:
    if session.in_nested_transaction():  # a savepoint's: the transaction's marks still stand
        return
    session.info.pop(_MARKED, None)
    session.info.pop(_DUE, None)
