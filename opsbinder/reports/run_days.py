"""The runs' figures of report periods, read from the coarsest roll-up that answers each part:
whole UTC months from `run_months`, the other whole UTC days from `run_days` (both kept by
triggers), and from `runs` only the part-days a period edge cuts off a UTC midnight (a client's
own calendar: Europe/Berlin's October is [30 Sep 22:00, 31 Oct 23:00) UTC). The all-clients
report counts in UTC months, so it reads one row per procedure and month."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from opsbinder.reports import figures
from opsbinder.reports.figures import RUN_FIGURES, Figures, bucket_of, of_run_row
from opsbinder.store.models import RunDay, RunMonth

DAY = timedelta(days=1)


def _floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _ceil(moment: datetime) -> datetime:
    floor = _floor(moment)
    return floor if floor == moment else floor + DAY


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass(frozen=True)
class Split:
    """Which part of the periods each source answers."""

    months: list[date]  # first days of whole UTC months inside one period
    days: list[tuple[date, date]]  # other whole UTC days, as ranges [a, b)
    slices: list[tuple[datetime, datetime]]  # the part-days, from the runs


def split(edges: list[datetime]) -> Split:
    """Every day an edge falls inside of is read raw, clipped to the periods' span; a month is
    whole when no edge falls strictly inside it."""
    start, stop = edges[0], edges[-1]
    cut = sorted({_floor(e) for e in edges if _floor(e) != e})
    slices = [(max(d, start), min(d + DAY, stop)) for d in cut]
    first, end = _ceil(start).date(), _floor(stop).date()
    months: list[date] = []
    month = first if first.day == 1 else _next_month(first)
    while _next_month(month) <= end:
        lo, hi = (datetime.combine(d, time(), UTC) for d in (month, _next_month(month)))
        if not any(lo < e < hi for e in edges):
            months.append(month)
        month = _next_month(month)
    cut_days = {d.date() for d in cut}
    days: list[tuple[date, date]] = []
    day = first
    while day < end:
        if day.replace(day=1) in months:
            day = _next_month(day)
        elif day in cut_days:
            day += DAY
        else:
            if days and days[-1][1] == day:
                days[-1] = (days[-1][0], day + DAY)
            else:
                days.append((day, day + DAY))
            day += DAY
    return Split(months, days, [(a, b) for a, b in slices if a < b])


def run_figures(
    conn: Connection, edges: list[datetime], client_ids: list[str] | None, detail_from: int = 0
) -> dict[tuple[int, int], Figures]:
    """Per (period, procedure id), as figures.run_figures over all runs would answer; periods
    before `detail_from` summed over their procedures, as procedure 0 (a trend needs no more,
    and 2,000 procedures times six months are 12,000 rows fewer to read)."""
    parts = split(edges)
    detail = _ceil(edges[detail_from]).date()
    answers = []
    if parts.months:
        in_months = RunMonth.month.in_(parts.months)
        answers.append(
            _rolled_up(conn, edges, RunMonth, RunMonth.month, in_months, client_ids, detail)
        )
    if parts.days:
        ranges = or_(*(and_(RunDay.day >= a, RunDay.day < b) for a, b in parts.days))
        answers.append(_rolled_up(conn, edges, RunDay, RunDay.day, ranges, client_ids, detail))
    if parts.slices:
        raw = figures.run_figures(conn, edges, client_ids, parts.slices)
        answers.append(
            [((i, pid if i >= detail_from else 0), fig) for (i, pid), fig in raw.items()]
        )
    out: dict[tuple[int, int], Figures] = {}
    for answer in answers:
        for key, fig in answer:
            if key in out:
                out[key].add(fig)
            else:
                out[key] = fig
    return out


def _rolled_up(
    conn: Connection,
    edges: list[datetime],
    table: type[RunDay] | type[RunMonth],
    start: Any,
    where: ColumnElement[bool],
    client_ids: list[str] | None,
    detail: date,
) -> list[tuple[tuple[int, int], Figures]]:
    # a whole day or month lies in the period whose first whole day it is not before
    bucket = bucket_of(start, [_ceil(e).date() for e in edges]).label("bucket")
    procedure = case((start >= detail, table.procedure_id), else_=literal(0)).label("procedure")
    query = (
        select(bucket, procedure, *(func.sum(getattr(table, f)).label(f) for f in RUN_FIGURES))
        .where(where)
        .group_by(bucket, procedure)
    )
    if client_ids is not None:
        query = query.where(table.client_id.in_(client_ids))
    return [((int(row.bucket), row.procedure), of_run_row(row)) for row in conn.execute(query)]
