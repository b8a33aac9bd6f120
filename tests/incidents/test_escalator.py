"""The sweeper's half: engine actions become outbox rows and timeline entries, idempotently."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.incidents import escalator, lifecycle
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, OutboxMessage
from opsbinder.sync import sync_binder
from tests.incidents.conftest import paged_binder


def _open(store: Engine, clock: FrozenClock, severity: str = "sev2") -> int:
    with session_scope(store) as s:
        return lifecycle.trigger(
            s,
            clock,
            client_id="nordhafen",
            procedure_key="check-tms-backup",
            dedup_key="nordhafen/check-tms-backup",
            title="Check last night's TMS backup: Failed",
            severity=severity,
            details={"error": "no dump"},
        ).id


def _outbox(store: Engine) -> list[tuple[str, str | None]]:
    with session_scope(store) as s:
        rows = s.execute(select(OutboxMessage).order_by(OutboxMessage.id)).scalars()
        return [(m.idempotency_key.split("#")[0], m.recipient) for m in rows]


def test_it_pages_level_one_then_escalates_once_per_step(paged: Engine, clock: FrozenClock) -> None:
    iid = _open(paged, clock)
    report = escalator.sweep(paged, clock)
    assert report.enqueued == 2  # the on-call person's webhook and the ops-pager webhook
    first = _outbox(paged)
    assert {k for k, _ in first} == {
        f"inc/{iid}/e0/r0/l1/oncall:l1-weekly",
        f"inc/{iid}/e0/r0/l1/webhook:ops-pager",
    }
    assert escalator.sweep(paged, clock).enqueued == 0  # same minute again: nothing new
    clock.advance(timedelta(minutes=14))
    assert escalator.sweep(paged, clock).enqueued == 0
    clock.advance(timedelta(minutes=1))
    report = escalator.sweep(paged, clock)
    assert report.escalations == 1 and report.enqueued == 1
    assert _outbox(paged)[-1] == (f"inc/{iid}/e0/r0/l2/contact:mark-olsen", "mark-olsen")
    with session_scope(paged) as s:
        inc = s.get(Incident, iid)
        assert inc.escalation_level == 2
        kinds = [e.kind for e in lifecycle.events(s, iid)]
        assert kinds.count("escalated") == 1
        assert kinds.count("notified") == 3


def test_it_stops_paging_once_acknowledged(paged: Engine, clock: FrozenClock) -> None:
    iid = _open(paged, clock)
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        lifecycle.acknowledge(s, clock, iid, actor="lena-fischer")
    clock.advance(timedelta(hours=5))
    assert escalator.sweep(paged, clock).enqueued == 0


def test_it_records_a_skip_for_someone_without_a_channel(paged: Engine, clock: FrozenClock) -> None:
    iid = _open(paged, clock)
    escalator.sweep(paged, clock)
    clock.advance(timedelta(minutes=45))  # L3: priya-nair has only an e-mail and no SMTP is set
    escalator.sweep(paged, clock)
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        skipped = [e for e in lifecycle.events(s, iid) if e.kind == escalator.SKIPPED]
        ladder = [e for e in skipped if "/sla/" not in e.data["key"]]  # not the SLA warning's
        assert len(ladder) == 1
        assert "no channel to reach priya-nair" in ladder[0].message


def test_it_informs_management_for_severity_one(
    paged: Engine, clock: FrozenClock, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPSBINDER_SMTP_URL", "mailto://ops:pw@127.0.0.1:2525?from=ops@msp.example")
    iid = _open(paged, clock, severity="sev1")
    escalator.sweep(paged, clock)
    keys = {k for k, _ in _outbox(paged)}
    assert f"inc/{iid}/e0/sev1/t0/contact:claudia-roth" in keys
    assert f"inc/{iid}/e0/sev1/t0/contact:jonas-weber" in keys
    with session_scope(paged) as s:
        lifecycle.acknowledge(s, clock, iid, actor="lena-fischer")
    clock.advance(timedelta(hours=1))
    escalator.sweep(paged, clock)
    keys = {k for k, _ in _outbox(paged)}
    assert f"inc/{iid}/e0/sev1/t1/contact:claudia-roth" in keys
    with session_scope(paged) as s:
        lifecycle.resolve(s, clock, iid, actor="lena-fischer")
    clock.advance(timedelta(hours=1))
    assert escalator.sweep(paged, clock).enqueued == 0


def test_it_starts_over_after_a_reopen(paged: Engine, clock: FrozenClock) -> None:
    iid = _open(paged, clock)
    escalator.sweep(paged, clock)
    with session_scope(paged) as s:
        lifecycle.resolve(s, clock, iid, actor="x")
    clock.advance(timedelta(hours=1))
    with session_scope(paged) as s:
        lifecycle.reopen(s, clock, iid, actor="x")
    assert escalator.sweep(paged, clock).enqueued == 2
    assert f"inc/{iid}/e1/r0/l1/webhook:ops-pager" in {k for k, _ in _outbox(paged)}


def test_it_keeps_each_incidents_own_frozen_policy_within_one_pass(
    store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path
) -> None:
    """A pass validates each distinct frozen policy once; two incidents whose copies of the
    same policy differ (it was edited between their openings) are each decided by their own."""
    slow = paged_binder(example_dir, tmp_path)
    policies = slow / "escalation.yaml"
    text = policies.read_text()
    assert text.count("ack_timeout: 15m") == 1
    policies.write_text(text.replace("ack_timeout: 15m", "ack_timeout: 2h"))
    with session_scope(store) as s:
        sync_binder(s, load_binder(slow), clock)
    first = _open(store, clock)  # frozen: L1 waits 2h
    with session_scope(store) as s:
        sync_binder(s, load_binder(paged_binder(example_dir, tmp_path / "again")), clock)
        second = lifecycle.trigger(
            s, clock, client_id="nordhafen", procedure_key="purge-tracking-events",
            dedup_key="nordhafen/purge-tracking-events", title="Purge: Failed",
            severity="sev2", details={"error": "locked"},
        ).id  # fmt: skip
    assert escalator.sweep(store, clock).enqueued == 4  # both incidents' L1 pages
    clock.advance(timedelta(minutes=16))
    report = escalator.sweep(store, clock)
    assert report.escalations == 1
    with session_scope(store) as s:
        assert (
            s.get(Incident, first).escalation_level,
            s.get(Incident, second).escalation_level,
        ) == (1, 2)
