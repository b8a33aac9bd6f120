"""The components section: the services a status page shows, and monitoring mapped onto them.

Each defect is named with file, line, field and value in one run of the installed script.
"""

from __future__ import annotations

from tests.config.binders import Defect, broken_copy
from tests.support.console import opsbinder

DEFECTS = [
    Defect("client.yaml", "{id: warehouse, name: Warehouse management and scanners}",
           "{id: warehouse, name: ''}", "components[warehouse].name", "''", "id: warehouse",
           "String should have at least 1 character"),
    Defect("client.yaml", "{id: backups, name:", "{id: tms, name:",
           "components[tms].id", "'tms'", "id: tms, name: Backups", "duplicate id in components"),
    Defect("monitoring.yaml", "tms-db-01: tms ", "tms-db-01: tsm ",
           "events.components.tms-db-01", "'tsm'", "tms-db-01:",
           "no component with this id; did you mean 'tms'?"),
    Defect("monitoring.yaml", "    component: tms\n  - id: veeam", "    component: tmz\n  - id: veeam",
           "heartbeats[tms-pg-dump].component", "'tmz'", "component: tmz",
           "no component with this id; did you mean 'tms'?"),
]  # fmt: skip


def test_it_names_every_component_defect_in_one_run(example_dir, tmp_path):
    folder = broken_copy(example_dir, tmp_path, *DEFECTS)
    ran = opsbinder("validate", str(folder))
    assert ran.code == 2, ran.output
    assert sorted(ran.problems()) == sorted(d.expected(folder) for d in DEFECTS)
    assert "Traceback" not in ran.output


def test_it_takes_monitorings_own_names_from_a_client_without_components(example_dir, tmp_path):
    without = Defect("client.yaml", "components:", "old_components:", "", None, None, "")
    folder = broken_copy(example_dir, tmp_path, without)
    (folder / "client.yaml").write_text(
        (folder / "client.yaml").read_text().split("old_components:")[0], encoding="utf-8"
    )
    ran = opsbinder("validate", str(folder))
    assert ran.code == 0, ran.output  # wms-app -> warehouse needs no component list then
