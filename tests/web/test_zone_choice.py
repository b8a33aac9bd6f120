"""The zone a viewer reads times in: remembered in a cookie, bad input refused with its value,
never an open redirect, a tampered cookie read as the default."""

from __future__ import annotations

from tests.web.conftest import csrf_of, sign_in


def _choose(web, **form):  # type: ignore[no-untyped-def]
    csrf = csrf_of(web.get("/console/zone").text)
    return web.post("/console/zone", data={"csrf": csrf, **form}, follow_redirects=False)


def test_it_remembers_utc_and_goes_back_only_within_the_site(web, world):
    sign_in(web)
    answer = _choose(web, kind="utc", next=f"/console/incidents/{world.incident_a}")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/console/incidents/{world.incident_a}"
    assert "opsbinder_zone=utc" in answer.headers["set-cookie"]
    assert "Max-Age=31536000" in answer.headers["set-cookie"]
    page = web.get("/console/incidents").text
    assert 'datetime="2026-03-20T10:00+00:00"' in page and "10:00 UTC" in page
    for elsewhere in ("https://evil.example/", "//evil.example/x"):
        assert _choose(web, kind="utc", next=elsewhere).headers["location"] == "/"


def test_it_refuses_a_zone_that_does_not_exist_naming_it(web, world):
    sign_in(web)
    answer = _choose(web, kind="own", own="Mars/Olympus_Mons")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/zone")
    assert "set-cookie" not in answer.headers or "opsbinder_zone" not in answer.headers.get(
        "set-cookie", ""
    )
    page = web.get(answer.headers["location"]).text
    assert "zone: &#39;Mars/Olympus_Mons&#39; is not a time zone name" in page
    assert _choose(web, kind="sideways").status_code == 422


def test_it_reads_a_tampered_cookie_as_each_clients_zone(web, world):
    sign_in(web)
    web.cookies.set("opsbinder_zone", "own:../../etc/passwd")
    page = web.get("/console/incidents").text
    assert "2026-03-20 11:00 CET" in page and "Times: each client&#39;s zone" in page


def test_it_sends_the_zone_page_a_script_only_from_this_site(web, world):
    sign_in(web)
    page = web.get("/console/zone")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/zone.js" defer></script>' in page.text
    assert "script-src 'none'" in web.get("/console/incidents").headers["content-security-policy"]
