"""`opsbinder serve`: every deployment in this one process, the embedded default."""

from __future__ import annotations

from typing import Any

from opsbinder.orchestrator.deployments import to_prefect_schedule
from opsbinder.orchestrator.specs import DeploymentSpec


def runner_deployments(specs: list[DeploymentSpec]) -> list[Any]:
    """The specs as Prefect RunnerDeployments, flows imported from the project's files."""
    from prefect.flows import load_flow_from_entrypoint

    flows: dict[str, Any] = {}
    found = []
    for spec in specs:
        if spec.entrypoint not in flows:
            flows[spec.entrypoint] = load_flow_from_entrypoint(spec.entrypoint)
        found.append(
            flows[spec.entrypoint].to_deployment(
                name=spec.name,
                schedules=[to_prefect_schedule(s) for s in spec.schedules],
                paused=spec.paused,
                parameters=spec.parameters,
                tags=list(spec.tags),
                description=spec.description,
            )
        )
    return found


def serve_all(specs: list[DeploymentSpec], *, limit: int | None = None) -> None:
    """Blocks until interrupted. Prefect pauses these deployments again when it stops."""
    from prefect import serve

    serve(*runner_deployments(specs), limit=limit, print_starting_message=True)
