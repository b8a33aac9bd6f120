"""Runs on Prefect's ephemeral API go without flow-run heartbeats (nothing there reads them, and
each sync flow run waits up to a second for its heartbeat thread); runs sent to a server keep
them."""

from __future__ import annotations

from typing import Any

import pytest
from prefect.settings import (
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    get_current_settings,
    temporary_settings,
)

import flows.catalog
from opsbinder.orchestrator import local


def _heartbeats_seen(**_: Any) -> Any:
    """Stands in for the flow: what a flow run started now would use."""
    return get_current_settings().flows.heartbeat_frequency


@pytest.fixture
def heartbeats_every_minute(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(flows.catalog, "run_now", lambda *a, **k: _heartbeats_seen())
    monkeypatch.setattr(flows.catalog, "run_bundle_now", lambda *a, **k: _heartbeats_seen())
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 60}):
        assert _heartbeats_seen() == 60  # what a run would use without opsbinder's choice
        yield


def test_runs_on_the_ephemeral_api_go_without_heartbeats(heartbeats_every_minute: Any) -> None:
    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        assert local.run_procedure("c", "p", actor="t") is None
        assert local.run_bundle("c", "daily", actor="t") is None
        assert _heartbeats_seen() == 60  # only for the runs


def test_runs_sent_to_a_server_keep_their_heartbeats(heartbeats_every_minute: Any) -> None:
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        assert local.run_procedure("c", "p", actor="t") == 60
        assert local.run_bundle("c", "daily", actor="t") == 60
