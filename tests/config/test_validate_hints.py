"""`opsbinder validate` as a tool people trust: every problem in one run, hints that help,
and the checks that were missing (entrypoints, client-side people, dates that never occur).

User-facing cases run the installed console script; each expected line is word for word.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from opsbinder.config.models import DURATION_FORMS, parse_duration
from tests.config.binders import Defect, broken_copy
from tests.support.console import opsbinder

PROCEDURE_FIELDS = (
    "id, name, system, schedule, on_demand, cadence, owner, support_level, runbook, severity, "
    "escalation_policy, grace, late_expiry, timeout, retries, auto_resolve, paused, tags, kind, "
    "params"
)
FORMS = '"45m", "45 minutes", "2h", "2 hours", "1d 2h", "1h30m", "1 week" or ISO 8601 ("PT45M")'
PURGE = "procedures[purge-tracking-events]"
CUSTOM = "procedures[export-customs-report].params.entrypoint"

HINTS = {
    "field-in-the-wrong-section": [Defect(
        "procedures.yaml", "    grace: 45m\n", '    grace: 45m\n    cron: "0 3 * * *"\n',
        f"{PURGE}.cron", "'0 3 * * *'", 'cron: "0 3',
        f"unknown field 'cron'; it belongs under 'schedule' (allowed here: {PROCEDURE_FIELDS})",
    )],
    "unknown-field-with-no-near-name": [Defect(
        "client.yaml", "role: L1 engineer, email: lena", "role: L1 engineer, colour: blue, email: lena",
        "contacts[lena-fischer].colour", "'blue'", "colour: blue",
        "unknown field 'colour' (allowed here: id, name, role, email, phone, chat, webhook, "
        "support_level, staff)",
    )],
    "duration-without-unit": [Defect(
        "procedures.yaml", "grace: 45m", "grace: 45", f"{PURGE}.grace", "45", "grace: 45",
        f"not a duration; write it with a unit: {FORMS}",
    )],
    "duration-in-months": [Defect(
        "procedures.yaml", "grace: 45m", "grace: 2 months", f"{PURGE}.grace", "'2 months'",
        "grace: 2 months", f"unknown unit 'months' in a duration; write {FORMS}",
    )],
    "id-with-no-near-id": [Defect(
        "procedures.yaml", "owner: claudia-roth", "owner: nobody",
        "procedures[lockdown-checklist].owner", "'nobody'", "owner: nobody",
        "no contact with this id (known: ayse-demir, claudia-roth, dirk-hansen, jonas-weber, "
        "lena-fischer, mark-olsen, priya-nair, sabine-kurz, ...)",
    )],
    "colon-inside-a-flow-mapping": [Defect(
        "procedures.yaml", 'schedule: {cron: "30 6 * * *", timezone: Europe/Berlin}',
        'schedule: {cron: "30 6 * * *", timezone: Europe/Berlin, note: read: this}', "", None,
        "note: read", "not valid YAML: ':' at column 71 inside the '{...}' that starts at column "
        "15 (a value with ': ' in it must be quoted)",
    )],
    "comma-missing-in-a-flow-mapping": [Defect(
        "procedures.yaml", 'schedule: {cron: "30 6 * * *", timezone: Europe/Berlin}',
        'schedule: {cron: "30 6 * * *" timezone: Europe/Berlin}', "", None, '"30 6 * * *" time',
        "not valid YAML: 't' at column 35 inside the '{...}' that starts at column 15 (a ',' "
        "missing?)",
    )],
    "entrypoint-module-missing": [Defect(
        "procedures.yaml", "opsbinder.procedures.examples:count_rows", "acme_reports.customs:export",
        CUSTOM, "'acme_reports.customs:export'", "acme_reports",
        "no module named 'acme_reports' on this machine's Python path (sys.path and the current "
        "folder)",
    )],
    "entrypoint-function-missing": [Defect(
        "procedures.yaml", "examples:count_rows", "examples:count_rowz", CUSTOM,
        "'opsbinder.procedures.examples:count_rowz'", "count_rowz",
        "module opsbinder.procedures.examples ({examples}) has no function 'count_rowz'",
    )],
    "client-side-owner": [Defect(
        "procedures.yaml", "owner: claudia-roth", "owner: dirk-hansen",
        "procedures[lockdown-checklist].owner", "'dirk-hansen'", "owner: dirk-hansen",
        "the owner is a client-side contact (staff: false); name MSP staff",
    )],
    "client-side-people-on-call": [
        Defect(
            "oncall.yaml", "members: [lena-fischer, tom-berger,", "members: [lena-fischer, sabine-kurz,",
            "oncall_schedules[l1-weekly].layers[0].members[1]", "'sabine-kurz'", "sabine-kurz",
            "a client-side contact (staff: false) cannot be on call for the MSP",
        ),
        Defect(
            "oncall.yaml", "{contact: lena-fischer, start", "{contact: dirk-hansen, start",
            "oncall_schedules[l1-weekly].overrides[0].contact", "'dirk-hansen'", "dirk-hansen",
            "a client-side contact (staff: false) cannot be on call for the MSP",
        ),
    ],
    # an item with problems of its own still defines its id: no second, false problem
    "broken-policy-is-still-defined": [Defect(
        "escalation.yaml", "ack_timeout: 15m", "ack_timeout: soon",
        "escalation_policies[standard].levels[0].ack_timeout", "'soon'", "ack_timeout: soon",
        f"not a duration; write {FORMS}",
    )],
    "broken-procedure-named-by-a-holiday": [Defect(
        "procedures.yaml", "    kind: update_reminder\n", "    kind: update_reminder\n    grase: 1h\n",
        "procedures[remind-patches-and-renewals].grase", "'1h'", "grase: 1h",
        f"unknown field 'grase'; did you mean 'grace'? (allowed here: {PROCEDURE_FIELDS})",
    )],
    # an unreadable file: the others are still checked, and nothing is "missing" because of it
    "unreadable-file-and-a-field-error": [
        Defect(
            "escalation.yaml", "    levels:\n", "    levels: [\n", "", None, "levels: [",
            "not valid YAML: the '[' at column 13 is never closed: ']' expected before line 5",
        ),
        Defect(
            "procedures.yaml", "retention_days: 90", "retention_days: 0",
            f"{PURGE}.params.retention_days", "0", "retention_days: 0", "must be at least 1",
        ),
    ],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(HINTS))
def test_it_reports_exactly_these_lines(name, example_dir, tmp_path):
    defects = HINTS[name]
    folder = broken_copy(example_dir, tmp_path, *defects)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    examples = Path(__file__).resolve().parents[2] / "opsbinder" / "procedures" / "examples.py"
    expected = [d.expected(folder).replace("{examples}", str(examples)) for d in defects]
    assert ran.problems() == expected


def test_it_accepts_the_common_ways_to_write_a_duration(example_dir, tmp_path):
    forms = Defect("procedures.yaml", "grace: 45m", "grace: 45 minutes", "", None, None, "")
    more = [
        Defect("procedures.yaml", "late_expiry: 6h", "late_expiry: 1d 2h", "", None, None, ""),
        Defect("procedures.yaml", "grace: 2h", "grace: PT2H", "", None, None, ""),
        Defect("escalation.yaml", "ack_timeout: 15m", "ack_timeout: 1h30m", "", None, None, ""),
        Defect("escalation.yaml", "ack_timeout: 30m", "ack_timeout: 2 hours", "", None, None, ""),
    ]
    folder = broken_copy(example_dir, tmp_path, forms, *more)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 0, ran.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45 minutes", timedelta(minutes=45)),
        ("45m", timedelta(minutes=45)),
        ("2 hours", timedelta(hours=2)),
        ("1d 2h", timedelta(days=1, hours=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1 day, 6 hours and 30 minutes", timedelta(days=1, hours=6, minutes=30)),
        ("1 week", timedelta(weeks=1)),
        ("90s", timedelta(seconds=90)),
        ("PT45M", timedelta(minutes=45)),
        ("P1DT2H", timedelta(days=1, hours=2)),
    ],
)
def test_it_reads_each_duration_form(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (45, f"not a duration; write it with a unit: {DURATION_FORMS}"),
        ("01:30:00", f"not a duration; write {DURATION_FORMS}"),
        ("0m", "must be longer than zero"),
        ("-PT5M", "must be longer than zero"),
        ("3654d", "must be at most 10 years"),
        ("1 fortnight", f"unknown unit 'fortnight' in a duration; write {DURATION_FORMS}"),
    ],
)
def test_it_refuses_what_is_not_a_duration_naming_the_forms(value, message):
    with pytest.raises(ValueError) as caught:
        parse_duration(value)
    assert str(caught.value) == message
