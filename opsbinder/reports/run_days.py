"""The runs' figures of report periods: whole UTC days from the roll-up (`run_days`, kept by
triggers), and from `runs` only the part-days a period edge cuts off a UTC midnight (a client's
own calendar: Europe/Berlin's October starts at 22:00 UTC). The all-clients report counts in UTC
months, so it reads the roll-up alone: ~1 row per procedure and day instead of every run with
its JSON metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from opsbinder.reports import figures
from opsbinder.reports.figures import RUN_FIGURES, Figures, bucket_of, of_run_row
from opsbinder.store.models import RunDay

DAY = timedelta(days=1)


def _floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil(moment: datetime) -> datetime:
    floor = _floor(moment)
    return floor if floor == moment else floor + DAY


@dataclass(frozen=True)
class Split:
    """The whole days [first, end) the roll-up answers, but the cut ones; the slices of runs."""

    first: date
    end: date
    cut: list[date]
    slices: list[tuple[datetime, datetime]]


def split(edges: list[datetime]) -> Split:
    """Every day an edge falls inside of is read raw, clipped to the periods' span."""
    start, stop = edges[0], edges[-1]
    cut_days = sorted({_floor(e) for e in edges if _floor(e) != e})
    slices = [(max(d, start), min(d + DAY, stop)) for d in cut_days]
    return Split(
        first=_ceil(start).date(),
        end=_floor(stop).date(),
        cut=[d.date() for d in cut_days],
        slices=[(a, b) for a, b in slices if a < b],
    )


def run_figures(
    conn: Connection, edges: list[datetime], client_ids: list[str] | None
) -> dict[tuple[int, int], Figures]:
    """Per (period, procedure id), as figures.run_figures over all runs would answer."""
    parts = split(edges)
    out = _rolled_up(conn, edges, parts, client_ids) if parts.first < parts.end else {}
    if parts.slices:
        for key, fig in figures.run_figures(conn, edges, client_ids, parts.slices).items():
            out.setdefault(key, Figures()).add(fig)
    return out


def _rolled_up(
    conn: Connection, edges: list[datetime], parts: Split, client_ids: list[str] | None
) -> dict[tuple[int, int], Figures]:
    # a whole day lies in the period whose first whole day it is not before
    bucket = bucket_of(RunDay.day, [_ceil(e).date() for e in edges]).label("bucket")
    query = (
        select(
            bucket,
            RunDay.procedure_id,
            *(func.sum(getattr(RunDay, name)).label(name) for name in RUN_FIGURES),
        )
        .where(RunDay.day >= parts.first, RunDay.day < parts.end)
        .group_by(bucket, RunDay.procedure_id)
    )
    if parts.cut:
        query = query.where(RunDay.day.not_in(parts.cut))
    if client_ids is not None:
        query = query.where(RunDay.client_id.in_(client_ids))
    return {(int(row.bucket), row.procedure_id): of_run_row(row) for row in conn.execute(query)}
