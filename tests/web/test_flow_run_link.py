"""The incident page links a failed run to the Prefect UI that `opsbinder serve` runs, when the
failure hook recorded no link (a report replayed from the spool, say)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from opsbinder.settings import get_settings
from opsbinder.store.db import session_scope
from opsbinder.store.models import Incident
from tests.web.conftest import sign_in

FLOW_RUN = "0b5e6c1a-1111-4222-8333-444455556666"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/api/health" else 404)
        self.end_headers()
        self.wfile.write(b"true")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def served_ui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A stand-in for serve's local Prefect server, its address where serve leaves it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("OPSBINDER_HOME", str(tmp_path))
    get_settings.cache_clear()
    (tmp_path / "prefect").mkdir()
    (tmp_path / "prefect" / "served-api-url").write_text(f"{base}/api\n")
    try:
        yield base
    finally:
        server.shutdown()


def test_it_links_the_flow_run_to_serves_ui(web, world, store, served_ui):
    with session_scope(store) as s:
        incident = s.get(Incident, world.incident_a)
        incident.flow_run_id = FLOW_RUN
        incident.details = {"error": "no backup newer than 26h"}
    sign_in(web)
    page = web.get(f"/console/incidents/{world.incident_a}").text
    assert f'href="{served_ui}/runs/flow-run/{FLOW_RUN}"' in page
    assert "no backup newer than 26h" in page


def test_it_shows_the_page_without_a_link_when_no_ui_is_known(web, world, store, monkeypatch):
    """No serve here and no UI or API address configured (the suite's own Prefect API, which an
    earlier test may have put into Prefect's settings, is not this install's)."""
    from opsbinder.orchestrator import deployments, flow_runs

    monkeypatch.setattr(deployments, "served_api_url", lambda: None)
    monkeypatch.setattr(flow_runs, "ui_link", lambda _run: None)
    with session_scope(store) as s:
        s.get(Incident, world.incident_a).flow_run_id = FLOW_RUN
    sign_in(web)
    page = web.get(f"/console/incidents/{world.incident_a}")
    assert page.status_code == 200
    assert f"Flow run {FLOW_RUN} (no Prefect UI address known here)" in page.text


def test_it_shows_the_run_a_missed_run_incident_names(web, world, store, clock):
    from opsbinder.store.models import Procedure, Run

    with session_scope(store) as s:
        proc = s.query(Procedure).filter_by(client_id="nordhafen", key="check-tms-backup").one()
        run = Run(
            client_id="nordhafen",
            procedure_id=proc.id,
            scheduled_for=clock.now(),
            started_at=clock.now(),
            outcome="missed",
            reason="no run started within the 30m grace",
        )
        s.add(run)
        s.flush()
        incident = s.get(Incident, world.incident_a)
        incident.details = {"state": "Missed", "error": run.reason, "run_id": run.id}
        number = run.id
    sign_in(web)
    page = web.get(f"/console/incidents/{world.incident_a}").text
    assert "Missed:</strong> no run started within the 30m grace" in page
    assert f"Run #{number} missed" in page
