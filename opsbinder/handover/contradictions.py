"""Where a binder contradicts itself, so that reading it misleads the successor.

Each field of such a binder is valid on its own; what is wrong is that two of them cannot both
be meant: an on-call override that puts on call the person already on call (so the swap it
records did not happen), a destructive procedure that has never once succeeded yet runs for
real within days, a runbook that says its procedure does what its configuration cannot (a
restore with `restore_drill: false`, a report mailed by an entrypoint given nobody to mail to), a
quarterly or yearly procedure whose runbook speaks of hours or days. `binder audit` weighs each with the rest (completeness.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from opsbinder import oncall
from opsbinder.config.models import ClientBinder, OnCallSchedule, Override
from opsbinder.config.models import Procedure as ProcedureConfig
from opsbinder.handover.dossier import Dossier

DESTRUCTIVE = ("purge", "archive")
ARTICLE = {"purge": "a", "archive": "an"}
SOON = timedelta(days=7)


@dataclass(frozen=True)
class Contradiction:
    code: str
    message: str
    section: str
    item: str | None
    path: str


# the rule's code, its weight, and the contradiction (None: none found)
Check = tuple[str, int, Contradiction | None]
# the part of the score a rule counts in (score.py); the rest count as the binder's consistency
PARTS = {"destructive-untried": "runs", "runbook-restore-not-drilled": "backups"}


def checks(dossier: Dossier) -> list[tuple[str, int, Contradiction | None]]:
    """Every check with the part of the score it counts in."""
    return [
        (PARTS.get(code, "consistency"), weight, found)
        for code, weight, found in (
            *_overrides(dossier.binder),
            *_untried_destruction(dossier),
            *_capabilities_claimed(dossier.binder),
            *_cadence_wording(dossier),
        )
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
                    "oncall-override-no-op",
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
                "destructive-untried",
                3,
                Contradiction(
                    "destructive-untried",
                    f"{proc.id}: {ARTICLE[proc.kind]} {proc.kind} that has never run "
                    f"successfully deletes data for real on {due:%Y-%m-%d %H:%M %Z}; dry-run it first "
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


@dataclass(frozen=True)
class Capability:
    """A thing a runbook can say its procedure does, and the configuration that makes it true.

    `kinds` are the kinds the words are checked for: a manual checklist's steps are done by a
    person, who can mail or restore anything, so only what the machine does is held to the
    configuration. Only purpose, steps and verify are read: a rollback may rightly describe
    what is not done every run (restoring rows from a dump).
    """

    code: str
    words: re.Pattern[str]
    kinds: tuple[str, ...]
    has: Callable[[ProcedureConfig], bool]
    path: str
    missing: str  # why the configuration does not do it, after "the runbook says ..., but"


RECIPIENT_ARGUMENTS = frozenset({"to", "recipient", "recipients", "mail_to", "email", "channel"})


def _sends(proc: ProcedureConfig) -> bool:
    """Reminders go to their owners; a custom entrypoint sends only to someone it is given."""
    if proc.kind == "update_reminder":
        return True
    return proc.kind == "custom" and bool(RECIPIENT_ARGUMENTS & set(proc.params.arguments))


def _drills(proc: ProcedureConfig) -> bool:
    return proc.kind == "backup_check" and proc.params.restore_drill


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(rf"\b({pattern})\b", re.IGNORECASE)


CAPABILITIES = (
    Capability(
        "runbook-sends-nothing",
        _words(r"e-?mail(s|ed|ing)?|mail(s|ed|ing)?|send(s|ing)?|sent|notif(y|ies|ied)"),
        ("purge", "archive", "backup_check", "disk_check", "custom"),
        _sends,
        "params",
        "nothing in its configuration sends anything (a custom entrypoint sends only to a "
        "recipient its arguments name: " + ", ".join(sorted(RECIPIENT_ARGUMENTS)) + ")",
    ),
    Capability(
        "runbook-restore-not-drilled",
        _words(r"restor(e|es|ed|ing)"),
        ("backup_check",),
        _drills,
        "params.restore_drill",
        "restore_drill is off, so no restore is ever tried",
    ),
    Capability(
        "runbook-deletes-nothing",
        _words(r"delet(e|es|ed|ing)|purg(e|es|ed|ing)|drop(s|ped|ping)?"),
        ("backup_check", "disk_check", "update_reminder"),
        lambda proc: False,  # read-only kinds: only purge and archive delete
        "kind",
        "this kind only reads; only a purge or an archive deletes",
    ),
)


def _runbook_text(proc: ProcedureConfig) -> str:
    book = proc.runbook
    return "\n".join([book.purpose, *book.steps, book.verify])


def _capabilities_claimed(binder: ClientBinder) -> list[Check]:
    found: list[Check] = []
    for proc in binder.procedures:
        text = _runbook_text(proc)
        for capability in CAPABILITIES:
            if proc.kind not in capability.kinds:
                continue
            said = capability.words.search(text)
            bad = said is not None and not capability.has(proc)
            found.append(
                (
                    capability.code,
                    3,
                    Contradiction(
                        capability.code,
                        f"{proc.id}: the runbook says {said.group(0)!r}, but "
                        f"{capability.missing}; correct the runbook or the configuration",
                        "procedures",
                        proc.id,
                        capability.path,
                    )
                    if bad and said is not None
                    else None,
                )
            )
    return found


RARE = ("quarterly", "yearly")  # at most four runs a year
# a time frame of a day or less: how often, or how soon, the runbook says the work is done
_SHORT = _words(
    r"hourly|daily|nightly|every (hour|day|night|morning|evening)|each (day|night)"
    r"|(in|within) (one|an|a|1|\d+) (hours?|minutes?)|(in|within) (a|one|1) day"
)


def _cadence_wording(dossier: Dossier) -> list[Check]:
    """A procedure run at most four times a year whose runbook speaks in hours or days: the
    schedule or the runbook is wrong (a lockdown 'in one hour' that is a yearly checklist)."""
    found: list[Check] = []
    for facts in dossier.procedures:
        proc, cadence = facts.config, facts.row.cadence
        if cadence not in RARE:
            continue
        said = _SHORT.search(_runbook_text(proc))
        found.append(
            (
                "runbook-cadence-mismatch",
                2,
                Contradiction(
                    "runbook-cadence-mismatch",
                    f"{proc.id}: runs {cadence}, but its runbook says {said.group(0)!r}; "
                    "correct the schedule or the runbook",
                    "procedures",
                    proc.id,
                    "schedule",
                )
                if said is not None
                else None,
            )
        )
    return found
