"""Archive files and their manifests: how rows are written durably and proven intact.

A batch file is written under a temporary name, fsynced, renamed and its directory fsynced;
then it is read back from disk and checked (row count, keys, sha256) before its manifest is
written -- also fsynced and renamed into place. A manifest therefore exists only for a file that
is complete on disk, which is what lets a run that was killed at any instant be finished by the
next one: a manifest means "safe to delete these rows"; a data file without one means "redo".
"""

from __future__ import annotations

import base64
import csv
import gzip
import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import zstandard
from sqlalchemy import Column
from sqlalchemy.types import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    Integer,
    LargeBinary,
    Numeric,
    Time,
)

from opsbinder.errors import OpsbinderError

NULL = r"\N"  # how CSV files spell NULL (as PostgreSQL's COPY does), distinct from ''
MANIFEST_SUFFIX = ".manifest.json"
PART_SUFFIX = ".part"
DONE_SUFFIX = ".done"  # next to a manifest: its rows are deleted from the source
EXTENSIONS = {"gzip": "gz", "zstd": "zst"}


class ArchiveCorrupt(OpsbinderError):
    """An archive file does not match its manifest: never delete or restore from it."""

    exit_code = 1  # a failed verification (README: exit status)


# --- values -----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def plain(value: Any) -> Any:
    """A JSON-safe form of a database value (restored by `decode` with the column's type)."""
    if isinstance(value, dict):
        return value
    return _plain(value)


def decode(value: Any, column: Column[Any]) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, DateTime):
        return datetime.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(kind, Date):
        return date.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(kind, Time):
        return time.fromisoformat(value) if isinstance(value, str) else value
    if isinstance(kind, Boolean):
        return value if isinstance(value, bool) else str(value) in {"True", "true", "1", "t"}
    if isinstance(kind, Integer):
        return int(value)
    if isinstance(kind, Float):
        return float(value)
    if isinstance(kind, Numeric):
        return Decimal(str(value))
    if isinstance(kind, LargeBinary):
        if isinstance(value, str) and value.startswith("\\x"):  # written by PostgreSQL
            return bytes.fromhex(value[2:])
        return base64.b64decode(value)
    if isinstance(kind, JSON) and isinstance(value, str):
        return json.loads(value)
    return value


# --- encoding ---------------------------------------------------------------------------------


def encode_rows(rows: Iterable[Sequence[Any]], columns: list[str], fmt: str) -> bytes:
    if fmt == "jsonl":
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_plain).encode
        return "".join(dumps(dict(zip(columns, row, strict=True))) + "\n" for row in rows).encode()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(
            [
                NULL if v is None else json.dumps(v) if isinstance(v, dict | list) else _plain(v)
                for v in row
            ]
        )
    return out.getvalue().encode()


def decode_rows(data: bytes, fmt: str) -> list[dict[str, Any]]:
    text = data.decode()
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line]
    reader = csv.reader(io.StringIO(text))
    header = next(reader, [])
    return [
        {k: (None if v == NULL else v) for k, v in zip(header, row, strict=True)} for row in reader
    ]


GZIP_MEMBER = 1 << 20  # bytes of content per gzip member; members are compressed in parallel


def compress(data: bytes, compression: str) -> bytes:
    """zstd level 3, or gzip level 6 as concatenated members of GZIP_MEMBER bytes each,
    compressed on several threads (zlib releases the GIL); every gzip reader, `gzip.decompress`
    and `zcat` included, reads the members as one stream."""
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=3).compress(data)
    parts = [data[i : i + GZIP_MEMBER] for i in range(0, len(data), GZIP_MEMBER)]
    if len(parts) <= 1:
        return gzip.compress(data, compresslevel=6, mtime=0)
    with ThreadPoolExecutor(max_workers=min(len(parts), os.cpu_count() or 1)) as pool:
        return b"".join(pool.map(lambda part: gzip.compress(part, 6, mtime=0), parts))


def decompress(data: bytes, compression: str) -> bytes:
    """A streamed file (a whole partition: archive_stream) does not record its size up front,
    so its zstd frame is read as a stream."""
    if compression == "zstd":
        unsized = zstandard.frame_content_size(data) < 0  # -1: not recorded
        if data and unsized:
            with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as r:
                return r.read()
        return zstandard.ZstdDecompressor().decompress(data)
    return gzip.decompress(data)


# --- durable files ----------------------------------------------------------------------------


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_part(path: Path, data: bytes) -> Path:
    """Write `data` to `path`.part and return that name; not yet durable (see `commit_part`)."""
    part = path.with_name(path.name + PART_SUFFIX)
    with open(part, "wb") as fh:
        fh.write(data)
        fh.flush()
    return part


def commit_part(part: Path, *, sync_dir: bool = True) -> Path:
    """fsync the file, rename it to its final name and (normally) fsync the directory.

    A data file is renamed without the directory fsync: its manifest, renamed next in the same
    directory, is followed by one, which makes both names durable. Until then a crash can at
    worst leave a manifest without its file, and nothing has been deleted for it yet.
    """
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    final = part.with_name(part.name.removesuffix(PART_SUFFIX))
    os.replace(part, final)
    if sync_dir:
        fsync_dir(final.parent)
    return final


