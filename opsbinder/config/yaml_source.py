"""Read one binder file into plain data, remembering the file and line of every value.

A user's mistake must come back as a problem naming file, line and field, never as a
traceback, so every value read keeps the place it was written (`SourceMap`), and anything this
module cannot read is raised as a `YamlProblem` saying where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

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


class YamlProblem(Exception):
    """A file that cannot be read as binder data; `value` is what was found there, if any."""

    def __init__(self, file: str, line: int | None, loc: Loc, value: Any, message: str) -> None:
        super().__init__(message)
        self.file, self.line, self.loc, self.value, self.message = file, line, loc, value, message


def read_yaml(path: Path) -> tuple[dict[str, Any], SourceMap]:
    """The file's top-level mapping and where each value in it was written."""
    places: dict[Loc, tuple[str, int]] = {}
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlProblem(name, None, (), None, f"cannot read the file: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise YamlProblem(name, line, (), None, f"not valid YAML: {reason}") from exc
    if node is None:
        return {}, SourceMap(places)
    data = _to_python(node, name, (), places)
    if not isinstance(data, dict):
        raise YamlProblem(name, 1, (), data, "a binder file must be a mapping of sections")
    return data, SourceMap(places)


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
        raise YamlProblem(file, line, loc, None, "an alias refers to a node that contains it")
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
                        raise YamlProblem(file, line, loc, None, "'<<' merges only mappings")
                    for key, value in part.items():
                        defaults.setdefault(key, value)
                continue
            key = (
                _scalar(key_node, file, loc)
                if key_node.tag != "tag:yaml.org,2002:str"
                else key_node.value
            )
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise YamlProblem(
                    file, key_node.start_mark.line + 1, loc, None, "a key must be a plain word"
                )
            if key in result:
                again = _to_python(value_node, file, (*loc, key), {}, inner)
                raise YamlProblem(
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
        raise YamlProblem(file, node.start_mark.line + 1, loc, node.tag, reason) from exc
