"""Where a binder contradicts itself, so that reading it misleads the successor.

Each field of such a binder is valid on its own; what is wrong is that two of them cannot both
be meant: an on-call override that puts on call the person already on call (so the swap it
records did not happen), a destructive procedure that has never once succeeded yet runs for
real within days, a backup check whose runbook promises a restore that its `restore_drill: false`
never does. `binder audit` weighs each with the rest (completeness.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from opsbinder import oncall
from opsbinder.config.models import ClientBinder, OnCallSchedule, Override
from opsbinder.handover.dossier import Dossier

DESTRUCTIVE = ("purge", "archive")
SOON = timedelta(days=7)
_RESTORE = re.compile(r"\brestor(e|es|ed|ing)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Contradiction:
    code: str
    message: str
    section: str
    item: str | None
    path: str


Check = tuple[int, Contradiction | None]  # weight, and the contradiction (None: none found)


def checks(dossier: Dossier) -> list[Check]:
    return [
        *_overrides(dossier.binder),
        *_untried_destruction(dossier),
        *_restore_promised(dossier.binder),
    ]


def _overrides(binder: ClientBinder) -> list[Check]:
    found: list[Check] = []
    for schedule in binder.oncall_schedules:
        for i, override in enumerate(schedule.overrides):
            if override.layer is not None:
                continue  # a layer's own rota is not compared here (see the module's report)
            bad = _changes_nothing(schedule, override)
            found.append(
                (
                    3,
                    Contradiction(
                        "oncall-override-no-op",
                        f"on-call {schedule.id}: the override for {override.contact} "
                        f"({override.start:%Y-%m-%d %H:%M} to {override.end:%Y-%m-%d %H:%M}"
                        f"{', ' + override.reason if override.reason else ''}) changes nothing: "
                        f"{override.contact} is on call then anyway",
                        "oncall_schedules",
                        schedule.id,
                        f"overrides[{i}]",
                    )
                    if bad
                    else None,
                )
            )
    return found


def _changes_nothing(schedule: OnCallSchedule, override: Override) -> bool:
    """True when the rota without this override already has its person on for all of it."""
    others = [o for o in schedule.overrides if o is not override]
    without = schedule.model_copy(update={"overrides": others})
    start, end = oncall.override_span(override, schedule.timezone)
    return all(s.contact == override.contact for s in oncall.shifts(without, start, end))


def _untried_destruction(dossier: Dossier) -> list[Check]:
    found: list[Check] = []
    soon = dossier.generated_at + SOON
    for facts in dossier.procedures:
        proc = facts.config
        if proc.kind not in DESTRUCTIVE or facts.paused or proc.on_demand:
            continue
        due = next(iter(facts.next_runs), None)
        bad = facts.last_ok is None and due is not None and due <= soon
        found.append(
            (
                3,
                Contradiction(
                    "destructive-untried",
                    f"{proc.id}: a {proc.kind} that has never run successfully deletes data "
                    f"for real on {due:%Y-%m-%d %H:%M %Z}; dry-run it first "
                    f"(opsbinder run {dossier.client.id}/{proc.id} --dry-run)",
                    "procedures",
                    proc.id,
                    "schedule",
                )
                if bad and due is not None
                else None,
            )
        )
    return found


def _restore_promised(binder: ClientBinder) -> list[Check]:
    found: list[Check] = []
    for proc in binder.procedures:
        if proc.kind != "backup_check":
            continue
        book = proc.runbook
        says = _RESTORE.search(" ".join([book.purpose, *book.steps, book.verify]))
        bad = says is not None and not proc.params.restore_drill
        found.append(
            (
                3,
                Contradiction(
                    "runbook-restore-not-drilled",
                    f"{proc.id}: the runbook describes a restore, but restore_drill is off, so "
                    "no restore is ever tried; turn it on or correct the runbook",
                    "procedures",
                    proc.id,
                    "params.restore_drill",
                )
                if bad
                else None,
            )
        )
    return found
