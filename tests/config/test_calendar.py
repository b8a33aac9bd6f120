"""Maintenance windows and holidays: exact boundaries, the client's zone, DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from opsbinder.calendar import suppression, windows_between
from opsbinder.config.loader import load_binder
from opsbinder.config.models import ClientBinder, Holiday, MaintenanceWindow


@pytest.fixture
def nordhafen(example_dir) -> ClientBinder:
    return load_binder(example_dir).client("nordhafen")


def _with(binder: ClientBinder, windows=(), holidays=()) -> ClientBinder:
    return binder.model_copy(
        update={"maintenance_windows": list(windows), "holidays": list(holidays)}
    )


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_it_skips_a_named_procedure_inside_the_example_window(nordhafen):
    # window: 2027-01-16 22:00+01:00 .. 2027-01-17 06:00+01:00 = 21:00Z .. 05:00Z
    reason = suppression(nordhafen, "purge-tracking-events", _utc(2027, 1, 16, 21, 0))
    assert reason == "maintenance window 'TMS 2027 release upgrade'"
    assert suppression(nordhafen, "purge-tracking-events", _utc(2027, 1, 17, 4, 59)) is not None


def test_it_lets_runs_at_the_window_end_and_before_its_start_go_ahead(nordhafen):
    assert suppression(nordhafen, "purge-tracking-events", _utc(2027, 1, 17, 5, 0)) is None
    assert suppression(nordhafen, "purge-tracking-events", _utc(2027, 1, 16, 20, 59)) is None


def test_it_leaves_procedures_the_window_does_not_name_alone(nordhafen):
    other = next(
        p.id
        for p in nordhafen.procedures
        if p.id not in {"purge-tracking-events", "check-tms-backup"}
    )
    # control: at that instant the window does hold back a procedure it names
    assert suppression(nordhafen, "purge-tracking-events", _utc(2027, 1, 16, 23, 0)) is not None
    assert suppression(nordhafen, other, _utc(2027, 1, 16, 23, 0)) is None


def test_it_applies_a_window_without_a_procedure_list_to_every_procedure(nordhafen):
    binder = _with(
        nordhafen,
        windows=[
            MaintenanceWindow(
                name="datacenter move",
                start=datetime(2026, 6, 1, 8, 0),
                end=datetime(2026, 6, 1, 9, 0),
            )
        ],
    )
    for procedure in binder.procedures:
        assert suppression(binder, procedure.id, _utc(2026, 6, 1, 6, 30)) == (
            "maintenance window 'datacenter move'"
        )


def test_it_reads_naive_window_times_as_the_clients_wall_clock(nordhafen):
    # 08:00-09:00 naive in Europe/Berlin (CEST, +02:00) is 06:00-07:00 UTC, not 08:00-09:00 UTC
    binder = _with(
        nordhafen,
        windows=[
            MaintenanceWindow(
                name="w", start=datetime(2026, 6, 1, 8, 0), end=datetime(2026, 6, 1, 9, 0)
            )
        ],
    )
    assert suppression(binder, "x", _utc(2026, 6, 1, 5, 59)) is None
    assert suppression(binder, "x", _utc(2026, 6, 1, 6, 0)) is not None
    assert suppression(binder, "x", _utc(2026, 6, 1, 7, 0)) is None
    assert suppression(binder, "x", _utc(2026, 6, 1, 8, 30)) is None


def test_it_measures_a_naive_window_across_spring_forward_in_real_time(nordhafen):
    # 2027-03-28 in Berlin: 02:00 CET jumps to 03:00 CEST. 01:00-04:00 local is two real hours.
    binder = _with(
        nordhafen,
        windows=[
            MaintenanceWindow(
                name="w", start=datetime(2027, 3, 28, 1, 0), end=datetime(2027, 3, 28, 4, 0)
            )
        ],
    )
    assert suppression(binder, "x", _utc(2027, 3, 27, 23, 59)) is None
    assert suppression(binder, "x", _utc(2027, 3, 28, 0, 0)) is not None  # 01:00 CET
    assert suppression(binder, "x", _utc(2027, 3, 28, 1, 59)) is not None  # 03:59 CEST
    assert suppression(binder, "x", _utc(2027, 3, 28, 2, 0)) is None  # 04:00 CEST


def test_it_ends_a_naive_window_at_the_first_occurrence_of_a_repeated_time(nordhafen):
    # 2026-10-25 in Berlin: 03:00 CEST falls back to 02:00 CET; 02:30 happens twice.
    # A window "until 02:30" ends at the first 02:30 (CEST, 00:30 UTC).
    binder = _with(
        nordhafen,
        windows=[
            MaintenanceWindow(
                name="w", start=datetime(2026, 10, 25, 1, 0), end=datetime(2026, 10, 25, 2, 30)
            )
        ],
    )
    assert suppression(binder, "x", _utc(2026, 10, 25, 0, 15)) is not None  # 02:15 CEST
    assert suppression(binder, "x", _utc(2026, 10, 25, 0, 30)) is None  # 02:30 CEST
    assert suppression(binder, "x", _utc(2026, 10, 25, 1, 15)) is None  # 02:15 CET


def test_it_honours_an_explicit_offset_over_the_client_zone(nordhafen):
    binder = _with(
        nordhafen,
        windows=[
            MaintenanceWindow(
                name="w",
                start=datetime(2026, 6, 1, 8, 0, tzinfo=UTC),
                end=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
            )
        ],
    )
    assert suppression(binder, "x", _utc(2026, 6, 1, 8, 0)) is not None
    assert suppression(binder, "x", _utc(2026, 6, 1, 6, 0)) is None


def test_it_skips_the_holiday_by_the_clients_calendar_date(nordhafen):
    proc = "remind-patches-and-renewals"
    # 2026-12-24 23:30 UTC is already 00:30 on Christmas Day in Berlin
    assert suppression(nordhafen, proc, _utc(2026, 12, 24, 23, 30)) == (
        "holiday 2026-12-25 Christmas Day"
    )
    assert suppression(nordhafen, proc, _utc(2026, 12, 24, 22, 59)) is None
    assert suppression(nordhafen, proc, _utc(2026, 12, 25, 22, 59)) is not None
    assert suppression(nordhafen, proc, _utc(2026, 12, 25, 23, 0)) is None  # 26th, 00:00 CET


def test_it_applies_a_holiday_only_to_the_procedures_it_names(nordhafen):
    assert suppression(nordhafen, "purge-tracking-events", _utc(2026, 12, 25, 12, 0)) is None
    binder = _with(nordhafen, holidays=[Holiday(date=date(2026, 12, 25), name="Christmas Day")])
    assert suppression(binder, "purge-tracking-events", _utc(2026, 12, 25, 12, 0)) == (
        "holiday 2026-12-25 Christmas Day"
    )


def test_it_refuses_a_naive_instant(nordhafen):
    with pytest.raises(ValueError, match="timezone-aware"):
        suppression(nordhafen, "x", datetime(2027, 1, 16, 23, 0))


def test_it_lists_windows_overlapping_a_range_with_aware_bounds(nordhafen):
    binder = _with(
        nordhafen,
        windows=[
            *nordhafen.maintenance_windows,
            MaintenanceWindow(
                name="early", start=datetime(2027, 1, 10, 8, 0), end=datetime(2027, 1, 10, 9, 0)
            ),
        ],
    )
    found = windows_between(binder, _utc(2027, 1, 1), _utc(2027, 2, 1))
    assert [w.name for w in found] == ["early", "TMS 2027 release upgrade"]
    assert found[0].start == _utc(2027, 1, 10, 7, 0)
    assert found[0].end == _utc(2027, 1, 10, 8, 0)
    assert found[1].start == _utc(2027, 1, 16, 21, 0)


def test_it_counts_partial_overlaps_but_not_touching_ranges(nordhafen):
    # the example window is 2027-01-16 21:00Z .. 2027-01-17 05:00Z
    assert windows_between(nordhafen, _utc(2027, 1, 17, 4, 0), _utc(2027, 1, 18)) != []
    assert windows_between(nordhafen, _utc(2027, 1, 16), _utc(2027, 1, 16, 21, 1)) != []
    assert windows_between(nordhafen, _utc(2027, 1, 17, 5, 0), _utc(2027, 1, 18)) == []
    assert windows_between(nordhafen, _utc(2027, 1, 16), _utc(2027, 1, 16, 21, 0)) == []
