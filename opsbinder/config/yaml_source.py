"""Read one binder file into plain data, remembering the file and line of every value.

A user's mistake must come back as a problem naming file, line and field, never as a
traceback or a hang, so every value read keeps the place it was written (`SourceMap`), the
reading is bounded (file size, nesting depth, values made by expanding aliases), and what
cannot be read is a `YamlProblem` saying where: raised when the file as a whole is unreadable,
collected in `YamlFile.problems` when only one value is (the rest of the file still counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

if yaml.__with_libyaml__:
    from yaml._yaml import CParser


from opsbinder.config.models import date_problem
from opsbinder.config.yaml_syntax import syntax_problem
from opsbinder.errors import BadInput

Loc = tuple[str | int, ...]

MAX_FILE_BYTES = 1024 * 1024  # the example binder is 20 KB; a megabyte is not a binder
MAX_DEPTH = 40  # the deepest binder value is about ten levels down
MAX_VALUES = 200_000  # per file, aliases expanded
MAX_ALIAS_VALUES = 10_000  # values made by expanding aliases: `&a [*b, *b, ...]` bombs stop here


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


class YamlProblem(BadInput):
    """A file (or one value in it) that cannot be read as binder data; the loader gathers them
    into one `ConfigError`."""

    def __init__(self, file: str, line: int | None, loc: Loc, value: Any, message: str) -> None:
        super().__init__(message)
        self.file, self.line, self.loc, self.value, self.message = file, line, loc, value, message


class Unreadable:
    """Stands in for a value that could not be read, so no model accepts it silently."""

    def __repr__(self) -> str:
        return "<unreadable>"


@dataclass
class YamlFile:
    data: dict[str, Any]
    source: SourceMap
    problems: list[YamlProblem]


def read_yaml(path: Path) -> YamlFile:
    """The file's top-level mapping and where each value in it was written."""
    name = str(path)
    text = _read_text(path)
    try:
        node = _loader(text, name).get_single_node()
    except yaml.YAMLError as exc:
        line, message = syntax_problem(text, exc)
        raise YamlProblem(name, line, (), None, message) from exc
    reader = _Reader(name)
    if node is None:
        return YamlFile({}, SourceMap(), [])
    data = reader.build(node, (), None)
    if not isinstance(data, dict):
        raise YamlProblem(name, 1, (), data, "a binder file must be a mapping of sections")
    return YamlFile(data, SourceMap(reader.places), reader.problems)


def _read_text(path: Path) -> str:
    name = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise YamlProblem(name, None, (), None, f"cannot read the file: {exc}") from exc
    if len(raw) > MAX_FILE_BYTES:
        raise YamlProblem(
            name,
            None,
            (),
            None,
            f"the file is larger than {MAX_FILE_BYTES // 1024} KB; split the binder over "
            "several files",
        )
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlProblem(name, None, (), None, f"cannot read the file: {exc}") from exc


class _Bounded(Composer, Resolver):
    """PyYAML's composer, refusing nesting deeper than MAX_DEPTH while it builds the tree.

    The composer recurses once per level: 20,000 nested brackets would end in a RecursionError.
    """

    def __init__(self, name: str) -> None:
        Composer.__init__(self)
        Resolver.__init__(self)
        self._name = name
        self._path: list[str | int] = []  # keys and indexes down to the node being composed

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if parent is not None:
            self._path.append(index.value if isinstance(index, yaml.ScalarNode) else index)
        try:
            if len(self._path) > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[attr-defined]
                raise YamlProblem(
                    self._name,
                    mark.line + 1,
                    tuple(self._path[:4]),
                    None,
                    f"values nested more than {MAX_DEPTH} levels deep; a binder needs about ten",
                )
            return super().compose_node(parent, index)
        finally:
            if parent is not None:
                self._path.pop()


def _loader(text: str, name: str) -> _Bounded:
    """libyaml scans and parses (four times faster) when PyYAML has it; composing stays here."""
    if yaml.__with_libyaml__:
        return _FastLoader(text, name)
    return _PureLoader(text, name)


if yaml.__with_libyaml__:

    class _FastLoader(_Bounded, CParser):
        def __init__(self, text: str, name: str) -> None:
            CParser.__init__(self, text)
            _Bounded.__init__(self, name)


