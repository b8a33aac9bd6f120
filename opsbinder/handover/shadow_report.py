"""`opsbinder binder shadow-report EXPORT`: the successor's dry runs held against the outgoing
provider's real runs of the same slots, the "testing of all documented procedures by a third
party" a handover promises, made routine.

The outgoing provider keeps running for real during the shadow, so the export compared is a
fresh one made at (or after) its end. Only scheduled runs are compared, within the shadow period
and before the export was made. Runs of a procedure pair up by the client's local day of their
scheduled slot, in slot order: a daily procedure's run of the 3rd meets the other side's run of
the 3rd, an hourly one's runs meet in turn. A pair differs by outcome (ok, failed, missed,
skipped, as the history page groups them) or by rows found to do beyond the tolerance; a run
without a partner is one the other side did not have.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import zip_longest
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder import shadow
from opsbinder.clock import Clock, utc
from opsbinder.errors import BadInput, NotFound
from opsbinder.handover.dossier import HISTORY_GROUPS
from opsbinder.handover.run_log import LoggedRun, RunLog, rows_of
from opsbinder.store.models import Client, Procedure, Run, ShadowPeriod

DEFAULT_TOLERANCE = 10.0  # percent of the larger row count


@dataclass(frozen=True)
class Difference:
    procedure: str
    day: date
    kind: str  # outcome, rows, only_in_export, only_in_shadow
    export: str
    shadow: str

    @property
    def text(self) -> str:
        what = {
            "outcome": f"outcome differs: export {self.export}, shadow {self.shadow}",
            "rows": f"rows differ beyond tolerance: export {self.export}, shadow {self.shadow}",
            "only_in_export": f"run only in the export ({self.export}): the shadow had none",
            "only_in_shadow": f"run only in the shadow ({self.shadow}): the export has none",
        }[self.kind]
        return f"{self.procedure} {self.day.isoformat()}: {what}"


@dataclass
class ProcedureComparison:
    procedure: str
    compared: int = 0  # slots either side had
    agreed: int = 0
    differences: list[Difference] = field(default_factory=list)


@dataclass
class ShadowReport:
    client: str
    start: datetime
    end: datetime
    tolerance: float
    status: str  # the shadow's state in words (holds until, over, ended)
    procedures: list[ProcedureComparison]

    @property
    def differences(self) -> list[Difference]:
        return [d for p in self.procedures for d in p.differences]

    def as_dict(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "from": self.start,
            "to": self.end,
            "tolerance_percent": self.tolerance,
            "status": self.status,
            "procedures": [
                {
                    "procedure": p.procedure,
                    "compared": p.compared,
                    "agreed": p.agreed,
                    "differences": [
                        {**asdict(d), "day": d.day.isoformat(), "text": d.text}
                        for d in p.differences
                    ],
                }
                for p in self.procedures
            ],
        }


@dataclass(frozen=True)
class Side:
    """One run as compared: its slot, outcome group and rows found to do."""

    slot: datetime
    outcome: str
    rows: int | None

    @property
    def label(self) -> str:
        rows = "" if self.rows is None else f", {self.rows:,} rows"
        return f"{self.slot:%H:%M} UTC {self.outcome}{rows}"


def _window(session: Session, log: RunLog, clock: Clock) -> tuple[ShadowPeriod, datetime, datetime]:
    client = session.get(Client, log.client)
    if client is None:
        raise NotFound(f"no client {log.client!r} in this store: import its binder first")
    period = session.get(ShadowPeriod, log.client)
    if period is None:
        raise NotFound(
            f"client {log.client!r} has no shadow run here: "
            f"opsbinder binder import EXPORT --shadow --until DATE"
        )
    last_day = datetime.combine(period.until + timedelta(days=1), time(), ZoneInfo(client.timezone))
    ends = [utc(last_day), log.generated_at, utc(clock.now())]
    if period.ended_at is not None:
        ends.append(utc(period.ended_at))
    start, end = utc(period.started_at), min(ends)
    if end <= start:
        raise BadInput(
            f"the export was made {log.generated_at:%Y-%m-%d %H:%M} UTC, before the shadow began "
            f"({start:%Y-%m-%d %H:%M} UTC): compare with a fresh export of the outgoing provider"
        )
    return period, start, end


def _shadow_runs(session: Session, client_id: str, start: datetime, end: datetime) -> list[Any]:
    return list(
        session.execute(
            select(Procedure.key, Run.scheduled_for, Run.outcome, Run.metrics)
            .join(Procedure, Procedure.id == Run.procedure_id)
            .where(
                Run.client_id == client_id,
                Run.dry_run.is_(True),
                Run.verification.is_(False),
                Run.outcome != "running",
                Run.scheduled_for.is_not(None),
                Run.scheduled_for >= start,
                Run.scheduled_for < end,
            )
        )
    )


def _group(outcome: str) -> str:
    return HISTORY_GROUPS.get(outcome, outcome)


def _by_day(runs: list[tuple[str, Side]], zone: ZoneInfo) -> dict[tuple[str, date], list[Side]]:
    out: dict[tuple[str, date], list[Side]] = defaultdict(list)
    for key, side in runs:
        out[(key, side.slot.astimezone(zone).date())].append(side)
    for sides in out.values():
        sides.sort(key=lambda s: s.slot)
    return out


def rows_differ(a: int | None, b: int | None, tolerance: float) -> bool:
    if a is None or b is None:
        return False
    return abs(a - b) > max(a, b) * tolerance / 100


def compare(
    session: Session, log: RunLog, clock: Clock, *, tolerance: float = DEFAULT_TOLERANCE
) -> ShadowReport:
    if tolerance < 0:
        raise BadInput(f"--tolerance {tolerance}: expected a percentage of 0 or more")
    _, start, end = _window(session, log, clock)
    zone = ZoneInfo(session.get(Client, log.client).timezone)  # type: ignore[union-attr]

    def in_window(run: LoggedRun) -> bool:
        return run.scheduled_for is not None and start <= run.scheduled_for < end

    theirs = _by_day(
        [
            (r.procedure, Side(utc(r.scheduled_for), _group(r.outcome), r.rows))
            for r in log.runs
            if in_window(r) and r.scheduled_for is not None and r.outcome != "running"
        ],
        zone,
    )
    ours = _by_day(
        [
            (key, Side(utc(slot), _group(outcome), rows_of(metrics)))
            for key, slot, outcome, metrics in _shadow_runs(session, log.client, start, end)
        ],
        zone,
    )
    by_procedure: dict[str, ProcedureComparison] = {}
    for key, day in sorted(set(theirs) | set(ours)):
        result = by_procedure.setdefault(key, ProcedureComparison(key))
        for export, shade in zip_longest(theirs.get((key, day), []), ours.get((key, day), [])):
            result.compared += 1
            found = _difference(key, day, export, shade, tolerance)
            if found is None:
                result.agreed += 1
            else:
                result.differences.append(found)
    return ShadowReport(
        client=log.client,
        start=start,
        end=end,
        tolerance=tolerance,
        status=shadow.note(session, log.client, clock.now()) or "ended: the client is live",
        procedures=sorted(by_procedure.values(), key=lambda p: p.procedure),
    )


def _difference(
    key: str, day: date, export: Side | None, shade: Side | None, tolerance: float
) -> Difference | None:
    if export is None or shade is None:
        if export is not None:
            return Difference(key, day, "only_in_export", export.label, "")
        return Difference(key, day, "only_in_shadow", "", shade.label if shade else "")
    if export.outcome != shade.outcome:
        return Difference(key, day, "outcome", export.label, shade.label)
    if rows_differ(export.rows, shade.rows, tolerance):
        return Difference(key, day, "rows", export.label, shade.label)
    return None
