"""Schedules in plain words, next to their cron and zone; durations as people say them."""

from __future__ import annotations

from datetime import timedelta

from opsbinder.handover.words import duration_in_words, schedule_in_words, short_duration


def test_it_says_a_schedule_in_words_with_its_time_zone() -> None:
    assert schedule_in_words("15 1 * * *", "Europe/Berlin") == (
        "At 01:15, every day, Europe/Berlin time"
    )
    assert schedule_in_words("0 3 * * 0", "America/New_York") == (
        "At 03:00, only on Sunday, America/New_York time"
    )
    assert schedule_in_words("0 */4 * * *", "UTC").startswith("Every 4 hours")


def test_it_says_durations_in_words_and_in_the_binders_short_form() -> None:
    assert duration_in_words(timedelta(minutes=45)) == "45 minutes"
    assert duration_in_words(timedelta(hours=26)) == "26 hours"
    assert duration_in_words(timedelta(days=1)) == "1 day"
    assert duration_in_words(None) == "—"
    assert short_duration(timedelta(hours=26)) == "26h"
    assert short_duration(timedelta(days=14)) == "2w"
    assert short_duration(timedelta(seconds=90)) == "90s"
