"""Housekeeping of opsbinder's own store: old records go, newer ones and the boundary stay, the
audit log is never touched, a dry run deletes nothing, the plan guard holds a runaway plan."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from opsbinder import audit, changes, housekeeping, outbox, runs
from opsbinder.accounts import add_user
from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.console_sessions import end, open_session
from opsbinder.store.db import session_scope
from opsbinder.store.models import (
    AuditEntry,
    ChangeEvent,
    ConsoleSession,
    OutboxMessage,
    Run,
    SignInFailures,
)
from opsbinder.sync import sync_binder
from tests.cli.installed import environment, run_cli
from tests.support.world import cheap_password_hashing

DAY = timedelta(days=1)


def _run(store: Engine, clock: FrozenClock, label: str) -> None:
    """A run recorded through the real recording code at the clock's instant."""
    with session_scope(store) as session:
        run = runs.start_run(
            session,
            clock,
            client_id="nordhafen",
            procedure_key="check-disk-space",
            flow_run_id=None,
            scheduled_for=clock.now(),
            actor=label,  # a person's run: the recording code writes an audit entry too
        )
        runs.finish_run(session, clock, run.id, "ok", label)


def _delivered_message(store: Engine, clock: FrozenClock, key: str) -> None:
    with session_scope(store) as session:
        message = outbox.enqueue(
            session,
            clock,
            channel="webhook",
            target="ops",
            route={},
            body={"text": key},
            idempotency_key=key,
        )
        assert message is not None
        message.delivered_at = clock.now()


def _world(store: Engine, clock: FrozenClock, example_dir: Path) -> dict[str, object]:
    """Records of every shelf at four ages: far past, exactly at the cutoff, just after, now."""
    now = clock.now()
    with session_scope(store) as session:
        sync_binder(session, load_binder(example_dir), clock)
        user = add_user(
            session, clock, username="lena", role="L2", password="a long passphrase 1", actor="t"
        )
        user_id = user.id
    kept_runs = timedelta(days=400)
    for label, at in {
        "old": now - kept_runs - 30 * DAY,
        "boundary": now - kept_runs,
        "newer": now - kept_runs + timedelta(seconds=1),
        "recent": now - DAY,
    }.items():
        clock.set(at)
        _run(store, clock, label)
        with session_scope(store) as session:
            changes.record(session, clock, "nordhafen", changes.Change(label), integration="ci")
    for label, at in {
        "old": now - 31 * DAY,
        "boundary": now - 30 * DAY,
        "recent": now - DAY,
    }.items():
        clock.set(at)
        _delivered_message(store, clock, f"outbox-{label}")
    clock.set(now - 60 * DAY)
    with session_scope(store) as session:  # a message never delivered stays, however old
        outbox.enqueue(
            session, clock, channel="webhook", target="ops", route={}, body={}, idempotency_key="p"
        )
    with session_scope(store) as session:
        from opsbinder.store.models import User

        account = session.get(User, user_id)
        assert account is not None
        clock.set(now - 2 * DAY)
        end(
            session,
            clock,
            open_session(session, clock, account, address="a", user_agent="").row,
            "x",
        )
        clock.set(now - timedelta(hours=1))
        open_session(session, clock, account, address="b", user_agent="")
        session.add_all(
            [
                SignInFailures(key="user:old", failures=9, last_failure_at=now - 8 * DAY),
                SignInFailures(key="user:new", failures=9, last_failure_at=now - 6 * DAY),
            ]
        )
    clock.set(now)
    return {"user_id": user_id}


def _counts(store: Engine) -> dict[str, int]:
    with session_scope(store) as session:
        return {
            model.__tablename__: session.execute(
                select(func.count()).select_from(model)
            ).scalar_one()
            for model in (Run, OutboxMessage, ConsoleSession, SignInFailures, AuditEntry)
        }


