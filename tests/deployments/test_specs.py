"""Deployments built from the store, and drift between binder and server (no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.orchestrator.specs import (
    DeploymentSpec,
    ScheduleSpec,
    drift,
    keep_operator_pauses,
)
from opsbinder.pauses import PauseTarget, set_paused
from opsbinder.store.db import session_scope
from opsbinder.store.models import AuditEntry, Procedure
from opsbinder.sync import sync_binder


@pytest.fixture
def loaded(store: Engine, example_dir: Path, clock: FrozenClock) -> Engine:
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    return store


def test_it_builds_one_deployment_per_procedure_with_its_cron_zone_tags_and_parameters(
    loaded: Engine,
) -> None:
    from deployments.build import build_specs

    specs = {s.name: s for s in build_specs(loaded)}
    backup = specs["nordhafen.check-tms-backup"]
    assert backup.full_name == "backup_check/nordhafen.check-tms-backup"
    assert backup.entrypoint == "flows/procedures.py:backup_check"
    assert backup.schedules == (ScheduleSpec(cron="30 6 * * *", timezone="Europe/Berlin"),)
    assert backup.parameters == {"client_id": "nordhafen", "procedure_id": "check-tms-backup"}
    assert {"opsbinder", "client:nordhafen", "kind:backup_check", "cadence:daily"} <= set(
        backup.tags
    )
    assert specs["nordhafen.check-disk-space"].tag_value("cadence") == "daily"  # set in YAML
    procedures = [s for s in specs.values() if s.tag_value("procedure")]
    assert len(procedures) == 8
    bundles = {s.name: s for s in specs.values() if "bundle" in s.tags}
    assert set(bundles) == {
        "nordhafen.daily",
        "nordhafen.weekly",
        "nordhafen.monthly",
    }  # the lockdown checklist is on demand: in no bundle
    assert all(not b.schedules for b in bundles.values())  # procedures run on their own crons
    assert bundles["nordhafen.daily"].parameters == {"client_id": "nordhafen", "cadence": "daily"}
    sweepers = [s for s in specs.values() if "sweeper" in s.tags]
    assert sweepers and all(s.schedules[0].interval_seconds == 60 for s in sweepers)


def test_it_deploys_exactly_the_registrys_flows_under_the_registrys_names(loaded: Engine) -> None:
    from deployments.build import build_specs
    from flows import registry

    specs = build_specs(loaded)
    sweepers = {s.name: s for s in specs if "sweeper" in s.tags}
    assert set(sweepers) == {s.deployment for s in registry.SWEEPERS}
    for sweeper in registry.SWEEPERS:
        spec = sweepers[sweeper.deployment]
        assert (spec.flow_name, spec.entrypoint) == (sweeper.flow.name, sweeper.flow.entrypoint)
        assert spec.schedules == (ScheduleSpec(interval_seconds=sweeper.every_seconds),)
    # sweeping costs at most one flow run a minute in all (it was four: 5,760 runs a day)
    assert sum(86_400 // s.schedules[0].interval_seconds for s in sweepers.values()) <= 1_440
    known = {(e.name, e.entrypoint) for e in registry.every_flow()}
    assert {(s.flow_name, s.entrypoint) for s in specs} <= known
    procedures = [s for s in specs if s.tag_value("procedure")]
    assert procedures and all(s.flow_name == s.tag_value("kind") for s in procedures)
    assert len(build_specs(loaded, sweepers=False)) == len(specs) - len(registry.SWEEPERS) - len(
        registry.BUILT_IN
    )
    housekeeping = next(s for s in specs if s.name == registry.HOUSEKEEPING.deployment)
    assert housekeeping.schedules == (ScheduleSpec(cron="17 3 * * *", timezone="UTC"),)
    assert housekeeping.entrypoint == "flows/housekeeping.py:housekeeping"
    evidence = next(s for s in specs if s.name == registry.EVIDENCE.deployment)
    assert evidence.schedules == (ScheduleSpec(cron="41 12 1 * *", timezone="UTC"),)
    assert evidence.entrypoint == "flows/evidence.py:evidence"


def test_it_pauses_in_the_store_with_an_audit_entry_and_builds_paused_deployments(
    loaded: Engine, clock: FrozenClock
) -> None:
    from deployments.build import build_specs

    with session_scope(loaded) as s:
        assert set_paused(s, PauseTarget("nordhafen", "check-tms-backup"), True, clock, "mona")
        assert not set_paused(s, PauseTarget("nordhafen", "check-tms-backup"), True, clock, "mona")
    specs = {s.name: s for s in build_specs(loaded)}
    assert specs["nordhafen.check-tms-backup"].paused
    assert not specs["nordhafen.purge-tracking-events"].paused

    with session_scope(loaded) as s:
        set_paused(s, PauseTarget("nordhafen", None), True, clock, "mona")
    specs = build_specs(loaded)
    assert all(s.paused for s in specs if s.tag_value("client") == "nordhafen")
    assert not any(s.paused for s in specs if "sweeper" in s.tags)

    with session_scope(loaded) as s:
        actions = [a for (a,) in s.execute(select(AuditEntry.action).order_by(AuditEntry.seq))]
    assert actions[-2:] == ["procedure.paused", "client.paused"]


def test_it_leaves_out_procedures_removed_from_the_binder(loaded: Engine) -> None:
    from deployments.build import build_specs

    assert "nordhafen.monthly-restore-test" in {s.name for s in build_specs(loaded)}  # control
    with session_scope(loaded) as s:
        row = s.execute(
            select(Procedure).where(Procedure.key == "monthly-restore-test")
        ).scalar_one()
        row.active = False
    names = {s.name for s in build_specs(loaded)}
    assert "nordhafen.monthly-restore-test" not in names
    assert "nordhafen.check-tms-backup" in names


def _spec(name: str, cron: str = "0 1 * * *", **kw) -> DeploymentSpec:  # type: ignore[no-untyped-def]
    return DeploymentSpec(
        flow_name="purge",
        name=name,
        parameters={"client_id": "c", "procedure_id": name},
        schedules=(
            ScheduleSpec(cron=cron, timezone="Europe/Berlin", active=kw.pop("active", True)),
        ),
        **kw,
    )


def test_it_reports_drift_both_ways() -> None:
    wanted = [_spec("a"), _spec("b", "0 2 * * *"), _spec("new")]
    server = [_spec("a"), _spec("b", "0 3 * * *"), _spec("old")]
    found = [str(d) for d in drift(wanted, server)]
    assert "purge/new: in the binder, not on the server (run opsbinder deploy)" in found
    assert any(d.startswith("purge/old: on the server (cron '0 1 * * *'") for d in found)
    assert "purge/b: binder has cron '0 2 * * *' Europe/Berlin, the server does not" in found
    assert "purge/b: server has cron '0 3 * * *' Europe/Berlin, the binder does not" in found
    assert len(found) == 4
    assert drift(wanted, wanted) == []
    # a schedule a person switched off is their decision, not drift
    assert drift([_spec("a")], [_spec("a", active=False)]) == []


def test_it_keeps_what_a_person_paused_on_the_server() -> None:
    wanted = _spec("a", "0 5 * * *")
    current = _spec("a", active=False, paused=True, id="123")
    sent = keep_operator_pauses(wanted, current)
    assert sent.paused and sent.id == "123"
    assert sent.schedules[0].cron == "0 5 * * *" and sent.schedules[0].active is False
    assert keep_operator_pauses(wanted, None) == wanted
    assert keep_operator_pauses(wanted, _spec("a")).schedules[0].active is True


def test_it_keeps_the_checked_in_prefect_yaml_in_step_with_the_example_binder(
    loaded: Engine,
) -> None:
    import yaml

    from deployments.build import build_specs
    from deployments.prefect_yaml import render

    root = Path(__file__).resolve().parents[2]
    generated = render(build_specs(loaded))
    checked_in = (root / "prefect.yaml").read_text()
    assert generated == checked_in, (
        "run: opsbinder deploy -c config/example --prefect-yaml prefect.yaml"
    )
    doc = yaml.safe_load(generated)
    backup = next(d for d in doc["deployments"] if d["name"] == "nordhafen.check-tms-backup")
    assert backup["schedules"] == [
        {"cron": "30 6 * * *", "timezone": "Europe/Berlin", "active": True, "slug": "binder"}
    ]
