"""A procedure fails, nobody acknowledges, L1 then L2 get signed webhooks on 127.0.0.1."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder import outbox
from opsbinder.clock import FrozenClock, utc
from opsbinder.config.loader import load_binder
from opsbinder.incidents import escalator
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, OutboxMessage
from opsbinder.sync import sync_binder
from tests.incidents.conftest import paged_binder
from tests.notify.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"e2e-pager-secret-of-32-bytes-ok!").decode()


@pytest.mark.prefect
@pytest.mark.slow
def test_it_escalates_an_unacknowledged_failure_from_l1_to_l2(
    prefect_api: None,
    store: Engine,
    example_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.catalog import run_now
    from flows.sweep import sweep

    receiving = FrozenClock(datetime.now(UTC))  # the receiver's idea of now, for its tolerance
    receiver = Receiver(secret=SECRET, clock=receiving)
    try:
        empty = tmp_path / "backups"
        empty.mkdir()
        monkeypatch.setenv("NORDHAFEN_BACKUP_DIR", str(empty))
        monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("OPSBINDER_PAGER_WEBHOOK_SECRET", SECRET)
        with session_scope(store) as s:
            sync_binder(
                s,
                load_binder(paged_binder(example_dir, tmp_path)),
                # loaded minutes ago: within every grace, so the sweep's missed-run watch
                # has nothing to page and only the failure escalates
                FrozenClock(datetime.now(UTC) - timedelta(minutes=10)),
            )

        outcome = run_now("nordhafen", "check-tms-backup")  # the real backup_check flow
        assert outcome.failed
        with session_scope(store) as s:
            inc = s.execute(select(Incident)).scalar_one()
            opened = utc(inc.opened_at)
            assert inc.dedup_key == "nordhafen/check-tms-backup" and inc.severity == "sev2"

        sweep()  # the real minutely flow: L1 now
        l1 = dict(receiver.accepted)
        assert {b["level_name"] for b in l1.values()} == {"L1 on-call"}
        assert len(l1) == 2  # the ops-pager target and the on-call person's webhook

        late = FrozenClock(opened + timedelta(minutes=15))  # past L1's ack_timeout, unacked
        escalator.sweep(store, late)
        receiving.set(late.now())
        outbox.deliver_due(store, late)
        l2 = {k: b for k, b in receiver.accepted.items() if k not in l1}
        assert [b["level_name"] for b in l2.values()] == ["L2 team lead"]
        assert next(iter(l2.values()))["recipient"]["id"] == "mark-olsen"
        assert receiver.bad_signatures == 0  # every message verified against the secret
        assert sum(receiver.duplicates.values()) == 0
        with session_scope(store) as s:
            assert all(
                m.delivered_at is not None for m in s.execute(select(OutboxMessage)).scalars()
            )
            assert s.execute(select(Incident)).scalar_one().escalation_level == 2
    finally:
        receiver.stop()
