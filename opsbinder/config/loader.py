"""Read a binder folder into models, collecting every problem with its file, line and field.

The folder's files are read (yaml_source.py) and merged per client, every item is checked on
its own (sections.py) and the items that pass are checked across sections (references.py),
so one run reports every problem, each on one line (problems.py), as one `ConfigError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from opsbinder.config.models import Binder, ClientBinder
from opsbinder.config.problems import found_at
from opsbinder.config.references import Known, check_references
from opsbinder.config.sections import (
    LIST_SECTIONS,
    ONCE_SECTIONS,
    Merged,
    merge_files,
    parse_sections,
)
from opsbinder.config.yaml_source import Loc
from opsbinder.errors import ConfigError, ConfigProblem

MAX_FILES = 1000  # YAML files under one binder folder
MAX_BINDER_BYTES = 8 * 2**20  # all of them together: reading stays within seconds


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
    files = {folder: yaml_files(folder) for folder in folders}
    if sum(_size(path) for paths in files.values() for path in paths) > MAX_BINDER_BYTES:
        message = f"the YAML files here add up to more than {MAX_BINDER_BYTES // 2**20} MB"
        raise ConfigError([ConfigProblem(str(root), None, "", None, message)])
    problems: list[ConfigProblem] = []
    clients: list[ClientBinder] = []
    sources: dict[str, str] = {}
    ping_owners: dict[str, str] = {}
    for folder in folders:
        client, client_problems = load_client(folder, files[folder])
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
        problems.extend(_shared_pings(client, folder, ping_owners))
    if problems:
        problems.sort(key=lambda p: (p.file, p.line or 0))  # read top to bottom, file by file
        raise ConfigError(problems)
    return Binder(clients=clients, sources=sources)


def _shared_pings(
    client: ClientBinder, folder: Path, owners: dict[str, str]
) -> list[ConfigProblem]:
    """A ping address belongs to one client's job: the same uuid in two clients would let one
    client's job open or resolve the other's incident, so the later one is refused."""
    found = []
    for beat in client.heartbeats:
        owner = owners.setdefault(str(beat.uuid), client.client.id)
        if owner == client.client.id:
            continue
        file, _, line = (client.location("heartbeats", beat.id) or "").rpartition(":")
        found.append(
            ConfigProblem(
                str(folder / file) if file else str(folder),
                int(line) if line.isdigit() else None,
                f"heartbeats[{beat.id}].uuid",
                str(beat.uuid),
                f"uuid also used by a heartbeat of client {owner!r}; each job needs its own",
            )
        )
    return found


def client_folders(root: Path) -> list[Path]:
    """A binder folder is one client's folder (YAML files in it, and maybe in subfolders too),
    or a folder of client folders (no YAML file directly in it: each subfolder is a client)."""
    if any(_is_yaml(entry) for entry in os.scandir(root)):
        return [root]
    return sorted(
        Path(entry.path)
        for entry in os.scandir(root)
        if entry.is_dir(follow_symlinks=False)
        and not entry.name.startswith(".")
        and yaml_files(Path(entry.path))
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0  # gone since it was listed: reading it reports that


def _is_yaml(entry: os.DirEntry[str]) -> bool:
    return (
        entry.name.endswith((".yaml", ".yml"))
        and not entry.name.startswith(".")
        and entry.is_file()
    )


def yaml_files(folder: Path) -> list[Path]:
    """The folder's YAML files, subfolders included; hidden files and folders left out."""
    found: list[Path] = []
    for top, dirs, _files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(entry.path) for entry in os.scandir(top) if _is_yaml(entry))
        if len(found) > MAX_FILES:
            raise ConfigError(
                [
                    ConfigProblem(
                        str(folder), None, "", None, f"more than {MAX_FILES} YAML files here"
                    )
                ]
            )
    return sorted(found)


def load_client(
    folder: Path, files: list[Path] | None = None
) -> tuple[ClientBinder | None, list[ConfigProblem]]:
    """One client's folder as a binder, or every problem in it."""
    merged = merge_files(yaml_files(folder) if files is None else files)
    problems: list[ConfigProblem] = []
    if "client" not in merged.data and not merged.unread:
        problems.append(
            ConfigProblem(
                str(folder), None, "client", None, "no 'client:' section in any .yaml file here"
            )
        )
    parsed, found = parse_sections(merged)
    partial = parsed.binder()
    known = Known(parsed.broken_ids, parsed.incomplete, client_ok=parsed.client is not None)
    for loc, value, message in check_references(partial, known):
        where = _merged_loc(loc, parsed.index)
        found.append(found_at(where, merged.data, merged.source, value, message))
    problems.extend(f.problem for f in found)
    if problems:
        return None, problems
    return partial.model_copy(update={"locations": _locations(merged, folder)}), []


def _merged_loc(loc: Loc, index: dict[str, list[int]]) -> Loc:
    """A finding's place in the merged data (the checked binder holds only the good items)."""
    if len(loc) >= 2 and isinstance(loc[1], int) and str(loc[0]) in index:
        return (loc[0], index[str(loc[0])][loc[1]], *loc[2:])
    return loc


def _locations(merged: Merged, folder: Path) -> dict[str, str]:
    """Where each item is written ('file:line'), relative to the client's folder."""

    def place(loc: Loc) -> str:
        file, line = merged.source.places[loc]
        path = Path(file)
        shown = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else file
        return f"{shown}:{line}"

    out = {"client": place(("client",))}
    for section in ONCE_SECTIONS:
        if section != "client" and section in merged.data:
            out[section] = place((section,)).rsplit(":", 1)[0]
    for section in LIST_SECTIONS:
        items: list[Any] = merged.data.get(section, [])
        if items:
            out[section] = place((section,)).rsplit(":", 1)[0]
        for i, raw in enumerate(items):
            ident = raw.get("id") if isinstance(raw, dict) else None
            out[f"{section}[{ident if isinstance(ident, str) else i}]"] = place((section, i))
    return out
