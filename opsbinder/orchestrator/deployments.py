"""Every call opsbinder makes to Prefect about deployments: build, serve, create, update, delete,
pause, read.

What is wanted comes from `deployments/` (built from the store, flows named in flows/registry.py);
only deployments tagged `opsbinder` are touched on a server. The server's schedules are read before anything
is written so that a schedule (or a deployment) a person paused stays paused after a re-deploy;
reading and writing them is `registration.py`.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from typing import Any

from prefect import get_client
from prefect.exceptions import ObjectNotFound
from prefect.schedules import Cron, Interval, Schedule
from prefect.utilities.asyncutils import run_coro_as_sync

from deployments.build import build_specs, procedure_deployment_name
from deployments.prefect_yaml import render
from flows.registry import PROCEDURES, PROJECT_ROOT
from opsbinder.errors import OpsbinderError
from opsbinder.orchestrator import registration
from opsbinder.orchestrator.registration import ApplyReport
from opsbinder.orchestrator.specs import DeploymentSpec, ScheduleSpec
from opsbinder.settings import get_settings


class OrchestratorUnavailable(OpsbinderError):
    """The Prefect API could not be reached."""

    exit_code = 5  # store or server unreachable (README: exit status)


def api_url() -> str | None:
    """The Prefect server in use: PREFECT_API_URL from the environment or the Prefect profile."""
    from prefect.settings import PREFECT_API_URL

    value = PREFECT_API_URL.value()
    return str(value) if value else None


SERVED_API_FILE = "served-api-url"
"""Under serve's Prefect home, while `opsbinder serve` runs its local server: that server's API."""


def serve_home() -> Path:
    """Where `opsbinder serve` keeps its local Prefect server: SQLite, log, address."""
    return get_settings().home / "prefect"


def served_api_url(home: Path | None = None) -> str | None:
    """The API of the local server of a running `opsbinder serve`, if one answers there (a serve
    that was killed leaves its file behind)."""
    try:
        url = ((home or serve_home()) / SERVED_API_FILE).read_text().strip()
    except OSError:
        return None
    return url if url and healthy(url) else None


def healthy(url: str) -> bool:
    """The Prefect API at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def require_server() -> str:
    url = api_url()
    if not url:
        raise OrchestratorUnavailable(
            "no Prefect server configured: set PREFECT_API_URL (e.g. http://host:4200/api); "
            "to run every schedule in one process without a server, use `opsbinder serve`"
        )
    return url


def binder_deployments(engine: Any, *, sweepers: bool = True) -> list[DeploymentSpec]:
    """The deployments the binder in the store asks for."""
    return build_specs(engine, sweepers=sweepers)


def prefect_yaml(specs: list[DeploymentSpec], *, work_pool: str) -> str:
    """The same deployments as a prefect.yaml, for teams that use `prefect deploy`."""
    return render(specs, work_pool=work_pool)


def procedure_deployment(kind: str, client_id: str, key: str) -> tuple[str, str]:
    """The flow entrypoint and the deployment name ("flow/deployment") a procedure gets."""
    entry = PROCEDURES.get(kind)
    if entry is None:
        return "", ""
    return entry.entrypoint, f"{entry.name}/{procedure_deployment_name(client_id, key)}"


def serve(
    specs: list[DeploymentSpec],
    *,
    home: Path | None = None,
    limit: int | None = None,
    port: int | None = None,
) -> None:
    """Run the deployments in this process until interrupted (the embedded default)."""
    from deployments.serve import serve_all  # it imports this module

    os.chdir(PROJECT_ROOT)  # Prefect loads entrypoints relative to the working folder
    serve_all(specs, home=home or serve_home(), limit=limit, port=port)


def to_prefect_schedule(spec: ScheduleSpec) -> Schedule:
    if spec.cron:
        return Cron(spec.cron, timezone=spec.timezone, active=spec.active, slug=spec.slug)
    assert spec.interval_seconds is not None
    return Interval(
        spec.interval_seconds, timezone=spec.timezone, active=spec.active, slug=spec.slug
    )


def read_ours() -> list[DeploymentSpec]:
    """opsbinder's deployments as the server has them now."""
    try:
        return run_coro_as_sync(registration.read_ours())
    except (OSError, RuntimeError) as exc:
        raise OrchestratorUnavailable(f"the Prefect API is not reachable: {exc}") from exc
    except Exception as exc:  # httpx errors do not share a base with OSError
        if type(exc).__module__.startswith("httpx"):
            raise OrchestratorUnavailable(f"the Prefect API is not reachable: {exc}") from exc
        raise


