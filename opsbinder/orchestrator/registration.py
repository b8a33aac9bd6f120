"""opsbinder's deployments on a Prefect server: read back, created, updated, deleted.

One client for a whole deploy, and only what changed is written: Prefect's own `Flow.deploy`
costs about 11 requests per deployment (work pool and worker reads, a name lookup, automation
cleanup, each through a new client), and every upsert deletes the deployment's scheduled runs
and makes them again, so a redeploy that rewrote everything cost as much as the first one.
Here a deploy reads the server once (paged), compares, and sends one request per deployment
that differs. The sweepers go first, so an interrupted deploy never leaves a server without
the sweeper that raises incidents for everything else.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from opsbinder.errors import NotFound
from opsbinder.orchestrator.paging import every_page
from opsbinder.orchestrator.specs import OURS, DeploymentSpec, ScheduleSpec, keep_operator_pauses

SWEEPER_TAG = "sweeper"
WRITES_AT_ONCE = 2  # each write deletes and makes scheduled runs; SQLite servers lock beyond that


@dataclass
class ApplyReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_paused: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _schedule_from_server(item: Any) -> ScheduleSpec:
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    sched = item.schedule
    slug = item.slug or "binder"
    if isinstance(sched, CronSchedule):
        return ScheduleSpec(
            cron=sched.cron, timezone=sched.timezone or "UTC", active=item.active, slug=slug
        )
    if isinstance(sched, IntervalSchedule):
        return ScheduleSpec(
            interval_seconds=int(sched.interval.total_seconds()),
            timezone=sched.timezone or "UTC",
            active=item.active,
            slug=slug,
        )
    return ScheduleSpec(cron=str(sched), active=item.active, slug=slug)


def _source(pull_steps: list[dict[str, Any]] | None) -> str | None:
    for step in pull_steps or ():
        folder = step.get("prefect.deployments.steps.set_working_directory")
        if isinstance(folder, dict) and "directory" in folder:
            return str(folder["directory"])
    return None


async def read_ours_with(client: Any) -> list[DeploymentSpec]:
    """Every deployment tagged `opsbinder`, all pages: flow by flow, so that sorting by name is
    a total order (a deployment name is unique within its flow, not across flows)."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterTags,
        FlowFilter,
        FlowFilterId,
    )
    from prefect.client.schemas.sorting import DeploymentSort, FlowSort

    ours = DeploymentFilter(tags=DeploymentFilterTags(all_=[OURS]))
    flows = await every_page(
        lambda offset: client.read_flows(
            deployment_filter=ours, sort=FlowSort.NAME_ASC, offset=offset
        ),
        key=lambda f: f.id,
    )

    async def deployments_of(flow_id: UUID, offset: int) -> list[Any]:
        page: list[Any] = await client.read_deployments(
            flow_filter=FlowFilter(id=FlowFilterId(any_=[flow_id])),
            deployment_filter=ours,
            sort=DeploymentSort.NAME_ASC,
            offset=offset,
        )
        return page

    found: list[DeploymentSpec] = []
    for flow in flows:
        rows = await every_page(partial(deployments_of, flow.id), key=lambda d: d.id)
        found.extend(
            DeploymentSpec(
                flow_name=flow.name,
                name=row.name,
                entrypoint=row.entrypoint or "",
                parameters=dict(row.parameters or {}),
                tags=tuple(row.tags or ()),
                schedules=tuple(_schedule_from_server(s) for s in row.schedules),
                paused=bool(row.paused),
                description=row.description or "",
                id=str(row.id),
                work_pool=row.work_pool_name,
                source=_source(row.pull_steps),
            )
            for row in rows
        )
    return sorted(found, key=lambda d: d.full_name)


async def read_ours() -> list[DeploymentSpec]:
    from prefect import get_client

    async with get_client() as client:
        return await read_ours_with(client)


@dataclass
class _Flow:
    """What every deployment of one entrypoint shares: the flow's id, version and schema."""

    id: Any
    version: str | None
    schema: dict[str, Any]


def _schedules(spec: DeploymentSpec, *, update: bool) -> list[Any]:
    from prefect.client.schemas.actions import DeploymentScheduleCreate, DeploymentScheduleUpdate
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

    kind: Any = DeploymentScheduleUpdate if update else DeploymentScheduleCreate

    made = []
    for s in spec.schedules:
        if s.cron:
            timing: Any = CronSchedule(cron=s.cron, timezone=s.timezone)
        else:
            assert s.interval_seconds is not None
            timing = IntervalSchedule(
                interval=timedelta(seconds=s.interval_seconds), timezone=s.timezone
            )
        made.append(kind(schedule=timing, active=s.active, slug=s.slug))
    return made


