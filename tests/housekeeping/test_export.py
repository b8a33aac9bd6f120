"""The binder export shows the built-in housekeeping next to the client's procedures, with this
install's retention, so a successor knows what trims the history it takes over."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.store.db import session_scope
from opsbinder.sync import sync_binder
from tests.cli.installed import environment, run_cli


def test_it_lists_the_housekeeping_in_the_export_with_the_installs_retention(
    store: Engine, store_url: str, clock: FrozenClock, example_dir: Path, tmp_path: Path
) -> None:
    with session_scope(store) as session:
        sync_binder(session, load_binder(example_dir), clock)
    env = environment(tmp_path / "home", store_url, OPSBINDER_KEEP_OUTBOX_DAYS="45")

    ran = run_cli(["binder", "export", "--client", "nordhafen", str(tmp_path / "out")], env)

    assert ran.code == 0, ran
    entries = json.loads((tmp_path / "out" / "binder" / "entrypoints.json").read_text())
    built_in, evidence = entries["built_in"]
    assert (evidence["procedure"], evidence["cron"]) == ("evidence", "41 12 1 * *")
    assert evidence["flow_entrypoint"] == "flows/evidence.py:evidence"
    assert built_in["procedure"] == "housekeeping" and built_in["enabled"] is True
    assert built_in["flow_entrypoint"] == "flows/housekeeping.py:housekeeping"
    assert built_in["cron"] == "17 3 * * *"
    assert built_in["retention_days"]["outbox"] == 45
    assert built_in["retention_days"]["runs"] == 400
    page = (tmp_path / "out" / "procedures.html").read_text()
    assert "Built in: housekeeping" in page and "45 days" in page
    assert "never trimmed" in page and "switched off" not in page

    off = environment(tmp_path / "home", store_url, OPSBINDER_HOUSEKEEPING="false")
    ran = run_cli(["binder", "export", "--client", "nordhafen", str(tmp_path / "off")], off)
    assert ran.code == 0, ran
    assert "switched off on this install" in (tmp_path / "off" / "procedures.html").read_text()


def test_it_is_deployed_by_default_and_not_when_switched_off(
    store: Engine, clock: FrozenClock, example_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from deployments.build import build_specs
    from opsbinder.settings import get_settings

    with session_scope(store) as session:
        sync_binder(session, load_binder(example_dir), clock)
    assert "housekeeping" in {s.name for s in build_specs(store)}
    monkeypatch.setenv("OPSBINDER_HOUSEKEEPING", "false")
    get_settings.cache_clear()
    names = {s.name for s in build_specs(store)}
    assert "housekeeping" not in names and "evidence" in names  # each built-in its own switch
    monkeypatch.setenv("OPSBINDER_EVIDENCE_PACKS", "false")
    get_settings.cache_clear()
    assert "evidence" not in {s.name for s in build_specs(store)}
