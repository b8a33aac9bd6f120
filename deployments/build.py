"""The binder, as loaded into the store, turned into the deployments Prefect should have.

One deployment per active procedure (its cron in its time zone), one per client and cadence for
the bundles, and the sweepers. Bundles carry no schedule: every procedure already runs on its own
cron, so a scheduled bundle would run each procedure twice; they are there to run a whole cadence
now (`prefect deployment run 'bundle/nordhafen.daily'` or the UI's Run button).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from sqlalchemy import Engine, select

from opsbinder.orchestrator.specs import OURS, DeploymentSpec, ScheduleSpec
from opsbinder.store.db import session_scope
from opsbinder.store.models import Client, Procedure


@dataclass(frozen=True)
class Sweeper:
    name: str
    entrypoint: str
    every_seconds: int


# Sweepers catch up by themselves, so a missed minute is harmless; each runs every minute.
# flows/sweepers.py (issue 4) may publish SWEEPER_ENTRYPOINTS {name: entrypoint}; until it
# does, these names are looked for there, and only the ones that exist are deployed.
EXPECTED_SWEEPERS = {
    "escalation": "flows/sweepers.py:escalation_sweeper",
    "missed-runs": "flows/sweepers.py:missed_run_sweeper",
    "outbox": "flows/sweepers.py:outbox_sweeper",
}


# Minutely flows that live outside flows/sweepers.py (issue 5: Severity-1 update reminders).
OTHER_SWEEPERS = {"update-cadence": "flows/update_cadence.py:update_cadence_sweeper"}


def sweepers() -> list[Sweeper]:
    from flows import catalog

    found = dict(getattr(catalog, "SWEEPER_ENTRYPOINTS", {}))
    try:
        module = importlib.import_module("flows.sweepers")
    except ModuleNotFoundError:
        module = None
    if module is not None:
        published = getattr(module, "SWEEPER_ENTRYPOINTS", None)
        candidates = dict(published) if published else EXPECTED_SWEEPERS
        for name, entrypoint in candidates.items():
            if hasattr(module, entrypoint.split(":")[1]):
                found[name] = entrypoint
    for name, entrypoint in OTHER_SWEEPERS.items():
        path, attr = entrypoint.split(":")
        try:
            other = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        except ModuleNotFoundError:
            continue
        if hasattr(other, attr):
            found[name] = entrypoint
    return [Sweeper(name, ep, 60) for name, ep in sorted(found.items())]


def flow_name(entrypoint: str) -> str:
    """The Prefect flow name behind an entrypoint ("flows/x.py:fn"), read from the flow itself."""
    path, attr = entrypoint.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return str(getattr(module, attr).name)


def procedure_entrypoints() -> tuple[dict[str, str], str]:
    """Entrypoints by procedure kind, and the bundle's."""
    from flows.catalog import BUNDLE_ENTRYPOINT, ENTRYPOINTS

    return dict(ENTRYPOINTS), BUNDLE_ENTRYPOINT


def procedure_deployment_name(client_id: str, key: str) -> str:
    """Procedure keys and client ids are slugs without dots, so the dot is unambiguous."""
    return f"{client_id}.{key}"


def build_specs(engine: Engine, *, sweepers: bool = True) -> list[DeploymentSpec]:
    entrypoints, bundle_entrypoint = procedure_entrypoints()
    names = {ep: flow_name(ep) for ep in {*entrypoints.values(), bundle_entrypoint}}
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
            entrypoint = entrypoints[proc.kind]
            cadences.setdefault(client.id, set()).add(proc.cadence)
            specs.append(
                DeploymentSpec(
                    flow_name=names[entrypoint],
                    name=procedure_deployment_name(client.id, proc.key),
                    entrypoint=entrypoint,
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
                    schedules=(ScheduleSpec(cron=proc.cron, timezone=proc.timezone),),
                    paused=bool(proc.paused or client.paused),
                    description=proc.name,
                )
            )
    for client_id in sorted(cadences):
        for cadence in sorted(cadences[client_id]):
            specs.append(
                DeploymentSpec(
                    flow_name=names[bundle_entrypoint],
                    name=f"{client_id}.{cadence}",
                    entrypoint=bundle_entrypoint,
                    parameters={"client_id": client_id, "cadence": cadence},
                    tags=(OURS, f"client:{client_id}", "bundle", f"cadence:{cadence}"),
                    paused=client_id in paused_clients,
                    description=f"Run every {cadence} procedure of {client_id} now.",
                )
            )
    if sweepers:
        specs.extend(sweeper_specs())
    return specs


def sweeper_specs() -> list[DeploymentSpec]:
    return [
        DeploymentSpec(
            flow_name=flow_name(s.entrypoint),
            name=s.name,
            entrypoint=s.entrypoint,
            tags=(OURS, "sweeper"),
            schedules=(ScheduleSpec(interval_seconds=s.every_seconds),),
            description=f"Sweeper {s.name}: runs every {s.every_seconds} s.",
        )
        for s in sweepers()
    ]


def for_procedure(specs: list[DeploymentSpec], client_id: str, key: str) -> list[DeploymentSpec]:
    return [
        s for s in specs if s.tag_value("client") == client_id and s.tag_value("procedure") == key
    ]


def for_client(specs: list[DeploymentSpec], client_id: str) -> list[DeploymentSpec]:
    return [s for s in specs if s.tag_value("client") == client_id]
