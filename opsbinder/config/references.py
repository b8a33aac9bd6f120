"""Checks that span sections: every name a binder uses must be defined, and only once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from opsbinder.config.models import ClientBinder, EscalationPolicy, Target

Finding = tuple[tuple[str | int, ...], Any, str]

# which system types each procedure kind can act on (None: no system needed)
KIND_SYSTEMS: dict[str, set[str] | None] = {
    "purge": {"database"},
    "archive": {"database"},
    "backup_check": {"backup_location"},
    "disk_check": {"filesystem", "database"},
    "update_reminder": {"software_inventory"},
    "manual": None,
    "custom": None,
}


def check_references(binder: ClientBinder) -> list[Finding]:
    return [
        *_duplicates(binder),
        *_procedure_refs(binder),
        *_policy_refs(binder),
        *_people_refs(binder),
        *_local_times(binder),
    ]


def _local_problem(value: datetime, zone_name: str) -> str | None:
    """Why a naive local time is unclear in its zone (DST gap or repeat), or None."""
    zone = ZoneInfo(zone_name)
    first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != value:
        return (
            f"{value:%Y-%m-%d %H:%M} does not exist in {zone_name} (the clocks go forward "
            "that night); write it with a UTC offset"
        )
    if first.utcoffset() != second.utcoffset():
        return (
            f"{value:%Y-%m-%d %H:%M} happens twice in {zone_name} (the clocks go back); write "
            f"it with a UTC offset: {first:%z} for the first, {second:%z} for the second"
        )
    return None


def _local_times(binder: ClientBinder) -> Iterator[Finding]:
    """Naive times mean the local time of the client (windows) or the schedule (overrides);
    on a DST change night such a time is missing or double, so it must carry an offset."""
    places: list[tuple[tuple[str | int, ...], datetime, str]] = []
    for i, window in enumerate(binder.maintenance_windows):
        for name in ("start", "end"):
            places.append(
                (("maintenance_windows", i, name), getattr(window, name), binder.client.timezone)
            )
    for i, schedule in enumerate(binder.oncall_schedules):
        for j, override in enumerate(schedule.overrides):
            for name in ("start", "end"):
                loc: tuple[str | int, ...] = ("oncall_schedules", i, "overrides", j, name)
                places.append((loc, getattr(override, name), schedule.timezone))
    for loc, value, zone_name in places:
        if value.tzinfo is None and (problem := _local_problem(value, zone_name)):
            yield loc, value.isoformat(), problem


def _duplicates(binder: ClientBinder) -> Iterator[Finding]:
    for section in (
        "contacts",
        "webhooks",
        "systems",
        "procedures",
        "escalation_policies",
        "oncall_schedules",
    ):
        seen: set[str] = set()
        for i, item in enumerate(getattr(binder, section)):
            if item.id in seen:
                yield (section, i, "id"), item.id, f"duplicate id in {section}"
            seen.add(item.id)


def _procedure_refs(binder: ClientBinder) -> Iterator[Finding]:
    contacts = {c.id for c in binder.contacts}
    systems = {s.id: s.type for s in binder.systems}
    policies = {p.id for p in binder.escalation_policies}
    for i, proc in enumerate(binder.procedures):
        if proc.owner not in contacts:
            yield ("procedures", i, "owner"), proc.owner, "owner is not a contact of this binder"
        if proc.escalation_policy not in policies:
            yield (
                ("procedures", i, "escalation_policy"),
                proc.escalation_policy,
                "no escalation policy with this id",
            )
        wanted = KIND_SYSTEMS[proc.kind]
        if proc.system is None:
            if wanted:
                yield ("procedures", i, "system"), None, f"a {proc.kind} procedure needs a system"
        elif proc.system not in systems:
            yield ("procedures", i, "system"), proc.system, "no system with this id"
        elif wanted is not None and systems[proc.system] not in wanted:
            yield (
                ("procedures", i, "system"),
                proc.system,
                f"a {proc.kind} procedure acts on a {' or '.join(sorted(wanted))} system, "
                f"not a {systems[proc.system]}",
            )
    known = {p.id for p in binder.procedures}
    for section in ("maintenance_windows", "holidays"):
        for i, item in enumerate(getattr(binder, section)):
            for j, name in enumerate(item.procedures):
                if name not in known:
                    yield (section, i, "procedures", j), name, "no procedure with this id"


def _targets(
    targets: list[Target], loc: tuple[str | int, ...], binder: ClientBinder
) -> Iterator[Finding]:
    contacts = {c.id for c in binder.contacts}
    schedules = {s.id for s in binder.oncall_schedules}
    hooks = {w.id for w in binder.webhooks}
    for k, target in enumerate(targets):
        if target.contact and target.contact not in contacts:
            yield (*loc, k, "contact"), target.contact, "no contact with this id"
        if target.oncall and target.oncall not in schedules:
            yield (*loc, k, "oncall"), target.oncall, "no on-call schedule with this id"
        if target.webhook and target.webhook not in hooks:
            yield (*loc, k, "webhook"), target.webhook, "no webhook channel with this id"


def _policy_refs(binder: ClientBinder) -> Iterator[Finding]:
    for i, policy in enumerate(binder.escalation_policies):
        yield from _policy_targets(policy, i, binder)
        if policy.min_update_interval > policy.update_cadence:
            yield (
                ("escalation_policies", i, "min_update_interval"),
                str(policy.min_update_interval),
                "is longer than update_cadence",
            )


def _policy_targets(policy: EscalationPolicy, i: int, binder: ClientBinder) -> Iterator[Finding]:
    for j, level in enumerate(policy.levels):
        yield from _targets(
            level.targets, ("escalation_policies", i, "levels", j, "targets"), binder
        )
    yield from _targets(
        policy.sev1_management, ("escalation_policies", i, "sev1_management"), binder
    )


def _people_refs(binder: ClientBinder) -> Iterator[Finding]:
    contacts = {c.id for c in binder.contacts}
    hooks = {w.id for w in binder.webhooks}
    if binder.client.account_executive and binder.client.account_executive not in contacts:
        yield (
            ("client", "account_executive"),
            binder.client.account_executive,
            "no contact with this id",
        )
    for i, contact in enumerate(binder.contacts):
        if contact.webhook and contact.webhook not in hooks:
            yield ("contacts", i, "webhook"), contact.webhook, "no webhook channel with this id"
    for i, holder in enumerate(binder.stakeholders):
        if holder.contact not in contacts:
            yield ("stakeholders", i, "contact"), holder.contact, "no contact with this id"
    for i, schedule in enumerate(binder.oncall_schedules):
        for j, layer in enumerate(schedule.layers):
            for k, member in enumerate(layer.members):
                if member not in contacts:
                    yield (
                        ("oncall_schedules", i, "layers", j, "members", k),
                        member,
                        "no contact with this id",
                    )
        for j, override in enumerate(schedule.overrides):
            if override.contact not in contacts:
                yield (
                    ("oncall_schedules", i, "overrides", j, "contact"),
                    override.contact,
                    "no contact with this id",
                )
    for i, system in enumerate(binder.systems):
        for j, item in enumerate(getattr(system, "items", [])):
            if item.owner and item.owner not in contacts:
                yield ("systems", i, "items", j, "owner"), item.owner, "no contact with this id"
