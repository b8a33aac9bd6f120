"""Who gets told, and by whom: a contact with chat and e-mail gets both, and of two
overlapping on-call overrides the newest one decides."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.models import OnCallSchedule, Override, Rotation
from opsbinder.incidents import escalator, lifecycle
from opsbinder.oncall import on_call, shifts
from opsbinder.store.db import session_scope
from opsbinder.store.models import OutboxMessage
from tests.handover.conftest import load_variant


def _chat_for_mark(data: dict[str, Any]) -> None:
    for contact in data["contacts"]:
        if contact["id"] == "mark-olsen":
            contact["chat"] = "json://127.0.0.1:9/chat"


def test_it_sends_a_contact_with_chat_and_email_both(
    store: Engine, clock: FrozenClock, example_dir: Path, monkeypatch
) -> None:
    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailtos://ops:pw@127.0.0.1:9?from=ops@msp.example")
    monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    load_variant(store, clock, example_dir, _chat_for_mark)
    with session_scope(store) as s:
        lifecycle.trigger(
            s, clock, client_id="nordhafen", procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup", title="TMS backup missing",
            severity="sev2", details={},
        )  # fmt: skip
    escalator.sweep(store, clock)
    escalator.sweep(store, FrozenClock(clock.now() + timedelta(minutes=16)))  # L2: mark-olsen
    with session_scope(store) as s:
        rows = s.execute(
            select(
                OutboxMessage.channel, OutboxMessage.target, OutboxMessage.idempotency_key
            ).where(OutboxMessage.recipient == "mark-olsen")
        ).all()
    assert sorted((r.channel, r.target) for r in rows) == [
        ("apprise", "chat:mark-olsen"),
        ("apprise", "mail:mark-olsen"),
    ]
    assert len({r.idempotency_key for r in rows}) == 2


WEEKLY = Rotation(
    members=["ann", "bob", "cem"], handoff_day="mon", handoff_time=time(9), start=date(2026, 1, 5)
)


def test_it_lets_the_newest_of_overlapping_overrides_decide() -> None:
    older = Override(contact="zoe", start=datetime(2026, 3, 28, 8), end=datetime(2026, 3, 28, 20))
    newer = Override(contact="yan", start=datetime(2026, 3, 28, 12), end=datetime(2026, 3, 28, 14))
    schedule = OnCallSchedule(id="l1", timezone="UTC", layers=[WEEKLY], overrides=[older, newer])
    at = datetime(2026, 3, 28, 13, tzinfo=UTC)
    assert on_call(schedule, at) == "yan"
    assert on_call(schedule, at - timedelta(hours=2)) == "zoe"  # only the older one applies
    day = shifts(
        schedule, datetime(2026, 3, 28, 8, tzinfo=UTC), datetime(2026, 3, 28, 20, tzinfo=UTC)
    )
    assert [(s.contact, s.start.hour, s.end.hour) for s in day] == [
        ("zoe", 8, 12),
        ("yan", 12, 14),
        ("zoe", 14, 20),
    ]
