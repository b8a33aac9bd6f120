"""DST warnings say what Prefect will do: every stated instant is checked against Prefect itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from opsbinder.config.dst import (
    clock_changes,
    dst_warnings,
    predicted_runs,
    schedule_effects,
)
from opsbinder.config.loader import load_binder
from opsbinder.orchestrator.schedules import prefect_next_runs, prefect_runs_between

NOW = datetime(2026, 3, 20, 10, 0, tzinfo=UTC)

# (zone, a day with a clock change in the year after NOW)
CHANGE_DAYS = [
    ("Europe/Berlin", datetime(2026, 10, 25, tzinfo=UTC)),
    ("Europe/Berlin", datetime(2027, 3, 28, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 11, 1, tzinfo=UTC)),
    ("America/New_York", datetime(2027, 3, 14, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 10, 4, tzinfo=UTC)),  # 30-minute change
    ("Australia/Sydney", datetime(2026, 4, 5, tzinfo=UTC)),
]
CRONS = [
    "30 2 * * *",
    "0 2 * * *",
    "15 2 * * *",
    "45 1 * * *",
    "0 3 * * *",
    "0 * * * *",
    "30 * * * *",
    "*/15 * * * *",
    "0,30 2 * * *",
    "30 1-3 * * *",
    "0 2 * * 0",
]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _window(day: datetime) -> tuple[datetime, datetime]:
    return day - timedelta(days=2), day + timedelta(days=2)


@pytest.mark.parametrize(("zone", "day"), CHANGE_DAYS)
@pytest.mark.parametrize("cron", CRONS)
def test_it_predicts_exactly_the_runs_prefect_schedules_around_a_clock_change(cron, zone, day):
    start, end = _window(day)
    predicted = predicted_runs(cron, zone, start, end)
    prefect = prefect_runs_between(cron, zone, start, end)
    # compare instants: datetimes sharing one ZoneInfo compare by wall time, ignoring fold
    assert [_utc(d) for d in predicted] == [_utc(d) for d in prefect]
    assert [d.utcoffset() for d in predicted] == [d.utcoffset() for d in prefect]


@pytest.mark.parametrize(("zone", "day"), CHANGE_DAYS)
@pytest.mark.parametrize("cron", CRONS)
def test_it_states_instants_that_prefect_really_runs_and_drops(cron, zone, day):
    tz = ZoneInfo(zone)
    start, end = _window(day)
    prefect = {_utc(d) for d in prefect_runs_between(cron, zone, start, end)}
    for items in schedule_effects(cron, zone, start, end):
        for effect in items:
            first = _utc(effect.wall.replace(tzinfo=tz, fold=0))
            second = _utc(effect.wall.replace(tzinfo=tz, fold=1))
            runs_at = None if effect.runs_at is None else _utc(effect.runs_at)
            if effect.kind == "repeat":
                assert runs_at == first and first in prefect
                assert second not in prefect  # the repeat is never run
            elif runs_at is not None:
                assert runs_at in prefect
                # fold=0 reads a gap time with the old offset (the 03:30 people would expect);
                # Prefect runs it the size of the gap before that: early, not late
                assert runs_at == second
                assert first - runs_at == effect.change.size
            else:  # skipped: it would land on a run the cron names anyway
                assert second in prefect
                assert croniter.match(cron, second.astimezone(tz).replace(tzinfo=None))


def test_it_finds_the_berlin_clock_changes_to_the_second():
    changes = clock_changes("Europe/Berlin", NOW, NOW + timedelta(days=400))
    assert [(c.at, c.is_gap, c.size) for c in changes] == [
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), True, timedelta(hours=1)),
        (datetime(2026, 10, 25, 1, 0, tzinfo=UTC), False, timedelta(hours=1)),
        (datetime(2027, 3, 28, 1, 0, tzinfo=UTC), True, timedelta(hours=1)),
    ]
    assert changes[1].describe() == "2026-10-25 03:00 CEST -> 02:00 CET (clocks go back an hour)"
    lord_howe = clock_changes("Australia/Lord_Howe", NOW, NOW + timedelta(days=366))
    assert {c.size for c in lord_howe} == {timedelta(minutes=30)}


def _binder_with(example_dir, cron: str, zone: str = "Europe/Berlin"):
    nordhafen = load_binder(example_dir).client("nordhafen")
    proc = nordhafen.procedures[0]
    moved = proc.model_copy(
        update={
            "id": "x",
            "schedule": proc.schedule.model_copy(update={"cron": cron, "timezone": zone}),
        }
    )
    return nordhafen.model_copy(update={"procedures": [moved]})


def test_it_warns_that_a_0230_run_goes_an_hour_early_on_spring_forward_day(example_dir):
    binder = _binder_with(example_dir, "30 2 * * *")
    now = datetime(2026, 11, 1, tzinfo=UTC)
    warnings = dst_warnings(binder, now)
    assert warnings[0] == (
        "nordhafen/x: 30 2 * * * (Europe/Berlin) — 2027-03-28 02:30 does not exist; "
        "Prefect runs it at 01:30 CET, an hour early"
    )
    runs = prefect_next_runs(
        "30 2 * * *", "Europe/Berlin", datetime(2027, 3, 27, 12, tzinfo=UTC), 1
    )
    assert runs[0].strftime("%Y-%m-%d %H:%M %Z") == "2027-03-28 01:30 CET"


def test_it_warns_that_a_0230_run_happens_once_at_the_first_occurrence(example_dir):
    binder = _binder_with(example_dir, "30 2 * * *")
    now = datetime(2026, 4, 1, tzinfo=UTC)
    warnings = dst_warnings(binder, now)
    assert warnings[0] == (
        "nordhafen/x: 30 2 * * * (Europe/Berlin) — 2026-10-25 02:30 happens twice "
        "(CEST, then CET); Prefect runs it once, at the first occurrence: 02:30 CEST"
    )
    runs = prefect_next_runs(
        "30 2 * * *", "Europe/Berlin", datetime(2026, 10, 24, 12, tzinfo=UTC), 2
    )
    assert [r.strftime("%Y-%m-%d %H:%M %Z") for r in runs] == [
        "2026-10-25 02:30 CEST",
        "2026-10-26 02:30 CET",
    ]


def test_it_warns_that_an_hourly_cron_skips_the_repeated_hour(example_dir):
    binder = _binder_with(example_dir, "0 * * * *")
    warnings = dst_warnings(binder, datetime(2026, 4, 1, tzinfo=UTC))
    assert warnings[0] == (
        "nordhafen/x: 0 * * * * (Europe/Berlin) — 2026-10-25 02:00-02:59 happens twice "
        "(CEST, then CET); Prefect runs 02:00 CEST at the first pass only and skips the "
        "repeated hour: no run from 02:00 to 03:00 CET"
    )
    assert warnings[1].endswith(
        "2027-03-28 02:00 does not exist; Prefect skips it (the clock jumps from 02:00 to 03:00)"
    )
    runs = prefect_runs_between(
        "0 * * * *",
        "Europe/Berlin",
        datetime(2026, 10, 24, 23, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 30, tzinfo=UTC),
    )
    assert [r.strftime("%H:%M %Z") for r in runs] == ["02:00 CEST", "03:00 CET"]
    assert _utc(runs[1]) - _utc(runs[0]) == timedelta(hours=2)


def test_it_stays_quiet_for_schedules_clear_of_the_change(example_dir):
    for cron in ("0 4 * * *", "30 1 * * *", "0 12 * * 1"):
        assert dst_warnings(_binder_with(example_dir, cron), NOW) == []
    assert dst_warnings(_binder_with(example_dir, "30 2 * * *", "UTC"), NOW) == []


def test_it_only_looks_a_year_ahead(example_dir):
    binder = _binder_with(example_dir, "30 2 * * *")
    warned_days = [w.split("— ")[1][:10] for w in dst_warnings(binder, NOW)]
    assert warned_days == ["2026-03-29", "2026-10-25"]


def test_it_keeps_previews_after_the_given_instant(example_dir):
    # Prefect's get_dates can hand back the shifted 01:30 CET run though its start was later
    after = datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    runs = prefect_next_runs("30 2 * * *", "Europe/Berlin", after, 3)
    assert all(r > after for r in runs) and len(runs) == 3


ODD_ZONES = [
    "Europe/Dublin",  # negative DST in the tz database
    "Africa/Casablanca",  # clocks change around Ramadan
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Santiago",
    "America/St_Johns",  # -03:30
    "Australia/Lord_Howe",  # 30-minute change
    "Europe/Berlin",
]


@pytest.mark.slow
@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    zone=st.sampled_from(ODD_ZONES),
    which=st.integers(0, 3),
    minute=st.sampled_from(["0", "15", "30", "45", "59", "*/15", "*/7", "0,30"]),
    hour=st.sampled_from(["*", "0", "1", "2", "3", "23", "0-3", "1,2", "*/2"]),
    dow=st.sampled_from(["*", "0", "1-5"]),
)
def test_it_agrees_with_prefect_for_any_cron_around_any_clock_change(
    zone, which, minute, hour, dow
):
    changes = clock_changes(zone, NOW, NOW + timedelta(days=800))
    change = changes[which % len(changes)]
    cron = f"{minute} {hour} * * {dow}"
    start, end = change.at - timedelta(days=2), change.at + timedelta(days=2)
    predicted = [_utc(d) for d in predicted_runs(cron, zone, start, end)]
    assert predicted == [_utc(d) for d in prefect_runs_between(cron, zone, start, end)]


def test_it_previews_from_inside_a_running_event_loop():
    """The web app and flows are async: the preview must not call asyncio.run on their loop."""
    import asyncio

    async def preview() -> list[datetime]:
        return prefect_next_runs(
            "30 2 * * *", "Europe/Berlin", datetime(2027, 3, 27, tzinfo=UTC), 2
        )

    runs = asyncio.run(preview())
    assert [r.strftime("%Y-%m-%d %H:%M %Z") for r in runs] == [
        "2027-03-27 02:30 CET",
        "2027-03-28 01:30 CET",
    ]


def test_it_does_not_lose_runs_when_the_range_ends_right_after_a_repeated_hour():
    # Prefect's get_dates(end=...) alone would stop at 02:00 CEST here
    runs = prefect_runs_between(
        "*/20 * * * *",
        "Europe/Berlin",
        datetime(2026, 10, 24, 23, 50, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
    )
    assert [r.strftime("%H:%M %Z") for r in runs] == ["02:00 CEST", "02:20 CEST", "02:40 CEST"]
