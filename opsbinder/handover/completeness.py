"""The completeness audit: can a successor run this client from the binder alone?

Every check is (item, rule) with a weight and belongs to a part of the score (score.py): the
parts weigh what a failure costs, so a failing backup outweighs a missing phone number, however
many contacts the binder has. Each finding says where to fix it: the binder file and the section
path with the item's id, as the export's YAML is laid out.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from opsbinder.clock import Clock, utc
from opsbinder.config.models import ClientBinder, Contact, OnCallSchedule, Target
from opsbinder.handover import contradictions, oncall_view, transition
from opsbinder.handover.binder_yaml import SECTION_FILE
from opsbinder.handover.dossier import Dossier, ProcedureFacts, gather, period_of
from opsbinder.handover.score import Completeness, Finding
from opsbinder.store.models import WorkItem

HORIZON = timedelta(days=90)
__all__ = ["Completeness", "Finding", "assess", "audit_client", "reachable", "sev1_contacts"]


def where(binder: ClientBinder, section: str, item: str | None = None, path: str = "") -> str:
    """The file (and line) that holds the item as the loader read it; a binder loaded before
    locations were recorded falls back to the usual layout of the export."""
    file = (
        binder.location(section, item)
        or binder.location(section)
        or SECTION_FILE.get(section, "client.yaml")
    )
    located = f"{section}[{item}]" if item else section
    return f"{file} · {located}{'.' + path if path else ''}"


def reachable(contact: Contact | None) -> bool:
    return contact is not None and any(
        (contact.phone, contact.email, contact.chat, contact.webhook)
    )


def _procedure_checks(report: Completeness, dossier: Dossier, facts: ProcedureFacts) -> None:
    proc, now = facts.config, dossier.generated_at
    pid = proc.id
    ran = _run_part(facts)

    def add(weight: int, bad: bool, code: str, message: str, path: str, part: str = ran) -> None:
        report.check(
            part,
            weight,
            Finding(code, message, where(dossier.binder, "procedures", pid, path), weight)
            if bad
            else None,
        )

    add(
        3,
        not reachable(facts.owner),
        "procedure-owner",
        f"{pid}: no owner who can be reached (owner {proc.owner!r} is not a contact "
        "with a phone, email, chat or webhook)",
        "owner",
        "runbooks",
    )
    add(
        2,
        not proc.runbook.steps,
        "runbook-steps",
        f"{pid}: the runbook has no steps",
        "runbook.steps",
        "runbooks",
    )
    add(
        2,
        not proc.runbook.verify.strip(),
        "runbook-verify",
        f"{pid}: the runbook does not say how to verify",
        "runbook.verify",
        "runbooks",
    )
    add(
        2,
        not proc.runbook.rollback.strip(),
        "runbook-rollback",
        f"{pid}: the runbook does not say how to roll back",
        "runbook.rollback",
        "runbooks",
    )
    if facts.paused:
        add(
            3,
            True,
            "procedure-paused",
            f"{pid}: paused, so it does not run on schedule "
            f"(opsbinder resume {pid} --client {dossier.client.id} when it should run again)",
            "paused",
        )
    elif proc.on_demand:
        pass  # run when needed (a provider changed): no period to miss, never "never run"
    elif proc.kind == "manual":
        add(
            3,
            facts.last_completed is None,
            "manual-never-completed",
            f"{pid}: this checklist was never signed off",
            "schedule",
        )
    else:
        period = period_of(facts.row.cadence) + proc.grace
        if facts.last_ok is None and facts.last_failure is None:
            add(
                3,
                True,
                "never-run",
                f"{pid}: never run (opsbinder run {dossier.client.id}/{pid})",
                "schedule",
            )
        else:
            last = utc(facts.last_ok.started_at) if facts.last_ok else None
            stale = last is None or now - last > period
            when = f"last success {last:%Y-%m-%d %H:%M} UTC" if last else "never succeeded"
            add(
                3,
                stale,
                "not-run-in-period",
                f"{pid}: not run successfully within its period ({facts.row.cadence} + grace; {when})",
                "schedule",
            )
    if facts.verification is not None:
        add(
            2,
            facts.verification.outcome == "failed",
            "verification-failed",
            f"{pid}: the third-party dry run failed: {facts.verification.reason}",
            "params",
        )


def _run_part(facts: ProcedureFacts) -> str:
    """Whether a procedure runs counts where its failing hurts: a backup check with the
    backups, the lockdown checklist with the lockdown, the rest with the procedures."""
    proc = facts.config
    if proc.kind == "backup_check":
        return "backups"
    if proc.kind == "manual" and proc.params.lockdown:
        return "lockdown"
    return "runs"


def _target_reachable(binder: ClientBinder, target: Target, now: datetime) -> bool:
    contacts = {c.id: c for c in binder.contacts}
    if target.contact:
        return reachable(contacts.get(target.contact))
    if target.webhook:
        return any(w.id == target.webhook for w in binder.webhooks)
    schedule = next((s for s in binder.oncall_schedules if s.id == target.oncall), None)
    if schedule is None:
        return False
    return any(reachable(contacts.get(who)) for who in oncall_view.on_call(schedule, now))


def _escalation_checks(report: Completeness, binder: ClientBinder, now: datetime) -> None:
    for policy in binder.escalation_policies:
        for i, level in enumerate(policy.levels):
            ok = any(_target_reachable(binder, t, now) for t in level.targets)
            report.check(
                "reach",
                4,
                None
                if ok
                else Finding(
                    "escalation-unreachable",
                    f"escalation {policy.id}, level {i + 1} ({level.name}): nobody reachable "
                    "(no phone/email/chat/webhook, or an on-call schedule with nobody on call)",
                    where(binder, "escalation_policies", policy.id, f"levels[{i}]"),
                    4,
                ),
            )


def _oncall_checks(report: Completeness, binder: ClientBinder, now: datetime) -> None:
    for schedule in binder.oncall_schedules:
        gaps = oncall_view.gaps(schedule, now, now + HORIZON)
        first = gaps[0] if gaps else None
        report.check(
            "reach",
            4,
            None
            if first is None
            else Finding(
                "oncall-gap",
                f"on-call {schedule.id}: nobody on call from {first[0]:%Y-%m-%d %H:%M %Z} "
                f"to {first[1]:%Y-%m-%d %H:%M %Z}"
                + (f" (and {len(gaps) - 1} more gap(s) in 90 days)" if len(gaps) > 1 else ""),
                where(binder, "oncall_schedules", schedule.id, "layers"),
                4,
            ),
        )


def sev1_contacts(binder: ClientBinder) -> list[str]:
    """Everyone a Severity-1 incident can page: every level, management, and on-call people."""
    names: list[str] = []

    def add(target: Target) -> None:
        if target.contact:
            names.append(target.contact)
        elif target.oncall:
            schedule: OnCallSchedule | None = next(
                (s for s in binder.oncall_schedules if s.id == target.oncall), None
            )
            if schedule:
                names.extend(m for layer in schedule.layers for m in layer.members)
                names.extend(o.contact for o in schedule.overrides)

    for policy in binder.escalation_policies:
        for level in policy.levels:
            for target in level.targets:
                add(target)
        for target in policy.sev1_management:
            add(target)
    return list(dict.fromkeys(names))


def _phone_checks(report: Completeness, binder: ClientBinder) -> None:
    contacts = {c.id: c for c in binder.contacts}
    for name in sev1_contacts(binder):
        contact = contacts.get(name)
        report.check(
            "phones",
            2,
            None
            if contact is not None and contact.phone
            else Finding(
                "sev1-no-phone",
                f"contact {name} is paged for Severity-1 but has no phone number",
                where(binder, "contacts", name, "phone"),
                2,
            ),
        )


def _restore_check(report: Completeness, session: Session, dossier: Dossier) -> None:
    binder = dossier.binder
    has_backups = any(p.kind == "backup_check" for p in binder.procedures) or any(
        s.type == "backup_location" for s in binder.systems
    )
    if not has_backups:
        return
    drill = [p for p in binder.procedures if p.kind == "backup_check" and p.params.restore_drill]
    manual_tests = [
        f.row.id
        for f in dossier.procedures
        if f.config.kind == "manual" and "restore" in f"{f.config.id} {f.config.name}".lower()
    ]
    tested = bool(drill) or bool(
        manual_tests
        and session.execute(
            select(WorkItem.id)
            .where(WorkItem.procedure_id.in_(manual_tests), WorkItem.completed_at.is_not(None))
            .limit(1)
        ).first()
    )
    first = next((p.id for p in binder.procedures if p.kind == "backup_check"), None)
    report.check(
        "backups",
        4,
        None
        if tested
        else Finding(
            "backup-never-restore-tested",
            "backups were never restore-tested: no backup_check with restore_drill: true and "
            "no completed manual restore test",
            where(binder, "procedures", first, "params.restore_drill")
            if first
            else where(binder, "procedures"),
            4,
        ),
    )


def _lockdown_check(report: Completeness, binder: ClientBinder) -> None:
    found = any(p.kind == "manual" and p.params.lockdown for p in binder.procedures)
    report.check(
        "lockdown",
        4,
        None
        if found
        else Finding(
            "lockdown-missing",
            "no lockdown procedure: add a manual procedure with params.lockdown: true "
            "(the checklist `opsbinder lockdown` runs)",
            where(binder, "procedures"),
            4,
        ),
    )


def _transition_checks(report: Completeness, binder: ClientBinder) -> None:
    for weight, gap in transition.checks(binder, sev1_contacts(binder)):
        report.check(
            "transition",
            weight,
            None
            if gap is None
            else Finding(
                gap.code, gap.message, where(binder, "transition", None, gap.path), weight
            ),
        )


def assess(session: Session, dossier: Dossier) -> Completeness:
    report = Completeness(dossier.client.id)
    now = dossier.generated_at
    for facts in dossier.procedures:
        _procedure_checks(report, dossier, facts)
        run = facts.verification
        report.verification[facts.config.id] = (
            "never verified"
            if run is None
            else {"ok": "passed", "failed": "failed"}.get(run.outcome, "not verifiable")
        )
    _escalation_checks(report, dossier.binder, now)
    _oncall_checks(report, dossier.binder, now)
    _phone_checks(report, dossier.binder)
    _restore_check(report, session, dossier)
    _lockdown_check(report, dossier.binder)
    _transition_checks(report, dossier.binder)
    for part, weight, found in contradictions.checks(dossier):
        report.check(
            part,
            weight,
            None
            if found is None
            else Finding(
                found.code,
                found.message,
                where(dossier.binder, found.section, found.item, found.path),
                weight,
            ),
        )
    return report


def audit_client(session: Session, client_id: str, clock: Clock) -> Completeness:
    return assess(session, gather(session, client_id, clock))
