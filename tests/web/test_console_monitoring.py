"""The console's heartbeats (status, last pings, a ping's log) and integration keys (list,
issue shown once, revoke), through the real app: the same action functions and rule as the CLI."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from opsbinder import accounts
from opsbinder.actions import integrations
from opsbinder.authorization import Principal
from opsbinder.errors import NotFound
from opsbinder.incidents.heartbeats import Found, beats_of, record_ping
from opsbinder.store.db import session_scope
from opsbinder.store.models import AccessToken, AuditEntry, Client, HeartbeatPing
from tests.web.conftest import csrf_of, sign_in

LOG = "pg_dump: error: connection to server refused\n<script>alert(1)</script>"


def ping(store, clock, client: str, beat: str, kind: str, **given) -> int:  # type: ignore[no-untyped-def]
    with session_scope(store) as s:
        row = s.get(Client, client)
        found = Found(client, next(b for b in beats_of(row) if b.id == beat))
        return record_ping(s, clock, found, kind=kind, **given).id


def test_it_shows_each_heartbeats_status_last_pings_and_a_pings_log(web, world, store, clock):
    assert web.get("/console/heartbeats", follow_redirects=False).status_code == 303
    ping(store, clock, "nordhafen", "tms-pg-dump", "success", body="dump ok, 42 MB")
    failed = ping(
        store, clock, "nordhafen", "tms-pg-dump", "fail", exit_status=3, body=LOG, method="POST"
    )
    ping(store, clock, "lindqvist", "veeam-file-server", "start")
    sign_in(web)
    listed = web.get("/console/heartbeats").text
    dump = listed[listed.index('id="heartbeat-nordhafen-tms-pg-dump"') :].split("</tr>")[0]
    assert "failing" in dump and "incident #" in dump and "fail (3)" in dump and "success" in dump
    veeam = listed[listed.index('id="heartbeat-lindqvist-veeam-file-server"') :].split("</tr>")[0]
    assert "running" in veeam
    waiting = listed[listed.index('id="heartbeat-nordhafen-veeam-file-server"') :].split("</tr>")[0]
    assert "waiting" in waiting and "never pinged" in waiting
    page = web.get("/console/heartbeats/nordhafen/tms-pg-dump").text
    assert "5c1e8f7a-3b2d-4e6f-9a1c-2d7e4b8f0a13" in page  # the ping URL to give the job
    assert f'href="/console/pings/{failed}"' in page and "&lt;script&gt;" in page
    shown = web.get(f"/console/pings/{failed}")
    assert shown.status_code == 200
    body = re.search(r'<pre id="ping-body">(.*?)</pre>', shown.text, re.S)
    assert body and "connection to server refused" in body.group(1)
    assert "<script>alert(1)</script>" not in shown.text  # the log is text, never markup
    assert "exit status 3" in shown.text and "POST" in shown.text
    assert web.get("/console/pings/999999").status_code == 404
    assert web.get("/console/heartbeats/nordhafen/nope").status_code == 404
    assert web.get("/console/heartbeats/nobody/tms-pg-dump").status_code == 404
    with session_scope(store) as s:  # the watch's own marker row is no ping to show
        watch = HeartbeatPing(
            client_id="nordhafen", heartbeat="tms-pg-dump", at=clock.now(), kind="watch", method=""
        )
        s.add(watch)
        s.flush()
        marker = watch.id
    assert web.get(f"/console/pings/{marker}").status_code == 404


def issue_form(web, client: str, name: str):  # type: ignore[no-untyped-def]
    page = web.get("/console/integrations")
    return web.post(
        "/console/integrations",
        data={"client": client, "name": name, "csrf": csrf_of(page.text)},
    )


def test_a_key_is_shown_once_at_issue_listed_by_prefix_and_revoked(web, world, store, clock):
    sign_in(web, "mona")  # a manager
    answer = issue_form(web, "nordhafen", "uptime-kuma")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    key = re.search(r'<pre id="new-key">([^<]+)</pre>', answer.text)
    assert key, answer.text
    token = key.group(1).strip()
    with session_scope(store) as s:
        row = accounts.integration_key(s, clock, token)
        assert row is not None and (row.client_id, row.name) == ("nordhafen", "uptime-kuma")
        stored = [
            str(v) for t in s.execute(select(AccessToken)).scalars() for v in vars(t).values()
        ]
        assert not any(token in v for v in stored), "only the key's hash is kept"
        prefix = row.prefix
    again = web.get("/console/integrations").text
    assert token not in again and f"{prefix}…" in again  # never shown again
    listing = again[again.index(f'id="key-{prefix}"') :].split("</tr>")[0]
    assert "nordhafen" in listing and "uptime-kuma" in listing and "active" in listing
    revoked = web.post(
        f"/console/integrations/{prefix}/revoke",
        data={"csrf": csrf_of(again)},
        follow_redirects=False,
    )
    assert revoked.status_code == 303
    assert f"integration key {prefix}" in web.get("/console/integrations").text
    with session_scope(store) as s:
        assert accounts.integration_key(s, clock, token) is None
        actors = {
            (a.action, a.actor)
            for a in s.execute(select(AuditEntry).where(AuditEntry.object_id == prefix)).scalars()
        }
    assert ("token.revoked", "mona") in actors


def test_an_l1_may_neither_issue_nor_revoke_and_the_refusal_is_audited(web, world, store, clock):
    with session_scope(store) as s:
        issued = integrations.issue(s, clock, Principal.operator("ops"), "nordhafen", "grafana")
        prefix = issued.row.prefix
    sign_in(web)  # alice, L1
    page = web.get("/console/integrations").text
    assert f'id="key-{prefix}"' in page and "Issue key" not in page and "Revoke" not in page
    refused = web.post(
        "/console/integrations",
        data={"client": "nordhafen", "name": "zabbix", "csrf": csrf_of(page)},
    )
    assert refused.status_code == 403 and 'id="new-key"' not in refused.text
    gone = web.post(f"/console/integrations/{prefix}/revoke", data={"csrf": csrf_of(page)})
    assert gone.status_code == 403
    with session_scope(store) as s:
        refusals = [
            a.details["attempted"]
            for a in s.execute(
                select(AuditEntry).where(AuditEntry.action == "access.refused")
            ).scalars()
        ]
        assert refusals.count("client.integration_key") == 2
        assert accounts.integration_key(s, clock, issued.token) is not None
        names = [t.name for t in integrations.keys(s, Principal.operator("ops"))]
    assert names == ["grafana"]


def test_a_principal_of_one_client_never_sees_or_revokes_anothers_key(world, store, clock):
    with session_scope(store) as s:
        issued = integrations.issue(s, clock, Principal.operator("ops"), "nordhafen", "grafana")
    other = Principal(
        "token:obk_b", "api", scopes=frozenset(accounts.SCOPES), client_id="lindqvist"
    )
    with session_scope(store) as s:
        assert integrations.keys(s, other) == []
        with pytest.raises(NotFound):
            integrations.revoke(s, clock, other, issued.row.prefix)
        with pytest.raises(NotFound):
            integrations.issue(s, clock, other, "nordhafen", "zabbix")
        assert accounts.integration_key(s, clock, issued.token) is not None


def test_the_incident_page_shows_what_changed_on_its_client_just_before(web, world, store, clock):
    from datetime import timedelta

    from opsbinder import changes

    def change(client: str, summary: str, ago: timedelta) -> None:
        given = changes.Change(
            summary,
            source="gitlab-ci",
            timestamp=clock.now() - ago,
            links=[{"href": "https://ci.example/p/1", "text": "pipeline 1"}],
        )
        with session_scope(store) as s:
            changes.record(s, clock, client, given, integration="ci")

    change("nordhafen", "Deployed TMS 4.2.1", timedelta(hours=2))
    change("nordhafen", "Rotated the DB password last week", timedelta(days=3))
    change("lindqvist", "Lindqvist's own deploy", timedelta(hours=1))
    sign_in(web)
    page = web.get(f"/console/incidents/{world.incident_a}").text
    section = page[page.index('id="changes"') :].split("</section>")[0]
    assert "Deployed TMS 4.2.1" in section and "gitlab-ci" in section
    assert 'href="https://ci.example/p/1"' in section
    assert "last week" not in section  # outside the day before it opened
    assert "Lindqvist" not in section  # another client's change
