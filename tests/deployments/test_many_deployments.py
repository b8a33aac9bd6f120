"""More deployments than one page of the Prefect API (200 by default): every read pages.

A real Prefect server on PostgreSQL (the scale-out setup). Before reads paged, a server holding more than 200 of opsbinder's deployments made
`deploy --check` report the rest as missing, a repeat deploy call them "created" and switch back
on a schedule a person had paused, and removed procedures' deployments stay behind.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine

from opsbinder.orchestrator import deployments as orch

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
POOL = "opsbinder-many"
EXTRA = 230
pytestmark = [pytest.mark.prefect, pytest.mark.slow, pytest.mark.postgres]


def _extra(i: int) -> str:
    return f"""
  - id: extra-check-{i:03d}
    name: Extra checklist {i}
    kind: manual
    schedule: {{cron: "{i % 60} {i % 24} * * *", timezone: Europe/Berlin}}
    owner: priya-nair
    support_level: L3
    severity: sev4
    escalation_policy: standard
    grace: 1d
    runbook:
      purpose: Many procedures, to fill more than one page of the API.
      steps: [Look, Sign off]
      verify: Signed off.
      rollback: Nothing to roll back.
    params: {{deadline: 1d}}
"""


def _binder(example_dir: Path, folder: Path, extra: range) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(example_dir, folder)
    with (folder / "procedures.yaml").open("a", encoding="utf-8") as out:
        out.write("".join(_extra(i) for i in extra))
    return folder


def _opsbinder(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """From a folder without a binder: only --config loads one into the store."""
    return subprocess.run(
        [str(BIN / "opsbinder"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


def _server_count() -> int:
    """Counted by the server itself (its count endpoint), so this check does not page."""
    from prefect.settings import PREFECT_API_URL

    answer = requests.post(
        f"{PREFECT_API_URL.value()}/deployments/count",
        json={"deployments": {"tags": {"all_": ["opsbinder"]}}},
        timeout=30,
    )
    answer.raise_for_status()
    return int(answer.json())


def _switch_schedule_off_by_hand(full_name: str) -> None:
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def go() -> None:
        async with get_client() as client:
            dep = await client.read_deployment_by_name(full_name)
            for sched in dep.schedules:
                await client.update_deployment_schedule(dep.id, sched.id, active=False)

    run_coro_as_sync(go())


def _schedule_active(full_name: str) -> bool:
    from prefect import get_client
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def go() -> bool:
        async with get_client() as client:
            dep = await client.read_deployment_by_name(full_name)
            return all(s.active for s in dep.schedules)

    return run_coro_as_sync(go())


# runs are not what this test is about: the scheduler would make 100 per deployment
@pytest.mark.parametrize(
    "server", [{"PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"}], indirect=True
)
def test_it_deploys_checks_and_redeploys_more_than_a_page_of_deployments(
    store: Engine, server: dict[str, str], example_dir: Path, tmp_path: Path
) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    env = {
        **server,
        "OPSBINDER_DATABASE_URL": store.url.render_as_string(hide_password=False),
        "OPSBINDER_HOME": str(tmp_path / "home"),
    }
    with temporary_settings({PREFECT_API_URL: server["PREFECT_API_URL"]}):
        _deploy_check_redeploy_remove(env, example_dir, tmp_path)


def _deploy_check_redeploy_remove(env: dict[str, str], example_dir: Path, tmp_path: Path) -> None:
    orch.ensure_process_pool(POOL)
    binder = _binder(example_dir, tmp_path / "binder", range(EXTRA))
    try:
        first = _opsbinder(
            "deploy", "--config", str(binder), "--work-pool", POOL, env=env, cwd=tmp_path
        )
        assert first.returncode == 0, first.stdout + first.stderr
        total = _server_count()
        assert total > EXTRA > 200  # more than one page of the API's default
        assert f"{total} created, 0 updated, 0 removed, 0 unchanged" in first.stdout

        # a person switches off the schedules of the first and the last deployment by name
        first_name, last_name = (
            "manual/nordhafen.extra-check-000",
            "manual/nordhafen.extra-check-229",
        )
        _switch_schedule_off_by_hand(first_name)
        _switch_schedule_off_by_hand(last_name)

        check = _opsbinder("deploy", "--check", env=env, cwd=tmp_path)
        assert check.returncode == 0, check.stdout + check.stderr
        assert f"no drift: {total} deployments match the binder" in check.stdout

        again = _opsbinder("deploy", "--work-pool", POOL, env=env, cwd=tmp_path)
        assert again.returncode == 0, again.stdout + again.stderr
        assert f"0 created, 0 updated, 0 removed, {total} unchanged" in again.stdout
        assert "created " not in again.stdout
        assert not _schedule_active(first_name) and not _schedule_active(last_name)

        # 30 procedures leave the binder: their deployments leave the server
        fewer = _binder(example_dir, tmp_path / "binder", range(EXTRA - 30))
        third = _opsbinder(
            "deploy", "--config", str(fewer), "--work-pool", POOL, env=env, cwd=tmp_path
        )
        assert third.returncode == 0, third.stdout + third.stderr
        assert f"0 created, 0 updated, 30 removed, {total - 30} unchanged" in third.stdout
        assert f"removed      {last_name}" in third.stdout
        assert _server_count() == total - 30
        assert not _schedule_active(first_name)
        check = _opsbinder("deploy", "--check", env=env, cwd=tmp_path)
        assert check.returncode == 0, check.stdout + check.stderr
    finally:
        orch.apply([], work_pool=POOL, project_root=ROOT)
    assert _server_count() == 0
