"""The successor's shadow run: a client imported with `binder import --shadow --until DATE` runs
every procedure as a dry run, so it can be compared with the outgoing provider's real runs
(`binder shadow-report`) before anyone relies on it.

While a client is shadowed its runs, scheduled or by hand, are forced to dry runs in the run's
plan (`opsbinder.procedures.execution.plan`), so they never delete, move or change data; a
shadow run's failure, crash or miss is recorded, never an incident, so nobody is paged by it.

The date only ends the period the successor set aside for watching; nothing goes live by itself
on a date (a forgotten shadow is safe, a surprise go-live is not): after it the runs stay dry and
each says the shadow is over and how to go live, `opsbinder binder shadow-end --client ID`.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import audit
from opsbinder.clock import Clock, utc
from opsbinder.errors import BadInput, NotFound
from opsbinder.store.models import Client, ShadowPeriod


def go_live_command(client_id: str) -> str:
    return f"opsbinder binder shadow-end --client {client_id}"


def current(session: Session, client_id: str) -> ShadowPeriod | None:
    """The client's shadow period while it holds (ended_at unset), else None."""
    return holding(session.get(ShadowPeriod, client_id))


def went_live(session: Session, client_id: str) -> datetime | None:
    """When the client's shadow ended, if it had one: slots before it were the shadow's."""
    return ended(session.get(ShadowPeriod, client_id))


def periods(session: Session, client_ids: Collection[str]) -> dict[str, ShadowPeriod]:
    """Every listed client's shadow period, in one query, for a pass over many clients."""
    rows = session.execute(select(ShadowPeriod).where(ShadowPeriod.client_id.in_(client_ids)))
    return {p.client_id: p for p in rows.scalars()}


def holding(period: ShadowPeriod | None) -> ShadowPeriod | None:
    return period if period is not None and period.ended_at is None else None


def ended(period: ShadowPeriod | None) -> datetime | None:
    return utc(period.ended_at) if period is not None and period.ended_at is not None else None


def local_day(session: Session, client_id: str, instant: datetime) -> date:
    client = session.get(Client, client_id)
    zone = ZoneInfo(client.timezone if client is not None else "UTC")
    return utc(instant).astimezone(zone).date()


def note(session: Session, client_id: str, instant: datetime) -> str | None:
    """Why a run of this client at `instant` is forced to a dry run, or None when it is live."""
    period = current(session, client_id)
    if period is None:
        return None
    if local_day(session, client_id, instant) <= period.until:
        return f"shadow run until {period.until.isoformat()}: a dry run, nothing changed"
    return (
        f"shadow period ended {period.until.isoformat()}: still a dry run until someone goes "
        f"live with `{go_live_command(client_id)}`"
    )


def begin(
    session: Session, clock: Clock, client_id: str, until: date, *, actor: str, source: str
) -> ShadowPeriod:
    """Start (or move the end of) the client's shadow period; `until` must not be past."""
    today = local_day(session, client_id, clock.now())
    if until < today:
        raise BadInput(
            f"--until {until.isoformat()}: the shadow period must end today or later "
            f"(today is {today.isoformat()} in the client's time zone)"
        )
    period = session.get(ShadowPeriod, client_id)
    if period is None or period.ended_at is not None:
        if period is not None:
            session.delete(period)
            session.flush()
        period = ShadowPeriod(
            client_id=client_id, until=until, started_at=clock.now(), started_by=actor
        )
        session.add(period)
    period.until, period.source = until, source
    _audit(session, clock, actor, "binder.shadow_started", period)
    return period


def end(session: Session, clock: Clock, client_id: str, *, actor: str) -> ShadowPeriod:
    """Go live: the client's procedures do real work again from their next run."""
    period = current(session, client_id)
    if period is None:
        raise NotFound(f"client {client_id!r} is not in a shadow period (binder import --shadow)")
    period.ended_at, period.ended_by = clock.now(), actor
    _audit(session, clock, actor, "binder.shadow_ended", period)
    return period


def _audit(session: Session, clock: Clock, actor: str, action: str, period: ShadowPeriod) -> None:
    audit.record(
        session,
        clock,
        actor=actor,
        action=action,
        object_type="client",
        object_id=period.client_id,
        client_id=period.client_id,
        details={"until": period.until.isoformat(), "source": period.source},
    )
