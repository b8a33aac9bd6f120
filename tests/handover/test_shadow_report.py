"""`binder shadow-report`: a successor's shadow runs against the outgoing provider's real runs in
a fresh export, one deliberate difference of each kind, through the installed script."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from opsbinder import runs, shadow
from opsbinder.clock import FrozenClock
from opsbinder.handover.export import export_client
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope
from tests.cli.installed import Ran, environment, run_cli

BERLIN = ZoneInfo("Europe/Berlin")
PURGE, BACKUP = "purge-tracking-events", "check-tms-backup"


def _slot(days_ago: int, hour: int) -> datetime:
    day = datetime.now(UTC).astimezone(BERLIN).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(hour), BERLIN).astimezone(UTC)


def _run(
    store: Engine,
    key: str,
    slot: datetime | None,
    outcome: str,
    rows: int | None = None,
    *,
    dry: bool,
    at: datetime | None = None,
) -> None:
    clock = FrozenClock(at or slot or datetime.now(UTC))
    metrics = {} if rows is None else {"planned_rows": rows}
    with session_scope(store) as session:
        run = runs.start_run(
            session, clock, client_id="nordhafen", procedure_key=key, flow_run_id=None,
            scheduled_for=slot, dry_run=dry,
        )  # fmt: skip
        status = "ok" if outcome == "ok" else "failed"
        runs.finish_run(session, clock, run.id, ProcedureResult(status, outcome, metrics))


@pytest.fixture
def shadowed(loaded: Engine, tmp_path: Path) -> Path:
    """Nordhafen in a shadow begun 6 days ago; the outgoing provider's real runs and the shadow's
    dry runs since, with one difference of each kind; a fresh export of the real runs."""
    begun = FrozenClock(datetime.now(UTC) - timedelta(days=6))
    with session_scope(loaded) as session:
        until = datetime.now(UTC).date() + timedelta(days=7)
        shadow.begin(session, begun, "nordhafen", until, actor="successor", source="handover")
    _run(loaded, PURGE, _slot(9, 1), "ok", 5000, dry=False)  # before the shadow: not compared
    for days_ago, real_rows, shadow_rows in ((5, 1000, 1040), (4, 1000, 960), (3, 1000, 1500)):
        _run(loaded, PURGE, _slot(days_ago, 1), "ok", real_rows, dry=False)
        _run(loaded, PURGE, _slot(days_ago, 1), "ok", shadow_rows, dry=True)  # 3: rows differ
    _run(loaded, BACKUP, _slot(5, 6), "ok", dry=False)
    _run(loaded, BACKUP, _slot(5, 6), "ok", dry=True)
    _run(loaded, BACKUP, _slot(4, 6), "ok", dry=False)
    _run(loaded, BACKUP, _slot(4, 6), "failed", dry=True)  # outcome differs
    _run(loaded, BACKUP, _slot(3, 6), "ok", dry=False)  # only in the export
    _run(loaded, BACKUP, _slot(2, 6), "ok", dry=True)  # only in the shadow
    _run(loaded, BACKUP, None, "failed", dry=True, at=_slot(2, 9))  # by hand: not compared
    return _fresh_export(loaded, tmp_path)


def _fresh_export(store: Engine, tmp_path: Path) -> Path:
    """The outgoing provider's export made now: its runs.json holds the real runs."""
    with session_scope(store) as session:
        export_client(
            session, "nordhafen", tmp_path / "fresh", FrozenClock(datetime.now(UTC)), actor="old"
        )
    return tmp_path / "fresh"


def _report(store: Engine, tmp_path: Path, *args: str) -> Ran:
    env = environment(tmp_path / "home", store.url.render_as_string(hide_password=False))
    ran = run_cli(["binder", "shadow-report", *args], env)
    assert "Traceback" not in ran.output, ran
    return ran


