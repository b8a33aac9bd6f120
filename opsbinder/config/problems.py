"""Pydantic's errors turned into problems about the binder: file, line, field path, value.

The wording speaks about the binder the user wrote (ids instead of list indexes, no union
tags, hints for typos), so each problem is one line a person can act on.
"""

from __future__ import annotations

import difflib
from typing import Any, get_args

from pydantic import BaseModel, ValidationError

from opsbinder.config.models import ENV_NAME, PROCEDURE_KINDS, SLUG, SYSTEM_TYPES, ClientBinder
from opsbinder.config.yaml_source import Loc, SourceMap
from opsbinder.errors import ConfigProblem


def dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


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


def _known_fields() -> set[str]:
    """Every field name any binder model accepts, for "did you mean" on a typo."""
    names: set[str] = set()
    todo: list[type[BaseModel]] = [ClientBinder]
    seen: set[type[BaseModel]] = set()
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, info in model.model_fields.items():
            names.add(info.alias or name)
            todo.extend(_models_in(info.annotation))
    return names


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _message(error: Any, loc: Loc) -> str:
    """Pydantic's wording, made to speak about the binder."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        name = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(name, sorted(_known_fields()), n=1, cutoff=0.75)
        hint = f"; did you mean '{close[0]}'?" if close else ""
        return f"unknown field '{name}'{hint}"
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
    return str(error["msg"]).removeprefix("Value error, ")


def validation_problems(
    exc: ValidationError, merged: dict[str, Any], source: SourceMap
) -> list[ConfigProblem]:
    """One problem per pydantic error, placed at the key it is about."""
    problems: list[ConfigProblem] = []
    for error in exc.errors():
        raw = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] in {"union_tag_invalid", "union_tag_not_found"}:
            raw = (*raw, str(ctx.get("discriminator", "")).strip("'"))
        if isinstance(ctx.get("field"), str):  # a model validator naming one key
            raw = (*raw, ctx["field"])
        loc = _readable_loc(merged, raw)
        file, line = source.where(loc)
        absent = error["type"] in {"missing", "union_tag_not_found"}
        value = None if absent else _value_at(merged, loc)
        shown = None if value is None else short(value)
        if error["type"] == "plaintext_secret":
            shown = "<hidden>"  # the report must not spread the secret further
        problems.append(
            ConfigProblem(file, line, id_label(merged, loc), shown, _message(error, loc))
        )
    return problems
