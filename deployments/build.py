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

BUNDLE_ENTRYPOINT = "flows/bundles.py:bundle"


@dataclass(frozen=True)
class Sweeper:
    name: str
    entrypoint: str
    every_seconds: int
    description: str


# Each sweeper is a flow in flows/sweepers.py that catches up by itself, so a missed minute is
# harmless; they run every minute like any scheduled procedure.
SWEEPERS = (
    Sweeper(
        "escalation",
        "flows/sweepers.py:escalation_sweeper",
        60,
        "Escalates unacknowledged incidents along their policy; informs management of sev1.",
    ),
    Sweeper(
        "missed-runs",
        "flows/sweepers.py:missed_run_sweeper",
        60,
        "Opens 'did not run' incidents for runs not completed by schedule plus grace.",
    ),
    Sweeper(
        "outbox",
        "flows/sweepers.py:outbox_sweeper",
        60,
        "Delivers pending notifications and replays the spool of incidents.",
    ),
)


def flow_name(entrypoint: str) -> str:
    """The Prefect flow name behind an entrypoint ("flows/x.py:fn"), read from the flow itself."""
    path, attr = entrypoint.split(":")
    module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
    return str(getattr(module, attr).name)


def procedure_entrypoints() -> dict[str, str]:
    from flows.catalog import ENTRYPOINTS

    return dict(ENTRYPOINTS)


def procedure_deployment_name(client_id: str, key: str) -> str:
    """Procedure keys and client ids are slugs without dots, so the dot is unambiguous."""
    return f"{client_id}.{key}"


def build_specs(engine: Engine, *, sweepers: bool = True) -> list[DeploymentSpec]:
    entrypoints = procedure_entrypoints()
    names = {ep: flow_name(ep) for ep in {*entrypoints.values(), BUNDLE_ENTRYPOINT}}
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
                    flow_name=names[BUNDLE_ENTRYPOINT],
                    name=f"{client_id}.{cadence}",
                    entrypoint=BUNDLE_ENTRYPOINT,
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
            description=s.description,
        )
        for s in SWEEPERS
    ]


def for_procedure(specs: list[DeploymentSpec], client_id: str, key: str) -> list[DeploymentSpec]:
    return [
        s for s in specs if s.tag_value("client") == client_id and s.tag_value("procedure") == key
    ]


def for_client(specs: list[DeploymentSpec], client_id: str) -> list[DeploymentSpec]:
    return [s for s in specs if s.tag_value("client") == client_id]
