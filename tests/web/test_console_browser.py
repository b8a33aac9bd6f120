"""The console pages an on-call engineer works from, in Chromium (JavaScript off, as a
script-blocking browser would be): times labelled in the chosen zone, procedures, reports;
and axe-core on every page (no serious or critical violation).

axe runs in a second context with JavaScript on and the page's CSP bypassed (axe is a script
injected into the page); it sees the same HTML with the same session.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from axe_playwright_python.sync_playwright import Axe

from opsbinder import runs
from opsbinder.config.models import OnCallSchedule, Override, Rotation
from opsbinder.incidents import escalator, hook_reports, lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure
from opsbinder.sync import sync_binder
from tests.web.conftest import PASSWORD, two_client_binder
from tests.web.test_browser import browser, new_page, shot  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
BLOCKING = {"serious", "critical"}


def signed_in(browser, live_server):  # type: ignore[no-untyped-def]  # noqa: F811
    page = new_page(browser)
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    assert "/login" not in page.url
    return page


def assert_accessible(browser, page, url: str) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    """axe-core on `url` as `page`'s user sees it: no serious or critical violation."""
    context = browser.new_context(
        storage_state=page.context.storage_state(), java_script_enabled=True, bypass_csp=True
    )
    try:
        audited = context.new_page()
        answer = audited.goto(url)
        assert answer is not None and answer.status == 200, url
        results = Axe().run(audited)
        bad = [
            f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"]
            if v["impact"] in BLOCKING
        ]
        assert not bad, f"{url}: " + "; ".join(bad)
    finally:
        context.close()


def times_in(page) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(shown text, title) of every <time> in the page's main part."""
    return [
        (t.inner_text(), t.get_attribute("title") or "") for t in page.locator("main time").all()
    ]


def test_it_labels_every_time_in_the_zone_the_engineer_chose_and_remembers_it(
    browser,  # noqa: F811
    live_server,
    world,
    backend,
):
    staff = signed_in(browser, live_server)
    staff.goto(f"{live_server}/console/incidents")
    shown = times_in(staff)
    assert shown, "the incident list shows no time"
    # opened 10:00 UTC: 11:00 in Berlin and Stockholm (CET), the offset in the title
    assert ("2026-03-20 11:00 CET", "2026-03-20T11:00+01:00") in shown
    assert all(re.search(r" (CET|CEST|UTC)$", text) for text, _ in shown), shown
    staff.goto(f"{live_server}/console/incidents/{world.incident_a}")
    assert "opened Fri 20 Mar 2026, 11:00 CET" in staff.locator(".incident-head").inner_text()
    shot(staff, backend, "zone-1-client")

    staff.click("#zone-link")
    staff.check("input[name=kind][value=utc]")
    staff.click("#zone-save")
    assert staff.url.endswith(f"/console/incidents/{world.incident_a}")  # back where it was
    assert "opened Fri 20 Mar 2026, 10:00 UTC" in staff.locator(".incident-head").inner_text()
    staff.goto(f"{live_server}/console/incidents")  # remembered on the next page
    assert ("2026-03-20 10:00 UTC", "2026-03-20T10:00+00:00") in times_in(staff)
    assert "Times: UTC" in staff.locator("nav").inner_text()

    # without JavaScript the engineer names their zone; New York is on summer time (EDT) already
    staff.goto(f"{live_server}/console/zone")
    staff.check("input[name=kind][value=own]")
    staff.select_option("#own-zone", "America/New_York")
    staff.click("#zone-save")
    assert ("2026-03-20 06:00 EDT", "2026-03-20T06:00-04:00") in times_in(staff)
    shot(staff, backend, "zone-2-own")

    # with JavaScript the zone page fills in the browser's own zone
    context = browser.new_context(
        storage_state=staff.context.storage_state(), timezone_id="Asia/Tokyo"
    )
    context.clear_cookies(name="opsbinder_zone")  # nothing remembered: the browser names it
    own = context.new_page()
    own.goto(f"{live_server}/console/zone")
    assert own.locator("#own-zone").input_value() == "Asia/Tokyo"
    own.check("input[name=kind][value=own]")
    own.click("#zone-save")
    own.goto(f"{live_server}/console/incidents")
    assert ("2026-03-20 19:00 JST", "2026-03-20T19:00+09:00") in times_in(own)
    context.close()

    assert_accessible(browser, staff, f"{live_server}/console/zone")
    assert_accessible(browser, staff, f"{live_server}/console/incidents")


