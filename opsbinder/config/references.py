"""Checks that span sections: every name a binder uses must be defined, and only once.

They run on whatever items parsed (sections.py), so one run reports field and reference
problems together. An id that belongs to an item with problems of its own still counts as
defined; a section that may hold items nobody could read (an unreadable file, an item without
an id) reports no missing ids at all rather than false ones.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from opsbinder.config.entrypoints import entrypoint_problem
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
_NOUNS = {
    "contacts": "contact",
    "webhooks": "webhook channel",
    "systems": "system",
    "procedures": "procedure",
    "escalation_policies": "escalation policy",
    "oncall_schedules": "on-call schedule",
    "heartbeats": "heartbeat",
    "components": "component",
}


@dataclass(frozen=True)
class Known:
    """What the checks know beyond the parsed items (all empty for a binder that parsed)."""

    broken_ids: dict[str, set[str]] = field(default_factory=dict)
    incomplete: set[str] = field(default_factory=set)
    client_ok: bool = True


class _Ids:
    def __init__(self, binder: ClientBinder, known: Known) -> None:
        self._known = known
        self._ids = {s: [item.id for item in getattr(binder, s)] for s in _NOUNS}

    def missing(self, section: str, ident: str) -> str | None:
        """Why `ident` names nothing in `section` (with the nearest ids), or None."""
        broken = {_normal(b) for b in self._known.broken_ids.get(section, ())}
        if ident in self._ids[section] or _normal(ident) in broken:
            return None
        if section in self._known.incomplete:
            return None
        ids = sorted({*self._ids[section], *self._known.broken_ids.get(section, ())})
        noun = _NOUNS[section]
        close = difflib.get_close_matches(ident, ids, n=3, cutoff=0.6)
        if close:
            return f"no {noun} with this id; did you mean {' or '.join(map(repr, close))}?"
        if not ids:
            return f"no {noun} with this id; the binder defines none"
        shown = ", ".join(ids[:8]) + (", ..." if len(ids) > 8 else "")
        return f"no {noun} with this id (known: {shown})"


def _normal(ident: str) -> str:
    """An id as it was probably meant: a broken `TMS Backups` still defines `tms-backups`."""
    return re.sub(r"[^a-z0-9_]+", "-", ident.lower()).strip("-")


def check_references(binder: ClientBinder, known: Known | None = None) -> list[Finding]:
    known = known or Known()
    ids = _Ids(binder, known)
    return [
        *_duplicates(binder),
        *_procedure_refs(binder, ids),
        *_policy_refs(binder, ids),
        *_people_refs(binder, ids, known),
        *_layer_refs(binder),
        *_drill_refs(binder, ids),
        *_local_times(binder, known),
        *_entrypoints(binder),
        *_contract_refs(binder, ids),
        *_intake_refs(binder, ids),
        *_transition_refs(binder, ids),
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


def _local_times(binder: ClientBinder, known: Known) -> Iterator[Finding]:
    """Naive times mean the local time of the client (windows) or the schedule (overrides);
    on a DST change night such a time is missing or double, so it must carry an offset."""
    places: list[tuple[tuple[str | int, ...], datetime, str]] = []
    for i, window in enumerate(binder.maintenance_windows if known.client_ok else []):
        for name in ("start", "end"):
            if getattr(window, name) is not None:  # a recurring window has no end
                where = ("maintenance_windows", i, name)
                places.append((where, getattr(window, name), binder.client.timezone))
    for i, schedule in enumerate(binder.oncall_schedules):
        for j, override in enumerate(schedule.overrides):
            for name in ("start", "end"):
                loc: tuple[str | int, ...] = ("oncall_schedules", i, "overrides", j, name)
                places.append((loc, getattr(override, name), schedule.timezone))
    for loc, value, zone_name in places:
        if value.tzinfo is None and (problem := _local_problem(value, zone_name)):
            yield loc, value.isoformat(), problem


def _duplicates(binder: ClientBinder) -> Iterator[Finding]:
    for section in _NOUNS:
        seen: set[str] = set()
        for i, item in enumerate(getattr(binder, section)):
            if item.id in seen:
                yield (section, i, "id"), item.id, f"duplicate id in {section}"
            seen.add(item.id)


def _procedure_refs(binder: ClientBinder, ids: _Ids) -> Iterator[Finding]:
    contacts = {c.id: c for c in binder.contacts}
    systems = {s.id: s.type for s in binder.systems}
    for i, proc in enumerate(binder.procedures):
        if problem := ids.missing("contacts", proc.owner):
            yield ("procedures", i, "owner"), proc.owner, problem
        elif proc.owner in contacts and not contacts[proc.owner].staff:
            yield (
                ("procedures", i, "owner"),
                proc.owner,
                "the owner is a client-side contact (staff: false); name MSP staff",
            )
        if problem := ids.missing("escalation_policies", proc.escalation_policy):
            yield ("procedures", i, "escalation_policy"), proc.escalation_policy, problem
        wanted = KIND_SYSTEMS[proc.kind]
        if proc.system is None:
            if wanted:
                yield ("procedures", i, "system"), None, f"a {proc.kind} procedure needs a system"
        elif problem := ids.missing("systems", proc.system):
            yield ("procedures", i, "system"), proc.system, problem
        elif wanted is not None and proc.system in systems and systems[proc.system] not in wanted:
            yield (
                ("procedures", i, "system"),
                proc.system,
                f"a {proc.kind} procedure acts on a {' or '.join(sorted(wanted))} system, "
                f"not a {systems[proc.system]}",
            )
    for section in ("maintenance_windows", "holidays"):
        for i, item in enumerate(getattr(binder, section)):
            for j, name in enumerate(item.procedures):
                if problem := ids.missing("procedures", name):
                    yield (section, i, "procedures", j), name, problem
    for i, window in enumerate(binder.maintenance_windows):
        for j, name in enumerate(window.components):
            if problem := ids.missing("components", name):
                yield ("maintenance_windows", i, "components", j), name, problem


def _targets(targets: list[Target], loc: tuple[str | int, ...], ids: _Ids) -> Iterator[Finding]:
    for k, target in enumerate(targets):
        for name, section in (
            ("contact", "contacts"),
            ("oncall", "oncall_schedules"),
            ("webhook", "webhooks"),
        ):
            ident = getattr(target, name)
            if ident and (problem := ids.missing(section, ident)):
                yield (*loc, k, name), ident, problem


def _policy_refs(binder: ClientBinder, ids: _Ids) -> Iterator[Finding]:
    for i, policy in enumerate(binder.escalation_policies):
        yield from _policy_targets(policy, i, ids)
        if policy.min_update_interval > policy.update_cadence:
            yield (
                ("escalation_policies", i, "min_update_interval"),
                str(policy.min_update_interval),
                "is longer than update_cadence",
            )


def _policy_targets(policy: EscalationPolicy, i: int, ids: _Ids) -> Iterator[Finding]:
    for j, level in enumerate(policy.levels):
        yield from _targets(level.targets, ("escalation_policies", i, "levels", j, "targets"), ids)
    yield from _targets(policy.sev1_management, ("escalation_policies", i, "sev1_management"), ids)


def _drill_refs(binder: ClientBinder, ids: _Ids) -> Iterator[Finding]:
    """A restore drill replaces what is in the database it restores to: that must be a database
    system, and not one a procedure works on (production)."""
    kinds = {s.id: s.type for s in binder.systems}
    worked_on = {p.system: p.id for p in binder.procedures if p.kind != "backup_check" and p.system}
    for i, proc in enumerate(binder.procedures):
        target = getattr(proc.params, "restore_to", None)
        if not target:
            continue
        loc = ("procedures", i, "params", "restore_to")
        if problem := ids.missing("systems", target):
            yield loc, target, problem
        elif kinds.get(target) != "database":
            yield loc, target, f"a drill restores into a database system, not a {kinds[target]}"
        elif target in worked_on:
            yield (
                loc,
                target,
                (
                    f"a drill replaces the contents of {target}, which {worked_on[target]} works on: "
                    "name a scratch copy"
                ),
            )


def _layer_refs(binder: ClientBinder) -> Iterator[Finding]:
    """`{oncall: l1, layer: secondary}` and an override's `layer` name a layer of the schedule."""
    layers = {s.id: [r.name for r in s.layers if r.name] for s in binder.oncall_schedules}
    places: list[tuple[tuple[str | int, ...], str, str]] = []
    for i, policy in enumerate(binder.escalation_policies):
        for j, level in enumerate(policy.levels):
            for k, target in enumerate(level.targets):
                if target.oncall and target.layer:
                    loc: tuple[str | int, ...] = (
                        "escalation_policies",
                        i,
                        "levels",
                        j,
                        "targets",
                        k,
                        "layer",
                    )
                    places.append((loc, target.oncall, target.layer))
    for i, schedule in enumerate(binder.oncall_schedules):
        for j, override in enumerate(schedule.overrides):
            if override.layer:
                where = ("oncall_schedules", i, "overrides", j, "layer")
                places.append((where, schedule.id, override.layer))
    for loc, schedule_id, name in places:
        if schedule_id not in layers or name in layers[schedule_id]:
            continue  # an unknown schedule is reported by itself
        named = layers[schedule_id]
        known = f"its layers: {', '.join(named)}" if named else "none of its layers has a name"
        yield loc, name, f"on-call schedule {schedule_id} has no layer {name!r} ({known})"


