from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from opsbinder.config.models import OnCallSchedule, Override, Rotation
from opsbinder.oncall import ical, on_call, shifts


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _schedule(
    zone: str, *layers: Rotation, overrides: list[Override] | None = None
) -> OnCallSchedule:
    return OnCallSchedule(id="l1", timezone=zone, layers=list(layers), overrides=overrides or [])


WEEKLY = Rotation(
    members=["ann", "bob", "cem"], handoff_day="mon", handoff_time=time(9), start=date(2026, 1, 5)
)


@pytest.mark.parametrize(
    ("zone", "before_change", "after_change"),
    [
        # Berlin: spring forward 2026-03-29, fall back 2026-10-25 (Sundays); hand-off Monday 09:00
        ("Europe/Berlin", _utc(2026, 3, 23, 8), _utc(2026, 3, 30, 7)),
        ("Europe/Berlin", _utc(2026, 10, 19, 7), _utc(2026, 10, 26, 8)),
        # New York: spring forward 2026-03-08, fall back 2026-11-01
        ("America/New_York", _utc(2026, 3, 2, 14), _utc(2026, 3, 9, 13)),
        ("America/New_York", _utc(2026, 10, 26, 13), _utc(2026, 11, 2, 14)),
    ],
)
def test_it_hands_off_at_nine_local_on_both_sides_of_a_dst_change(
    zone: str, before_change: datetime, after_change: datetime
) -> None:
    schedule = _schedule(zone, WEEKLY)
    for handoff in (before_change, after_change):
        outgoing = on_call(schedule, handoff - timedelta(seconds=1))
        incoming = on_call(schedule, handoff)
        assert outgoing != incoming, handoff
        assert handoff.astimezone(__import__("zoneinfo").ZoneInfo(zone)).hour == 9
    # the week containing the change is an hour shorter (spring) or longer (autumn)
    week = shifts(schedule, before_change, after_change + timedelta(hours=1))
    assert week[0].start == before_change and week[0].end == after_change
    hours = (after_change - before_change) / timedelta(hours=1)
    assert hours in (167, 169)


def test_it_follows_the_members_in_order_weeks_apart() -> None:
    schedule = _schedule("Europe/Berlin", WEEKLY)
    assert on_call(schedule, _utc(2026, 1, 5, 8)) == "ann"  # 09:00 CET on the start date
    assert on_call(schedule, _utc(2026, 1, 5, 7, 59)) is None  # before the first hand-off
    assert on_call(schedule, _utc(2026, 1, 12, 8)) == "bob"
    assert on_call(schedule, _utc(2026, 1, 19, 8)) == "cem"
    assert on_call(schedule, _utc(2026, 1, 26, 8)) == "ann"


def test_it_moves_a_handoff_inside_the_skipped_hour_to_the_same_instant() -> None:
    daily = Rotation(
        members=["ann", "bob"], length="daily", handoff_time=time(2, 30), start=date(2026, 3, 1)
    )
    schedule = _schedule("Europe/Berlin", daily)
    # 02:30 does not exist on 2026-03-29: the hand-off is 01:30 UTC (03:30 CEST)
    assert on_call(schedule, _utc(2026, 3, 29, 1, 29)) != on_call(
        schedule, _utc(2026, 3, 29, 1, 30)
    )


@pytest.mark.parametrize(
    ("zone", "handoff", "second_pass"),
    [
        # 02:30 happens twice on 2026-10-25 in Berlin; the hand-off is the first one (00:30 UTC);
        # at 02:15 of the second pass (01:15 UTC) the new person stays on
        ("Europe/Berlin", _utc(2026, 10, 25, 0, 30), _utc(2026, 10, 25, 1, 15)),
        ("America/New_York", _utc(2026, 11, 1, 5, 30), _utc(2026, 11, 1, 6, 10)),
    ],
)
def test_it_does_not_hand_back_in_the_repeated_hour(
    zone: str, handoff: datetime, second_pass: datetime
) -> None:
    at = handoff.astimezone(__import__("zoneinfo").ZoneInfo(zone)).time()
    daily = Rotation(
        members=["ann", "bob"], length="daily", handoff_time=at, start=date(2026, 10, 1)
    )
    schedule = _schedule(zone, daily)
    before = on_call(schedule, handoff - timedelta(minutes=1))
    after = on_call(schedule, handoff)
    assert before != after
    assert on_call(schedule, second_pass) == after
    assert on_call(schedule, handoff + timedelta(hours=23)) == after


