"""Read a binder folder into models, collecting every problem with its file, line and field.

The folder's files are read (yaml_source.py), their sections merged per client, the models
checked field by field and then across sections (references.py); every problem found on the
way is reported together (problems.py) as one `ConfigError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from opsbinder.config.models import SECTIONS, Binder, ClientBinder
from opsbinder.config.problems import dotted, id_label, short, validation_problems
from opsbinder.config.references import check_references
from opsbinder.config.yaml_source import Loc, SourceMap, YamlProblem, read_yaml
from opsbinder.errors import ConfigError, ConfigProblem


def _read_file(path: Path, problems: list[ConfigProblem]) -> tuple[dict[str, Any], SourceMap]:
    try:
        return read_yaml(path)
    except YamlProblem as bad:
        value = None if bad.value is None else short(bad.value)
        problems.append(ConfigProblem(bad.file, bad.line, dotted(bad.loc), value, bad.message))
        return {}, SourceMap()


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
                    ConfigProblem(str(path), line, str(key), short(value), "must be a list")
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
        return None, validation_problems(exc, merged, source)
    for loc, value, message in check_references(binder):
        file, line = source.where(loc)
        problems.append(ConfigProblem(file, line, id_label(merged, loc), short(value), message))
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
