"""Re-deploying against a real Prefect API: updates, removals, no doubled runs, pauses kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from opsbinder.clock import FrozenClock
from opsbinder.config.loader import load_binder
from opsbinder.orchestrator import deployments as orch
from opsbinder.orchestrator.specs import drift
from opsbinder.store.db import session_scope
from opsbinder.store.models import Procedure
from opsbinder.sync import sync_binder

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.prefect, pytest.mark.slow]


def _server(name: str):  # type: ignore[no-untyped-def]
    return {d.name: d for d in orch.read_ours()}.get(name)


def _pause_schedule_by_hand(full_name: str) -> None:
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def go() -> None:
        async with get_client() as client:
            dep = await client.read_deployment_by_name(full_name)
            for sched in dep.schedules:
                await client.update_deployment_schedule(dep.id, sched.id, active=False)

    run_coro_as_sync(go())


def _scheduled_runs(full_name: str) -> int:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def go() -> int:
        async with get_client() as client:
            dep = await client.read_deployment_by_name(full_name)
            return await client.count_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=dict(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED]))
                ),
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])),
            )

    return run_coro_as_sync(go())


@pytest.fixture
def loaded(
    store: Engine, backend: str, example_dir: Path, clock: FrozenClock, prefect_api: None
) -> Engine:
    if backend != "sqlite":
        pytest.skip("Prefect's side does not depend on the store; the e2e test covers PostgreSQL")
    with session_scope(store) as s:
        sync_binder(s, load_binder(example_dir), clock)
    yield store
    # leave the session-wide API clean for the next test
    orch.apply([], work_pool="opsbinder-test", project_root=ROOT)


def _check_cli(monkeypatch: pytest.MonkeyPatch, folder: Path):  # type: ignore[no-untyped-def]
    """`opsbinder deploy --check` from a folder without a binder: the store as it is."""
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from opsbinder.cli.main import app

    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    monkeypatch.chdir(folder)
    try:
        return CliRunner().invoke(app, ["deploy", "--check"])
    finally:
        monkeypatch.chdir(ROOT)


def test_it_redeploys_a_changed_binder_without_undoing_a_persons_pause(
    loaded: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from deployments.build import build_specs

    monkeypatch.chdir(ROOT)
    orch.ensure_process_pool("opsbinder-test")
    specs = build_specs(loaded)
    first = orch.apply(specs, work_pool="opsbinder-test", project_root=ROOT)
    assert len(first.created) == len(specs) and not first.removed
    assert drift(specs, orch.read_ours()) == []
    backup = _server("nordhafen.check-tms-backup")
    assert backup is not None and backup.schedules[0].cron == "30 6 * * *"
    assert backup.schedules[0].timezone == "Europe/Berlin"
    runs_before = _scheduled_runs("disk_check/nordhafen.check-disk-space")

    # a person switches the backup check's schedule off in the Prefect UI
    _pause_schedule_by_hand("backup_check/nordhafen.check-tms-backup")
    # the binder changes: the purge moves to 02:15, the restore test is removed
    with session_scope(loaded) as s:
        rows = {p.key: p for p in s.execute(select(Procedure)).scalars()}
        rows["purge-tracking-events"].cron = "15 2 * * *"
        rows["monthly-restore-test"].active = False
    specs = build_specs(loaded)
    found = [str(d) for d in drift(specs, orch.read_ours())]
    assert any("purge/nordhafen.purge-tracking-events: binder has cron '15 2" in d for d in found)
    assert any(d.startswith("manual/nordhafen.monthly-restore-test: on the server") for d in found)
    check = _check_cli(monkeypatch, tmp_path)
    assert check.exit_code == 1 and "purge/nordhafen.purge-tracking-events" in check.output

    second = orch.apply(specs, work_pool="opsbinder-test", project_root=ROOT)
    assert second.removed == ["manual/nordhafen.monthly-restore-test"]
    assert second.kept_paused == ["backup_check/nordhafen.check-tms-backup"]
    assert drift(specs, orch.read_ours()) == []
    assert _server("nordhafen.purge-tracking-events").schedules[0].cron == "15 2 * * *"
    assert _server("nordhafen.monthly-restore-test") is None
    assert _server("nordhafen.check-tms-backup").schedules[0].active is False
    names = [d.full_name for d in orch.read_ours()]
    assert len(names) == len(set(names)) == len(specs)
    assert _scheduled_runs("disk_check/nordhafen.check-disk-space") <= max(runs_before, 100)
    assert _scheduled_runs("backup_check/nordhafen.check-tms-backup") == 0


def test_it_pauses_and_resumes_a_clients_deployments_from_the_cli(
    loaded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from deployments.build import build_specs
    from opsbinder.cli.main import app
    from opsbinder.store.models import Client

    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    orch.ensure_process_pool("opsbinder-test")
    orch.apply(build_specs(loaded), work_pool="opsbinder-test", project_root=ROOT)
    runner = CliRunner()

    result = runner.invoke(app, ["pause", "check-tms-backup"])
    assert result.exit_code == 0, result.output
    assert _server("nordhafen.check-tms-backup").paused
    assert not _server("nordhafen.purge-tracking-events").paused

    result = runner.invoke(app, ["pause", "--client", "nordhafen"])
    assert result.exit_code == 0, result.output
    ours = [d for d in orch.read_ours() if d.tag_value("client") == "nordhafen"]
    assert ours and all(d.paused for d in ours)

    result = runner.invoke(app, ["resume", "--client", "nordhafen"])
    assert result.exit_code == 0, result.output
    assert not _server("nordhafen.purge-tracking-events").paused
    assert _server("nordhafen.check-tms-backup").paused  # paused on its own, stays so
    with session_scope(loaded) as s:
        assert s.get(Client, "nordhafen").paused is False

    result = runner.invoke(app, ["resume", "check-tms-backup", "--client", "nordhafen"])
    assert result.exit_code == 0, result.output
    assert not _server("nordhafen.check-tms-backup").paused

    result = runner.invoke(app, ["deploy", "--check"])
    assert result.exit_code == 0, result.output


class _Requests:
    """Every HTTP request the Prefect client sends in this process (the harness's API is a
    real server in a subprocess, reached over httpx's transport)."""

    READS = ("/filter", "/count", "/paginate")  # POSTs that only read

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import httpx

        self.sent: list[tuple[str, str, int]] = []
        original = httpx.AsyncHTTPTransport.handle_async_request

        async def counted(transport: httpx.AsyncHTTPTransport, request: httpx.Request):  # type: ignore[no-untyped-def]
            answer = await original(transport, request)
            self.sent.append((request.method, request.url.path, answer.status_code))
            return answer

        monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", counted)

    def take(self) -> tuple[int, list[tuple[str, str]]]:
        """(requests answered, the writes among them); a retry after a busy answer (the
        harness's SQLite) is the same request again, so only answered ones count."""
        sent, self.sent = [s for s in self.sent if s[2] < 500 and s[2] != 429], []
        writes = [
            (m, p) for m, p, _ in sent if m != "GET" and not any(p.endswith(r) for r in self.READS)
        ]
        return len(sent), writes


def test_a_repeat_deploy_writes_nothing_and_a_first_one_about_one_request_each(
    loaded: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 16: Prefect's own path cost ~11 requests per deployment, and a redeploy with
    nothing changed rewrote everything (deleting and remaking every scheduled run)."""
    from deployments.build import build_specs

    monkeypatch.chdir(ROOT)
    orch.ensure_process_pool("opsbinder-test")
    specs = build_specs(loaded)
    sent = _Requests(monkeypatch)

    first = orch.apply(specs, work_pool="opsbinder-test", project_root=ROOT)
    requests, writes = sent.take()
    assert len(first.created) == len(specs) > 10
    assert len([w for w in writes if w == ("POST", "/api/deployments/")]) == len(specs), writes
    # one write per deployment, plus a few reads and one flow lookup per entrypoint
    assert requests <= len(specs) + 2 * len({s.entrypoint for s in specs}) + 5, requests

    again = orch.apply(specs, work_pool="opsbinder-test", project_root=ROOT)
    requests, writes = sent.take()
    assert len(again.unchanged) == len(specs)
    assert writes == []
    # reads page by flow, never one per deployment
    assert requests <= 2 * len({s.flow_name for s in specs}) + 5, requests
