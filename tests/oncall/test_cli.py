from __future__ import annotations

from pathlib import Path

from icalendar import Calendar
from sqlalchemy import Engine
from typer.testing import CliRunner

from opsbinder.cli.main import app
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder

runner = CliRunner()


def _load(store: Engine, clock: FrozenClock, example_dir: Path) -> None:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)


def test_it_answers_for_a_local_time_in_the_spring_gap(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    _load(store, clock, example_dir)
    out = runner.invoke(app, ["oncall", "at", "2026-03-29 02:30", "--client", "nordhafen"])
    assert out.exit_code == 0, out.output
    assert "does not exist in Europe/Berlin" in out.output
    # weekly from Mon 2026-01-05: lena, tom, ayse, ... week of 03-23 is the 12th: ayse
    assert "Ayşe Demir" in out.output
    out = runner.invoke(
        app, ["oncall", "at", "2026-10-25 02:30", "--client", "nordhafen", "--fold", "later"]
    )
    assert out.exit_code == 0 and "occurs twice" in out.output
    # the Christmas override: the week of 12-21 is Ayşe's, Lena covers 24-27 December
    out = runner.invoke(app, ["oncall", "at", "2026-12-25 12:00", "--client", "nordhafen"])
    assert "Lena Fischer" in out.output and "Ayşe Demir" not in out.output
    out = runner.invoke(app, ["oncall", "at", "2026-12-23 12:00", "--client", "nordhafen"])
    assert "Ayşe Demir" in out.output


def test_it_shows_who_is_on_now(store: Engine, clock: FrozenClock, example_dir: Path) -> None:
    _load(store, clock, example_dir)
    out = runner.invoke(app, ["oncall", "now"])
    assert out.exit_code == 0, out.output
    assert "l1-weekly" in out.output


def test_it_exports_a_subscribable_calendar(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    _load(store, clock, example_dir)
    out = runner.invoke(app, ["oncall", "ical", "l1-weekly", "--days", "28"])
    assert out.exit_code == 0, out.output
    events = list(Calendar.from_ical(out.stdout_bytes).walk("VEVENT"))
    assert len(events) >= 4
    assert all(str(e["summary"]).startswith("On call: ") for e in events)
