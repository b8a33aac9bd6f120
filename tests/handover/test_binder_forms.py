"""The binder forms of issue 17, each in a variant of the example: loaded, exported in plain words,
and read back from the export identically (what `binder import` loads)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.handover.export import export_client
from opsbinder.store.db import session_scope
from tests.handover.conftest import load_variant

Data = dict[str, Any]


def _procedure(data: Data, pid: str) -> Data:
    return next(p for p in data["procedures"] if p["id"] == pid)


def _legal_retention(data: Data) -> None:
    params = _procedure(data, "purge-tracking-events")["params"]
    del params["retention_days"]
    params["retention"] = "10 years from the end of the year"
    params = _procedure(data, "archive-delivered-orders")["params"]
    del params["older_than_days"]
    params["older_than"] = "18 months"


def _quarterly_restore_test(data: Data) -> None:
    _procedure(data, "monthly-restore-test")["schedule"]["cron"] = "0 9 1 1,4,7,10 *"


def _as_is(data: Data) -> None:
    """The example as it is."""


def _lockdown_yearly(data: Data) -> None:
    lockdown = _procedure(data, "lockdown-checklist")
    del lockdown["on_demand"]
    lockdown.update(schedule={"cron": "0 9 1 1 *", "timezone": "Europe/Berlin"}, cadence="yearly")


def _recurring_calendar(data: Data) -> None:
    data["maintenance_windows"] += [
        {"name": "Sunday patching", "rrule": "FREQ=WEEKLY;BYDAY=SU",
         "start": "2027-01-03T22:00:00", "duration": "6h"},
        {"name": "Month end", "cron": "0 20 L * *", "duration": "4h",
         "procedures": ["purge-tracking-events"]},
    ]  # fmt: skip
    data["holidays"].append(
        {"rrule": "FREQ=YEARLY;BYEASTER=1", "name": "Easter Monday", "then": "next_working_day"}
    )


def _layers_and_timeouts(data: Data) -> None:
    schedule = data["oncall_schedules"][0]
    schedule["layers"].append({**schedule["layers"][0], "name": "secondary",
                               "members": ["mark-olsen", "priya-nair"]})  # fmt: skip
    level = data["escalation_policies"][0]["levels"][0]
    level["targets"] = [{"oncall": "l1-weekly", "layer": "primary"}]
    level["ack_timeout"] = {"sev1": "5m", "default": "15m"}
    data["escalation_policies"][0]["levels"].insert(
        1, {"name": "L1 secondary", "targets": [{"oncall": "l1-weekly", "layer": "secondary"}],
            "ack_timeout": "15m"}
    )  # fmt: skip


def _restore_drill(data: Data) -> None:
    data["systems"].append({"id": "tms-scratch", "type": "database", "url_env": "TMS_SCRATCH_URL"})
    params = _procedure(data, "check-tms-backup")["params"]
    params.update(restore_drill=True, restore_to="tms-scratch",
                  sanity_queries=["SELECT count(*) FROM orders"])  # fmt: skip


def _partitioned_archive(data: Data) -> None:
    """PostgreSQL only (the demo's SQLite cannot run it), so a variant, not the example."""
    params = _procedure(data, "archive-delivered-orders")["params"]
    params.update(key_column=["id", "delivered_at"], partitions="whole")


# form -> (change to the example, page of the export, what that page must say)
FORMS: dict[str, tuple[Callable[[Data], None], str, list[str]]] = {
    "retention": (
        _legal_retention,
        "procedures/purge-tracking-events.html",
        [
            "rows are kept 10 years from the end of the calendar year of each record; "
            "a record of 2020 is kept until 31 December 2030",
            "retention: 10 years from the end of the year",
        ],
    ),
    "archive-after-months": (
        _legal_retention,
        "procedures/archive-delivered-orders.html",
        ["rows stay in the table 18 months: a record older than that goes (into the archive)"],
    ),
    "partitioned-archive": (
        _partitioned_archive,
        "procedures/archive-delivered-orders.html",
        [
            "rows are deleted and restored by the key (id, delivered_at); whole expired "
            "partitions are detached, archived, verified against the manifest, then dropped "
            "(PostgreSQL range partitions)",
        ],
    ),
    "binder-keeps-the-composite-key": (
        _partitioned_archive,
        "binder/procedures.yaml",
        ["- id\n", "- delivered_at\n", "partitions: whole"],
    ),
    "quarterly": (
        _quarterly_restore_test,
        "procedures/monthly-restore-test.html",
        ["(quarterly bundle)", "At 09:00, on day 1 of the month, only in January, April, July"],
    ),
    "on-demand": (
        _as_is,  # the example's lockdown checklist is on demand
        "procedures/lockdown-checklist.html",
        [
            "On demand: no schedule; run by hand when needed",
            "none scheduled: it runs when someone runs it "
            "(<code>opsbinder run nordhafen/lockdown-checklist</code>); in no cadence bundle",
        ],
    ),
    "on-demand-in-the-list": (
        _as_is,  # the example's lockdown checklist is on demand
        "procedures.html",
        ["On demand: no schedule; run by hand when needed</td>"],
    ),
    "recurring-calendar": (
        _recurring_calendar,
        "binder/calendar.yaml",
        [
            "rrule: FREQ=WEEKLY;BYDAY=SU",
            "duration: 6h",
            "cron: 0 20 L * *",
            "rrule: FREQ=YEARLY;BYEASTER=1",
            "then: next_working_day",
        ],
    ),
    "oncall-layers": (
        _layers_and_timeouts,
        "escalation.html",
        ["whoever is on call in layer secondary of", "sev1: 5 minutes; otherwise 15 minutes"],
    ),
    "restore-drill": (
        _restore_drill,
        "procedures/check-tms-backup.html",
        [
            'restores the newest backup into the database <a href="../systems.html#system-tms-scratch">'
            "tms-scratch</a>, replacing what is there, then checks 1 sanity queries"
        ],
    ),
}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_it_loads_exports_in_words_and_reads_back_each_form(
    form: str, store: Engine, clock: FrozenClock, example_dir: Path, tmp_path: Path
) -> None:
    change, page, words = FORMS[form]
    variant = load_variant(store, clock, example_dir, change)
    with session_scope(store) as session:
        export_client(session, "nordhafen", tmp_path / "out", clock, actor="tester")
    html = (tmp_path / "out" / page).read_text(encoding="utf-8")
    for said in words:
        assert said in html, said
    again = load_binder(tmp_path / "out" / "binder").clients[0]
    same: Any = {"exclude": {"locations"}}
    assert _by_id(again.model_dump(**same)) == _by_id(variant.model_dump(**same))


def _by_id(data: Data) -> Data:
    return {**data, "procedures": sorted(data["procedures"], key=lambda p: p["id"])}


def test_it_neither_bundles_nor_expects_an_on_demand_procedure(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    from deployments.build import build_specs
    from opsbinder.handover.completeness import audit_client

    def findings() -> list[str]:
        with session_scope(store) as session:
            found = audit_client(session, "nordhafen", clock).findings
        return [  # what is expected of it, not what its runbook says (test_contradictions.py)
            f.message
            for f in found
            if "lockdown-checklist" in f.message and not f.code.startswith("runbook-")
        ]

    load_variant(store, clock, example_dir, _lockdown_yearly)
    assert findings() == ["lockdown-checklist: this checklist was never signed off"]
    specs = {s.name: s for s in build_specs(store, sweepers=False)}
    assert specs["nordhafen.lockdown-checklist"].schedules
    assert "nordhafen.yearly" in specs

    load_variant(store, clock, example_dir, None)  # the example's: on demand
    assert findings() == []  # on demand: nothing due, nothing missed
    specs = {s.name: s for s in build_specs(store, sweepers=False)}
    on_demand = specs["nordhafen.lockdown-checklist"]
    assert on_demand.schedules == ()  # a deployment to run by hand, never scheduled
    assert "cadence:on_demand" in on_demand.tags
    assert "nordhafen.on_demand" not in specs and "nordhafen.yearly" not in specs


def test_it_puts_a_quarterly_procedure_in_the_quarterly_bundle(
    store: Engine, clock: FrozenClock, example_dir: Path
) -> None:
    from opsbinder.procedures.execution import bundle_members

    load_variant(store, clock, example_dir, _quarterly_restore_test)
    assert bundle_members(store, "nordhafen", "quarterly") == [
        ("monthly-restore-test", "manual", False)
    ]
    assert ("monthly-restore-test", "manual", False) not in bundle_members(
        store, "nordhafen", "monthly"
    )
