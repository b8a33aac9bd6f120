"""Every flow opsbinder deploys, stated once: one per procedure kind, the bundle, the sweepers.

`deployments/` builds its specs from this table, `flows/procedures.py` makes the procedure
flows from it, and the adapter (`opsbinder.orchestrator`) reads names and entrypoints here. So a
new kind or sweeper is one entry here, and nothing looks for flows by trying imports.

Plain data, no Prefect import: reading a flow's name must not start Prefect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from opsbinder import housekeeping
from opsbinder.evidence import monthly
from opsbinder.procedures.registry import KINDS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""Entrypoints are paths relative to this folder (Prefect imports them from there)."""


@dataclass(frozen=True)
class FlowEntry:
    name: str  # the Prefect flow name: the part before "/" in "flow/deployment"
    entrypoint: str  # "flows/file.py:attribute", relative to PROJECT_ROOT
    description: str


@dataclass(frozen=True)
class Sweeper:
    """A flow that catches up by itself, so a missed interval is harmless."""

    deployment: str
    flow: FlowEntry
    every_seconds: int = 60


# What each kind's flow does, in one line (the flow's docstring and the UI's description).
_DOES = {
    "purge": "Delete a client table's rows older than the retention, in short batches.",
    "archive": "Move old rows to verified archive files, then delete them from the source.",
    "backup_check": "Check the newest backup: age, size, checksum, pg_restore, restore drill.",
    "disk_check": "Filesystem and database usage against thresholds, with a days-until-full forecast.",
    "update_reminder": "Reminders for end of support and patches from the software inventory.",
    "manual": "A due checklist for a person to sign off with `opsbinder done`.",
    "custom": "A Python entrypoint named in the binder.",
}

PROCEDURES: dict[str, FlowEntry] = {
    kind: FlowEntry(kind, f"flows/procedures.py:{kind}", _DOES[kind]) for kind in KINDS
}
"""One flow per procedure kind, named as the kind; every one takes
`(client_id, procedure_id, dry_run, approve, scheduled_for, actor)`."""

BUNDLE = FlowEntry(
    "bundle", "flows/bundles.py:bundle", "Every procedure of one cadence of a client, now."
)

SWEEP = Sweeper(
    "sweep",
    FlowEntry(
        "sweep",
        "flows/sweep.py:sweep",
        "Replay the hook spool, watch for missed runs, escalate, enforce the Severity-1 "
        "update cadence, page overdue work items, deliver the outbox: in that order.",
    ),
)
SWEEPERS: tuple[Sweeper, ...] = (SWEEP,)
"""One flow run a minute in all: its steps are `opsbinder.sweep.STEPS`, tasks of that run."""


@dataclass(frozen=True)
class BuiltIn:
    """A duty opsbinder does for itself on a cron: deployed with the sweepers, and listed in
    every binder export next to the client's procedures, so a successor knows it is there."""

    deployment: str
    flow: FlowEntry
    cron: str
    timezone: str = "UTC"
    switch: str = "housekeeping"  # the setting (opsbinder.settings) that turns it off


HOUSEKEEPING = BuiltIn(
    "housekeeping",
    FlowEntry(housekeeping.FLOW, housekeeping.ENTRYPOINT, housekeeping.DOES),
    cron=housekeeping.CRON,
    timezone=housekeeping.TIMEZONE,
)
EVIDENCE = BuiltIn(
    "evidence",
    FlowEntry(monthly.FLOW, monthly.ENTRYPOINT, monthly.DOES),
    cron=monthly.CRON,
    timezone=monthly.TIMEZONE,
    switch="evidence_packs",
)
BUILT_IN: tuple[BuiltIn, ...] = (HOUSEKEEPING, EVIDENCE)


def every_flow() -> list[FlowEntry]:
    """All of them, for checks that each entrypoint really holds a flow of that name."""
    return [*PROCEDURES.values(), BUNDLE, *(s.flow for s in SWEEPERS), *(b.flow for b in BUILT_IN)]