class _PureLoader(_Bounded, Reader, Scanner, Parser):
    """The same in pure Python, where PyYAML was built without libyaml."""

    def __init__(self, text: str, name: str) -> None:
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        _Bounded.__init__(self, name)


class _Reader:
    """Turns a composed node tree into plain data, counting what aliases make."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.places: dict[Loc, tuple[str, int]] = {}
        self.problems: list[YamlProblem] = []
        self._constructor = SafeConstructor()
        self._seen: set[int] = set()
        self._above: set[int] = set()
        self._values = 0
        self._expanded = 0

    def build(
        self, node: yaml.Node, loc: Loc, via: int | None, record: bool = True, at: int = 1
    ) -> Any:
        """Plain data for `node` at `loc`, written on line `at` (of its key or container).

        `via`: the line of the alias (`*name`) this node was reached through, if any.
        """
        line = node.start_mark.line + 1
        if id(node) in self._above:
            raise YamlProblem(
                self.name, line, loc, None, "an alias refers to a node that contains it"
            )
        if via is None and id(node) in self._seen:
            via = at  # the anchored node was written elsewhere; the alias sits here
        self._count(via, line, loc)
        self._seen.add(id(node))
        if record:
            self.places[loc] = (self.name, line)
        self._above.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, loc, via, record)
            if isinstance(node, yaml.SequenceNode):
                return [
                    self.build(item, (*loc, i), via, record, line)
                    for i, item in enumerate(node.value)
                ]
            return self._scalar(node, loc)
        finally:
            self._above.discard(id(node))

    def _count(self, via: int | None, line: int, loc: Loc) -> None:
        self._values += 1
        self._expanded += via is not None
        if self._expanded > MAX_ALIAS_VALUES:
            raise YamlProblem(
                self.name,
                via or line,
                loc,
                None,
                f"aliases (*name) expand to more than {MAX_ALIAS_VALUES} values; "
                "refused as a YAML alias bomb",
            )
        if self._values > MAX_VALUES:
            raise YamlProblem(
                self.name, line, loc, None, f"more than {MAX_VALUES} values in one file"
            )

    def _mapping(self, node: yaml.MappingNode, loc: Loc, via: int | None, record: bool) -> Any:
        line = node.start_mark.line + 1
        result: dict[Any, Any] = {}
        defaults: dict[Any, Any] = {}  # from `<<: *anchor`; keys given here win
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged = self.build(value_node, loc, via, False, key_node.start_mark.line + 1)
                for part in merged if isinstance(merged, list) else [merged]:
                    if not isinstance(part, dict):
                        raise YamlProblem(self.name, line, loc, None, "'<<' merges only mappings")
                    for key, value in part.items():
                        defaults.setdefault(key, value)
                continue
            key_line = key_node.start_mark.line + 1
            key = key_node.value if key_node.tag == "tag:yaml.org,2002:str" else None
            if key is None:
                key = self._scalar(key_node, loc) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int) or isinstance(key, bool):
                raise YamlProblem(self.name, key_line, loc, None, "a key must be a plain word")
            if key in result:
                again = self.build(value_node, (*loc, key), via, False, key_line)
                raise YamlProblem(
                    self.name,
                    key_line,
                    (*loc, key),
                    again,
                    "key given twice in one mapping (YAML would silently keep the last)",
                )
            result[key] = self.build(value_node, (*loc, key), via, record, key_line)
            if record:
                self.places[(*loc, key)] = (self.name, key_line)  # the key's line
        for key, value in defaults.items():
            if key not in result:
                result[key] = value
                if record:
                    self.places[(*loc, key)] = (self.name, line)
        return result

    def _scalar(self, node: yaml.Node, loc: Loc) -> Any:
        line = node.start_mark.line + 1
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.YAMLError as exc:  # e.g. a !!python/... tag the safe loader refuses
            reason = str(getattr(exc, "problem", None) or exc)
            self.problems.append(YamlProblem(self.name, line, loc, node.tag, reason))
        except (ValueError, OverflowError) as exc:  # 2027-02-30, 25:00, a 5000-digit number
            text = str(node.value)
            reason = date_problem(text) or (
                "a number with too many digits"
                if node.tag.endswith(":int")
                else f"cannot be read: {exc}"
            )
            self.problems.append(YamlProblem(self.name, line, loc, text, reason))
        return Unreadable()
