"""`opsbinder validate` on broken binders: exit 2, and every problem names file, line, field, value.

Each case is a copy of config/example with one defect, so a passing case proves the check
catches exactly that defect (the untouched example validates: see the last tests).
"""

from __future__ import annotations

import re
import shutil
import sys

import pytest

from opsbinder.cli.main import main
from tests.config.binders import Defect, broken_copy, problem_lines
from tests.support.console import opsbinder

DEFECTS = {
    "bad-yaml-syntax": Defect(
        "procedures.yaml",
        'schedule: {cron: "30 6 * * *", timezone: Europe/Berlin}',
        'schedule: {cron: "30 6 * * *", timezone: Europe/Berlin',
        "",
        None,
        'schedule: {cron: "30 6 * * *", timezone: Europe/Berlin\n',
        "not valid YAML: the '{' at column 15 is never closed: '}' expected before line 47",
    ),
    "unknown-kind": Defect(
        "procedures.yaml",
        "kind: backup_check",
        "kind: backup_chek",
        "procedures[check-tms-backup].kind",
        "'backup_chek'",
        "kind: backup_chek",
        "unknown kind; expected one of purge, archive, backup_check, disk_check, update_reminder, manual, custom",
    ),
    "missing-kind": Defect(
        "procedures.yaml",
        "    kind: purge\n",
        "",
        "procedures[purge-tracking-events].kind",
        None,
        "  - id: purge-tracking-events",
        "required field is missing; one of purge, archive, backup_check, disk_check, update_reminder, manual, custom",
    ),
    "unknown-system-type": Defect(
        "systems.yaml",
        "type: filesystem",
        "type: filesystm",
        "systems[app-server-disk].type",
        "'filesystm'",
        "type: filesystm",
        "unknown type; expected one of database, filesystem, backup_location, software_inventory",
    ),
    "id-not-a-slug": Defect(
        "systems.yaml",
        "id: tms-backups",
        "id: TMS Backups",
        "systems[TMS Backups].id",
        "'TMS Backups'",
        "id: TMS Backups",
        "an id is lower-case letters, digits, '-' and '_' (up to 63, e.g. tms-db)",
    ),
    "env-name-not-a-variable": Defect(
        "systems.yaml",
        "url_env: NORDHAFEN_TMS_DB_URL",
        "url_env: postgres://tms@db/tms",
        "systems[tms-db].url_env",
        "'postgres://tms@db/tms'",
        "url_env: postgres",
        "the name of an environment variable: upper-case letters, digits and '_'",
    ),
    "unknown-field-typo": Defect(
        "procedures.yaml",
        "    grace: 45m\n",
        "    grase: 45m\n",
        "procedures[purge-tracking-events].grase",
        "'45m'",
        "grase: 45m",
        "unknown field 'grase'; did you mean 'grace'? (allowed here: id, name, system, schedule, on_demand, cadence, owner, support_level, runbook, severity, escalation_policy, grace, late_expiry, timeout, retries, auto_resolve, paused, tags, kind, params)",
    ),
    "missing-policy": Defect(
        "procedures.yaml",
        "escalation_policy: standard\n    grace: 45m",
        "escalation_policy: standrd\n    grace: 45m",
        "procedures[purge-tracking-events].escalation_policy",
        "'standrd'",
        "escalation_policy: standrd",
        "no escalation policy with this id; did you mean 'standard'?",
    ),
    "missing-contact": Defect(
        "escalation.yaml",
        "{contact: mark-olsen}",
        "{contact: mark-olson}",
        "escalation_policies[standard].levels[1].targets[0].contact",
        "'mark-olson'",
        "mark-olson",
        "no contact with this id; did you mean 'mark-olsen'?",
    ),
    "missing-system": Defect(
        "procedures.yaml",
        "system: tms-backups",
        "system: tms-backup",
        "procedures[check-tms-backup].system",
        "'tms-backup'",
        "system: tms-backup\n",
        "no system with this id; did you mean 'tms-backups' or 'tms-db'?",
    ),
    "missing-oncall": Defect(
        "escalation.yaml",
        "{oncall: l1-weekly}",
        "{oncall: l1-weakly}",
        "escalation_policies[standard].levels[0].targets[0].oncall",
        "'l1-weakly'",
        "l1-weakly",
        "no on-call schedule with this id; did you mean 'l1-weekly'?",
    ),
    "missing-webhook": Defect(
        "escalation.yaml",
        "{webhook: ops-pager}",
        "{webhook: ops-pagr}",
        "escalation_policies[standard].levels[0].targets[1].webhook",
        "'ops-pagr'",
        "ops-pagr",
        "no webhook channel with this id; did you mean 'ops-pager'?",
    ),
    "system-of-wrong-type": Defect(
        "procedures.yaml",
        "system: tms-backups",
        "system: tms-db",
        "procedures[check-tms-backup].system",
        "'tms-db'",
        'system: tms-db\n    schedule: {cron: "30 6',
        "a backup_check procedure acts on a backup_location system, not a database",
    ),
    "bad-cron": Defect(
        "procedures.yaml",
        '"30 6 * * *"',
        '"30 25 * * *"',
        "procedures[check-tms-backup].schedule.cron",
        "'30 25 * * *'",
        "30 25 * * *",
        "not a valid cron expression: '30 25 * * *' (five fields: m h dom mon dow)",
    ),
    "bad-timezone": Defect(
        "procedures.yaml",
        'cron: "30 6 * * *", timezone: Europe/Berlin',
        'cron: "30 6 * * *", timezone: Europe/Berln',
        "procedures[check-tms-backup].schedule.timezone",
        "'Europe/Berln'",
        "Europe/Berln",
        "unknown IANA time zone; did you mean Europe/Berlin?",
    ),
    "negative-retention": Defect(
        "procedures.yaml",
        "retention_days: 90",
        "retention_days: -5",
        "procedures[purge-tracking-events].params.retention_days",
        "-5",
        "retention_days: -5",
        "must be at least 1",
    ),
    "zero-retention": Defect(
        "procedures.yaml",
        "retention_days: 90",
        "retention_days: 0",
        "procedures[purge-tracking-events].params.retention_days",
        "0",
        "retention_days: 0",
        "must be at least 1",
    ),
    "retention-without-unit": Defect(
        "procedures.yaml",
        "retention_days: 90",
        "retention: 10 yrs",
        "procedures[purge-tracking-events].params.retention",
        "'10 yrs'",
        "retention: 10 yrs",
        'not a retention; write "90 days", "18 months", "10 years" or "10 years from the end of the year"',
    ),
    "retention-as-a-bare-number": Defect(
        "procedures.yaml",
        "retention_days: 90",
        "retention: 90",
        "procedures[purge-tracking-events].params.retention",
        "90",
        "retention: 90",
        'write a retention with its unit: "90 days", "18 months", "10 years" or "10 years from the end of the year"',
    ),
    "retention-given-twice": Defect(
        "procedures.yaml",
        "older_than_days: 730",
        "older_than_days: 730, older_than: 2 years",
        "procedures[archive-delivered-orders].params.older_than",
        "'2 years'",
        "older_than_days: 730",
        "give older_than or older_than_days, not both",
    ),
    "archive-key-names-a-column-twice": Defect(
        "procedures.yaml",
        "key_column: id,",
        "key_column: [id, id],",
        "procedures[archive-delivered-orders].params.key_column",
        "['id', 'id']",
        "key_column: [id, id]",
        "names 'id' twice; each column once",
    ),
    "archive-key-names-no-column": Defect(
        "procedures.yaml",
        "key_column: id,",
        "key_column: [],",
        "procedures[archive-delivered-orders].params.key_column",
        "[]",
        "key_column: []",
        "names no column; give a unique column or a list of columns unique together, e.g. [receipt_id, sold_at]",
    ),
    "whole-partitions-to-a-table": Defect(
        "procedures.yaml",
        "key_column: id,",
        "key_column: id, partitions: whole, destination_type: table,",
        "procedures[archive-delivered-orders].params.partitions",
        "'whole'",
        "partitions: whole",
        "whole partitions are archived to files; use destination_type: file, or partitions: rows",
    ),
    "retention-missing": Defect(
        "procedures.yaml",
        "retention_days: 90, ",
        "",
        "procedures[purge-tracking-events].params.retention",
        None,
        "params: {table: tracking_events, age_column",
        'missing: how long rows are kept, e.g. "90 days" or "10 years from the end of the year"',
    ),
    "schedule-missing": Defect(
        "procedures.yaml",
        '    schedule: {cron: "0 */4 * * *", timezone: Europe/Berlin}\n',
        "",
        "procedures[check-disk-space].schedule",
        None,
        "  - id: check-disk-space",
        "missing: a schedule (cron and timezone), or on_demand: true for a procedure run by hand",
    ),
    "on-demand-with-a-schedule": Defect(
        "procedures.yaml",
        '    schedule: {cron: "30 6 * * *", timezone: Europe/Berlin}\n',
        '    schedule: {cron: "30 6 * * *", timezone: Europe/Berlin}\n    on_demand: true\n',
        "procedures[check-tms-backup].on_demand",
        "True",
        "on_demand: true",
        "an on-demand procedure has no schedule; remove one of them",
    ),
    "on-demand-in-a-bundle": Defect(
        "procedures.yaml",
        '    schedule: {cron: "0 */4 * * *", timezone: Europe/Berlin}\n',
        "    on_demand: true\n",
        "procedures[check-disk-space].cadence",
        "'daily'",
        "cadence: daily",
        "an on-demand procedure belongs to no cadence bundle",
    ),
    "recurring-window-without-duration": Defect(
        "calendar.yaml",
        "maintenance_windows:\n",
        'maintenance_windows:\n  - {name: Sunday patching, rrule: "FREQ=WEEKLY;BYDAY=SU", start: "2027-01-03T22:00:00"}\n',
        "maintenance_windows[0].duration",
        None,
        "  - {name: Sunday patching",
        "missing: how long each window lasts, e.g. 6h",
    ),
    "holiday-with-date-and-rrule": Defect(
        "calendar.yaml",
        "{date: 2026-12-25, name: Christmas Day,",
        "{date: 2026-12-25, rrule: FREQ=YEARLY, name: Christmas Day,",
        "holidays[0].date",
        "'2026-12-25'",
        "{date: 2026-12-25, rrule",
        "a holiday has a date or an rrule (one of them)",
    ),
    "holiday-rrule-never-occurs": Defect(
        "calendar.yaml",
        "{date: 2026-12-25, name: Christmas Day,",
        '{rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", name: Christmas Day,',
        "holidays[0].rrule",
        "'FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30'",
        '{rrule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"',
        "this rule never occurs: no month has that day",
    ),
    "unknown-oncall-layer": Defect(
        "escalation.yaml",
        "targets: [{oncall: l1-weekly}, {webhook: ops-pager}]",
        "targets: [{oncall: l1-weekly, layer: secondry}, {webhook: ops-pager}]",
        "escalation_policies[standard].levels[0].targets[0].layer",
        "'secondry'",
        "layer: secondry",
        "on-call schedule l1-weekly has no layer 'secondry' (its layers: primary)",
    ),
    "ack-timeout-per-severity-without-default": Defect(
        "escalation.yaml",
        "ack_timeout: 15m",
        "ack_timeout: {sev1: 5m, sev2: 10min}",
        "escalation_policies[standard].levels[0].ack_timeout.default",
        None,
        "ack_timeout: {sev1: 5m",
        "missing: a default for sev3, sev4",
    ),
    "restore-drill-into-production": Defect(
        "procedures.yaml",
        "params: {max_age: 26h, size_tolerance: 0.5}",
        "params: {max_age: 26h, size_tolerance: 0.5, restore_drill: true, restore_to: tms-db}",
        "procedures[check-tms-backup].params.restore_to",
        "'tms-db'",
        "params: {max_age: 26h, size_tolerance: 0.5, restore_drill",
        "a drill replaces the contents of tms-db, which archive-delivered-orders works on: name a scratch copy",
    ),
    "restore-drill-into-a-folder": Defect(
        "procedures.yaml",
        "params: {max_age: 26h, size_tolerance: 0.5}",
        "params: {max_age: 26h, size_tolerance: 0.5, restore_drill: true, restore_to: tms-backups}",
        "procedures[check-tms-backup].params.restore_to",
        "'tms-backups'",
        "params: {max_age: 26h, size_tolerance: 0.5, restore_drill",
        "a drill restores into a database system, not a backup_location",
    ),
    "restore-drill-nowhere": Defect(
        "procedures.yaml",
        "params: {max_age: 26h, size_tolerance: 0.5}",
        "params: {max_age: 26h, size_tolerance: 0.5, restore_drill: true}",
        "procedures[check-tms-backup].params.restore_to",
        None,
        "params: {max_age: 26h, size_tolerance: 0.5, restore_drill",
        "missing: where the drill restores to (a database system of the binder, a scratch copy)",
    ),
    "purge-without-age-column": Defect(
        "procedures.yaml",
        "age_column: recorded_at, ",
        "",
        "procedures[purge-tracking-events].params.age_column",
        None,
        "params: {table: tracking_events, retention_days",
        "required field is missing",
    ),
    "duplicate-id": Defect(
        "procedures.yaml",
        "id: check-disk-space",
        "id: check-tms-backup",
        "procedures[check-tms-backup].id",
        "'check-tms-backup'",
        "id: check-tms-backup\n    name: Watch disk space",
        "duplicate id in procedures",
    ),
    "password-in-plain-text": Defect(
        "systems.yaml",
        "    url_env: NORDHAFEN_TMS_DB_URL",
        "    url_env: NORDHAFEN_TMS_DB_URL\n    password: hunter2",
        "systems[tms-db].password",
        "<hidden>",
        "password: hunter2",
        "a secret in plain text; put it in an environment variable and name that variable in the matching *_env field (url_env, secret_env)",
    ),
    "url-with-password": Defect(
        "systems.yaml",
        "    path: ${NORDHAFEN_DATA_DIR}",
        "    path: postgresql://tms:hunter2@db.example/tms",
        "systems[app-server-disk].path",
        "<hidden>",
        "hunter2@",
        "a URL with a password in it; put the URL in an environment variable and name that variable instead (e.g. url_env: TMS_DB_URL)",
    ),
    "warn-not-below-critical": Defect(
        "procedures.yaml",
        "warn_percent: 80, critical_percent: 90",
        "warn_percent: 95, critical_percent: 90",
        "procedures[check-disk-space].params.warn_percent",
        "95",
        "warn_percent: 95",
        "must be below critical_percent (90)",
    ),
    "override-ends-before-start": Defect(
        "oncall.yaml",
        'end: "2026-12-27T09:00:00+01:00"',
        'end: "2026-12-23T09:00:00+01:00"',
        "oncall_schedules[l1-weekly].overrides[0].end",
        "'2026-12-23T09:00:00+01:00'",
        "2026-12-23T09",
        "the override ends before it starts (2026-12-24T09:00:00+01:00)",
    ),
    "window-ends-before-start": Defect(
        "calendar.yaml",
        'end: "2027-01-17T06:00:00+01:00"',
        'end: "2027-01-16T06:00:00+01:00"',
        "maintenance_windows[0].end",
        "'2027-01-16T06:00:00+01:00'",
        "2027-01-16T06",
        "the window ends before it starts (2027-01-16T22:00:00+01:00)",
    ),
    "holiday-names-unknown-procedure": Defect(
        "calendar.yaml",
        "{date: 2026-12-25, name: Christmas Day, procedures: [remind-patches-and-renewals]}",
        "{date: 2026-12-25, name: Christmas Day, procedures: [remind-patches]}",
        "holidays[0].procedures[0]",
        "'remind-patches'",
        "remind-patches]",
        "no procedure with this id; did you mean 'remind-patches-and-renewals'?",
    ),
    "window-names-unknown-component": Defect(
        "calendar.yaml",
        "    procedures: [purge-tracking-events, check-tms-backup]\n",
        "    procedures: [purge-tracking-events, check-tms-backup]\n    components: [tms, tmss]\n",
        "maintenance_windows[0].components[1]",
        "'tmss'",
        "components: [tms, tmss]",
        "no component with this id; did you mean 'tms'?",
    ),
    "duplicate-key-in-one-mapping": Defect(
        "procedures.yaml",
        "    owner: lena-fischer\n    support_level: L1\n    severity: sev3",
        "    owner: lena-fischer\n    owner: tom-berger\n    support_level: L1\n    severity: sev3",
        "procedures[0].owner",
        "'tom-berger'",
        "owner: tom-berger",
        "key given twice in one mapping (YAML would silently keep the last)",
    ),
    "section-not-a-list": Defect(
        "calendar.yaml",
        "holidays:\n  - {date: 2026-12-25, name: Christmas Day, procedures: [remind-patches-and-renewals]}\n  - {date: 2027-01-01, name: New Year's Day, procedures: [remind-patches-and-renewals]}",
        "holidays: {date: 2026-12-25}",
        "holidays",
        "{'date': datetime.date(2026, 12, 25)}",
        "holidays:",
        "must be a list",
    ),
    "unknown-section": Defect(
        "calendar.yaml",
        "holidays:",
        "holidayz:",
        "holidayz",
        None,
        "holidayz:",
        "unknown section; expected one of client, components, contacts, contract, escalation_policies, events, heartbeats, holidays, maintenance_windows, oncall_schedules, procedures, stakeholders, systems, transition, webhooks",
    ),
    "naive-window-time-in-dst-gap": Defect(
        "calendar.yaml",
        'start: "2027-01-16T22:00:00+01:00"\n    end: "2027-01-17T06:00:00+01:00"',
        'start: "2027-03-28T01:00:00"\n    end: "2027-03-28T02:30:00"',
        "maintenance_windows[0].end",
        "'2027-03-28T02:30:00'",
        "2027-03-28T02:30",
        "2027-03-28 02:30 does not exist in Europe/Berlin (the clocks go forward that night); write it with a UTC offset",
    ),
    "naive-override-time-repeated": Defect(
        "oncall.yaml",
        'start: "2026-12-24T09:00:00+01:00", end: "2026-12-27T09:00:00+01:00"',
        'start: "2026-10-25T02:30:00", end: "2026-12-27T09:00:00"',
        "oncall_schedules[l1-weekly].overrides[0].start",
        "'2026-10-25T02:30:00'",
        "2026-10-25T02:30",
        "2026-10-25 02:30 happens twice in Europe/Berlin (the clocks go back); write it with a UTC offset: +0200 for the first, +0100 for the second",
    ),
}


