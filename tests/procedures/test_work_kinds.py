"""Manual checklists, update reminders and custom entrypoints, on both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from opsbinder import workitems
from opsbinder.clock import FrozenClock
from opsbinder.config.models import CustomProcedure, ManualProcedure, SoftwareInventory
from opsbinder.errors import NotFound
from opsbinder.procedures import custom, manual, update_reminder
from opsbinder.procedures.context import ProcedureContext
from opsbinder.procedures.result import ProcedureResult
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Incident, WorkItem
from tests.procedures.binders import client_binder, load, procedure

# the test clock is 2026-03-20 10:00 UTC
INVENTORY = {
    "id": "software",
    "type": "software_inventory",
    "items": [
        # end of support in 10 days, owner bob: due for a reminder
        {"product": "PostgreSQL", "version": "13", "end_of_support": "2026-03-30", "owner": "bob"},
        # patched 2026-02-01 every 4 weeks: patch due 2026-03-01, overdue
        {
            "product": "Nginx",
            "version": "1.24",
            "patch_cadence": "4w",
            "last_patched": "2026-02-01",
        },
        # far away: no reminder
        {"product": "Debian", "version": "12", "end_of_support": "2028-06-30"},
    ],
}


def _ctx(store: Engine, clock: FrozenClock, pid: str, **kw: object) -> ProcedureContext:
    return ProcedureContext(client_id="acme", procedure_id=pid, clock=clock, store=store, **kw)  # type: ignore[arg-type]


@pytest.fixture
def reminders(store: Engine, clock: FrozenClock):  # type: ignore[no-untyped-def]
    cb = load(
        store,
        clock,
        client_binder(
            [INVENTORY],
            [
                procedure(
                    "remind", "update_reminder", system="software", params={"remind_days_ahead": 30}
                )
            ],
        ),
    )
    return cb.procedure("remind"), SoftwareInventory.model_validate(INVENTORY)


def test_it_creates_each_reminder_once_for_the_owner(
    reminders, store: Engine, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    proc, inventory = reminders
    first = update_reminder.run(_ctx(store, clock, "remind"), proc, inventory)
    clock.advance(timedelta(days=1))
    second = update_reminder.run(_ctx(store, clock, "remind"), proc, inventory)
    assert first.metrics["reminders_created"] == 2
    assert second.metrics["reminders_created"] == 0
    with session_scope(store) as session:
        items = session.execute(select(WorkItem).order_by(WorkItem.title)).scalars().all()
        assert [(i.kind, i.assignee, i.title) for i in items] == [
            ("reminder", "bob", "End of support of PostgreSQL 13 on 2026-03-30: upgrade or renew"),
            ("reminder", "ann", "Patch Nginx 1.24 (due 2026-03-01)"),
        ]
        assert (
            session.execute(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "reminder.created")
            ).scalar_one()
            == 2
        )


def test_it_turns_an_overdue_reminder_into_one_incident(
    reminders, store: Engine, clock: FrozenClock
) -> None:  # type: ignore[no-untyped-def]
    proc, inventory = reminders
    first = update_reminder.run(_ctx(store, clock, "remind"), proc, inventory)
    update_reminder.run(_ctx(store, clock, "remind"), proc, inventory)
    assert first.metrics["overdue_new"] == 1
    assert "1 newly overdue (incidents opened)" in first.summary
    with session_scope(store) as session:
        incident = session.execute(select(Incident)).scalar_one()
        assert incident.title == "Overdue: Patch Nginx 1.24 (due 2026-03-01)"
        assert incident.occurrences == 1
        assert incident.severity == "sev3"


def test_it_only_counts_in_a_dry_run(reminders, store: Engine, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    proc, inventory = reminders
    result = update_reminder.run(_ctx(store, clock, "remind", dry_run=True), proc, inventory)
    assert result.summary == "dry run: 2 deadline(s) within 30 days"
    with session_scope(store) as session:
        assert session.execute(select(func.count()).select_from(WorkItem)).scalar_one() == 0


@pytest.fixture
def checklist(store: Engine, clock: FrozenClock) -> ManualProcedure:
    steps = {"runbook": {"steps": ["Restore the dump", "Run the smoke test"]}}
    cb = load(
        store,
        clock,
        client_binder(
            [], [procedure("restore-test", "manual", params={"deadline": "3d"}, **steps)]
        ),
    )
    return cb.procedure("restore-test")  # type: ignore[return-value]


def test_it_creates_a_due_checklist_once_a_day(
    checklist: ManualProcedure, store: Engine, clock: FrozenClock
) -> None:
    first = manual.run(_ctx(store, clock, "restore-test"), checklist)
    again = manual.run(_ctx(store, clock, "restore-test"), checklist)
    assert first.metrics["created"] is True and again.metrics["created"] is False
    assert first.summary.startswith("checklist #")
    assert "created for ann: 2 steps, due 2026-03-23 10:00 UTC" in first.summary
    with session_scope(store) as session:
        item = session.execute(select(WorkItem)).scalar_one()
        assert item.steps == ["Restore the dump", "Run the smoke test"]


def test_it_signs_off_the_newest_open_checklist_audited(
    checklist: ManualProcedure, store: Engine, clock: FrozenClock
) -> None:
    manual.run(_ctx(store, clock, "restore-test"), checklist)
    clock.advance(timedelta(days=1))
    manual.run(_ctx(store, clock, "restore-test"), checklist)
    with session_scope(store) as session:
        done = workitems.complete_newest(
            session, clock, client_id="acme", procedure_key="restore-test", actor="priya",
            note="restored in 42 min",
        )  # fmt: skip
        assert (done.completed_by, done.note) == ("priya", "restored in 42 min")
        assert utc_date(done.created_at) == "2026-03-21"
        entry = session.execute(
            select(AuditEntry).where(AuditEntry.action == "checklist.completed")
        ).scalar_one()
        assert entry.details == {"note": "restored in 42 min", "late": False}
    with session_scope(store) as session:
        workitems.complete_newest(
            session, clock, client_id="acme", procedure_key="restore-test", actor="priya", note=""
        )
        with pytest.raises(NotFound, match="acme/restore-test has no open checklist to sign off"):
            workitems.complete_newest(
                session,
                clock,
                client_id="acme",
                procedure_key="restore-test",
                actor="priya",
                note="",
            )


def utc_date(value) -> str:  # type: ignore[no-untyped-def]
    return value.strftime("%Y-%m-%d")


def test_it_opens_an_incident_for_an_overdue_checklist_once(
    checklist: ManualProcedure, store: Engine, clock: FrozenClock
) -> None:
    manual.run(_ctx(store, clock, "restore-test"), checklist)
    clock.advance(timedelta(days=4))
    with session_scope(store) as session:
        assert len(workitems.escalate_overdue(session, clock)) == 1
        assert workitems.escalate_overdue(session, clock) == []
    result = manual.run(_ctx(store, clock, "restore-test"), checklist)
    assert result.metrics["overdue"] == 0  # already an incident: it pages once
    with session_scope(store) as session:
        incident = session.execute(select(Incident)).scalar_one()
        assert incident.title == "Overdue: Test restore-test"
        assert session.execute(
            select(WorkItem).where(WorkItem.incident_id == incident.id)
        ).scalar_one()


# --- custom ---------------------------------------------------------------------------------


def returns_dict(ctx: ProcedureContext, *, n: int) -> dict[str, int]:
    return {"n": n * 2}


def returns_nothing(ctx: ProcedureContext) -> None:
    return None


def _custom(entrypoint: str, **arguments: object) -> CustomProcedure:
    return CustomProcedure.model_validate(
        procedure("c", "custom", params={"entrypoint": entrypoint, "arguments": arguments})
    )


def test_it_calls_a_custom_entrypoint_with_its_arguments(clock: FrozenClock) -> None:
    ctx = _ctx(create_engine("sqlite://"), clock, "c")
    result = custom.run(ctx, _custom("tests.procedures.test_work_kinds:returns_dict", n=21))
    assert (result.status, result.metrics) == ("ok", {"n": 42})
    bad = custom.run(ctx, _custom("tests.procedures.test_work_kinds:returns_nothing"))
    assert bad.findings == [
        "entrypoint tests.procedures.test_work_kinds:returns_nothing returned NoneType; "
        "expected a ProcedureResult or a dict of metrics"
    ]
    missing = custom.run(ctx, _custom("tests.procedures.test_work_kinds:nope"))
    assert missing.findings == [
        "entrypoint tests.procedures.test_work_kinds:nope: tests.procedures.test_work_kinds has no function 'nope'"
    ]
    unimportable = custom.run(ctx, _custom("no_such_module_x:f"))
    assert unimportable.status == "failed"
    assert unimportable.findings[0].startswith("entrypoint no_such_module_x:f: cannot import")


def test_it_counts_rows_with_the_example_entrypoint(
    store: Engine, clock: FrozenClock, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'tms.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE orders (id integer primary key)"))
        conn.execute(text("INSERT INTO orders (id) VALUES (1), (2), (3)"))
    engine.dispose()
    ctx = _ctx(store, clock, "c", environ={"TMS": url})
    proc = _custom("opsbinder.procedures.examples:count_rows", system_env="TMS", table="orders")
    assert custom.run(ctx, proc) == ProcedureResult(
        "ok", "orders: 3 rows", {"rows": 3, "table": "orders"}
    )
    proc = _custom("opsbinder.procedures.examples:count_rows", system_env="TMS", table="nope")
    assert custom.run(ctx, proc).findings == [
        "table 'nope' does not exist in the database named by TMS"
    ]