async def apply_with(
    client: Any, wanted: list[DeploymentSpec], *, work_pool: str, project_root: Path
) -> ApplyReport:
    """Make the server match the binder; see the module's docstring for what is sent."""
    from prefect.exceptions import ObjectNotFound

    try:
        await client.read_work_pool(work_pool)
    except ObjectNotFound:
        raise NotFound(
            f"work pool {work_pool!r} not found on the Prefect server; create it first: "
            f"prefect work-pool create {work_pool} --type process"
        ) from None
    current = {d.full_name: d for d in await read_ours_with(client)}
    source = str(project_root)
    report = ApplyReport()
    sends: list[tuple[DeploymentSpec, DeploymentSpec | None]] = []
    for spec in wanted:
        old = current.get(spec.full_name)
        send = keep_operator_pauses(spec, old)
        if old is not None and (send.paused != spec.paused or send.schedules != spec.schedules):
            report.kept_paused.append(spec.full_name)
        if old is not None and replace(send, work_pool=work_pool, source=source) == old:
            report.unchanged.append(spec.full_name)
            continue
        (report.updated if old else report.created).append(spec.full_name)
        sends.append((send, old))
    flows = await _flows(client, [s for s, _ in sends], project_root)
    pull_steps = [{"prefect.deployments.steps.set_working_directory": {"directory": source}}]

    async def one(
        send: DeploymentSpec, old: DeploymentSpec | None, gate: asyncio.Semaphore
    ) -> None:
        from prefect.client.schemas.actions import DeploymentUpdate

        flow = flows[send.entrypoint]
        update = old is not None and old.id is not None
        fields: dict[str, Any] = dict(
            version=flow.version,
            schedules=_schedules(send, update=update),
            parameters=send.parameters,
            description=send.description,
            work_pool_name=work_pool,
            tags=list(send.tags),
            entrypoint=send.entrypoint,
            path=None,
            parameter_openapi_schema=flow.schema,
            paused=send.paused,
            pull_steps=pull_steps,
            enforce_parameter_schema=True,
        )
        async with gate:
            if not update:
                await client.create_deployment(
                    flow_id=flow.id, name=send.name, job_variables={}, **fields
                )
            else:  # a patch leaves what a person set on the server (e.g. a concurrency limit)
                assert old is not None and old.id is not None
                await client.update_deployment(UUID(old.id), DeploymentUpdate(**fields))

    gate = asyncio.Semaphore(WRITES_AT_ONCE)
    sweepers = [(s, o) for s, o in sends if SWEEPER_TAG in s.tags]
    others = [(s, o) for s, o in sends if SWEEPER_TAG not in s.tags]
    for batch in (sweepers, others):
        await asyncio.gather(*(one(s, o, gate) for s, o in batch))
    names = {s.full_name for s in wanted}
    gone = [d for d in current.values() if d.full_name not in names]
    await delete_with(client, [d.id for d in gone if d.id])
    report.removed.extend(d.full_name for d in gone)
    return report


async def _flows(client: Any, sends: list[DeploymentSpec], project_root: Path) -> dict[str, _Flow]:
    """Each entrypoint's flow loaded once from the project (as a worker will load it)."""
    from prefect import Flow
    from prefect.utilities.callables import parameter_schema

    flows: dict[str, _Flow] = {}
    for send in sends:
        if send.entrypoint in flows:
            continue
        flow = await Flow.afrom_source(source=str(project_root), entrypoint=send.entrypoint)
        flows[send.entrypoint] = _Flow(
            id=await client.create_flow_from_name(flow.name),
            version=flow.version,
            schema=parameter_schema(flow).model_dump(exclude_unset=True),
        )
    return flows


async def delete_with(client: Any, ids: list[str]) -> None:
    from prefect.exceptions import ObjectNotFound

    gate = asyncio.Semaphore(WRITES_AT_ONCE)

    async def one(deployment_id: str) -> None:
        async with gate:
            with contextlib.suppress(ObjectNotFound):  # deleted meanwhile: fine
                await client.delete_deployment(UUID(deployment_id))

    await asyncio.gather(*(one(i) for i in ids))
