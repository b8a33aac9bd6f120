"""The runs' roll-up (run_days, kept by triggers) answers exactly what the raw runs answer, after
random inserts, late inserts, corrections, deletes and grace changes, and under concurrent
writers; on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, inspect, select, text, update

from opsbinder import runs
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.procedures.result import ProcedureResult
from opsbinder.reports import figures, run_days
from opsbinder.reports.report import Month
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure, Run, RunDay, RunMonth
from opsbinder.sync import sync_binder

CLIENT = "nordhafen"
SPAN_START = datetime(2026, 9, 25, tzinfo=UTC)
SPAN_DAYS = 70
OPS = ("insert", "update", "delete")
OUTCOMES = ("running", "ok", "failed", "crashed", "timed_out", "cancelled", "skipped", "missed")


def _instant(rng: random.Random) -> datetime:
    # whole seconds mostly, some microseconds, some exactly at midnight (day edges)
    if rng.random() < 0.1:
        return SPAN_START + timedelta(days=rng.randrange(SPAN_DAYS))
    micro = rng.randrange(1_000_000) if rng.random() < 0.3 else 0
    return SPAN_START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400), microseconds=micro)


def _scheduled(rng: random.Random, started: datetime) -> datetime | None:
    if rng.random() < 0.25:
        return None  # run by hand
    # around every grace in the example binder, and some exactly on the boundary
    return started - timedelta(seconds=rng.choice((0, 5, 60, 900, 1800, 2700, 2701, 7200)))


def _metrics(rng: random.Random) -> dict[str, Any]:
    roll = rng.random()
    if roll < 0.3:
        return {"rows_deleted": rng.randrange(100_000)}
    if roll < 0.5:
        return {"bytes_archived": rng.randrange(5_000_000_000), "summary": "x"}
    return {}


@pytest.fixture
def procedures(store: Engine, example_dir: Path, clock: FrozenClock) -> list[int]:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    with session_scope(store) as s:
        return list(s.execute(select(Procedure.id).order_by(Procedure.id)).scalars())


def _write(store: Engine, rng: random.Random, procedure_ids: list[int], n: int) -> None:
    """n random writes, in transactions of up to 8, each kind of change the store sees."""
    clock = FrozenClock()
    done = 0
    while done < n:
        with session_scope(store) as s:
            for _ in range(min(8, n - done)):
                done += 1
                ids = list(s.execute(select(Run.id)).scalars())
                roll = rng.random()
                if roll < 0.35 or not ids:  # a run in any day, late ones included
                    started = _instant(rng)
                    s.add(
                        Run(
                            client_id=CLIENT,
                            procedure_id=rng.choice(procedure_ids),
                            scheduled_for=_scheduled(rng, started),
                            started_at=started,
                            outcome=rng.choice(OUTCOMES),
                            dry_run=rng.random() < 0.1,
                            metrics=_metrics(rng),
                        )
                    )
                elif roll < 0.5:  # through the run service: started, then finished or skipped
                    _through_service(s, rng, clock)
                elif roll < 0.65:  # an outcome corrected (a hook's crash over a failure, ...)
                    s.get_one(Run, rng.choice(ids)).outcome = rng.choice(OUTCOMES)
                elif roll < 0.75:  # moved to another day or schedule
                    run = s.get_one(Run, rng.choice(ids))
                    run.started_at = _instant(rng)
                    run.scheduled_for = _scheduled(rng, run.started_at)
                elif roll < 0.82:  # metrics corrected
                    s.get_one(Run, rng.choice(ids)).metrics = _metrics(rng)
                elif roll < 0.86:
                    run = s.get_one(Run, rng.choice(ids))
                    run.dry_run = not run.dry_run
                elif roll < 0.92:  # housekeeping's trim
                    s.delete(s.get_one(Run, rng.choice(ids)))
                elif roll < 0.95:  # a bulk correction, one statement over many rows
                    s.execute(
                        update(Run)
                        .where(Run.procedure_id == rng.choice(procedure_ids))
                        .values(outcome="failed")
                    )
                else:  # the binder changed a procedure's grace: on_time is recounted
                    proc = s.get_one(Procedure, rng.choice(procedure_ids))
                    proc.grace_seconds = rng.choice((0, 60, 1800, 2700, 3600))
                s.flush()


def _through_service(s: Any, rng: random.Random, clock: FrozenClock) -> None:
    keys = list(s.execute(select(Procedure.key).where(Procedure.active)).scalars())
    clock.set(_instant(rng))
    key = rng.choice(keys)
    if rng.random() < 0.2:
        runs.record_skipped(
            s, clock, client_id=CLIENT, procedure_key=key, reason="window",
            scheduled_for=_scheduled(rng, clock.now()), outcome=rng.choice(("skipped", "missed")),
        )  # fmt: skip
        return
    run = runs.start_run(
        s, clock, client_id=CLIENT, procedure_key=key, flow_run_id=None,
        scheduled_for=_scheduled(rng, clock.now()),
    )  # fmt: skip
    if rng.random() < 0.8:
        clock.advance(timedelta(seconds=rng.randrange(3600)))
        status = rng.choice(("ok", "failed"))
        runs.finish_run(
            s, clock, run.id, ProcedureResult(status=status, summary="s", metrics=_metrics(rng))
        )


def _edge_sets(rng: random.Random) -> list[list[datetime]]:
    daily = [SPAN_START - timedelta(days=1) + timedelta(days=i) for i in range(SPAN_DAYS + 3)]
    berlin = [Month(2026, m).bounds("Europe/Berlin")[0] for m in (9, 10, 11, 12)]
    odd = sorted({_instant(rng) for _ in range(6)})
    return [
        daily,  # whole UTC days: the roll-up alone, every day compared
        [Month(2026, m).bounds("UTC")[0] for m in (9, 10, 11, 12)],  # the all-clients report
        berlin,  # a client's months: part-days at every edge from the raw runs
        odd,  # edges anywhere, some periods shorter than a day
        [
            datetime(2026, 9, 1, tzinfo=UTC),
            datetime(2026, 10, 1, tzinfo=UTC),
            datetime(2026, 10, 17, 13, 45, tzinfo=UTC),
            datetime(2026, 11, 1, tzinfo=UTC),
            datetime(2026, 12, 1, tzinfo=UTC),
        ],  # whole months, days and a part-day at once
        [odd[0], odd[0] + timedelta(hours=3)],
    ]


def _assert_rollup_equals_raw(store: Engine, rng: random.Random) -> None:
    with store.connect() as conn:
        for edges in _edge_sets(rng):
            for ids in (None, [CLIENT], ["someone-else"]):
                raw = figures.run_figures(conn, edges, ids)
                rolled = run_days.run_figures(conn, edges, ids)
                assert _nonzero(rolled) == raw, (edges, ids)
                # the report's form: the trend's periods summed over their procedures
                last = len(edges) - 2
                summed: dict[tuple[int, int], figures.Figures] = {}
                for (i, pid), fig in raw.items():
                    summed.setdefault((i, pid if i == last else 0), figures.Figures()).add(fig)
                trend = run_days.run_figures(conn, edges, ids, detail_from=last)
                assert _nonzero(trend) == _nonzero(summed), (edges, ids)


def _nonzero(figs: dict[tuple[int, int], figures.Figures]) -> dict[tuple[int, int], Any]:
    return {k: v for k, v in figs.items() if v != figures.Figures()}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rollup_equals_the_raw_figures_after_random_writes(
    store: Engine, procedures: list[int], seed: int
):
    rng = random.Random(seed)
    for _ in range(3):
        _write(store, rng, procedures, 60)
        _assert_rollup_equals_raw(store, rng)
    with store.connect() as conn:  # the writes reached the roll-up, and every kind of figure
        total = figures.Figures()
        for fig in run_days.run_figures(conn, _edge_sets(rng)[0], None).values():
            total.add(fig)
    assert total.ok and total.failed and total.missed and total.skipped and total.on_time
    assert total.rows_purged and total.bytes_archived and total.due > total.on_time


def test_the_rollup_follows_a_grace_change_of_the_binder(store: Engine, procedures: list[int]):
    t0 = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)
    with session_scope(store) as s:
        s.add(
            Run(client_id=CLIENT, procedure_id=procedures[0], scheduled_for=t0,
                started_at=t0 + timedelta(minutes=20), outcome="ok", metrics={})
        )  # fmt: skip
        s.get_one(Procedure, procedures[0]).grace_seconds = 1800
    month = [Month(2026, 10).bounds("UTC")[0], Month(2026, 11).bounds("UTC")[0]]
    with store.connect() as conn:
        assert run_days.run_figures(conn, month, None)[(0, procedures[0])].on_time == 1
    with session_scope(store) as s:
        s.get_one(Procedure, procedures[0]).grace_seconds = 600  # 20 minutes late is now late
    with store.connect() as conn:
        assert run_days.run_figures(conn, month, None)[(0, procedures[0])].on_time == 0
        assert figures.run_figures(conn, month, None)[(0, procedures[0])].on_time == 0


def test_concurrent_writers_keep_the_rollup_exact(store: Engine, procedures: list[int]):
    """Four writers at once on the same procedure and day: each transaction inserts a run and
    corrects another; no change is lost and none counted twice."""
    day = datetime(2026, 10, 7, tzinfo=UTC)
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        rng = random.Random(worker)
        try:
            for i in range(15):
                with session_scope(store) as s:
                    s.add(
                        Run(client_id=CLIENT, procedure_id=procedures[0], scheduled_for=day,
                            started_at=day + timedelta(seconds=worker * 100 + i),
                            outcome=rng.choice(OUTCOMES), metrics={"rows_deleted": i})
                    )  # fmt: skip
                    s.flush()
                    mine = s.execute(
                        select(Run).where(Run.started_at < day + timedelta(seconds=worker * 100 + i))
                        .order_by(Run.id.desc()).limit(1)
                    ).scalar_one_or_none()  # fmt: skip
                    if mine is not None:
                        mine.outcome = rng.choice(OUTCOMES)
        except BaseException as exc:  # reported below, with the writer's traceback
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    edges = [day, day + timedelta(days=1)]
    with store.connect() as conn:
        rolled = run_days.run_figures(conn, edges, None)
        assert rolled == figures.run_figures(conn, edges, None)
        assert rolled[(0, procedures[0])].rows_purged == 4 * sum(range(15))
        assert conn.execute(select(func.count()).select_from(RunDay)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(RunMonth)).scalar_one() == 1


def test_the_migrations_leave_the_rollup_triggers_in_place(store: Engine):
    """A later batch alter of runs or procedures on SQLite recreates the table without them."""
    with store.connect() as conn:
        if store.dialect.name == "postgresql":
            query = "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"
        else:
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        names = set(conn.execute(text(query)).scalars())
    wanted = {"run_days_update", "run_days_grace"} | (
        {"run_days_insert_delete", "run_months_of_days"}
        if store.dialect.name == "postgresql"
        else {"run_days_insert", "run_days_delete"} | {f"run_months_{op}" for op in OPS}
    )
    assert wanted <= names
    assert {"run_days", "run_months"} <= set(inspect(store).get_table_names())
