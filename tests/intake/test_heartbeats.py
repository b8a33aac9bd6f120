"""Heartbeats: curl pings the served app as a cron wrapper would, and the sweep's watch notices
the pings that never came (in maintenance windows and on holidays it does not)."""

from __future__ import annotations

import json
import subprocess
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.incidents import escalator, heartbeat_watch, heartbeats
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, HeartbeatPing, Incident, OutboxMessage
from tests.intake.conftest import Keys

DUMP = "5c1e8f7a-3b2d-4e6f-9a1c-2d7e4b8f0a13"  # nordhafen's tms-pg-dump (config/example)
OTHER = str(uuid.UUID(int=42))  # lindqvist's tms-pg-dump, once made its own


def curl(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-sS", "-m", "60", "-o", "-", "-w", "\n%{http_code}", *args, url],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def answer(ran: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    body, _, code = ran.stdout.rpartition("\n")
    return int(code), body


def own_uuid_for_lindqvist(store: Engine) -> None:
    """The two-client world copies nordhafen: give lindqvist's heartbeat its own address."""
    with session_scope(store) as s:
        client = s.get(Client, "lindqvist")
        assert client is not None
        beats = [dict(b) for b in client.definition["heartbeats"]]
        beats[0]["uuid"] = OTHER
        client.definition = {**client.definition, "heartbeats": beats}
        client.config_hash = "changed"


def incidents(store: Engine) -> list[Incident]:
    with session_scope(store) as s:
        rows = list(s.execute(select(Incident).order_by(Incident.id)).scalars())
        s.expunge_all()
    return rows


def pings(store: Engine) -> list[HeartbeatPing]:
    with session_scope(store) as s:
        rows = list(s.execute(select(HeartbeatPing).order_by(HeartbeatPing.id)).scalars())
        s.expunge_all()
    return rows


def test_it_refuses_a_uuid_two_clients_share(plain: str, store: Engine):
    assert answer(curl(f"{plain}/ping/{DUMP}/fail")) == (404, "not found")
    own_uuid_for_lindqvist(store)
    assert answer(curl(f"{plain}/ping/{DUMP}/fail")) == (200, "OK")


def test_a_failed_ping_opens_and_the_next_success_resolves(plain: str, store: Engine):
    own_uuid_for_lindqvist(store)
    assert answer(curl(f"{plain}/ping/{DUMP}/start")) == (200, "OK")
    log = "pg_dump: error: connection to server failed\n"
    failed = curl(f"{plain}/ping/{DUMP}/1", "--data-binary", "@-", stdin=log)
    assert answer(failed) == (200, "OK")
    [incident] = incidents(store)
    assert (incident.client_id, incident.source, incident.severity) == (
        "nordhafen",
        "heartbeat",
        "sev2",
    )
    assert incident.component == "tms" and incident.state == "triggered"
    assert "exit status 1" in incident.details["error"]
    assert incident.details["log_lines"] == [log.strip()]
    assert answer(curl(f"{plain}/ping/{DUMP}", "-I"))[0] == 200  # HEAD counts as a success
    assert incidents(store)[0].state == "resolved"
    kept = [(p.kind, p.method, p.exit_status, p.body) for p in pings(store)]
    assert kept == [
        ("start", "GET", None, ""),
        ("fail", "POST", 1, log),
        ("success", "HEAD", None, ""),
    ]


def test_one_clients_ping_never_touches_another_clients_incident(plain: str, store: Engine):
    own_uuid_for_lindqvist(store)
    curl(f"{plain}/ping/{DUMP}/fail")
    assert answer(curl(f"{plain}/ping/{OTHER}")) == (200, "OK")  # lindqvist's job is fine
    [incident] = incidents(store)
    assert (incident.client_id, incident.state) == ("nordhafen", "triggered")
    curl(f"{plain}/ping/{OTHER}/fail")
    a, b = incidents(store)
    assert (a.client_id, b.client_id) == ("nordhafen", "lindqvist")
    assert {p.client_id for p in pings(store) if p.kind == "fail"} == {"nordhafen", "lindqvist"}


def test_a_missing_ping_opens_an_incident_that_escalates(store: Engine, keys: Keys):
    own_uuid_for_lindqvist(store)
    clock = FrozenClock(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    first = heartbeat_watch.watch(store, clock, client_id="nordhafen")
    assert sorted(first.started) == ["nordhafen/tms-pg-dump", "nordhafen/veeam-file-server"]
    clock.advance(timedelta(hours=1, minutes=20))  # due 00:30 UTC (01:30 Berlin), grace 1h
    assert heartbeat_watch.watch(store, clock, client_id="nordhafen").missed == []
    clock.advance(timedelta(minutes=15))
    late = heartbeat_watch.watch(store, clock, client_id="nordhafen")
    assert late.missed == ["nordhafen/tms-pg-dump@2026-03-02T00:30:00+00:00"]
    [incident] = incidents(store)
    assert incident.title.endswith("did not ping") and incident.source == "heartbeat"
    assert heartbeat_watch.watch(store, clock, client_id="nordhafen").missed == []  # once
    escalator.sweep(store, clock)
    with session_scope(store) as s:
        sent = s.execute(select(OutboxMessage).where(OutboxMessage.incident_id == incident.id))
        assert list(sent.scalars()), "a heartbeat incident escalates like any other"
    with session_scope(store) as s:
        found = heartbeats.Directory().find(s, uuid.UUID(DUMP))
        assert found is not None
        heartbeats.record_ping(s, clock, found, kind="success")
    assert incidents(store)[0].state == "resolved"
    clock.advance(timedelta(hours=2))
    assert heartbeat_watch.watch(store, clock, client_id="nordhafen").missed == []


@pytest.mark.parametrize("calendar", ["holiday", "window"])
def test_it_opens_nothing_for_a_ping_due_in_a_maintenance_window_or_on_a_holiday(
    store: Engine, keys: Keys, calendar: str
):
    clock = FrozenClock(datetime(2026, 3, 2, 0, 0, tzinfo=UTC))
    heartbeat_watch.watch(store, clock, client_id="nordhafen")
    quiet: dict[str, object] = (
        {"holidays": [{"date": "2026-03-02", "name": "Shutdown"}]}
        if calendar == "holiday"
        else {
            "maintenance_windows": [
                {"name": "TMS move", "start": "2026-03-02T00:00:00Z", "end": "2026-03-02T03:00:00Z"}
            ]
        }
    )
    with session_scope(store) as s:
        client = s.get(Client, "nordhafen")
        assert client is not None
        client.definition = {**client.definition, **quiet}
    clock.advance(timedelta(hours=2))
    report = heartbeat_watch.watch(store, clock, client_id="nordhafen")
    assert report.missed == [] and report.suppressed == ["nordhafen/tms-pg-dump"]
    assert incidents(store) == []


HOSTILE = [
    ("/ping/not-a-uuid", 404, "not found"),
    (f"/ping/{uuid.UUID(int=7)}", 404, "not found"),
    (f"/ping/{DUMP}/256", 400, "invalid url format"),
    (f"/ping/{DUMP}/-1", 400, "invalid url format"),
    (f"/ping/{DUMP}/explode", 400, "invalid url format"),
    (f"/ping/{DUMP}/0000000000000000000001", 400, "invalid url format"),
]


@pytest.mark.parametrize(("path", "code", "said"), HOSTILE)
def test_it_answers_a_bad_ping_like_healthchecks_never_a_500(
    plain: str, store: Engine, path: str, code: int, said: str
):
    own_uuid_for_lindqvist(store)
    assert answer(curl(f"{plain}{path}", "--data-binary", "x")) == (code, said)
    assert pings(store) == [] and incidents(store) == []


def test_it_keeps_a_huge_or_nul_body_cut_and_clean(plain: str, store: Engine):
    own_uuid_for_lindqvist(store)
    huge = "a" * 500_000
    assert answer(curl(f"{plain}/ping/{DUMP}/log", "--data-binary", "@-", stdin=huge))[0] == 200
    nul = curl(f"{plain}/ping/{DUMP}", "--data-binary", "@-", stdin="ok\x00done")
    assert answer(nul)[0] == 200
    cut, clean = pings(store)
    assert len(cut.body) == 10_000 and cut.body_truncated
    assert clean.body == "okdone"


def test_pings_are_in_the_run_history(plain: str, store: Engine, tmp_path):
    from tests.cli.installed import environment, run_cli

    own_uuid_for_lindqvist(store)
    curl(f"{plain}/ping/{DUMP}/start")
    curl(f"{plain}/ping/{DUMP}/2", "--data-binary", "@-", stdin="dump failed: disk full\n")
    curl(f"{plain}/ping/{OTHER}")
    env = environment(tmp_path / "home", store.url.render_as_string(hide_password=False))
    ran = run_cli(["history", "--client", "nordhafen", "--kind", "heartbeat", "--json"], env)
    assert ran.code == 0, str(ran)
    rows = [json.loads(line) for line in ran.out.splitlines()]
    assert [(r["procedure"], r["kind"], r["outcome"]) for r in rows] == [
        ("tms-pg-dump", "heartbeat", "failed"),
        ("tms-pg-dump", "heartbeat", "running"),
    ]
    assert rows[0]["reason"] == "exit status 2 dump failed: disk full"