def test_it_lets_later_layers_win_where_they_are_active() -> None:
    nights = Rotation(
        members=["nina"],
        length="daily",
        start=date(2026, 1, 1),
        restrict_from=time(18),
        restrict_to=time(8),
    )
    schedule = _schedule("Europe/Berlin", WEEKLY, nights)
    assert on_call(schedule, _utc(2026, 3, 24, 12)) == "cem"  # 13:00 CET: primary layer
    assert on_call(schedule, _utc(2026, 3, 24, 20)) == "nina"  # 21:00 CET: night layer
    assert on_call(schedule, _utc(2026, 3, 25, 6, 59)) == "nina"  # 07:59 CET
    assert on_call(schedule, _utc(2026, 3, 25, 7)) == "cem"  # 08:00 CET


def test_it_reports_gaps_when_no_layer_covers_the_time() -> None:
    office = Rotation(
        members=["ann"],
        length="daily",
        start=date(2026, 1, 1),
        restrict_from=time(9),
        restrict_to=time(17),
    )
    schedule = _schedule("America/New_York", office)
    assert on_call(schedule, _utc(2026, 3, 9, 14)) == "ann"  # 10:00 EDT
    assert on_call(schedule, _utc(2026, 3, 9, 22)) is None  # 18:00 EDT
    day = shifts(schedule, _utc(2026, 3, 9, 4), _utc(2026, 3, 10, 4))
    assert [(s.contact, s.start, s.end) for s in day] == [
        (None, _utc(2026, 3, 9, 4), _utc(2026, 3, 9, 13)),
        ("ann", _utc(2026, 3, 9, 13), _utc(2026, 3, 9, 21)),
        (None, _utc(2026, 3, 9, 21), _utc(2026, 3, 10, 4)),
    ]


def test_it_applies_overrides_in_local_time() -> None:
    override = Override(
        contact="zoe", start=datetime(2026, 3, 28, 22), end=datetime(2026, 3, 29, 10)
    )
    schedule = _schedule("Europe/Berlin", WEEKLY, overrides=[override])
    assert on_call(schedule, _utc(2026, 3, 28, 20, 59)) == "cem"
    assert on_call(schedule, _utc(2026, 3, 28, 21)) == "zoe"  # 22:00 CET
    assert on_call(schedule, _utc(2026, 3, 29, 7, 59)) == "zoe"  # 09:59 CEST
    assert on_call(schedule, _utc(2026, 3, 29, 8)) == "cem"  # 10:00 CEST


def test_it_exports_shifts_as_icalendar() -> None:
    from icalendar import Calendar

    schedule = _schedule("Europe/Berlin", WEEKLY)
    data = ical(schedule, _utc(2026, 3, 23, 8), _utc(2026, 4, 6, 7), names={"cem": "Cem C."})
    cal = Calendar.from_ical(data)
    events = [c for c in cal.walk("VEVENT")]
    assert [str(e["summary"]) for e in events] == ["On call: Cem C.", "On call: ann"]
    assert events[0].decoded("dtstart") == _utc(2026, 3, 23, 8)
    assert events[0].decoded("dtend") == _utc(2026, 3, 30, 7)  # 09:00 CEST after the change
    mine = Calendar.from_ical(
        ical(schedule, _utc(2026, 3, 23, 8), _utc(2026, 4, 6, 7), contact="ann")
    )
    assert len(list(mine.walk("VEVENT"))) == 1


def test_it_keeps_event_ids_stable_between_exports() -> None:
    from icalendar import Calendar

    schedule = _schedule("Europe/Berlin", WEEKLY)

    def uids(start: datetime) -> list[str]:
        data = ical(schedule, start, _utc(2026, 4, 20, 7))
        return [str(e["uid"]) for e in Calendar.from_ical(data).walk("VEVENT")]

    monday, wednesday = uids(_utc(2026, 3, 23, 8)), uids(_utc(2026, 3, 25, 13, 17))
    assert len(monday) >= 4 and len(set(monday)) == len(monday)  # four shifts, one id each
    assert monday == wednesday
