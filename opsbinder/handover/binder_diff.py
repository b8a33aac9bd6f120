"""`opsbinder binder diff OLD NEW`: what changed for a client between two of its exports.

A successor receives one export at the handover and perhaps another a month later; what they
need is not two folders but the list of what moved: a procedure added, a schedule shifted, a
policy level shortened, someone new in the rotation, a phone number changed. Both sides are
read from the export's machine-readable `binder/` with the ordinary loader, so a change is a
change of the binder's meaning, never of its layout or comments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import Any

from opsbinder.config.loader import load_binder
from opsbinder.config.models import ClientBinder
from opsbinder.errors import BadInput
from opsbinder.handover.export import MARKER
from opsbinder.handover.words import short_duration

# the binder's sections as a person names them, compared item by item (by id)
ITEM_SECTIONS = {
    "procedures": "procedure",
    "escalation_policies": "policy",
    "oncall_schedules": "rotation",
    "contacts": "contact",
    "systems": "system",
    "webhooks": "webhook",
    "heartbeats": "heartbeat",
    "components": "component",
}
# sections without ids, compared as a whole
WHOLE_SECTIONS = {
    "client": "client",
    "contract": "contract",
    "maintenance_windows": "calendar",
    "holidays": "calendar",
    "stakeholders": "stakeholders",
    "events": "monitoring",
    "transition": "transition",
}
MAX_SHOWN = 200  # characters of one value in the readable form


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    kind: str  # procedure, schedule, policy, rotation, contact, ...
    item: str  # the id, or the section's name
    change: str  # added, removed, changed
    fields: list[FieldChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "item": self.item,
            "change": self.change,
            "fields": [{"field": f.field, "old": f.old, "new": f.new} for f in self.fields],
        }


def read_export(folder: Path) -> ClientBinder:
    """The client binder of an export folder; anything else is refused as bad input."""
    folder = Path(folder)
    if not folder.is_dir():
        raise BadInput(f"{folder}: no such folder")
    if not (folder / MARKER).is_file() or not (folder / "binder").is_dir():
        raise BadInput(
            f"{folder} is not an opsbinder export (no {MARKER} and binder/ in it); "
            "give two folders written by opsbinder binder export"
        )
    clients = load_binder(folder / "binder").clients
    if len(clients) != 1:
        raise BadInput(f"{folder}: an export holds one client, this one {len(clients)}")
    return clients[0]


def diff_exports(old: Path, new: Path) -> list[Change]:
    return diff_binders(read_export(old), read_export(new))


def diff_binders(old: ClientBinder, new: ClientBinder) -> list[Change]:
    """Every change, section by section in the binder's order, items by id."""
    before, after = _plain(old), _plain(new)
    changes: list[Change] = []
    for section, kind in ITEM_SECTIONS.items():
        changes.extend(_items(section, kind, before.get(section, []), after.get(section, [])))
    for section, kind in WHOLE_SECTIONS.items():
        fields = _fields(before.get(section), after.get(section), section)
        if fields:
            changes.append(
                Change(kind, section, _verb(before.get(section), after.get(section)), fields)
            )
    return changes


def _plain(binder: ClientBinder) -> dict[str, Any]:
    """Plain data with durations as the binder writes them (15m, not PT15M)."""
    data: dict[str, Any] = _leaves(binder.model_dump(by_alias=True, exclude={"locations"}))
    return data


def _leaves(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _leaves(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_leaves(v) for v in node]
    if isinstance(node, timedelta):
        return short_duration(node)
    if isinstance(node, date | time):
        return node.isoformat()
    if node is None or isinstance(node, bool | int | float | str):
        return node
    return str(node)


def _verb(old: Any, new: Any) -> str:
    if old in (None, [], {}):
        return "added"
    if new in (None, [], {}):
        return "removed"
    return "changed"


def _items(section: str, kind: str, old: list[Any], new: list[Any]) -> list[Change]:
    before = {item["id"]: item for item in old}
    after = {item["id"]: item for item in new}
    changes: list[Change] = []
    for ident in [*before, *(i for i in after if i not in before)]:
        if ident not in after:
            changes.append(Change(kind, ident, "removed"))
        elif ident not in before:
            changes.append(Change(kind, ident, "added"))
        elif section == "procedures":
            changes.extend(_procedure(ident, before[ident], after[ident]))
        elif fields := _fields(before[ident], after[ident], ""):
            changes.append(Change(kind, ident, "changed", fields))
    return changes


def _procedure(ident: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """A schedule change is its own kind: it moves when destructive work happens."""
    changes: list[Change] = []
    schedule = _fields(old.get("schedule"), new.get("schedule"), "schedule")
    if schedule:
        changes.append(Change("schedule", ident, "changed", schedule))
    rest = _fields(
        {k: v for k, v in old.items() if k != "schedule"},
        {k: v for k, v in new.items() if k != "schedule"},
        "",
    )
    if rest:
        changes.append(Change("procedure", ident, "changed", rest))
    return changes


def _fields(old: Any, new: Any, path: str) -> list[FieldChange]:
    """The changed leaves as dotted paths; lists of equal length compared entry by entry."""
    if old == new:
        return []
    if isinstance(old, dict) and isinstance(new, dict):
        found: list[FieldChange] = []
        for key in [*old, *(k for k in new if k not in old)]:
            found.extend(_fields(old.get(key), new.get(key), f"{path}.{key}" if path else key))
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            change
            for i, (a, b) in enumerate(zip(old, new, strict=True))
            for change in _fields(a, b, f"{path}[{i}]")
        ]
    return [FieldChange(path, old, new)]


def lines(changes: list[Change]) -> list[str]:
    """The changes as a person reads them: one line per item, one indented line per field."""
    out: list[str] = []
    for change in changes:
        out.append(f"{change.kind} {change.item}: {change.change}")
        for f in change.fields:
            out.append(f"    {f.field}: {_shown(f.old)} -> {_shown(f.new)}")
    return out


def _shown(value: Any) -> str:
    text = "(none)" if value is None else repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"
