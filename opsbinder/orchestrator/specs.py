"""What opsbinder wants scheduled, and how that differs from what a Prefect server has.

Plain data and pure functions (no Prefect import): `deployments/` builds the wanted specs from the
store, `orchestrator/deployments.py` reads the server's side into the same shape, and the drift
between them is a set difference that tests can check without a server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

OURS = "opsbinder"
"""The tag that marks a deployment as opsbinder's: only those are ever updated or deleted."""


@dataclass(frozen=True)
class ScheduleSpec:
    """One schedule: a cron in a time zone, or an interval in seconds."""

    cron: str | None = None
    timezone: str = "UTC"
    interval_seconds: int | None = None
    active: bool = True
    slug: str = "binder"

    @property
    def label(self) -> str:
        if self.cron:
            return f"cron {self.cron!r} {self.timezone}"
        return f"every {self.interval_seconds}s"

    def same_timing(self, other: ScheduleSpec) -> bool:
        return (self.cron, self.timezone if self.cron else "", self.interval_seconds) == (
            other.cron,
            other.timezone if other.cron else "",
            other.interval_seconds,
        )


@dataclass(frozen=True)
class DeploymentSpec:
    """One deployment as the binder wants it (or as the server has it, read back)."""

    flow_name: str
    name: str
    entrypoint: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    paused: bool = False
    description: str = ""
    id: str | None = None
    work_pool: str | None = None  # read back only: where the server sends its runs
    source: str | None = None  # read back only: the folder a worker loads the flow from

    @property
    def full_name(self) -> str:
        """The name `run_deployment` and `prefect deployment run` take."""
        return f"{self.flow_name}/{self.name}"

    def tag_value(self, prefix: str) -> str | None:
        for tag in self.tags:
            if tag.startswith(f"{prefix}:"):
                return tag.split(":", 1)[1]
        return None


@dataclass(frozen=True)
class Drift:
    """One difference between binder and server, said so a person can act on it."""

    deployment: str
    problem: str

    def __str__(self) -> str:
        return f"{self.deployment}: {self.problem}"


def drift(wanted: list[DeploymentSpec], server: list[DeploymentSpec]) -> list[Drift]:
    """Differences both ways: missing on the server, unknown to the binder, schedules changed.

    A schedule a person paused on the server is not drift (pausing is an operator's decision);
    a deployment paused on the server while the store says it runs is, because then nothing runs.
    """
    have = {d.full_name: d for d in server}
    want = {d.full_name: d for d in wanted}
    found: list[Drift] = []
    for name in sorted(want.keys() - have.keys()):
        found.append(Drift(name, "in the binder, not on the server (run opsbinder deploy)"))
    for name in sorted(have.keys() - want.keys()):
        labels = ", ".join(s.label for s in have[name].schedules) or "no schedule"
        found.append(Drift(name, f"on the server ({labels}), not in the binder"))
    for name in sorted(want.keys() & have.keys()):
        w, h = want[name], have[name]
        for s in w.schedules:
            if not any(s.same_timing(x) for x in h.schedules):
                found.append(Drift(name, f"binder has {s.label}, the server does not"))
        for s in h.schedules:
            if not any(s.same_timing(x) for x in w.schedules):
                found.append(Drift(name, f"server has {s.label}, the binder does not"))
        if h.paused and not w.paused:
            found.append(Drift(name, "paused on the server, active in the store"))
        if w.paused and not h.paused:
            found.append(Drift(name, "paused in the store, active on the server"))
        if w.parameters != h.parameters:
            found.append(
                Drift(name, f"parameters {h.parameters} on the server, binder wants {w.parameters}")
            )
    return found


def keep_operator_pauses(wanted: DeploymentSpec, current: DeploymentSpec | None) -> DeploymentSpec:
    """The spec to send: what the binder wants, but a pause a person made on the server stays.

    Re-deploying must never switch back on a schedule someone switched off, nor unpause a
    deployment; only `opsbinder resume` does that, on purpose.
    """
    if current is None:
        return wanted
    inactive = {s.slug for s in current.schedules if not s.active}
    schedules = tuple(
        ScheduleSpec(s.cron, s.timezone, s.interval_seconds, active=False, slug=s.slug)
        if s.slug in inactive
        else s
        for s in wanted.schedules
    )
    return DeploymentSpec(
        flow_name=wanted.flow_name,
        name=wanted.name,
        entrypoint=wanted.entrypoint,
        parameters=wanted.parameters,
        tags=wanted.tags,
        schedules=schedules,
        paused=wanted.paused or current.paused,
        description=wanted.description,
        id=current.id,
    )