def _people_refs(binder: ClientBinder, ids: _Ids, known: Known) -> Iterator[Finding]:
    staff = {c.id: c.staff for c in binder.contacts}
    executive = binder.client.account_executive
    if known.client_ok and executive and (problem := ids.missing("contacts", executive)):
        yield ("client", "account_executive"), executive, problem
    for i, contact in enumerate(binder.contacts):
        if contact.webhook and (problem := ids.missing("webhooks", contact.webhook)):
            yield ("contacts", i, "webhook"), contact.webhook, problem
    for i, holder in enumerate(binder.stakeholders):
        if problem := ids.missing("contacts", holder.contact):
            yield ("stakeholders", i, "contact"), holder.contact, problem
    on_call: list[tuple[tuple[str | int, ...], str]] = []
    for i, schedule in enumerate(binder.oncall_schedules):
        for j, layer in enumerate(schedule.layers):
            for k, member in enumerate(layer.members):
                on_call.append((("oncall_schedules", i, "layers", j, "members", k), member))
        for j, override in enumerate(schedule.overrides):
            on_call.append((("oncall_schedules", i, "overrides", j, "contact"), override.contact))
    for loc, person in on_call:
        if problem := ids.missing("contacts", person):
            yield loc, person, problem
        elif staff.get(person) is False:
            yield loc, person, "a client-side contact (staff: false) cannot be on call for the MSP"
    for i, system in enumerate(binder.systems):
        for j, item in enumerate(getattr(system, "items", [])):
            if item.owner and (problem := ids.missing("contacts", item.owner)):
                yield ("systems", i, "items", j, "owner"), item.owner, problem


