"""The monthly evidence run on SQLite and PostgreSQL: the month before, per client in its own
zone, built under the install's home once, and each recipient's message queued once and sent
through the outbox to a real receiver (apprise's json:// as the SMTP route)."""

from __future__ import annotations

import hashlib
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.evidence.monthly import previous_month, publish_all, published_packs
from opsbinder.outbox import deliver_due
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, OutboxMessage
from tests.notify.receiver import Receiver
from tests.reports.conftest import t

FILES = ["evidence.html", "evidence.json", "manifest.json", "manifest.sha256"]


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Receiver:
    found = Receiver()
    monkeypatch.setenv("OPSBINDER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPSBINDER_SMTP_URL", f"json://127.0.0.1:{found.port}/hook")
    return found


def test_it_takes_the_month_before_in_the_clients_own_zone() -> None:
    clock = FrozenClock(t("2026-11-01T09:00"))
    assert str(previous_month(clock, "Europe/Berlin")) == "2026-10"
    assert str(previous_month(clock, "Pacific/Honolulu")) == "2026-09"  # 31 October 23:00 there
    assert str(previous_month(FrozenClock(t("2027-01-01T12:41")), "UTC")) == "2026-12"


def test_it_builds_each_month_once_and_tells_each_recipient_once(
    history: Engine, receiver: Receiver, tmp_path: Path
) -> None:
    clock = FrozenClock(t("2026-11-01T12:41"))
    pack = tmp_path / "home" / "evidence" / "nordhafen" / "2026-10"
    pack.mkdir(parents=True)
    (pack / "evidence.json").write_text("{half")  # a folder no run renamed into place whole
    try:
        first = publish_all(history, clock, pdf=False)
        assert [(p.client, p.month, p.built, p.error) for p in first] == [
            ("nordhafen", "2026-10", True, None)
        ]
        assert first[0].queued == ["dirk-hansen apprise mail:dirk-hansen"]
        assert sorted(os.listdir(pack)) == FILES
        assert sorted(os.listdir(pack.parent)) == ["2026-10"]  # no work folder left behind
        for line in (pack / "manifest.sha256").read_text().splitlines():
            digest, name = line.split("  ")
            assert hashlib.sha256((pack / name).read_bytes()).hexdigest() == digest
        offered = ("evidence.html", "evidence.json", "manifest.json", "manifest.sha256")
        assert published_packs("nordhafen") == [("2026-10", offered)]  # no PDF: built without
        assert published_packs("other") == []
        stamp = (pack / "manifest.sha256").stat().st_mtime_ns

        clock.advance(timedelta(hours=1))
        again = publish_all(history, clock, pdf=False)
        assert (again[0].built, again[0].queued, again[0].error) == (False, [], None)
        assert (pack / "manifest.sha256").stat().st_mtime_ns == stamp
        with session_scope(history) as s:
            rows = s.execute(select(OutboxMessage)).scalars().all()
            assert [(r.idempotency_key, r.recipient, r.client_id) for r in rows] == [
                ("evidence/nordhafen/2026-10/dirk-hansen", "dirk-hansen", "nordhafen")
            ]
            published = s.execute(
                select(AuditEntry).where(AuditEntry.action == "evidence.published")
            ).scalars()
            assert [e.object_id for e in published] == ["nordhafen/2026-10"]

        assert deliver_due(history, clock).delivered == 1
        assert deliver_due(history, clock).delivered == 0
        (message,) = receiver.accepted.values()
        digest = hashlib.sha256((pack / "manifest.sha256").read_bytes()).hexdigest()
        assert message["title"] == "[nordhafen] Evidence pack 2026-10: Nordhafen Logistik GmbH"
        assert digest in message["message"] and "/status/nordhafen#evidence" in message["message"]
    finally:
        receiver.stop()


def test_a_recipient_without_a_channel_is_named_and_no_row_is_queued(
    history: Engine, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSBINDER_SMTP_URL")  # dirk-hansen has only an e-mail address
    receiver.stop()
    done = publish_all(history, FrozenClock(t("2026-11-01T12:41")), pdf=False)
    assert (done[0].built, done[0].queued, done[0].unreachable) == (True, [], ["dirk-hansen"])
    with session_scope(history) as s:
        assert s.execute(select(OutboxMessage)).first() is None


@pytest.mark.prefect
@pytest.mark.browser
def test_the_flow_prints_the_pdf_and_fails_naming_a_broken_client_after_the_others(
    history: Engine, receiver: Receiver, prefect_api: None, tmp_path: Path, backend: str
) -> None:
    """The registry's flow on a real Prefect API with the wall clock: last month's pack of
    nordhafen with its PDF (Chromium), while a client whose zone does not exist fails alone."""
    if backend != "sqlite":
        receiver.stop()
        pytest.skip("the flow's wiring does not depend on the store backend")
    from flows.evidence import evidence
    from opsbinder.clock import SystemClock
    from opsbinder.store.models import Client

    now = SystemClock().now()
    with session_scope(history) as s:
        s.add(Client(id="broken", name="Broken", timezone="Mars/Olympus_Mons", definition={},
                     created_at=now, updated_at=now))  # fmt: skip
    try:
        state = evidence(return_state=True)
        assert state.is_failed()
        assert state.message.startswith("broken ?: ZoneInfoNotFoundError"), state.message
        month = str(previous_month(SystemClock(), "Europe/Berlin"))
        pack = tmp_path / "home" / "evidence" / "nordhafen" / month
        assert (pack / "evidence.pdf").read_bytes()[:5] == b"%PDF-"
        assert "evidence.pdf" in (pack / "manifest.sha256").read_text()
        with session_scope(history) as s:
            s.execute(Client.__table__.delete().where(Client.id == "broken"))
        again = evidence(return_state=True)
        assert again.is_completed()
        assert [(p["client"], p["built"], p["queued"]) for p in again.result()] == [
            ("nordhafen", False, [])
        ]
    finally:
        receiver.stop()
