"""Binder input that must not hang or crash validate: each gets exit 2 and one exact line.

The installed console script runs in a subprocess bounded in time and memory (see
tests/support/console.py); before these checks an alias bomb took 97 s and 650 MB, 20,000
nested brackets and a holiday on 30 February ended in a traceback, and a cron for 30 February,
a leap-second time zone or an infinite plan guard were reported valid and failed later.
"""

from __future__ import annotations

import re
import uuid

import pytest

from tests.config.binders import Defect, broken_copy
from tests.support.console import opsbinder

BOMB = "lol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"lol{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 6)
)
NEVER = (
    "this cron never fires: no date matches it in 10 years (a day the month does not have, "
    "like 30 February?)"
)
NOT_A_PLACE = (
    "not a Region/City time zone; write the place's Region/City (e.g. Europe/Berlin) or UTC"
)
FINITE = "must be a finite number (not .inf or .nan)"
PURGE = "procedures[purge-tracking-events]"

HOSTILE = {
    "alias-bomb": Defect(
        "calendar.yaml", None, BOMB, "lol3[7][9][0][1]", None, "lol3:",
        "aliases (*name) expand to more than 10000 values; refused as a YAML alias bomb",
    ),
    "nested-brackets": Defect(
        "calendar.yaml", None, "deep: " + "[" * 20_000 + "]" * 20_000 + "\n", "deep[0][0][0]",
        None, "deep:", "values nested more than 40 levels deep; a binder needs about ten",
    ),
    "file-too-large": Defect(
        "notes.yaml", None, "# " + "x" * 2_000_000 + "\n", "", None, None,
        "the file is larger than 1024 KB; split the binder over several files",
    ),
    "cron-30-february": Defect(
        "procedures.yaml", '"30 6 * * *"', '"0 0 30 2 *"',
        "procedures[check-tms-backup].schedule.cron", "'0 0 30 2 *'", "0 0 30 2 *", NEVER,
    ),
    "cron-31-february": Defect(
        "procedures.yaml", '"0 5 2 * *"', '"0 5 31 2 *"',
        "procedures[export-customs-report].schedule.cron", "'0 5 31 2 *'", "0 5 31 2 *", NEVER,
    ),
    "leap-second-zone": Defect(
        "procedures.yaml", 'cron: "30 6 * * *", timezone: Europe/Berlin',
        'cron: "30 6 * * *", timezone: right/Europe/Berlin',
        "procedures[check-tms-backup].schedule.timezone", "'right/Europe/Berlin'",
        "right/Europe/Berlin", "the leap-second variant of a time zone; write Europe/Berlin instead",
    ),
    "posix-zone": Defect(
        "oncall.yaml", "timezone: Europe/Berlin", "timezone: posix/Europe/Berlin",
        "oncall_schedules[l1-weekly].timezone", "'posix/Europe/Berlin'", "posix/Europe/Berlin",
        "the POSIX variant of a time zone; write Europe/Berlin instead",
    ),
    "etc-offset-zone": Defect(
        "client.yaml", "timezone: Europe/Berlin", "timezone: Etc/GMT-1", "client.timezone",
        "'Etc/GMT-1'", "Etc/GMT-1", NOT_A_PLACE,
    ),
    "abbreviated-zone": Defect(
        "client.yaml", "timezone: Europe/Berlin", "timezone: CET", "client.timezone", "'CET'",
        "timezone: CET", NOT_A_PLACE,
    ),
    "old-alias-zone": Defect(
        "client.yaml", "timezone: Europe/Berlin", "timezone: US/Eastern", "client.timezone",
        "'US/Eastern'", "US/Eastern", "not a Region/City time zone; write America/New_York or UTC",
    ),
    "duration-overflow": Defect(
        "procedures.yaml", "grace: 45m", "grace: 99999999999999d", f"{PURGE}.grace",
        "'99999999999999d'", "grace: 9999", "must be at most 10 years",
    ),
    "iso-duration-overflow": Defect(
        "procedures.yaml", "grace: 45m", "grace: P99999999999D", f"{PURGE}.grace",
        "'P99999999999D'", "grace: P9999", "must be at most 10 years",
    ),
    "retention-overflow": Defect(
        "procedures.yaml", "retention_days: 90", "retention_days: 99999999999999",
        f"{PURGE}.params.retention_days", "99999999999999", "retention_days: 9999",
        "must be at most 36500",
    ),
    "archive-age-overflow": Defect(
        "procedures.yaml", "older_than_days: 730", "older_than_days: 1000000000",
        "procedures[archive-delivered-orders].params.older_than_days", "1000000000",
        "older_than_days: 1000000000", "must be at most 36500",
    ),
    "huge-number": Defect(
        "procedures.yaml", "batch_size: 5000,", "batch_size: " + "9" * 5000 + ",",
        f"{PURGE}.params.batch_size", "'" + "9" * 76 + "...", "batch_size: 9999",
        "a number with too many digits",
    ),
    "infinite-plan-guard": Defect(
        "procedures.yaml", "retention_days: 90,", "retention_days: 90, max_growth: .inf,",
        f"{PURGE}.params.max_growth", "inf", "max_growth: .inf", FINITE,
    ),
    "nan-tolerance": Defect(
        "procedures.yaml", "size_tolerance: 0.5", "size_tolerance: .nan",
        "procedures[check-tms-backup].params.size_tolerance", "nan", "size_tolerance: .nan",
        FINITE,
    ),
    "infinite-custom-argument": Defect(
        "procedures.yaml", "table: orders}", "table: orders, limit: .inf}",
        "procedures[export-customs-report].params.arguments.limit", "inf", "limit: .inf",
        "numbers must be finite (not .inf or .nan)",
    ),
    "rotation-in-year-9999": Defect(
        "oncall.yaml", "start: 2026-01-05", "start: 9999-01-04",
        "oncall_schedules[l1-weekly].layers[0].start", "'9999-01-04'", "start: 9999",
        "a date between 1970 and 2199 (got the year 9999)",
    ),
    "override-in-year-9999": Defect(
        "oncall.yaml", 'end: "2026-12-27T09:00:00+01:00"', 'end: "9999-12-27T09:00:00+01:00"',
        "oncall_schedules[l1-weekly].overrides[0].end", "'9999-12-27T09:00:00+01:00'",
        "9999-12-27", "a date between 1970 and 2199 (got the year 9999)",
    ),
    "holiday-on-30-february": Defect(
        "calendar.yaml", "date: 2026-12-25", "date: 2027-02-30", "holidays[0].date",
        "'2027-02-30'", "2027-02-30", "2027-02-30 is not a date: February 2027 has 28 days",
    ),
    "quoted-holiday-on-30-february": Defect(
        "calendar.yaml", "date: 2026-12-25", 'date: "2027-02-30"', "holidays[0].date",
        "'2027-02-30'", "2027-02-30", "2027-02-30 is not a date: February 2027 has 28 days",
    ),
    "control-character": Defect(
        "client.yaml", "name: Nordhafen Logistik GmbH", "name: Nordhafen\x07Logistik GmbH", "",
        None, "name: Nordhafen\x07",
        "not valid YAML: character #x0007 is not allowed (control characters are not allowed)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_it_refuses_hostile_input_with_exit_2_and_one_exact_line(name, example_dir, tmp_path):
    defect = HOSTILE[name]
    folder = broken_copy(example_dir, tmp_path, defect)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert ran.problems() == [defect.expected(folder)]
    assert "valid (" not in ran.out


def test_it_loads_a_folder_of_client_folders(example_dir, tmp_path):
    """As the README says: one folder per client, each split over files as the client likes."""
    root = tmp_path / "clients"
    broken_copy(example_dir, root / "a")
    (root / "a" / "binder").rename(root / "nordhafen")
    second = broken_copy(example_dir, root / "b")
    for path in second.glob("*.yaml"):
        text = path.read_text().replace("nordhafen", "suedhafen")
        path.write_text(re.sub(r"uuid: \S+", lambda m: f"uuid: {uuid.uuid4()}", text))
    second.rename(root / "suedhafen")
    for leftover in ("a", "b"):
        (root / leftover).rmdir()
    ran = opsbinder("validate", str(root))
    assert ran.code == 0, ran.output
    assert f"Binder {root}: valid (2 client(s))" in ran.out
    assert "nordhafen (Nordhafen Logistik GmbH, Europe/Berlin): 8 procedures" in ran.out
    assert "suedhafen (Nordhafen Logistik GmbH, Europe/Berlin): 8 procedures" in ran.out