def key_label(value: Any) -> str:
    if isinstance(value, int):
        return f"{value:020d}"
    return re.sub(r"[^A-Za-z0-9_-]", "_", str(plain(value)))[:40]


# --- manifests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    path: Path  # of the manifest itself
    body: dict[str, Any]

    @property
    def data_file(self) -> Path:
        return self.path.with_name(self.body["file"])

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            return cls(path, json.loads(path.read_text()))
        except (OSError, ValueError) as exc:
            raise ArchiveCorrupt(f"{path}: not a readable archive manifest ({exc})") from exc

    def write(self) -> None:
        part = write_part(self.path, json.dumps(self.body, indent=2, sort_keys=True).encode())
        commit_part(part)


def mark_done(manifest: Manifest) -> None:
    """Remember that a manifest's rows are gone from the source, so later runs skip it.

    Not fsynced on purpose: if the mark is lost in a crash, the next run probes the source
    for the manifest's keys again and finds none, which is only slower.
    """
    manifest.path.with_name(manifest.path.name + DONE_SUFFIX).touch()


def is_done(manifest: Manifest) -> bool:
    return manifest.path.with_name(manifest.path.name + DONE_SUFFIX).exists()


def manifest_path(data_file: Path) -> Path:
    return data_file.with_name(data_file.name + MANIFEST_SUFFIX)


def manifests_in(folder: Path) -> list[Manifest]:
    return [Manifest.load(p) for p in sorted(folder.glob("*" + MANIFEST_SUFFIX))]


def verified_payload(manifest: Manifest) -> bytes:
    """The decompressed content of a manifest's file, after checking sha256, count and keys."""
    body = manifest.body
    where = manifest.data_file
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise ArchiveCorrupt(f"{where}: cannot read the archive file ({exc})") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != body["sha256"]:
        raise ArchiveCorrupt(
            f"{where}: sha256 {digest} does not match the manifest's {body['sha256']}"
        )
    try:
        payload = decompress(data, body["compression"])
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise ArchiveCorrupt(f"{where}: cannot decompress ({exc})") from exc
    check_payload(payload, body, where)
    return payload


def check_payload(payload: bytes, body: dict[str, Any], where: Path) -> None:
    """Row count and first/last key of an archive's content against its manifest.

    JSON Lines never hold a raw newline inside a row (JSON escapes it), so rows are lines;
    CSV rows are counted by the csv parser, which knows quoted newlines. A key of several
    columns is a list of values, each compared as the manifest wrote it.
    """
    spelled = body["key_column"]
    names = [spelled] if isinstance(spelled, str) else list(spelled)

    def key(values: Sequence[Any]) -> Any:
        return values[0] if isinstance(spelled, str) else list(values)

    if body["format"] == "jsonl":
        lines = payload.splitlines()
        count = len(lines)
        rows = [json.loads(lines[0]), json.loads(lines[-1])] if lines else []
        ends = [key([row[n] for n in names]) for row in rows]
    elif b'"' not in payload:  # nothing quoted: one row per line after the header
        lines = payload.splitlines()
        count = len(lines) - 1
        header = lines[0].decode().split(",") if lines else []
        at = [header.index(n) if n in header else 0 for n in names]
        fields = [line.decode().split(",") for line in (lines[1], lines[-1])] if count > 0 else []
        ends = [key([f[i] for i in at]) for f in fields]
    else:
        reader = csv.reader(io.StringIO(payload.decode()))
        header = next(reader, [])
        at = [header.index(n) if n in header else 0 for n in names]
        count, first, last = 0, None, None
        for row in reader:
            count += 1
            if first is None:
                first = key([row[i] for i in at])
            last = key([row[i] for i in at])
        ends = [first, last] if count else []
    check_ends(count, ends, body, where)


def check_ends(count: int, ends: list[Any], body: dict[str, Any], where: Path) -> None:
    """A file's row count and [first key, last key] (none if empty) against its manifest."""
    if count != body["rows"]:
        raise ArchiveCorrupt(f"{where}: holds {count} rows, the manifest says {body['rows']}")
    if ends and not (_same(ends[0], body["key_min"]) and _same(ends[1], body["key_max"])):
        raise ArchiveCorrupt(
            f"{where}: key range {ends[0]}..{ends[1]} does not match the manifest's "
            f"{body['key_min']}..{body['key_max']}"
        )


def _same(found: Any, written: Any) -> bool:
    """Whether a key read from a file is the one its manifest names. PostgreSQL writes times
    in its own spelling ('2026-01-31 23:00:00+00' in CSV), the manifest in ISO 8601."""
    if isinstance(written, list):
        return (
            isinstance(found, list)
            and len(found) == len(written)
            and all(_same(f, w) for f, w in zip(found, written, strict=True))
        )
    if str(found) == str(written):
        return True
    try:
        return datetime.fromisoformat(str(found)) == datetime.fromisoformat(str(written))
    except ValueError:
        return False


def read_verified(manifest: Manifest) -> list[dict[str, Any]]:
    """The rows of a manifest's file, after checking sha256, row count and key range."""
    return decode_rows(verified_payload(manifest), manifest.body["format"])