def test_it_lists_procedures_by_name_and_says_paused_instead_of_next_runs(
    browser,  # noqa: F811
    live_server,
    world,
    backend,
    store,
):
    with session_scope(store) as s:
        paused = s.query(Procedure).filter_by(client_id="nordhafen", key="check-tms-backup").one()
        paused.paused = True
    staff = signed_in(browser, live_server)
    staff.goto(f"{live_server}/console/procedures?client=nordhafen")
    rows = staff.locator("table.grid tbody tr")
    names = [r.locator("td >> nth=0 >> strong").inner_text() for r in rows.all()]
    assert len(names) > 3 and names == sorted(names, key=str.lower)
    for row in rows.all():
        name = row.locator("td >> nth=0 >> strong").inner_text()
        upcoming = row.locator("td.next-runs").inner_text()
        if name == "Check last night's TMS backup":
            assert upcoming.strip() == "paused"
        elif name == "Immediate lockdown (change of support provider)":  # on demand
            assert upcoming.strip() == "none: run by hand"
        else:  # a running procedure's next runs, in the client's zone
            assert re.search(r"\d{2}:\d{2} CES?T", upcoming), (name, upcoming)
    shot(staff, backend, "procedures-paused")
    assert_accessible(browser, staff, f"{live_server}/console/procedures")


def test_it_links_the_manager_report_from_the_console(
    browser,  # noqa: F811
    live_server,
    world,
    backend,
):
    staff = signed_in(browser, live_server)
    staff.goto(f"{live_server}/console/incidents")
    staff.click("nav >> text=Reports")
    assert staff.url.endswith("/reports")
    staff.click("a[href='/reports/nordhafen/2026-02']")
    assert "Nordhafen Logistik GmbH" in staff.content()
    assert staff.locator("svg").count() >= 4
    y_labels = staff.locator("svg .axis.y text").all_text_contents()
    assert y_labels and all(re.fullmatch(r"\d+", t.strip()) for t in y_labels), y_labels
    assert {"0", "100"} <= {t.strip() for t in y_labels}  # the rates axis: 0 to 100%
    shot(staff, backend, "report")
    assert_accessible(browser, staff, f"{live_server}/reports")


def test_it_keeps_the_typed_update_when_too_soon_and_posts_it_anyway(
    browser,  # noqa: F811
    live_server,
    world,
    backend,
    clock,
):
    staff = signed_in(browser, live_server)
    staff.goto(f"{live_server}/console/incidents/{world.incident_a}")
    staff.fill("textarea[name=current_status]", "Restore started")
    staff.fill("textarea[name=business_impact]", "Warehouse 2 cannot print")
    staff.fill("textarea[name=next_steps]", "Replay WAL")
    staff.click("#post-update-button")
    assert "Status update #1 posted" in staff.locator(".flash-ok").inner_text()

    clock.advance(timedelta(hours=1, minutes=48))  # 11:48 UTC, 12:48 CET; 2 h at most
    staff.fill("textarea[name=current_status]", "WAL replay 80% done <b>")
    staff.fill("textarea[name=business_impact]", "Still no delivery notes")
    staff.fill("textarea[name=next_steps]", "Re-enable scanners at 14:00")
    staff.click("#post-update-button")
    assert "your text is kept" in staff.locator(".flash-error").inner_text()
    assert staff.url.endswith("#update-refused")  # scrolled to the refusal
    refusal = staff.locator("#update-refused").inner_text()
    assert "Next update allowed from 13:00 CET, in 12m" in refusal
    assert "insist with force" not in staff.content() and "2:00:00" not in refusal
    assert staff.locator("textarea[name=current_status]").input_value() == (
        "WAL replay 80% done <b>"
    )
    assert staff.locator("textarea[name=next_steps]").input_value() == (
        "Re-enable scanners at 14:00"
    )
    assert staff.locator("#update-refused").is_visible()
    shot(staff, backend, "update-too-soon")

    staff.click("#post-anyway")
    assert "Status update #2 posted" in staff.locator(".flash-ok").inner_text()
    assert (
        "WAL replay 80% done <b>"
        in staff.locator("#update-" + str(world.incident_a) + "-2").inner_text()
    )
    assert_accessible(browser, staff, f"{live_server}/console/incidents/{world.incident_a}")


