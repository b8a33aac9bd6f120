"""The one reading of a typed local time: DST gaps and repeats decided once, for every door."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsbinder.errors import BadInput
from opsbinder.local_time import parse_local


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_reads_a_plain_local_time_in_the_zone() -> None:
    typed = parse_local("2026-07-01 12:00", "America/New_York")
    assert typed.instant == _utc(2026, 7, 1, 16) and typed.note is None
    assert parse_local("2026-07-01", "Europe/Berlin").instant == _utc(2026, 6, 30, 22)


def test_it_reads_a_time_skipped_by_spring_forward_at_the_old_offset_and_says_so() -> None:
    typed = parse_local("2026-03-29 02:30", "Europe/Berlin")
    assert typed.instant == _utc(2026, 3, 29, 1, 30)
    assert typed.note is not None and "does not exist in Europe/Berlin" in typed.note
    assert "03:30 CEST" in typed.note
    # the fold does not change a gap: there is only one reading
    assert parse_local("2026-03-29 02:30", "Europe/Berlin", fold="later") == typed


def test_it_reads_a_repeated_time_as_the_earlier_one_unless_told_later() -> None:
    earlier = parse_local("2026-10-25 02:30", "Europe/Berlin")
    assert earlier.instant == _utc(2026, 10, 25, 0, 30)
    assert earlier.note is not None and "occurs twice" in earlier.note
    assert "01:30 UTC" in earlier.note  # names the other one
    later = parse_local("2026-10-25 02:30", "Europe/Berlin", fold="later")
    assert later.instant == _utc(2026, 10, 25, 1, 30)
    ny = parse_local("2026-11-01 01:30", "America/New_York", fold="later")
    assert ny.instant == _utc(2026, 11, 1, 6, 30)


def test_it_takes_a_time_with_an_offset_as_that_instant_whatever_the_zone() -> None:
    typed = parse_local("2026-03-29T02:30+01:00", "Europe/Berlin")
    assert typed.instant == _utc(2026, 3, 29, 1, 30) and typed.note is None
    assert parse_local("2026-10-25T02:30+02:00", "Asia/Tokyo").instant == _utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize("text", ["someday", "", "2026-13-01 10:00", "25.10.2026 02:30"])
def test_it_refuses_what_is_not_a_time_naming_the_field(text: str) -> None:
    with pytest.raises(BadInput) as refused:
        parse_local(text, "Europe/Berlin", field="--next-update")
    assert str(refused.value).startswith("--next-update: ")
    assert "YYYY-MM-DD HH:MM" in str(refused.value) and refused.value.exit_code == 2


def test_it_refuses_an_unknown_fold() -> None:
    with pytest.raises(BadInput, match="fold 'sideways'"):
        parse_local("2026-10-25 02:30", "Europe/Berlin", fold="sideways")
