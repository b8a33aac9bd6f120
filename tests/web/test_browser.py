"""In a real browser (Debian's headless Chromium, driven by Playwright), with JavaScript off:
a staff member acknowledges an incident and posts a Severity-1 update, the client's status page
shows it, and another client's token gets nothing. Screenshots go to test-artifacts/web/.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.web.conftest import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "web"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def new_page(browser, **options):  # type: ignore[no-untyped-def]
    # JavaScript off: the pages must work without it (and nothing on them could run anyway)
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}, **options
    )
    return context.new_page()


def shot(page, backend: str, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{backend}-{name}.png"), full_page=True)


def test_it_takes_an_incident_from_acknowledgement_to_the_clients_status_page(
    browser, live_server, world, backend
):
    staff = new_page(browser)
    staff.goto(f"{live_server}/console/incidents")
    assert "/login" in staff.url  # not signed in yet
    staff.fill("input[name=username]", "alice")
    staff.fill("input[name=password]", PASSWORD)
    shot(staff, backend, "1-sign-in")
    staff.click("button[type=submit]")
    assert staff.url.endswith("/console/incidents")
    assert staff.locator("table.grid").inner_text().count("TMS backup missing") == 2
    shot(staff, backend, "2-incident-list")

    staff.click(f"a[href='/console/incidents/{world.incident_a}'] >> nth=0")
    staff.click("#ack")
    assert staff.locator("#state").inner_text() == "acknowledged"
    assert "acknowledged" in staff.locator(".flash-ok").inner_text()

    staff.fill("textarea[name=current_status]", "TMS database restored; replaying WAL <script>")
    staff.fill("textarea[name=business_impact]", "Warehouse 2 cannot print delivery notes")
    staff.fill("textarea[name=next_steps]", "Re-enable the scanners after the replay")
    staff.fill("input[name=bridge_url]", "https://meet.example/sev1-tms")
    staff.click("#post-update-button")
    assert "Status update #1 posted" in staff.locator(".flash-ok").inner_text()
    assert "Hash chain verified" in staff.content()
    shot(staff, backend, "3-incident-after-update")
    staff.goto(f"{live_server}/console/procedures?client=nordhafen")
    assert "Check last night's TMS backup" in staff.content()
    shot(staff, backend, "3b-procedures")
    staff.goto(f"{live_server}/console/oncall")
    shot(staff, backend, "3c-oncall")

    client = new_page(browser)
    client.goto(f"{live_server}/status/nordhafen?token={world.status_a}")
    assert client.url == f"{live_server}/status/nordhafen"  # token no longer in the address
    text = client.locator("main").inner_text()
    assert "TMS database restored; replaying WAL <script>" in text  # shown as text, escaped
    assert "Warehouse 2 cannot print delivery notes" in text
    assert "https://meet.example/sev1-tms" in text
    assert "Next update by Fri 20 Mar 2026, 15:00 CET" in text  # 14:00 UTC in Berlin
    assert "Update history verified" in text
    assert "lindqvist" not in text.lower()
    client.reload()  # the cookie keeps the client in
    assert "Update #1" in client.locator("main").inner_text()
    shot(client, backend, "4-client-status-page")

    other = new_page(browser)
    answer = other.goto(f"{live_server}/status/nordhafen?token={world.status_b}")
    assert answer is not None and answer.status == 404
    assert "nordhafen" not in other.content().lower()
    assert "TMS database restored" not in other.content()
    shot(other, backend, "5-other-client-gets-nothing")
    feed = other.goto(f"{live_server}/status/nordhafen/feed.atom?token={world.status_b}")
    assert feed is not None and feed.status == 404
    own = other.goto(f"{live_server}/status/lindqvist?token={world.status_b}")
    assert own is not None and own.status == 200
    assert "TMS database restored" not in other.content()
    shot(other, backend, "6-other-client-own-page")


def test_it_declares_a_severity1_incident_from_the_console_form_and_changes_it(
    browser, live_server, world, store, backend, monkeypatch
):
    from sqlalchemy import select

    from opsbinder.store.db import session_scope
    from opsbinder.store.models import Incident, OutboxMessage

    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailtos://relay.example")
    staff = new_page(browser)
    staff.goto(f"{live_server}/login?next=/console/incidents")
    staff.fill("input[name=username]", "alice")
    staff.fill("input[name=password]", PASSWORD)
    staff.click("button[type=submit]")
    staff.click("#declare summary")  # a <details>: opens without JavaScript
    form = staff.locator("#declare form")
    form.locator("select[name=client]").select_option("nordhafen")
    form.locator("select[name=severity]").select_option("sev1")
    form.locator("input[name=title]").fill("Client called: TMS down in all warehouses")
    form.locator("input[name=public_title]").fill("Order entry unavailable")
    form.locator("textarea[name=impact]").fill("No delivery notes can be printed")
    form.locator("input[name=component]").fill("tms")
    shot(staff, backend, "7-declare-form")
    staff.click("#declare-button")
    flashed = staff.locator(".flash-ok").inner_text()
    assert "declared" in flashed and "Severity-1 process started" in flashed, flashed
    number = int(staff.url.rsplit("/", 1)[1])
    assert staff.locator("#public-title").inner_text() == "Order entry unavailable"
    assert "Client called: TMS down" in staff.locator("h1").inner_text()
    shot(staff, backend, "8-declared-incident")
    with session_scope(store) as s:
        incident = s.get(Incident, number)
        assert incident is not None and incident.severity == "sev1"
        assert incident.source == "manual" and incident.details["declared_by"] == "alice"
        keys = {
            m.idempotency_key
            for m in s.execute(
                select(OutboxMessage).where(OutboxMessage.incident_id == number)
            ).scalars()
        }
    assert any("/sev1/t0/contact:claudia-roth" in k for k in keys)  # management, at once

    staff.locator("#severity select[name=severity]").select_option("sev2")
    staff.fill("#severity input[name=message]", "only warehouse 2")
    staff.click("#change-severity")
    assert "is sev2 now" in staff.locator(".flash-ok").inner_text()
    staff.locator("#client-view select[name=public_state]").select_option("identified")
    staff.click("#publish")
    assert staff.locator("#public-state").inner_text() == "identified"
    # the update form is there for a sev2 too, without the Severity-1 cadence
    staff.fill("textarea[name=current_status]", "Database failover under way")
    staff.fill("textarea[name=business_impact]", "Warehouse 2 picks on paper")
    staff.fill("textarea[name=next_steps]", "Verify the replica")
    staff.click("#post-update-button")
    assert "Status update #1 posted" in staff.locator(".flash-ok").inner_text()

    # the client sees the public view: its title, its state, the service's state in words
    client = new_page(browser)
    client.goto(f"{live_server}/status/nordhafen?token={world.status_a}")
    shown = client.locator("main").inner_text()
    assert "Order entry unavailable" in shown and "Identified" in shown
    assert "Client called" not in shown and "alice" not in shown and "Alice Ops" in shown
    tms = client.locator("#component-tms").inner_text()
    assert "Partial outage" in tms, tms  # sev2 now
    client.click("#component-tms details summary")
    assert (
        "Partial outage (Order entry unavailable)" in client.locator("#component-tms").inner_text()
    )
    shot(client, backend, "9a-client-sees-the-public-view")

    staff.fill("#duplicate input[name=primary]", str(world.incident_a))
    staff.click("#link-duplicate")
    assert f"duplicate of #{world.incident_a}" in staff.locator(".flash-ok").inner_text()
    assert staff.locator("#state").inner_text() == "resolved"
    shot(staff, backend, "9-linked-duplicate")
    staff.goto(f"{live_server}/console/incidents?state=all")
    listed = staff.locator("table.grid").inner_text()
    assert f"duplicate of #{world.incident_a}" in listed and "unpublished · investigating" in listed