def test_every_console_page_and_the_status_page_pass_axe(
    browser,  # noqa: F811
    live_server,
    world,
    store,
    clock,
):
    with session_scope(store) as s:  # a Severity-2 badge on the pages (its contrast failed)
        lifecycle.trigger(
            s,
            clock,
            client_id="nordhafen",
            procedure_key="watch-disk-space",
            dedup_key="nordhafen:disk",
            title="Disk 91% full",
            severity="sev2",
            details={"error": "/var at 91%"},
        )
    staff = signed_in(browser, live_server)
    for path in (
        "/login",
        "/console/incidents",
        "/console/incidents?state=all",
        f"/console/incidents/{world.incident_a}",
        "/console/procedures",
        "/console/oncall",
        "/console/zone",
        "/reports",
        "/reports/nordhafen/2026-02",
    ):
        assert_accessible(browser, staff, f"{live_server}{path}")
    client = new_page(browser)
    client.goto(f"{live_server}/status/nordhafen?token={world.status_a}")
    assert client.locator("h1").inner_text() != ""
    assert "SEV2" in client.locator("main").inner_text()
    assert_accessible(browser, client, f"{live_server}/status/nordhafen")


def test_it_briefs_the_engineer_on_a_failed_run_its_runbook_and_the_escalation(
    browser,  # noqa: F811
    live_server,
    world,
    backend,
    store,
    clock,
):
    flow_run = "6f1c2d3e-0000-4000-8000-00000000abcd"
    with session_scope(store) as s:
        runs.start_run(
            s,
            clock,
            client_id="nordhafen",
            procedure_key="check-tms-backup",
            flow_run_id=flow_run,
            scheduled_for=clock.now(),
        )
        incident = hook_reports.apply(
            s,
            clock,
            hook_reports.HookReport(
                kind="failure",
                client_id="nordhafen",
                procedure_key="check-tms-backup",
                flow_run_id=flow_run,
                state_name="Failed",
                at=clock.now().isoformat(),
                message="nordhafen/check-tms-backup failed: newest dump is 31h old (max 26h)",
                link=f"http://127.0.0.1:4321/runs/flow-run/{flow_run}",
                log_lines=["10:00:01 checking /backups/tms", "10:00:02 newest dump is 31h old"],
            ),
        )
        assert incident is not None
        number = incident.id
    clock.advance(timedelta(minutes=20))  # L1 paged at 10:00, L2 after 15 min, L3 30 min later
    escalator.sweep(store, clock)

    staff = signed_in(browser, live_server)
    staff.goto(f"{live_server}/console/incidents/{number}")
    failure = staff.locator("#failure").inner_text()
    assert "newest dump is 31h old (max 26h)" in failure
    assert "started Fri 20 Mar 2026, 11:00 CET" in failure
    assert staff.locator("#log-lines").inner_text().splitlines() == [
        "10:00:01 checking /backups/tms",
        "10:00:02 newest dump is 31h old",
    ]
    link = staff.locator("#flow-run-link")
    assert link.get_attribute("href") == f"http://127.0.0.1:4321/runs/flow-run/{flow_run}"
    runbook = staff.locator("#runbook").inner_text()
    assert "A backup nobody checks is a hope, not a backup." in runbook
    assert "Newest dump younger than 26 hours" in runbook
    assert "Verify\n\nThe run's artifact lists the file checked" in runbook
    assert "Roll back\n\nNothing to roll back (read only)." in runbook
    escalation = staff.locator("#escalation").inner_text()
    assert "Reached: L2 team lead (level 2 of 4) since 20 Mar 11:15 CET" in escalation
    assert "Next: L3 engineering paged 20 Mar 11:45 CET, in 25m unless acknowledged." in escalation
    shot(staff, backend, "incident-briefing")
    assert_accessible(browser, staff, f"{live_server}/console/incidents/{number}")

    staff.click("#ack")
    assert "acknowledged: the escalation stopped" in staff.locator("#escalation").inner_text()
    staff.select_option("select[name=assignee]", "mark-olsen")
    staff.click("#assign")
    assert "assigned to mark-olsen" in staff.locator(".incident-head").inner_text()