def _entrypoints(binder: ClientBinder) -> Iterator[Finding]:
    for i, proc in enumerate(binder.procedures):
        if proc.kind == "custom" and (problem := entrypoint_problem(proc.params.entrypoint)):
            yield ("procedures", i, "params", "entrypoint"), proc.params.entrypoint, problem


def _contract_refs(binder: ClientBinder, ids: _Ids) -> Iterator[Finding]:
    if binder.contract is None:
        return
    seen: set[str] = set()
    for i, target in enumerate(binder.contract.on_time):
        loc: tuple[str | int, ...] = ("contract", "on_time", i, "procedure")
        if problem := ids.missing("procedures", target.procedure):
            yield loc, target.procedure, problem
        elif target.procedure in seen:
            yield loc, target.procedure, "a second on-time target for this procedure"
        seen.add(target.procedure)
    for i, person in enumerate(binder.contract.evidence_recipients):
        if problem := ids.missing("contacts", person):
            yield ("contract", "evidence_recipients", i), person, problem


def _intake_refs(binder: ClientBinder, ids: _Ids) -> Iterator[Finding]:
    """Policies named by event routes and heartbeats exist; a ping address is one job's."""
    named: list[tuple[tuple[str | int, ...], str | None]] = [
        (("events", "escalation_policy"), binder.events.escalation_policy),
        *(
            (("events", "routes", i, "escalation_policy"), route.escalation_policy)
            for i, route in enumerate(binder.events.routes)
        ),
        *(
            (("heartbeats", i, "escalation_policy"), beat.escalation_policy)
            for i, beat in enumerate(binder.heartbeats)
        ),
    ]
    for loc, policy in named:
        if policy and (problem := ids.missing("escalation_policies", policy)):
            yield loc, policy, problem
    yield from _component_refs(binder, ids)
    seen: set[str] = set()
    for i, beat in enumerate(binder.heartbeats):
        if str(beat.uuid) in seen:
            yield ("heartbeats", i, "uuid"), str(beat.uuid), "two heartbeats share this uuid"
        seen.add(str(beat.uuid))


def _component_refs(binder: ClientBinder, ids: _Ids) -> Iterator[Finding]:
    """Once a client lists its components, monitoring maps to them, not to names of its own."""
    if not binder.components:
        return
    named: list[tuple[tuple[str | int, ...], str | None]] = [
        *(
            (("events", "components", key), value)
            for key, value in binder.events.components.items()
        ),
        *(
            (("events", "routes", i, "component"), route.component)
            for i, route in enumerate(binder.events.routes)
        ),
        *(
            (("heartbeats", i, "component"), beat.component)
            for i, beat in enumerate(binder.heartbeats)
        ),
    ]
    for loc, component in named:
        if component and (problem := ids.missing("components", component)):
            yield loc, component, problem


def _transition_refs(binder: ClientBinder, ids: _Ids) -> Iterator[Finding]:
    """The people a transition names are contacts of the binder: a successor must find them."""
    if binder.transition is None:
        return
    named: list[tuple[tuple[str | int, ...], str]] = [
        *((("transition", "outgoing", i, "contact"), p.contact)
          for i, p in enumerate(binder.transition.outgoing)),
        *((("transition", "credentials", i, "handed_by"), c.handed_by)
          for i, c in enumerate(binder.transition.credentials)),
    ]  # fmt: skip
    for loc, person in named:
        if problem := ids.missing("contacts", person):
            yield loc, person, problem
    for kind, names in (
        ("outgoing", [(p.contact, "contact") for p in binder.transition.outgoing]),
        ("credentials", [(c.variable, "variable") for c in binder.transition.credentials]),
    ):
        for i, (name, key) in enumerate(names):
            if (name, key) in names[:i]:
                yield ("transition", kind, i, key), name, f"{kind}: listed twice"
