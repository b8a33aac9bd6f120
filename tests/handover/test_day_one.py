"""The export's front page says what is urgent on day one, in order; the calendar page lists each
window and holiday (recurring ones too) with what it skips. Read in Chromium, as a person would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.handover.completeness import audit_client
from opsbinder.handover.export import export_client
from opsbinder.store.db import session_scope
from tests.handover.conftest import load_variant

SECTIONS = [
    "1. Open incidents",
    "2. Dated risks",
    "3. The next 72 hours of runs",
    "4. On call, the next 7 days",
    "5. Lockdown",
    "6. Transition plan",
    "7. What the audit found, worst first",
]


def _export(engine: Engine, clock: FrozenClock, out: Path) -> Path:
    with session_scope(engine) as session:
        export_client(session, "nordhafen", out, clock, actor="tester")
    return out


def _rows(page: Any, section: str) -> list[list[str]]:
    """The cells of each table row of a front-page section, as the browser renders them."""
    found: list[list[str]] = page.eval_on_selector_all(
        f"#{section} tr",
        "rows => rows.map(r => Array.from(r.querySelectorAll('td')).map(c => c.innerText.trim()))",
    )
    return [r for r in found if r]


def test_the_front_page_says_what_is_urgent_first_in_order(
    with_history: Engine, clock: FrozenClock, tmp_path: Path, browser: Any
) -> None:
    out = _export(with_history, clock, tmp_path / "binder-out")
    page = browser.new_page()
    page.goto((out / "index.html").as_uri())
    headings = page.eval_on_selector_all("main h2", "hs => hs.map(h => h.innerText.trim())")
    assert [h for h in headings if h in SECTIONS] == SECTIONS
    assert headings.index(SECTIONS[0]) < headings.index("Procedures")  # urgent before reference

    assert _rows(page, "day-one-incidents") == [
        [
            "#1 Check last night's TMS backup failed",
            "sev2 triggered, not acknowledged",
            "2026-03-20 11:00 CET",
            "response: running (due 2026-03-20 11:30 CET)\n"
            "resolution: running (due 2026-03-21 09:00 CET)",
        ]
    ]

    risks = _rows(page, "day-one-risks")
    assert [r[0][:10] for r in risks] == sorted(r[0][:10] for r in risks)
    assert risks[0][:3] == [
        "2025-11-13 (overdue by 127 days)",
        "end of support",
        "PostgreSQL 13.16",
    ]
    assert [
        "2026-12-14 (in 269 days)",
        "certificate expiry",
        "TMS wildcard TLS certificate 2026",
        "Lena Fischer",
        "none open",
    ] in risks

    runs = _rows(page, "day-one-runs")
    times = [r[0] for r in runs]
    assert times[0] == "Fri 2026-03-20 12:00 CET" and times[-1] == "Mon 2026-03-23 08:00 CET"
    deleting = [(r[0], r[1]) for r in runs if r[2].startswith("deletes data")]
    assert deleting == [
        ("Sat 2026-03-21 01:15 CET", "Purge GPS tracking events older than 90 days"),
        ("Sun 2026-03-22 01:15 CET", "Purge GPS tracking events older than 90 days"),
        ("Sun 2026-03-22 03:00 CET", "Archive delivered orders older than 2 years"),
        ("Mon 2026-03-23 01:15 CET", "Purge GPS tracking events older than 90 days"),
    ]
    assert len(runs) == 26  # 18 disk checks, 3 purges, 1 archive, 3 backup checks, 1 reminder

    assert _rows(page, "day-one-oncall") == [
        ["Fri 2026-03-20 11:00 CET", "Mon 2026-03-23 09:00 CET", "Tom Berger"],
        ["Mon 2026-03-23 09:00 CET", "Fri 2026-03-27 11:00 CET", "Ayşe Demir"],
    ]
    lockdown = page.locator("#day-one-lockdown").inner_text()
    assert "Not locked down" in lockdown
    assert "Immediate lockdown (change of support provider) — never signed off" in lockdown
    transition = page.locator("#day-one-transition").inner_text()
    assert "Incoming provider: Elbkai IT Services GmbH (2 contacts)" in transition
    assert "The pager moves: 2026-05-04" in transition
    assert page.locator("#day-one-transition a[href='transition.html']").count() == 1

    with session_scope(with_history) as session:
        report = audit_client(session, "nordhafen", clock)
    shown = page.eval_on_selector_all(
        "#day-one-audit li .badge", "bs => bs.map(b => b.innerText.trim())"
    )
    assert shown == [f.code for f in report.worst_first()]
    assert shown[0] == "backup-never-restore-tested"  # 4 of the backups' 20 points, and more
    audit = page.locator("#day-one-audit").inner_text()
    assert f"Score {report.score}/100: procedures run and succeed −" in audit

    markdown = (out / "binder.md").read_text()
    assert markdown.index("## Day 1") < markdown.index("## Procedures")
    for line in (
        "- #1 Check last night's TMS backup failed — sev2, triggered, not acknowledged; SLA: "
        "response running (due 2026-03-20 11:30 CET), resolution running (due 2026-03-21 09:00 CET)",
        "- 2025-11-13 (overdue by 127 days): end of support, PostgreSQL 13.16 — Priya Nair",
        "- Sun 2026-03-22 03:00 CET archive-delivered-orders — **deletes data** (archive)",
        "- l1-weekly: Fri 2026-03-20 11:00 to Mon 2026-03-23 09:00 CET: Tom Berger",
    ):
        assert line + "\n" in markdown, line


def _recurring_calendar(data: dict[str, Any]) -> None:
    data["maintenance_windows"] += [
        {
            "name": "Saturday patching",
            "rrule": "FREQ=WEEKLY;BYDAY=SA",
            "start": "2026-03-07T00:00:00",
            "duration": "5h",
            "procedures": ["purge-tracking-events"],
        },
        {"name": "Nightly snapshot", "cron": "30 2 * * *", "duration": "30m"},
    ]
    data["holidays"].append(
        {"rrule": "FREQ=YEARLY;BYEASTER=-2", "name": "Good Friday", "then": "next_working_day"}
    )


def test_the_calendar_page_lists_windows_and_holidays_recurring_ones_too_with_what_they_skip(
    store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path, browser: Any
) -> None:
    load_variant(store, clock, example_dir, _recurring_calendar)
    out = _export(store, clock, tmp_path / "binder-out")
    page = browser.new_page()
    page.goto((out / "calendar.html").as_uri())
    windows = {r[0]: r for r in _rows(page, "windows")}
    assert windows["TMS 2027 release upgrade"] == [
        "TMS 2027 release upgrade",
        "once, 2027-01-16 22:00 to 2027-01-17 06:00",
        "Sat 2027-01-16 22:00 – Sun 2027-01-17 06:00 CET",
        "purge-tracking-events, check-tms-backup",
    ]
    saturday = windows["Saturday patching"]
    assert saturday[1] == "RRULE FREQ=WEEKLY;BYDAY=SA from 2026-03-07 00:00, lasting 5 hours"
    assert saturday[2].split("\n") == [
        "Sat 2026-03-21 00:00 – Sat 2026-03-21 05:00 CET",
        "Sat 2026-03-28 00:00 – Sat 2026-03-28 05:00 CET",
        "Sat 2026-04-04 00:00 – Sat 2026-04-04 05:00 CEST",
        "Sat 2026-04-11 00:00 – Sat 2026-04-11 05:00 CEST",
        "Sat 2026-04-18 00:00 – Sat 2026-04-18 05:00 CEST",
        "Sat 2026-04-25 00:00 – Sat 2026-04-25 05:00 CEST",
        "and more",
    ]
    assert saturday[3] == "purge-tracking-events"
    nightly = windows["Nightly snapshot"]
    assert nightly[1] == "cron 30 2 * * *, lasting 30 minutes"
    assert nightly[2].startswith("Sat 2026-03-21 02:30 – Sat 2026-03-21 03:00 CET\n")
    assert nightly[3] == "every procedure"
    holidays = {r[0]: r for r in _rows(page, "holidays")}
    assert holidays["Good Friday"] == [
        "Good Friday",
        "RRULE FREQ=YEARLY;BYEASTER=-2",
        "Fri 2026-04-03",
        "moved to the next working day",
        "every procedure",
    ]
    assert holidays["Christmas Day"][1:] == [
        "once, 2026-12-25",
        "Fri 2026-12-25",
        "skipped",
        "remind-patches-and-renewals",
    ]
    assert page.locator("#windows a[href='procedures/purge-tracking-events.html']").count() == 2

    markdown = (out / "binder.md").read_text()
    assert (
        "- Holiday Good Friday (RRULE FREQ=YEARLY;BYEASTER=-2): runs of every procedure are "
        "moved to the next working day; next: 2026-04-03\n"
    ) in markdown

    front = browser.new_page()
    front.goto((out / "index.html").as_uri())
    runs = {(r[0], r[1]): r[3] for r in _rows(front, "day-one-runs")}
    purge = "Purge GPS tracking events older than 90 days"
    assert runs[("Sat 2026-03-21 01:15 CET", purge)] == (
        "skipped: maintenance window 'Saturday patching'"
    )
    assert runs[("Sun 2026-03-22 01:15 CET", purge)] == ""
    # the nightly window ends at 03:00, when Sunday's archive runs: a run at the end goes ahead
    assert runs[("Sun 2026-03-22 03:00 CET", "Archive delivered orders older than 2 years")] == ""
    assert [k for k, note in runs.items() if note] == [("Sat 2026-03-21 01:15 CET", purge)]
    assert front.locator("nav a[href='calendar.html']").inner_text() == "Calendar"