def test_it_shows_who_is_on_call_until_when_and_the_next_14_days_with_overrides_and_gaps(
    browser,  # noqa: F811
    live_server,
    world,
    backend,
    store,
    clock,
    example_dir,
):
    binder = two_client_binder(example_dir)
    nordhafen = binder.clients[0]
    weekly = nordhafen.oncall_schedules[0]
    conference = Override(
        contact="mark-olsen",
        start=datetime(2026, 3, 25, 9, 0, tzinfo=UTC),
        end=datetime(2026, 3, 26, 9, 0, tzinfo=UTC),
        reason="Lena at a conference",
    )
    daytime = OnCallSchedule(
        id="l2-daytime",
        name="L2 daytime",
        timezone="Europe/Berlin",
        layers=[
            Rotation(
                members=["mark-olsen"],
                length="daily",
                handoff_time=time(8, 0),
                start=date(2026, 1, 1),
                restrict_from=time(8, 0),
                restrict_to=time(18, 0),
            )
        ],
    )
    schedules = [weekly.model_copy(update={"overrides": [conference]}), daytime]
    binder.clients[0] = nordhafen.model_copy(update={"oncall_schedules": schedules})
    with session_scope(store) as s:
        sync_binder(s, binder, clock)

    staff = signed_in(browser, live_server)
    staff.goto(f"{live_server}/console/oncall")
    weekly_card = staff.locator("#schedule-nordhafen-l1-weekly")
    # 20 Mar is a Friday; the weekly hand-off is Monday 09:00 Berlin
    now_line = weekly_card.locator("p.now").inner_text()
    assert "On call now:" in now_line and "until Mon 23 Mar 2026, 09:00 CET" in now_line
    rows = [r.inner_text() for r in weekly_card.locator("table.slots tbody tr").all()]
    override = [r for r in rows if "override" in r]
    assert len(override) == 1
    assert "Mark Olsen" in override[0] and "Lena at a conference" in override[0]
    assert "Wed 25 Mar 10:00 CET" in override[0] and "Thu 26 Mar 10:00 CET" in override[0]
    assert not [r for r in rows if "nobody on call" in r]  # 24/7: no gap
    assert rows[-1].split("\t")[1].startswith("Fri 03 Apr 12:00 CEST")  # 14 days on

    day_card = staff.locator("#schedule-nordhafen-l2-daytime")
    assert "On call now: Mark Olsen" in day_card.locator("p.now").inner_text()
    assert "until Fri 20 Mar 2026, 18:00 CET" in day_card.locator("p.now").inner_text()
    gaps = day_card.locator("tr.row-gap").all()
    assert len(gaps) == 14  # every night from 18:00 to 08:00
    assert gaps[0].inner_text().split("\t")[:3] == [
        "Fri 20 Mar 18:00 CET",
        "Sat 21 Mar 08:00 CET",
        "nobody on call",
    ]
    assert day_card.locator("svg.bar rect.slot-gap").count() == 14
    shot(staff, backend, "oncall-timeline")
    assert_accessible(browser, staff, f"{live_server}/console/oncall")
