"""`opsbinder evidence` through the installed console script, on SQLite and PostgreSQL, against
the month worked out by hand in tests/reports/conftest.py (October 2026, nordhafen), with a
sign-off, a binder change, a breach and a September sign-off that must stay out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from sqlalchemy import Engine, select

from opsbinder import audit
from opsbinder.clock import FrozenClock
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident, IncidentEvent, WorkItem
from tests.reports.conftest import t
from tests.support.console import opsbinder


def _month_extras(store: Engine) -> None:
    with session_scope(store) as s:
        for done, title in (
            ("2026-10-01T09:30", "Monthly restore test"),
            ("2026-09-30T21:00", "old"),
        ):
            s.add(
                WorkItem(
                    client_id="nordhafen", kind="checklist", dedup_key=f"restore/{done}",
                    title=title, due_at=t(done), created_at=t(done), completed_at=t(done),
                    completed_by="priya-nair", note="restored 12 GB into staging, row counts match",
                )
            )  # fmt: skip
        audit.record(
            s, FrozenClock(t("2026-10-15T08:00")), actor="jonas-weber",
            action="procedure.updated", object_type="procedure",
            object_id="purge-tracking-events", client_id="nordhafen", details={},
        )  # fmt: skip
        b = s.execute(select(Incident).where(Incident.dedup_key == "b")).scalar_one()
        s.add(
            IncidentEvent(
                incident_id=b.id, at=t("2026-10-03T06:00"), kind="sla_breached", actor="sla",
                message="SLA breached", data={"clock": "response"},
            )
        )  # fmt: skip


def test_it_writes_json_html_pdf_and_a_manifest_that_checks(history: Engine, tmp_path: Path):
    _month_extras(history)
    out = tmp_path / "pack"
    ran = opsbinder(
        "evidence", "--client", "nordhafen", "--month", "2026-10", "-o", str(out),
        address_space=False,
    )  # fmt: skip
    assert ran.code == 0, ran.output
    pack = json.loads((out / "evidence.json").read_text())
    totals = pack["totals"]
    assert (totals["runs"], totals["ok"], totals["failed"], totals["missed"]) == (8, 6, 2, 1)
    assert totals["skipped"] == 1 and totals["rows_purged"] == 1850
    assert totals["incidents"] == {"sev1": 1, "sev2": 1, "sev3": 1, "sev4": 1}
    assert totals["sla_breached"] == {"sev1": 0, "sev2": 1, "sev3": 0, "sev4": 0}
    assert (totals["sev1_updates_on_time"], totals["sev1_updates_due"]) == (2, 3)
    assert pack["period"] == {
        "start": "2026-09-30T22:00:00+00:00",
        "end": "2026-10-31T23:00:00+00:00",
    }
    assert [r["scheduled_for"] for r in pack["missed_runs"]] == ["2026-10-08T23:15:00+00:00"]
    assert [r["outcome"] for r in pack["backup_checks"]] == ["ok", "crashed", "skipped"]
    assert [s["title"] for s in pack["sign_offs"]] == ["Monthly restore test"]
    assert pack["sign_offs"][0]["completed_by"] == "priya-nair"
    assert [c["action"] for c in pack["binder_changes"]] == ["procedure.updated"]
    purge = next(r for r in pack["retention"] if r["procedure"] == "purge-tracking-events")
    assert [r["rows"] for r in purge["runs"]] == [100, 1000, 500, None, None, 250]
    targets = {p["procedure"]: (p["on_time_target"], p["on_time_met"]) for p in pack["procedures"]}
    assert targets["purge-tracking-events"] == (0.99, False)  # 3 of 5 on time
    assert targets["check-tms-backup"] == (0.995, True)
    assert [i["breaches"] for i in pack["incidents"] if i["severity"] == "sev2"] == [["response"]]
    assert pack["audit"]["head_at_month_end"]["seq"] >= 1

    assert (out / "evidence.pdf").read_bytes()[:5] == b"%PDF-"
    html = (out / "evidence.html").read_text()
    assert "Monthly restore test" in html and "procedure.updated" in html
    manifest = (out / "manifest.sha256").read_text().splitlines()
    names = [line.split("  ")[1] for line in manifest]
    assert names == sorted(["evidence.html", "evidence.json", "evidence.pdf", "manifest.json"])
    for line in manifest:
        digest, name = line.split("  ")
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert json.loads((out / "manifest.json").read_text())["audit"] == pack["audit"]


def test_it_refuses_an_unknown_client_and_a_bad_month(history: Engine, tmp_path: Path):
    missing = opsbinder("evidence", "--client", "nobody", "--month", "2026-10", "-o", str(tmp_path))
    assert missing.code == 3 and "no client 'nobody'" in missing.err, missing.output
    bad = opsbinder("evidence", "--client", "nordhafen", "--month", "10/2026", "-o", str(tmp_path))
    assert bad.code == 2 and "--month must look like 2026-10" in bad.err, bad.output
    assert not list(tmp_path.iterdir())  # nothing half-written
    for ran in (missing, bad):
        assert "Traceback" not in ran.output
