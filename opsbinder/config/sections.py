"""A client's files merged into sections, and each item of each section checked on its own.

Checking item by item means one broken procedure does not hide the rest: the items that parse
go on to the cross-section checks (references.py) in the same run, and the ids of the items
that did not parse still count as defined, so a reference to them is not reported as missing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError

from opsbinder.config.models import SECTIONS, ClientBinder, ClientInfo
from opsbinder.config.problems import Found, error_found, id_label, short, yaml_found
from opsbinder.config.yaml_source import Loc, SourceMap, Unreadable, YamlProblem, read_yaml
from opsbinder.errors import ConfigProblem

LIST_SECTIONS = tuple(
    name for name in SECTIONS if get_origin(ClientBinder.model_fields[name].annotation) is list
)
ONCE_SECTIONS = ("client", *(name for name in SECTIONS if name not in LIST_SECTIONS))


@dataclass
class Merged:
    """Every file of one client, joined: lists concatenate, a mapping section appears once."""

    data: dict[str, Any] = field(default_factory=dict)
    source: SourceMap = field(default_factory=SourceMap)
    found: list[Found] = field(default_factory=list)
    unread: bool = False  # a file could not be read at all: any section may be short


@dataclass
class Parsed:
    """The items that passed their own checks, and what is known of those that did not."""

    client: ClientInfo | None
    items: dict[str, Any] = field(default_factory=dict)  # a list per list section
    index: dict[str, list[int]] = field(default_factory=dict)  # position in the merged list
    broken_ids: dict[str, set[str]] = field(default_factory=dict)
    incomplete: set[str] = field(default_factory=set)

    def binder(self) -> ClientBinder:
        """The good items as a binder; a placeholder client when the client section is bad."""
        client = self.client or ClientInfo.model_construct(
            id="unknown", name="", timezone="UTC", account_executive=None
        )
        return ClientBinder.model_validate({"client": client, **self.items})


def merge_files(files: list[Path]) -> Merged:
    merged = Merged()
    for path in files:
        try:
            read = read_yaml(path)
        except YamlProblem as bad:
            merged.found.append(yaml_found(bad))
            merged.unread = True
            continue
        starts = {
            key: _add_section(merged, path, key, value, read.source)
            for key, value in read.data.items()
        }
        merged.found.extend(_in_merged(bad, starts, merged.data) for bad in read.problems)
    return merged


def _in_merged(bad: YamlProblem, starts: dict[Any, int], data: dict[str, Any]) -> Found:
    """A value that could not be read, placed in the merged lists (items shift per file)."""
    loc = bad.loc
    if len(loc) >= 2 and isinstance(loc[1], int) and loc[0] in starts:
        loc = (loc[0], loc[1] + starts[loc[0]], *loc[2:])
    value = None if bad.value is None else short(bad.value)
    return Found(loc, ConfigProblem(bad.file, bad.line, id_label(data, loc), value, bad.message))


def _add_section(merged: Merged, path: Path, key: Any, value: Any, places: SourceMap) -> int:
    """Add one section of one file; returns where its items start in the merged list."""
    file, line = places.places.get((key,), (str(path), 0))

    def refuse(message: str, shown: Any = None) -> int:
        text = None if shown is None else short(shown)
        merged.found.append(Found((), ConfigProblem(file, line, str(key), text, message)))
        return 0

    if key not in (*ONCE_SECTIONS, *LIST_SECTIONS):
        allowed = ", ".join(sorted((*ONCE_SECTIONS, *LIST_SECTIONS)))
        return refuse(f"unknown section; expected one of {allowed}")
    if isinstance(value, Unreadable):
        merged.unread = True  # reported where it was read
        return 0
    if key in ONCE_SECTIONS:
        if key in merged.data:
            first = merged.source.places.get((key,), ("another file", 0))[0]
            return refuse(f"{key} given in two files (also in {first})")
        merged.data[key] = value
        merged.source.places.update(
            (loc, w) for loc, w in places.places.items() if loc[:1] == (key,)
        )
        return 0
    if not isinstance(value, list):
        return refuse("must be a list", value)
    start = len(merged.data.setdefault(key, []))
    merged.data[key].extend(value)
    merged.source.places.setdefault((key,), (file, line))
    for loc, where in places.places.items():  # the items' places, moved to their merged index
        if len(loc) >= 2 and loc[0] == key and isinstance(loc[1], int):
            merged.source.places[(key, start + loc[1], *loc[2:])] = where
    return start


@functools.cache
def _adapter(section: str) -> TypeAdapter[Any]:
    annotation: Any = ClientBinder.model_fields[section].annotation
    if section in LIST_SECTIONS:
        annotation = get_args(annotation)[0]
    return TypeAdapter(annotation)


def parse_sections(merged: Merged) -> tuple[Parsed, list[Found]]:
    """Check every item; keep the good ones and note the ids of the bad ones."""
    found = list(merged.found)
    parsed = Parsed(None, incomplete=set(LIST_SECTIONS) if merged.unread else set())
    for section in ONCE_SECTIONS:
        if section in merged.data:
            item = _check(merged, (section,), section, found)
            if section == "client":
                parsed.client = item if isinstance(item, ClientInfo) else None
            elif item is not None:
                parsed.items[section] = item
    for section in LIST_SECTIONS:
        parsed.items[section], parsed.index[section] = [], []
        for i, raw in enumerate(merged.data.get(section, [])):
            item = _check(merged, (section, i), section, found)
            if item is not None:
                parsed.items[section].append(item)
                parsed.index[section].append(i)
                continue
            ident = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(ident, str):
                parsed.broken_ids.setdefault(section, set()).add(ident)
            else:
                parsed.incomplete.add(section)
    return parsed, found


def _check(merged: Merged, loc: Loc, section: str, found: list[Found]) -> BaseModel | None:
    """The item as a model, or None with its problems added (those not already reported)."""
    raw = merged.data[section] if len(loc) == 1 else merged.data[section][loc[1]]
    reported = [f.loc for f in found if f.loc[: len(loc)] == loc]
    try:
        item: BaseModel = _adapter(section).validate_python(raw)
    except ValidationError as exc:
        for error in exc.errors():
            new = error_found(error, loc, merged.data, merged.source)
            if not any(new.loc[: len(done)] == done for done in reported):
                found.append(new)
        return None
    return None if reported else item
