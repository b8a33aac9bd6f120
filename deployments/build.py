"""The binder, as loaded into the store, turned into the deployments Prefect should have.

One deployment per active procedure (its cron in its time zone), one per client and cadence for
the bundles, and the sweepers; flow names and entrypoints come from flows/registry.py. Bundles
carry no schedule: every procedure already runs on its own cron, so a scheduled bundle would run
each procedure twice; they are there to run a whole cadence now
(`prefect deployment run 'bundle/nordhafen.daily'` or the UI's Run button).
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from flows import registry
from opsbinder.orchestrator.specs import OURS, DeploymentSpec, ScheduleSpec
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Procedure


def procedure_deployment_name(client_id: str, key: str) -> str:
    """Procedure keys and client ids are slugs without dots, so the dot is unambiguous."""
    return f"{client_id}.{key}"


def build_specs(engine: Engine, *, sweepers: bool = True) -> list[DeploymentSpec]:
    specs: list[DeploymentSpec] = []
    with session_scope(engine) as session:
        rows = session.execute(
            select(Procedure, Client)
            .join(Client, Client.id == Procedure.client_id)
            .where(Procedure.active.is_(True))
            .order_by(Procedure.client_id, Procedure.key)
        ).all()
        cadences: dict[str, set[str]] = {}
        paused_clients = {c.id for c in session.execute(select(Client)).scalars() if c.paused}
        for proc, client in rows:
            entry = registry.PROCEDURES[proc.kind]
            if proc.cron:  # an on-demand procedure is in no bundle
                cadences.setdefault(client.id, set()).add(proc.cadence)
            specs.append(
                DeploymentSpec(
                    flow_name=entry.name,
                    name=procedure_deployment_name(client.id, proc.key),
                    entrypoint=entry.entrypoint,
                    parameters={"client_id": client.id, "procedure_id": proc.key},
                    tags=(
                        OURS,
                        f"client:{client.id}",
                        f"procedure:{proc.key}",
                        f"kind:{proc.kind}",
                        f"cadence:{proc.cadence}",
                        f"severity:{proc.severity}",
                        *sorted(proc.definition.get("tags") or ()),
                    ),
                    # on demand: a deployment to run by hand, with no schedule
                    schedules=(
                        (ScheduleSpec(cron=proc.cron, timezone=proc.timezone),) if proc.cron else ()
                    ),
                    paused=bool(proc.paused or client.paused),
                    description=proc.name,
                )
            )
    for client_id in sorted(cadences):
        for cadence in sorted(cadences[client_id]):
            specs.append(
                DeploymentSpec(
                    flow_name=registry.BUNDLE.name,
                    name=f"{client_id}.{cadence}",
                    entrypoint=registry.BUNDLE.entrypoint,
                    parameters={"client_id": client_id, "cadence": cadence},
                    tags=(OURS, f"client:{client_id}", "bundle", f"cadence:{cadence}"),
                    paused=client_id in paused_clients,
                    description=f"Run every {cadence} procedure of {client_id} now.",
                )
            )
    if sweepers:
        specs.extend(sweeper_specs())
        specs.extend(built_in_specs())
    return specs


def sweeper_specs() -> list[DeploymentSpec]:
    return [
        DeploymentSpec(
            flow_name=s.flow.name,
            name=s.deployment,
            entrypoint=s.flow.entrypoint,
            tags=(OURS, "sweeper"),
            schedules=(ScheduleSpec(interval_seconds=s.every_seconds),),
            description=f"{s.flow.description} (every {s.every_seconds} s)",
        )
        for s in sorted(registry.SWEEPERS, key=lambda s: s.deployment)
    ]


def built_in_specs() -> list[DeploymentSpec]:
    """opsbinder's own duties (daily housekeeping, monthly evidence packs), on their cron,
    each unless its setting switches it off."""
    from opsbinder.settings import get_settings

    settings = get_settings()
    return [
        DeploymentSpec(
            flow_name=b.flow.name,
            name=b.deployment,
            entrypoint=b.flow.entrypoint,
            tags=(OURS, "built-in"),
            schedules=(ScheduleSpec(cron=b.cron, timezone=b.timezone),),
            description=b.flow.description,
        )
        for b in registry.BUILT_IN
        if getattr(settings, b.switch)
    ]
