"""SLA clocks at exact instants: service-hour boundaries, weekends, holidays, DST changes and
waiting on the client (Europe/Berlin: clocks go forward 2026-03-29, back 2026-10-25)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from opsbinder.config.models import Contract
from opsbinder.incidents.sla import (
    CLOCKS,
    ServiceCalendar,
    SlaTerms,
    clock_state,
    deadline,
    elapsed,
    may_breach,
    may_warn,
)

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = ((8 * 60, 18 * 60),)
OFFICE_WEEK = (OFFICE,) * 5 + ((), ())
ALL_DAY = ((0, 24 * 60),)


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BERLIN)  # type: ignore[misc]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def office(*holidays: date) -> ServiceCalendar:
    return ServiceCalendar(BERLIN, OFFICE_WEEK, frozenset(holidays))


def test_it_starts_a_friday_evening_sev3_on_monday_at_eight():
    opened = local(2026, 11, 27, 18, 0)  # a Friday
    assert deadline(office(), opened, timedelta(hours=4)) == utc(2026, 11, 30, 11, 0)
    assert elapsed(office(), opened, local(2026, 11, 30, 8, 0)) == timedelta(0)
    assert elapsed(office(), opened, local(2026, 11, 30, 9, 30)) == timedelta(minutes=90)


@pytest.mark.parametrize(
    ("opened", "counted_by_monday_noon"),
    [
        (local(2026, 11, 27, 17, 59), timedelta(hours=4, minutes=1)),  # one Friday minute
        (local(2026, 11, 30, 7, 59), timedelta(hours=4)),  # before opening: from 08:00
        (local(2026, 11, 30, 8, 0), timedelta(hours=4)),
    ],
)
def test_it_counts_exactly_at_the_edges_of_service_hours(opened, counted_by_monday_noon):
    assert elapsed(office(), opened, local(2026, 11, 30, 12, 0)) == counted_by_monday_noon


def test_it_skips_holidays():
    opened = local(2026, 12, 23, 17, 0)  # Wednesday; 24th and 25th are holidays
    calendar = office(date(2026, 12, 24), date(2026, 12, 25))
    assert deadline(calendar, opened, timedelta(hours=4)) == local(2026, 12, 28, 11, 0)
    assert elapsed(calendar, opened, local(2026, 12, 27, 23, 0)) == timedelta(hours=1)
    assert deadline(office(), opened, timedelta(hours=4)) == local(2026, 12, 24, 11, 0)


def test_it_counts_23_hours_on_the_spring_forward_sunday():
    sundays = ServiceCalendar(BERLIN, ((),) * 6 + (ALL_DAY,))
    assert elapsed(sundays, local(2026, 3, 28, 12), local(2026, 3, 30, 12)) == timedelta(hours=23)
    assert deadline(sundays, local(2026, 3, 28, 12), timedelta(hours=23)) == utc(2026, 3, 29, 22)
    night = ServiceCalendar(BERLIN, ((),) * 6 + (((60, 4 * 60),),))  # 01:00-04:00 local
    assert elapsed(night, local(2026, 3, 29, 0), local(2026, 3, 30, 0)) == timedelta(hours=2)
    assert deadline(night, local(2026, 3, 29, 0), timedelta(hours=1)) == utc(2026, 3, 29, 1)


def test_it_counts_25_hours_on_the_fall_back_sunday():
    sundays = ServiceCalendar(BERLIN, ((),) * 6 + (ALL_DAY,))
    assert elapsed(sundays, local(2026, 10, 24, 12), local(2026, 10, 26, 12)) == timedelta(hours=25)
    assert deadline(sundays, local(2026, 10, 24), timedelta(hours=25)) == utc(2026, 10, 25, 23)
    night = ServiceCalendar(BERLIN, ((),) * 6 + (((60, 4 * 60),),))
    assert elapsed(night, local(2026, 10, 25, 0), local(2026, 10, 26, 0)) == timedelta(hours=4)
    # 02:00-03:00 happens twice: two hours from 01:00 CEST end at the second 02:00 (01:00 UTC)
    assert deadline(night, local(2026, 10, 25, 0), timedelta(hours=2)) == utc(2026, 10, 25, 1, 0)


def test_it_keeps_office_hours_local_across_a_dst_change():
    """Friday before and Monday after the spring change: 08:00 local is 07:00 then 06:00 UTC."""
    opened = local(2026, 3, 27, 17, 0)
    assert deadline(office(), opened, timedelta(hours=2)) == utc(2026, 3, 30, 7, 0)


def test_it_stands_still_while_waiting_on_the_client():
    opened = local(2026, 11, 30, 8, 0)
    waits = [(local(2026, 11, 30, 9), local(2026, 11, 30, 10)),
             (local(2026, 11, 30, 9, 30), local(2026, 11, 30, 10, 30))]  # fmt: skip
    assert deadline(office(), opened, timedelta(hours=4), waits) == local(2026, 11, 30, 13, 30)
    assert elapsed(office(), opened, local(2026, 11, 30, 12), waits) == timedelta(
        hours=2, minutes=30
    )
    # a wait that ends outside service hours gives back only service time
    evening = [(local(2026, 11, 30, 17), local(2026, 12, 1, 9))]
    assert deadline(office(), opened, timedelta(hours=10), evening) == local(2026, 12, 1, 10, 0)


def test_it_has_no_deadline_while_the_wait_is_open():
    opened = local(2026, 11, 30, 8, 0)
    waiting = [(local(2026, 11, 30, 9), None)]
    assert deadline(office(), opened, timedelta(hours=4), waiting) is None
    assert deadline(ServiceCalendar.always(), opened, timedelta(hours=4), waiting) is None
    assert deadline(office(), opened, timedelta(minutes=30), waiting) == local(2026, 11, 30, 8, 30)
    assert elapsed(office(), opened, local(2026, 12, 3, 9), waiting) == timedelta(hours=1)


def test_it_counts_every_minute_around_the_clock():
    opened = local(2026, 10, 24, 23, 0)
    assert deadline(ServiceCalendar.always(), opened, timedelta(hours=4)) == utc(2026, 10, 25, 1)
    assert elapsed(ServiceCalendar.always(), opened, opened) == timedelta(0)


def test_it_takes_the_calendar_a_severity_counts_in_from_the_contract():
    contract = Contract.model_validate(
        {
            "service_hours": {"weekly": {"mon-fri": "08:00-18:00"}, "holidays": ["2026-12-25"]},
            "targets": {
                "sev1": {"response": "15m", "resolution": "4h", "counted": "always"},
                "sev3": {"response": "4h", "resolution": "3d"},
            },
        }
    )
    assert ServiceCalendar.of(contract, "Europe/Berlin", "sev1").week is None
    sev3 = ServiceCalendar.of(contract, "Europe/Berlin", "sev3")
    assert sev3.week == OFFICE_WEEK and sev3.holidays == {date(2026, 12, 25)}
    assert ServiceCalendar.of(contract, "Europe/Berlin", "sev4").week == OFFICE_WEEK


def _grid_terms() -> list[SlaTerms]:
    """Calendars (24/7, office hours with a holiday, a Sunday across both DST changes), starts
    inside and outside service hours, waits closed and open, shares, stopped clocks."""
    calendars = [
        ServiceCalendar.always(),
        office(date(2026, 12, 24)),
        ServiceCalendar(BERLIN, ((),) * 6 + (ALL_DAY,)),
    ]
    starts = [local(2026, 3, 27, 17, 30), local(2026, 10, 24, 23, 0), local(2026, 12, 23, 9, 0)]
    terms = []
    for calendar in calendars:
        for start in starts:
            waits: list[tuple[tuple[datetime, datetime | None], ...]] = [
                (),
                ((start + timedelta(minutes=20), start + timedelta(hours=30)),),
                ((start + timedelta(hours=1), None),),
            ]
            for pauses in waits:
                for share in (0.5, 0.75, 1.0):
                    for ack in (None, start + timedelta(hours=3)):
                        terms.append(
                            SlaTerms(
                                calendar,
                                timedelta(minutes=30),
                                timedelta(hours=8),
                                start,
                                acknowledged_at=ack,
                                pauses=pauses,
                                share=share,
                            )
                        )
    return terms


def test_a_clock_said_quiet_without_computing_it_is_quiet_when_computed():
    """The minutely escalation computes a clock only when `may_breach` or `may_warn` says it
    could have something due; both rest on service time never running faster than the wall
    clock. Checked against the full computation at instants around every start."""
    checked = 0
    for terms in _grid_terms():
        for minutes in (0, 1, 14, 22, 23, 29, 30, 31, 45, 90, 179, 181, 360, 480, 481, 2000, 9000):
            now = terms.start + timedelta(minutes=minutes)
            for name in CLOCKS:
                state = clock_state(terms, name, now)
                warns = state.running and state.warn_at is not None and now >= state.warn_at
                assert state.breached <= may_breach(terms, name, now), (terms, name, now)
                assert warns <= may_warn(terms, name, now), (terms, name, now)
                checked += state.breached + warns
    assert checked > 100  # the grid reaches breaches and warnings, not only quiet clocks