def apply(
    wanted: list[DeploymentSpec], *, work_pool: str, project_root: Path = PROJECT_ROOT
) -> ApplyReport:
    """Make the server match the binder: create, update, and delete what the binder dropped;
    a deployment the server already has as wanted is not written at all."""

    async def go() -> ApplyReport:
        async with get_client() as client:
            return await registration.apply_with(
                client, wanted, work_pool=work_pool, project_root=project_root
            )

    return run_coro_as_sync(go())


async def _set_paused(ids: list[str], paused: bool) -> None:
    async with get_client() as client:
        for deployment_id in ids:
            if paused:
                await client.pause_deployment(deployment_id)
            else:
                await client.resume_deployment(deployment_id)
            # a person may also have switched schedules off; resume means run on schedule again
            if not paused:
                for sched in await client.read_deployment_schedules(deployment_id):  # type: ignore[arg-type]
                    if not sched.active:
                        await client.update_deployment_schedule(
                            deployment_id,  # type: ignore[arg-type]
                            sched.id,
                            active=True,
                        )


def set_paused(specs: list[DeploymentSpec], paused: bool) -> list[str]:
    """Pause (or resume) the given deployments on the server; returns the names touched.

    Prefect deletes the not-yet-started scheduled runs of a paused deployment, so pausing stops
    the runs already queued as well as future ones.
    """
    ids = [s.id for s in specs if s.id]
    run_coro_as_sync(_set_paused(ids, paused))
    return [s.full_name for s in specs if s.id]


def ensure_process_pool(name: str) -> None:
    """Create a process work pool of that name unless it exists (tests, first setup)."""
    from prefect.client.schemas.actions import WorkPoolCreate

    async def _go() -> None:
        async with get_client() as client:
            try:
                await client.read_work_pool(name)
            except ObjectNotFound:
                await client.create_work_pool(WorkPoolCreate(name=name, type="process"))

    run_coro_as_sync(_go())


def follow_pauses(
    engine: Any, client_id: str, procedure_key: str | None = None
) -> list[tuple[str, str]] | None:
    """`follow_store_pauses` on the Prefect server in use: PREFECT_API_URL, else the local server
    of a running `opsbinder serve`. None when there is neither: the store's flag alone then
    stops the runs (each scheduled run checks it first)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = api_url() or served_api_url()
    if url is None:
        return None
    with temporary_settings(updates={PREFECT_API_URL: url}):
        return follow_store_pauses(engine, client_id, procedure_key)


def follow_store_pauses(
    engine: Any, client_id: str, procedure_key: str | None = None
) -> list[tuple[str, str]]:
    """Make the server's pause flags match the store's for one procedure or a whole client.

    A deployment runs only when neither its procedure nor its client is paused in the store.
    Call it after `opsbinder.pauses.set_paused` (a pause, a resume, a lockdown or its lift),
    against the server Prefect's settings name (see `follow_pauses`). A procedure paused on its
    own stays paused when its client is resumed. Returns what changed, as ("paused" or
    "resumed", deployment name).
    """
    from sqlalchemy import select

    from opsbinder.store.db import session_scope
    from opsbinder.store.models import Client, Procedure

    with session_scope(engine) as session:
        client = session.get(Client, client_id)
        client_paused = bool(client and client.paused)
        paused_keys = set(
            session.execute(
                select(Procedure.key).where(
                    Procedure.client_id == client_id, Procedure.paused.is_(True)
                )
            ).scalars()
        )
    mine = [d for d in read_ours() if d.tag_value("client") == client_id]
    if procedure_key is not None:
        mine = [d for d in mine if d.tag_value("procedure") == procedure_key]
    to_pause, to_resume = [], []
    for dep in mine:
        want = client_paused or dep.tag_value("procedure") in paused_keys
        if want and not dep.paused:
            to_pause.append(dep)
        elif not want and (dep.paused or any(not s.active for s in dep.schedules)):
            to_resume.append(dep)
    changed = [("paused", n) for n in set_paused(to_pause, True)]
    changed += [("resumed", n) for n in set_paused(to_resume, False)]
    return changed
