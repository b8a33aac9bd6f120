"""Everything found wrong with a binder, as problems naming file, line, field path and value.

The wording speaks about the binder the user wrote (ids instead of list indexes, no union
tags, the fields allowed where an unknown one stands), so each problem is one line a person
can act on. A `Found` keeps the place in the merged data too, so the loader can tell which
items are broken.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import date, time
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel

from opsbinder.config.models import ENV_NAME, PROCEDURE_KINDS, SLUG, SYSTEM_TYPES, ClientBinder
from opsbinder.config.yaml_source import Loc, SourceMap, YamlProblem
from opsbinder.errors import ConfigProblem


@dataclass(frozen=True)
class Found:
    """A problem and the place in the merged binder data it is about."""

    loc: Loc
    problem: ConfigProblem


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def short(value: Any) -> str:
    text = repr(value.isoformat() if isinstance(value, date | time) else value)
    return text if len(text) <= 80 else text[:77] + "..."


def yaml_found(bad: YamlProblem) -> Found:
    value = None if bad.value is None else short(bad.value)
    return Found(bad.loc, ConfigProblem(bad.file, bad.line, dotted(bad.loc), value, bad.message))


def found_at(loc: Loc, data: dict[str, Any], source: SourceMap, value: Any, message: str) -> Found:
    """A problem about the value at `loc` (a cross-section finding, a misplaced section)."""
    file, line = source.where(loc)
    shown = None if value is None else short(value)
    return Found(loc, ConfigProblem(file, line, id_label(data, loc), shown, message))


def error_found(error: Any, prefix: Loc, data: dict[str, Any], source: SourceMap) -> Found:
    """One pydantic error about the item at `prefix`, placed at the key it is about."""
    raw = (*prefix, *error["loc"])
    ctx = error.get("ctx") or {}
    if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
        raw = (*raw, str(ctx.get("discriminator", "")).strip("'"))
    if isinstance(ctx.get("field"), str):  # a validator naming one key (or a dotted path)
        raw = (*raw, *ctx["field"].split("."))
    loc = _readable_loc(data, raw)
    file, line = source.where(loc)
    absent = error["type"] in {"missing", "union_tag_not_found", "missing_choice"}
    value = None if absent else _value_at(data, loc)
    shown = None if value is None else short(value)
    if error["type"] == "plaintext_secret":
        shown = "<hidden>"  # the report must not spread the secret further
    message = _message(error, raw, loc)
    return Found(loc, ConfigProblem(file, line, id_label(data, loc), shown, message))


_ABSENT = object()


def _child(node: Any, part: str | int) -> Any:
    """`node[part]` when the data has it, else `_ABSENT` (pydantic adds synthetic parts)."""
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return node[part]
    return _ABSENT


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        if (child := _child(data, part)) is not _ABSENT:
            data = child
        elif isinstance(data, dict | list):
            continue  # a discriminator tag
        else:
            return None
    return data


_UNION_TAGS = {*PROCEDURE_KINDS, *SYSTEM_TYPES}


def _readable_loc(data: Any, loc: Loc) -> Loc:
    """Drop pydantic's synthetic parts (union tags, validator labels) from a location."""
    out: list[str | int] = []
    node: Any = data
    for part in loc:
        if (child := _child(node, part)) is not _ABSENT:
            node = child
        elif isinstance(part, str) and (part in _UNION_TAGS or "[" in part or "-" in part):
            continue
        else:
            node = None
        out.append(part)
    return tuple(out)


def id_label(data: dict[str, Any], loc: Loc) -> str:
    """Name the list item by its id so that `procedures[3]` reads `procedures[purge-events]`."""
    parts: list[str] = []
    node: Any = data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            ident = node.get("id") if isinstance(node, dict) else None
            parts.append(f"[{ident}]" if isinstance(ident, str) else f"[{part}]")
        else:
            parts.append(f".{part}" if parts else str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return "".join(parts)


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _list_item(annotation: Any) -> Any:
    if get_origin(annotation) is list:
        return get_args(annotation)[0]
    return next((i for a in get_args(annotation) if (i := _list_item(a)) is not None), None)


def _tag(model: type[BaseModel]) -> Any:
    for name in ("kind", "type"):
        info = model.model_fields.get(name)
        if info is not None and get_origin(info.annotation) is Literal:
            return get_args(info.annotation)[0]
    return None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def model_at(raw_loc: Loc) -> type[BaseModel] | None:
    """The model that holds the last part of a pydantic location (tags pick union members)."""
    annotation: Any = ClientBinder
    for part in raw_loc[:-1]:
        if isinstance(part, int):
            annotation = _list_item(annotation)
            continue
        models = _models_in(annotation)
        tagged = [m for m in models if _tag(m) == part]
        owner = tagged or [m for m in models if part in _field_names(m)]
        if not owner:
            return None
        if tagged:
            annotation = tagged[0]
            continue
        name = next(n for n, i in owner[0].model_fields.items() if (i.alias or n) == part)
        annotation = owner[0].model_fields[name].annotation
    models = _models_in(annotation)
    return models[0] if len(models) == 1 else None


def _unknown_field(name: str, raw_loc: Loc) -> str:
    model = model_at(raw_loc)
    if model is None:
        return f"unknown field '{name}'"
    allowed = _field_names(model)
    close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.75)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    if not close:
        homes = [
            field
            for field, info in model.model_fields.items()
            for inner in _models_in(info.annotation)
            if name in _field_names(inner)
        ]
        hint = f"; it belongs under '{homes[0]}'" if homes else ""
    return f"unknown field '{name}'{hint} (allowed here: {', '.join(allowed)})"


def _message(error: Any, raw: Loc, loc: Loc) -> str:
    """Pydantic's wording, made to speak about the binder."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_field(str(loc[-1]) if loc else "", raw)
    if kind == "union_tag_invalid":
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        return f"unknown {ctx.get('discriminator', 'kind')!s}; expected one of {expected}".replace(
            "unknown 'kind'", "unknown kind"
        ).replace("unknown 'type'", "unknown type")
    if kind == "union_tag_not_found":
        name = str(ctx.get("discriminator", "kind")).strip("'")
        choices = PROCEDURE_KINDS if name == "kind" else SYSTEM_TYPES
        return f"required field is missing; one of {', '.join(choices)}"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == SLUG:
        return "an id is lower-case letters, digits, '-' and '_' (up to 63, e.g. tms-db)"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == ENV_NAME:
        return "the name of an environment variable: upper-case letters, digits and '_'"
    if kind == "finite_number":
        return "must be a finite number (not .inf or .nan)"
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le")}
    bounds |= {"greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}
    if kind in bounds and bounds[kind][1] in ctx:
        return f"must be {bounds[kind][0]} {ctx[bounds[kind][1]]}"
    return str(error["msg"]).removeprefix("Value error, ")