def test_it_reports_one_difference_of_each_kind_and_exits_1(
    shadowed: Path, loaded: Engine, tmp_path: Path
) -> None:
    logged = json.loads((shadowed / "runs.json").read_text())["runs"]
    assert len(logged) == 7 and all(r["outcome"] in ("ok", "failed") for r in logged)

    ran = _report(loaded, tmp_path, str(shadowed))

    assert ran.code == 1, ran
    day = {n: (datetime.now(UTC).astimezone(BERLIN).date() - timedelta(days=n)) for n in range(6)}
    assert f"{PURGE}: 3 slot(s), 2 agree" in ran.out
    assert f"{BACKUP}: 4 slot(s), 1 agree" in ran.out
    assert (
        f"DIFFERS {PURGE} {day[3]}: rows differ beyond tolerance: "
        f"export {_slot(3, 1):%H:%M} UTC ok, 1,000 rows, shadow {_slot(3, 1):%H:%M} UTC ok, "
        "1,500 rows"
    ) in ran.out
    assert f"DIFFERS {BACKUP} {day[4]}: outcome differs: export" in ran.out
    assert f"{BACKUP} {day[3]}: run only in the export" in ran.out
    assert f"{BACKUP} {day[2]}: run only in the shadow" in ran.out
    assert "4 difference(s)" in ran.out
    assert "status: shadow run until" in ran.out

    as_json = _report(loaded, tmp_path, str(shadowed), "--json")
    assert as_json.code == 1, as_json
    data = json.loads(as_json.out)
    kinds = sorted(d["kind"] for p in data["procedures"] for d in p["differences"])
    assert kinds == ["only_in_export", "only_in_shadow", "outcome", "rows"]
    assert data["tolerance_percent"] == 10.0

    lenient = _report(loaded, tmp_path, str(shadowed), "--tolerance", "50")
    assert lenient.code == 1, lenient
    assert "rows differ" not in lenient.out and "3 difference(s)" in lenient.out


def test_it_exits_0_when_every_compared_run_agrees(loaded: Engine, tmp_path: Path) -> None:
    begun = FrozenClock(datetime.now(UTC) - timedelta(days=3))
    with session_scope(loaded) as session:
        until = datetime.now(UTC).date() + timedelta(days=1)
        shadow.begin(session, begun, "nordhafen", until, actor="successor", source="handover")
    for dry in (False, True):
        _run(loaded, PURGE, _slot(2, 1), "ok", 200, dry=dry)
        _run(loaded, BACKUP, _slot(2, 6), "failed", dry=dry)  # both failed: they agree
    _fresh_export(loaded, tmp_path)

    ran = _report(loaded, tmp_path, str(tmp_path / "fresh"))

    assert ran.code == 0, ran
    assert "all compared runs agree" in ran.out


def test_it_refuses_a_bad_run_log_naming_file_field_and_value(
    shadowed: Path, loaded: Engine, tmp_path: Path
) -> None:
    path = shadowed / "runs.json"
    data = json.loads(path.read_text())
    data["runs"][2]["rows"] = "many"
    path.write_text(json.dumps(data))

    ran = _report(loaded, tmp_path, str(shadowed))

    assert ran.code == 2, ran
    assert f"{path}: runs[2].rows: expected a row count or null, got 'many'" in ran.output


def test_it_says_not_found_for_a_client_without_a_shadow(loaded: Engine, tmp_path: Path) -> None:
    _fresh_export(loaded, tmp_path)

    ran = _report(loaded, tmp_path, str(tmp_path / "fresh"))

    assert ran.code == 3, ran
    assert "client 'nordhafen' has no shadow run here" in ran.output


def test_it_refuses_an_export_made_before_the_shadow_began(loaded: Engine, tmp_path: Path) -> None:
    with session_scope(loaded) as session:
        export_client(
            session, "nordhafen", tmp_path / "old", FrozenClock(datetime.now(UTC)), actor="old"
        )
        later = FrozenClock(datetime.now(UTC) + timedelta(minutes=5))
        until = datetime.now(UTC).date() + timedelta(days=7)
        shadow.begin(session, later, "nordhafen", until, actor="successor", source="handover")

    ran = _report(loaded, tmp_path, str(tmp_path / "old"))

    assert ran.code == 2, ran
    assert "before the shadow began" in ran.output and "fresh export" in ran.output
