"""Where archive files live: one folder per client, system and procedure under the destination.

Names from a binder or a client's schema become file names here, so each is made one safe path
component first (a table called `../x` must not write outside the destination), and the folder
is checked to resolve inside the destination, which also catches a symlink pointing elsewhere.
Archives written before this layout sit in `destination/<procedure>`, shared by every client
whose procedure has that id; recovery still reads them (see archive_recovery).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from opsbinder.errors import OpsbinderError

MAX_NAME = 100  # characters of one encoded name before it is shortened with a hash
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


class UnsafePath(OpsbinderError):
    """An archive path would leave its destination folder."""


def safe_name(name: str) -> str:
    """`name` as one path component: every character but letters, digits, `_` and `-` is
    percent-encoded (so distinct names stay distinct and `.`/`..` cannot occur); a long result
    is shortened and made unique again with a hash of the original."""
    encoded = _UNSAFE.sub(lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), name)
    if not encoded:
        return "%"
    if len(encoded) > MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        encoded = f"{encoded[: MAX_NAME - 17]}~{digest}"
    return encoded


def inside(destination: Path, path: Path) -> Path:
    """`path`, after checking that it resolves inside `destination` (symlinks followed)."""
    root = destination.resolve()
    resolved = path.resolve()
    if resolved != root and not resolved.is_relative_to(root):
        raise UnsafePath(f"{path} resolves to {resolved}, outside the destination {root}")
    return path


def folder_for(destination: Path, client: str, system: str, procedure: str) -> Path:
    """The folder of one procedure's archives: destination/<client>/<system>/<procedure>."""
    folder = destination / safe_name(client) / safe_name(system) / safe_name(procedure)
    return inside(destination, folder)


def legacy_folder(destination: Path, procedure: str) -> Path:
    """Where archives were written before folders were per client and system."""
    return inside(destination, destination / safe_name(procedure))


def data_file(folder: Path, table: str, lo: str, hi: str, suffix: str, n: int = 1) -> Path:
    """The name of a batch's file, by table and key range; `n` > 1 for a later set of rows
    in the same range (their first archive is kept)."""
    base = f"{safe_name(table)}.{lo}-{hi}" + (f".{n}" if n > 1 else "")
    return folder / f"{base}{suffix}"


INTENT_SUFFIX = ".detach.json"  # a partition about to be detached (archive_partitions)


def partition_file(folder: Path, table: str, partition: str, suffix: str) -> Path:
    """The name of a whole partition's file: by table and partition name."""
    return folder / f"{safe_name(table)}.partition.{safe_name(partition)}{suffix}"


def intent_file(folder: Path, table: str, partition: str) -> Path:
    return folder / f"{safe_name(table)}.partition.{safe_name(partition)}{INTENT_SUFFIX}"


def table_prefix(table: str) -> str:
    """How every data file of `table` begins."""
    return f"{safe_name(table)}."
