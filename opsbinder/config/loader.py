"""Read a binder folder into models, collecting every problem with its file, line and field.

A user's mistake must come back as a list of `ConfigProblem`s, never as a traceback, so this
module keeps, for every value it reads, the file and line it came from.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, ValidationError

from opsbinder.config.models import (
    ENV_NAME,
    PROCEDURE_KINDS,
    SECTIONS,
    SLUG,
    Binder,
    ClientBinder,
)
from opsbinder.errors import ConfigError, ConfigProblem

Loc = tuple[str | int, ...]


@dataclass
class SourceMap:
    """Where each value of the merged binder data was written: path -> (file, line)."""

    places: dict[Loc, tuple[str, int]] = field(default_factory=dict)

    def where(self, loc: Loc) -> tuple[str, int | None]:
        """The closest recorded place for a pydantic error location (tags are skipped)."""
        best: tuple[str, int] | None = None
        path: list[str | int] = []
        for part in loc:
            candidate = (*path, part)
            if candidate in self.places:
                path.append(part)
                best = self.places[candidate]
            # a discriminator tag or other synthetic part: skip it and keep descending
        if best is None:
            best = self.places.get((), ("", 0))
        return best[0], best[1] or None


def _to_python(
    node: yaml.Node,
    file: str,
    loc: Loc,
    places: dict[Loc, tuple[str, int]],
    path: tuple[int, ...] = (),
) -> Any:
    """Build plain data from the YAML node tree, remembering the line of every value.

    `path` holds the ids of the nodes above: an alias pointing back up (`&a [*a]`) would
    otherwise recurse forever.
    """
    line = node.start_mark.line + 1
    if id(node) in path:
        raise _BadNode(file, line, loc, None, "an alias refers to a node that contains it")
    places[loc] = (file, line)
    inner = (*path, id(node))
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        defaults: dict[Any, Any] = {}  # from `<<: *anchor`; keys given here win
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = _to_python(value_node, file, loc, {}, inner)
                for part in merged if isinstance(merged, list) else [merged]:
                    if not isinstance(part, dict):
                        raise _BadNode(file, line, loc, None, "'<<' merges only mappings")
                    for key, value in part.items():
                        defaults.setdefault(key, value)
                continue
            key = (
                _scalar(key_node, file, loc)
                if key_node.tag != "tag:yaml.org,2002:str"
                else key_node.value
            )
            if not isinstance(key, str | int | float | bool | date) or key is None:
                raise _BadNode(
                    file, key_node.start_mark.line + 1, loc, None, "a key must be a plain word"
                )
            if key in result:
                again = _to_python(value_node, file, (*loc, key), {}, inner)
                raise _BadNode(
                    file,
                    key_node.start_mark.line + 1,
                    (*loc, key),
                    again,
                    "key given twice in one mapping (YAML would silently keep the last)",
                )
            result[key] = _to_python(value_node, file, (*loc, key), places, inner)
            places[(*loc, key)] = (file, key_node.start_mark.line + 1)  # the key's line
        for key, value in defaults.items():
            if key not in result:
                result[key] = value
                places[(*loc, key)] = (file, line)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _to_python(item, file, (*loc, i), places, inner) for i, item in enumerate(node.value)
        ]
    return _scalar(node, file, loc)


def _scalar(node: yaml.Node, file: str, loc: Loc) -> Any:
    try:
        return yaml.safe_load(yaml.serialize(node))
    except yaml.YAMLError as exc:  # e.g. a !!python/... tag the safe loader refuses
        reason = getattr(exc, "problem", None) or str(exc)
        raise _BadNode(file, node.start_mark.line + 1, loc, node.tag, reason) from exc


class _BadNode(Exception):
    def __init__(self, file: str, line: int, loc: Loc, value: Any, message: str) -> None:
        self.file, self.line, self.loc, self.value, self.message = file, line, loc, value, message


def _read_file(path: Path, problems: list[ConfigProblem]) -> tuple[dict[str, Any], SourceMap]:
    places: dict[Loc, tuple[str, int]] = {}
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(ConfigProblem(name, None, "", None, f"cannot read the file: {exc}"))
        return {}, SourceMap(places)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        problems.append(ConfigProblem(name, line, "", None, f"not valid YAML: {reason}"))
        return {}, SourceMap(places)
    if node is None:
        return {}, SourceMap(places)
    try:
        data = _to_python(node, name, (), places)
    except _BadNode as bad:
        value = None if bad.value is None else _short(bad.value)
        problems.append(ConfigProblem(bad.file, bad.line, _dotted(bad.loc), value, bad.message))
        return {}, SourceMap(places)
    if not isinstance(data, dict):
        problems.append(
            ConfigProblem(name, 1, "", _short(data), "a binder file must be a mapping of sections")
        )
        return {}, SourceMap(places)
    return data, SourceMap(places)


def _merge(files: list[Path], problems: list[ConfigProblem]) -> tuple[dict[str, Any], SourceMap]:
    """Merge the sections of every file: lists concatenate, `client` may appear once."""
    merged: dict[str, Any] = {}
    source = SourceMap()
    allowed = {"client", *SECTIONS}
    for path in files:
        data, places = _read_file(path, problems)
        for key, value in data.items():
            line = places.places.get((key,), (str(path), 0))[1]
            if key not in allowed:
                problems.append(
                    ConfigProblem(
                        str(path),
                        line,
                        str(key),
                        None,
                        f"unknown section; expected one of {', '.join(sorted(allowed))}",
                    )
                )
                continue
            if key == "client":
                if "client" in merged:
                    problems.append(
                        ConfigProblem(str(path), line, "client", None, "client given in two files")
                    )
                    continue
                merged["client"] = value
                _shift(places, (key,), (key,), source)
                continue
            if not isinstance(value, list):
                problems.append(
                    ConfigProblem(str(path), line, str(key), _short(value), "must be a list")
                )
                continue
            start = len(merged.setdefault(key, []))
            merged[key].extend(value)
            source.places.setdefault((key,), places.places.get((key,), (str(path), 0)))
            for i in range(len(value)):
                _shift(places, (key, i), (key, start + i), source)
    return merged, source


def _shift(places: SourceMap, old: Loc, new: Loc, into: SourceMap) -> None:
    n = len(old)
    for loc, where in places.places.items():
        if loc[:n] == old:
            into.places[(*new, *loc[n:])] = where


def _dotted(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _value_at(data: Any, loc: Loc) -> Any:
    for part in loc:
        if (isinstance(data, dict) and part in data) or (
            isinstance(data, list) and isinstance(part, int) and part < len(data)
        ):
            data = data[part]
        elif isinstance(data, dict | list):
            continue  # a discriminator tag
        else:
            return None
    return data


SYSTEM_TYPES = ("database", "filesystem", "backup_location", "software_inventory")
_UNION_TAGS = {*PROCEDURE_KINDS, *SYSTEM_TYPES}


def _readable_loc(data: Any, loc: Loc) -> Loc:
    """Drop pydantic's synthetic parts (union tags, validator labels) from a location."""
    out: list[str | int] = []
    node: Any = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        ):
            node = node[part]
        elif isinstance(part, str) and (part in _UNION_TAGS or "[" in part or "-" in part):
            continue
        else:
            node = None
        out.append(part)
    return tuple(out)


