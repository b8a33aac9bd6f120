"""The binder's `events:` and `heartbeats:` sections, checked by `opsbinder validate` like the
rest: the installed command in a subprocess, the problem named by file, line, field and value."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.console import opsbinder

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example"


def two_clients(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "binder" / "a", tmp_path / "binder" / "b"
    shutil.copytree(EXAMPLE, a)
    shutil.copytree(EXAMPLE, b)
    client = b / "client.yaml"
    client.write_text(client.read_text().replace("id: nordhafen", "id: lindqvist", 1))
    return a, b


def test_it_refuses_a_ping_uuid_two_clients_share(tmp_path: Path):
    _, b = two_clients(tmp_path)
    ran = opsbinder("validate", str(tmp_path / "binder"))
    assert ran.code == 2, ran.output
    assert "heartbeats[tms-pg-dump].uuid: uuid also used by a heartbeat of client" in ran.err
    assert f"{b / 'monitoring.yaml'}:" in ran.err and "5c1e8f7a" in ran.err
    for path in (b / "monitoring.yaml",):
        text = path.read_text().replace("5c1e8f7a", "6d2f9a8b").replace("9a0b7c6d", "8b1c7d6e")
        path.write_text(text)
    assert opsbinder("validate", str(tmp_path / "binder")).code == 0


def test_it_names_each_bad_field_of_the_new_sections(tmp_path: Path):
    a, _ = two_clients(tmp_path)
    path = a / "monitoring.yaml"
    text = path.read_text()
    text = text.replace("critical: sev1,", "critical: sev9,")
    text = text.replace("    incident_per: alert", "    incident_per: everything")
    text = text.replace('    cron: "30 1 * * *"\n', '    cron: "30 1 * * *"\n    period: 1d\n')
    path.write_text(text)
    ran = opsbinder("validate", str(a))
    assert ran.code == 2, ran.output
    problems = "\n".join(ran.problems())
    assert "events.severities.critical" in problems and "sev9" in problems
    assert "events.alertmanager.incident_per" in problems and "everything" in problems
    assert "heartbeats[tms-pg-dump].cron: give either cron (with timezone) or period" in problems


def test_it_refuses_a_route_or_heartbeat_naming_a_policy_that_does_not_exist(tmp_path: Path):
    a, _ = two_clients(tmp_path)
    path = a / "monitoring.yaml"
    text = path.read_text().replace("      drop: true", "      escalation_policy: standrad")
    path.write_text(
        text.replace("    severity: sev3\n", "    severity: sev3\n    escalation_policy: nope\n")
    )
    ran = opsbinder("validate", str(a))
    assert ran.code == 2, ran.output
    problems = "\n".join(ran.problems())
    assert (
        "events.routes[1].escalation_policy: no escalation policy with this id; did you mean 'standard'?"
        in problems
    )
    assert "heartbeats[veeam-file-server].escalation_policy: no escalation policy" in problems