def test_it_trims_every_shelf_past_its_retention_and_keeps_the_boundary_and_the_audit_log(
    store: Engine, clock: FrozenClock, example_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_password_hashing(monkeypatch)
    _world(store, clock, example_dir)
    with session_scope(store) as session:
        old_audit = session.execute(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.at < clock.now() - timedelta(days=400))
        ).scalar_one()
        audit_rows = [(a.seq, a.hash) for a in session.execute(select(AuditEntry)).scalars()]
    assert old_audit >= 1  # the audit log holds entries older than any retention

    report = housekeeping.trim_store(store, clock)

    done = {t.shelf: t.deleted for t in report.shelves}
    assert done == {
        "runs": 1,
        "heartbeat pings": 0,
        "change events": 1,
        "outbox": 1,
        "console sessions": 1,
        "sign-in throttle": 1,
    }
    with session_scope(store) as session:
        assert sorted(session.execute(select(Run.reason)).scalars()) == [
            "boundary",
            "newer",
            "recent",
        ]
        assert sorted(session.execute(select(OutboxMessage.idempotency_key)).scalars()) == [
            "outbox-boundary",
            "outbox-recent",
            "p",
        ]
        assert session.execute(select(ConsoleSession.address)).scalars().all() == ["b"]
        kept = sorted(session.execute(select(ChangeEvent.summary)).scalars())
        assert kept == ["boundary", "newer", "recent"]
        assert session.execute(select(SignInFailures.key)).scalars().all() == ["user:new"]
        after = [(a.seq, a.hash) for a in session.execute(select(AuditEntry)).scalars()]
        trimmed = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars()
        last = next(iter(trimmed))
    assert after[:-1] == audit_rows  # every entry as it was, and one more: the trim itself
    assert (last.actor, last.action) == ("housekeeping", "housekeeping.trimmed")
    assert last.details["deleted"] == {
        "runs": 1,
        "change events": 1,
        "outbox": 1,
        "console sessions": 1,
        "sign-in throttle": 1,
    }
    with session_scope(store) as session:
        checked, breaks = audit.verify(session)
    assert checked == len(audit_rows) + 1 and breaks == []  # the chain still verifies whole

    again = housekeeping.trim_store(store, clock)
    assert sum(t.deleted for t in again.shelves) == 0  # idempotent: nothing left to trim


