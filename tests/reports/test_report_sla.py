"""SLA attainment and breaches in the manager's report, against the history of conftest.py
with breaches recorded by hand: October's sev2 "b" breached both clocks (counted once), the
September sev2 "old" one; nothing else. Runs on SQLite and PostgreSQL (the store fixture)."""

from __future__ import annotations

from sqlalchemy import Engine, select

from opsbinder.reports.report import Month, build_report
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, IncidentEvent
from tests.reports.conftest import t


def _breach(store: Engine, key: str, *clocks: str) -> None:
    with session_scope(store) as s:
        incident = s.execute(select(Incident).where(Incident.dedup_key == key)).scalar_one()
        for clock in clocks:
            s.add(
                IncidentEvent(
                    incident_id=incident.id,
                    at=t("2026-10-31T00:00"),
                    kind="sla_breached",
                    actor="sla",
                    message=f"{clock} missed",
                    data={"clock": clock},
                )
            )


def test_it_counts_breached_incidents_per_severity_and_month(history: Engine) -> None:
    before = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=1)
    assert before.clients[0].figures.breach_count == 0  # the setup alone has none
    _breach(history, "b", "response", "resolution")
    _breach(history, "old", "resolution")
    report = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=1)
    total = report.clients[0].figures
    assert total.breached == {"sev1": 0, "sev2": 1, "sev3": 0, "sev4": 0}
    assert total.sla_attainment == {"sev1": 1.0, "sev2": 0.0, "sev3": 1.0, "sev4": 1.0}
    backup = {p.key: p.figures for p in report.procedures}["check-tms-backup"]
    assert backup.sla_attainment["sev2"] == 0.0 and backup.sla_attainment["sev1"] == 1.0
    september, october = (p.figures for p in report.trend)
    assert (september.breach_count, october.breach_count) == (1, 1)  # the breach trend
    assert september.sla_attainment["sev2"] == 0.0 and september.sla_attainment["sev3"] is None
    assert report.as_dict()["clients"][0]["sla_attainment"]["sev2"] == 0.0


def test_it_names_the_clients_at_risk_in_every_format(history: Engine) -> None:
    from opsbinder.reports.render import render

    quiet = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=1)
    assert quiet.as_dict()["clients_at_risk"] == [] and "at risk this month: none" in render(
        quiet, "html"
    )
    _breach(history, "b", "response")
    report = build_report(history, Month.parse("2026-10"), client_id="nordhafen", trend_months=1)
    assert report.as_dict()["clients_at_risk"] == ["nordhafen"]
    html = render(report, "html")
    assert 'id="sla"' in html and "2026-09 <b>0</b> · 2026-10 <b>1</b>" in html
    assert "at risk this month: <b>Nordhafen Logistik GmbH</b>" in html