def _id_label(data: dict[str, Any], loc: Loc) -> str:
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


def validate_client(
    merged: dict[str, Any], source: SourceMap, folder: str = "(binder folder)"
) -> tuple[ClientBinder | None, list[ConfigProblem]]:
    problems: list[ConfigProblem] = []
    if "client" not in merged:
        problems.append(
            ConfigProblem(
                folder, None, "client", None, "no 'client:' section in any .yaml file here"
            )
        )
        return None, problems
    try:
        binder = ClientBinder.model_validate(merged)
    except ValidationError as exc:
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
            shown = None if value is None else _short(value)
            if error["type"] == "plaintext_secret":
                shown = "<hidden>"  # the report must not spread the secret further
            problems.append(
                ConfigProblem(file, line, _id_label(merged, loc), shown, _message(error, loc))
            )
        return None, problems
    from opsbinder.config.references import check_references

    for loc, value, message in check_references(binder):
        file, line = source.where(loc)
        problems.append(ConfigProblem(file, line, _id_label(merged, loc), _short(value), message))
    return (binder if not problems else None), problems


def client_folders(root: Path) -> list[Path]:
    """A binder folder is one client's folder, or a folder of client folders."""
    if _yaml_files(root):
        return [root]
    return sorted(p for p in root.iterdir() if p.is_dir() and _yaml_files(p))


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def load_binder(root: Path | str) -> Binder:
    """Load and check every client under `root`; raise ConfigError listing every problem."""
    root = Path(root)
    if not root.is_dir():
        raise ConfigError([ConfigProblem(str(root), None, "", None, "no such binder folder")])
    folders = client_folders(root)
    if not folders:
        raise ConfigError(
            [ConfigProblem(str(root), None, "", None, "no .yaml files in this folder")]
        )
    problems: list[ConfigProblem] = []
    clients: list[ClientBinder] = []
    sources: dict[str, str] = {}
    for folder in folders:
        file_problems: list[ConfigProblem] = []
        merged, source = _merge(_yaml_files(folder), file_problems)
        problems.extend(file_problems)
        if file_problems:
            continue
        client, client_problems = validate_client(merged, source, str(folder))
        problems.extend(client_problems)
        if client is None:
            continue
        if client.client.id in sources:
            problems.append(
                ConfigProblem(
                    str(folder),
                    None,
                    "client.id",
                    client.client.id,
                    f"client id also used by {sources[client.client.id]}",
                )
            )
            continue
        sources[client.client.id] = str(folder)
        clients.append(client)
    if problems:
        problems.sort(key=lambda p: (p.file, p.line or 0))  # read top to bottom, file by file
        raise ConfigError(problems)
    return Binder(clients=clients, sources=sources)