def test_it_counts_in_a_dry_run_and_deletes_nothing(
    store: Engine, clock: FrozenClock, example_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_password_hashing(monkeypatch)
    _world(store, clock, example_dir)
    before = _counts(store)

    report = housekeeping.trim_store(store, clock, dry_run=True)

    assert {t.shelf: t.planned for t in report.shelves}["runs"] == 1  # there is work to do
    assert sum(t.planned for t in report.shelves) == 5
    assert sum(t.deleted for t in report.shelves) == 0
    assert _counts(store) == before  # the audit log included: a dry run records nothing


def test_it_leaves_a_table_whose_plan_is_above_the_guard_until_approved(
    store: Engine, clock: FrozenClock, example_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cheap_password_hashing(monkeypatch)
    _world(store, clock, example_dir)
    monkeypatch.setenv("OPSBINDER_HOUSEKEEPING_MAX_ROWS", "0")
    from opsbinder.settings import get_settings

    get_settings.cache_clear()
    before = _counts(store)

    refused = housekeeping.trim_store(store, clock)

    assert {t.shelf for t in refused.refused} == {
        "runs",
        "change events",
        "outbox",
        "console sessions",
        "sign-in throttle",
    }
    assert _counts(store) == before
    approved = housekeeping.trim_store(store, clock, approve=True)
    assert sum(t.deleted for t in approved.shelves) == 5


def test_it_is_a_command_whose_dry_run_counts_and_deletes_nothing(
    store: Engine,
    store_url: str,
    tmp_path: Path,
    clock: FrozenClock,
    example_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The installed command, on the real clock: records of 2026-03-20 minus 400+ days are old."""
    cheap_password_hashing(monkeypatch)
    _world(store, clock, example_dir)
    before = _counts(store)
    env = environment(tmp_path / "home", store_url, OPSBINDER_ACTOR="mara")

    dry = run_cli(["housekeeping", "--store-only", "--dry-run", "--json"], env)

    assert dry.code == 0, dry
    planned = json.loads(dry.out)
    assert planned["dry_run"] is True
    assert planned["store"]["runs"]["planned"] >= 1
    assert _counts(store) == before

    done = run_cli(["housekeeping", "--store-only"], env)
    assert done.code == 0, done
    assert "Traceback" not in done.output
    assert "runs" in done.out and "retention: runs 400 days" in done.out.replace("\n", " ")
    after = _counts(store)
    assert after["runs"] < before["runs"]
    assert after["audit_log"] == before["audit_log"] + 1  # none gone; the trim recorded
    with session_scope(store) as session:
        last = session.execute(select(AuditEntry).order_by(AuditEntry.seq.desc())).scalars()
        entry = next(iter(last))
        assert (entry.actor, entry.action) == ("mara", "housekeeping.trimmed")


def test_it_refuses_a_retention_shorter_than_what_reports_read(tmp_path: Path) -> None:
    env = environment(tmp_path / "home", None, OPSBINDER_KEEP_RUNS_DAYS="30")
    ran = run_cli(["housekeeping", "--store-only", "--dry-run"], env)
    assert ran.code == 2, ran
    assert "OPSBINDER_KEEP_RUNS_DAYS" in ran.err and "Traceback" not in ran.output


def test_it_says_when_no_prefect_server_is_in_use_and_exits_5_when_one_is_unreachable(
    store: Engine, store_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "sqlite":
        pytest.skip("the Prefect side does not depend on the store backend")
    env = environment(tmp_path / "home", store_url)
    alone = run_cli(["housekeeping", "--dry-run"], env)
    assert alone.code == 0, alone
    assert "no Prefect server in use" in alone.out.replace("\n", " ")

    away = environment(tmp_path / "home", store_url, PREFECT_API_URL="http://127.0.0.1:9/api")
    ran = run_cli(["housekeeping", "--dry-run"], away)
    assert ran.code == 5, ran
    assert "http://127.0.0.1:9/api is not reachable" in ran.err and "Traceback" not in ran.output


def test_it_removes_rejected_hook_reports_left_alone_for_the_retention_and_never_pending_ones(
    store: Engine, backend: str, clock: FrozenClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend != "sqlite":
        pytest.skip("the spool is files, whatever the store")
    import os

    from opsbinder import spool
    from opsbinder.settings import get_settings

    monkeypatch.setenv("OPSBINDER_SPOOL_DIR", str(tmp_path / "spool"))
    get_settings.cache_clear()
    pending = spool.write(tmp_path / "spool", {"kind": "failure", "at": "2025-01-01"})
    rejected = spool.write_to(tmp_path / "spool" / spool.REJECTED, {"kind": "failure"})
    old = (clock.now() - timedelta(days=91)).timestamp()
    for path in (pending, rejected):
        os.utime(path, (old, old))

    dry = housekeeping.trim_store(store, clock, dry_run=True)
    assert (dry.spool_files_planned, dry.spool_files_removed) == (1, 0)
    assert rejected.exists()

    done = housekeeping.trim_store(store, clock)
    assert done.spool_files_removed == 1
    assert not rejected.exists() and pending.exists()  # not applied yet: never trimmed

    fresh = spool.write_to(tmp_path / "spool" / spool.REJECTED, {"kind": "failure"})
    recent = (clock.now() - timedelta(days=89)).timestamp()
    os.utime(fresh, (recent, recent))
    assert housekeeping.trim_store(store, clock).spool_files_removed == 0 and fresh.exists()
