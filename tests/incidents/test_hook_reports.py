from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.incidents.hook_reports import HookReport, apply
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, Procedure


def _report(kind: str, clock: FrozenClock) -> HookReport:
    return HookReport(
        kind=kind,
        client_id="nordhafen",
        procedure_key="check-tms-backup",
        flow_run_id=None,
        state_name="Failed" if kind == "failure" else "Completed",
        at=clock.now().isoformat(),
        message="no dump",
    )


def test_it_leaves_the_incident_open_when_the_procedure_says_no_auto_resolve(
    loaded: Engine, clock: FrozenClock
) -> None:
    with session_scope(loaded) as s:
        proc = s.execute(select(Procedure).where(Procedure.key == "check-tms-backup")).scalar_one()
        proc.definition = {**proc.definition, "auto_resolve": False}
    with session_scope(loaded) as s:
        apply(s, clock, _report("failure", clock))
    clock.advance(timedelta(minutes=5))
    with session_scope(loaded) as s:
        assert apply(s, clock, _report("success", clock)) is None
        assert s.execute(select(Incident)).scalar_one().state == "triggered"


def test_it_applies_the_same_report_only_once(loaded: Engine, clock: FrozenClock) -> None:
    report = _report("failure", clock)
    for _ in range(3):
        with session_scope(loaded) as s:
            apply(s, clock, report)
    with session_scope(loaded) as s:
        assert s.execute(select(Incident)).scalar_one().occurrences == 1


def test_it_never_opens_adds_to_or_resolves_an_incident_for_a_dry_run(
    loaded: Engine, clock: FrozenClock
) -> None:
    with session_scope(loaded) as s:
        assert apply(s, clock, replace(_report("failure", clock), dry_run=True)) is None
        assert s.execute(select(Incident)).scalar_one_or_none() is None
        apply(s, clock, _report("failure", clock))  # the real failure opens one
    clock.advance(timedelta(minutes=5))
    with session_scope(loaded) as s:
        assert apply(s, clock, replace(_report("failure", clock), dry_run=True)) is None
        assert apply(s, clock, replace(_report("success", clock), dry_run=True)) is None
        incident = s.execute(select(Incident)).scalar_one()
        assert (incident.state, incident.occurrences) == ("triggered", 1)
    with session_scope(loaded) as s:
        assert apply(s, clock, _report("success", clock)) is not None  # a real success does
        assert s.execute(select(Incident)).scalar_one().state == "resolved"