def run_cli(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """Run the real entry point (main() turns errors into exit codes) and capture both streams."""
    monkeypatch.setattr(sys, "argv", ["opsbinder", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    output = out.out + out.err
    assert "Traceback" not in output
    return code, output


@pytest.mark.parametrize("name", sorted(DEFECTS))
def test_it_reports_the_defect_with_file_line_field_and_value(
    name, example_dir, tmp_path, monkeypatch, capsys
):
    defect = DEFECTS[name]
    folder = broken_copy(example_dir, tmp_path, defect)
    code, output = run_cli(monkeypatch, capsys, "validate", str(folder))
    assert code == 2, output
    assert problem_lines(output) == [defect.expected(folder)]
    assert "hunter2" not in output  # secrets are never echoed


# field, reference and DST defects of different items, so none hides another: one run of the
# console script lists them all
AT_ONCE = ["bad-cron", "naive-window-time-in-dst-gap", "unknown-field-typo",
           "password-in-plain-text", "override-ends-before-start", "url-with-password",
           "negative-retention", "warn-not-below-critical", "missing-contact", "missing-webhook",
           "holiday-names-unknown-procedure", "id-not-a-slug"]  # fmt: skip


def test_it_reports_every_defect_in_one_run_of_the_console_script(example_dir, tmp_path):
    defects = [DEFECTS[name] for name in AT_ONCE]
    folder = broken_copy(example_dir, tmp_path, *defects)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert sorted(ran.problems()) == sorted(d.expected(folder) for d in defects)
    assert ran.err.startswith(f"The binder has {len(defects)} problem(s):")
    assert "hunter2" not in ran.output


def test_it_lists_every_defect_of_a_binder_with_several(example_dir, tmp_path, monkeypatch, capsys):
    several = ["bad-cron", "window-ends-before-start", "unknown-field-typo", "password-in-plain-text",
               "override-ends-before-start", "url-with-password", "negative-retention",
               "warn-not-below-critical"]  # fmt: skip
    folder = broken_copy(example_dir, tmp_path, *(DEFECTS[name] for name in several))
    code, output = run_cli(monkeypatch, capsys, "validate", str(folder))
    assert code == 2
    places = [re.match(r"(.+?):(\d+): ", p).groups() for p in problem_lines(output)]
    assert places == sorted(places, key=lambda fl: (fl[0], int(fl[1])))  # file, then line order
    assert f"The binder has {len(several)} problem(s)" in output
    reported = {re.search(r": ([^ ]+): ", p).group(1) for p in problem_lines(output)}
    assert reported == {DEFECTS[name].field for name in several}


def test_it_lists_every_broken_reference_together(example_dir, tmp_path, monkeypatch, capsys):
    refs = ["missing-policy", "missing-contact", "missing-system", "missing-webhook",
            "duplicate-id", "holiday-names-unknown-procedure"]  # fmt: skip
    folder = broken_copy(example_dir, tmp_path, *(DEFECTS[name] for name in refs))
    code, output = run_cli(monkeypatch, capsys, "validate", str(folder))
    assert code == 2
    reported = [re.search(r": ([^ ]+): ", p).group(1) for p in problem_lines(output)]
    assert sorted(reported) == sorted(DEFECTS[name].field for name in refs)


def test_it_names_the_folder_when_no_file_has_a_client_section(
    example_dir, tmp_path, monkeypatch, capsys
):
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    client = folder / "client.yaml"
    text = client.read_text()
    client.write_text(re.sub(r"(?ms)^client:\n(  .*?\n)+(?=\n)", "", text, count=1))
    assert "client:" not in client.read_text()
    code, output = run_cli(monkeypatch, capsys, "validate", str(folder))
    assert code == 2
    assert problem_lines(output) == [
        f"{folder}: client: no 'client:' section in any .yaml file here"
    ]


def test_it_refuses_an_empty_folder(tmp_path, monkeypatch, capsys):
    code, output = run_cli(monkeypatch, capsys, "validate", str(tmp_path))
    assert code == 2
    assert problem_lines(output) == [f"{tmp_path}: no .yaml files in this folder"]


def test_it_refuses_a_folder_that_does_not_exist(tmp_path, monkeypatch, capsys):
    code, output = run_cli(monkeypatch, capsys, "validate", str(tmp_path / "nope"))
    assert code == 2
    assert problem_lines(output) == [f"{tmp_path / 'nope'}: no such binder folder"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("? [a, b]\n: 1\n", "a key must be a plain word"),
        ("a: &a {b: *a}\n", "an alias refers to a node that contains it"),
        ('x: !!python/name:os.system ""\n', "could not determine a constructor"),
        ("procedures:\n\t- a\n", "not valid YAML"),
        ('"just a string"\n', "a binder file must be a mapping of sections"),
    ],
)
def test_it_survives_hostile_yaml_without_a_traceback(
    content, message, tmp_path, monkeypatch, capsys
):
    (tmp_path / "a.yaml").write_text(content)
    code, output = run_cli(monkeypatch, capsys, "validate", str(tmp_path))
    assert code == 2
    assert message in output


def test_it_accepts_the_example_with_exit_0_and_a_summary(example_dir, monkeypatch, capsys):
    code, output = run_cli(monkeypatch, capsys, "validate", str(example_dir))
    assert code == 0, output
    assert f"Binder {example_dir}: valid (1 client(s))" in output
    assert (
        "nordhafen (Nordhafen Logistik GmbH, Europe/Berlin): 8 procedures, 9 contacts, "
        "1 escalation policy, 1 on-call schedule, 4 systems, 1 maintenance window, 2 holidays"
    ) in output
    rows = {line.split()[0]: line.split() for line in output.splitlines() if "│" in line}
    assert rows["purge-tracking-events"][1:] == ["│", "purge", "│", "15", "1", "*", "*", "*",
                                                 "│", "daily", "│", "sev3"]  # fmt: skip
    assert len(rows) == 8
    assert "problem" not in output


def test_it_accepts_yaml_merge_keys(example_dir, tmp_path, monkeypatch, capsys):
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    calendar = folder / "calendar.yaml"
    text = calendar.read_text()
    new_year = (
        "  - {date: 2027-01-01, name: New Year's Day, procedures: [remind-patches-and-renewals]}"
    )
    christmas = (
        "  - {date: 2026-12-25, name: Christmas Day, procedures: [remind-patches-and-renewals]}\n"
    )
    # Each replacement must apply, or the binder below has no merge key and proves nothing.
    assert new_year in text and christmas in text
    text = text.replace(christmas, "", 1).replace(
        new_year,
        "  - &xmas {date: 2026-12-25, name: Christmas Day, procedures: [remind-patches-and-renewals]}\n"
        "  - {<<: *xmas, date: 2027-01-01, name: New Year's Day}",
    )
    assert "<<: *xmas" in text and text.count("Christmas Day") == 1
    calendar.write_text(text)
    code, output = run_cli(monkeypatch, capsys, "validate", str(folder))
    assert code == 0, output
    from opsbinder.config.loader import load_binder

    holidays = {h.name: h for h in load_binder(folder).clients[0].holidays}
    assert holidays["New Year's Day"].procedures == ["remind-patches-and-renewals"]  # merged in
