"""Archive files written and verified as streams: for a whole partition, which may be far larger
than the memory of the host running the binder (the project's rule: big input in bounded memory).

Rows go from PostgreSQL's COPY through the compressor into the `.part` file as they arrive,
hashed on the way; the file is then read back from disk twice in chunks -- once for its sha256,
once decompressed for its row count and first and last keys -- with the same checks and the
same durable steps as a batch (archive_files), so the crash guarantees are unchanged.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import zstandard

from opsbinder.procedures import archive_files as files
from opsbinder.procedures.archive_keys import names_of

CHUNK = 1 << 20  # bytes read from disk at a time while verifying


class _Hashing:
    """A file opened for writing that remembers the sha256 and size of what went into it."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()


@contextmanager
def _compressing(sink: _Hashing, compression: str) -> Iterator[Any]:
    """A writer compressing into `sink` as archive_files.compress does (zstd level 3, gzip 6)."""
    if compression == "zstd":
        writer: Any = zstandard.ZstdCompressor(level=3).stream_writer(
            sink,  # type: ignore[arg-type]
            closefd=False,
        )
    else:
        writer = gzip.GzipFile(fileobj=sink, mode="wb", compresslevel=6, mtime=0)
    with writer:
        yield writer


def write_part(
    target: Path, fill: Callable[[Any], None], compression: str
) -> tuple[Path, str, int]:
    """Compress what `fill` writes into `target`.part; its name, sha256 and size. Not yet
    durable: archive_files.commit_part does that, as for a batch."""
    part = target.with_name(target.name + files.PART_SUFFIX)
    with open(part, "wb") as fh:
        sink = _Hashing(fh)
        with _compressing(sink, compression) as writer:
            fill(writer)
        sink.flush()
    return part, sink.sha256.hexdigest(), sink.size


def verify(manifest: files.Manifest) -> None:
    """archive_files.verified_payload without holding the content: sha256, row count and key
    range of a manifest's file, read back from disk a chunk at a time."""
    body, where = manifest.body, manifest.data_file
    try:
        digest = hashlib.sha256()
        with open(where, "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise files.ArchiveCorrupt(f"{where}: cannot read the archive file ({exc})") from exc
    if digest.hexdigest() != body["sha256"]:
        raise files.ArchiveCorrupt(
            f"{where}: sha256 {digest.hexdigest()} does not match the manifest's {body['sha256']}"
        )
    try:
        with _decompressing(where, body["compression"]) as content:
            count, ends = _count(content, body)
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise files.ArchiveCorrupt(f"{where}: cannot decompress ({exc})") from exc
    files.check_ends(count, ends, body, where)


@contextmanager
def _decompressing(where: Path, compression: str) -> Iterator[IO[bytes]]:
    with open(where, "rb") as fh:
        if compression == "zstd":
            reader = zstandard.ZstdDecompressor().stream_reader(fh, read_across_frames=True)
            with io.BufferedReader(reader, CHUNK) as content:
                yield content
        else:
            with gzip.GzipFile(fileobj=fh, mode="rb") as content:
                yield content  # type: ignore[misc]


def _count(content: IO[bytes], body: dict[str, Any]) -> tuple[int, list[Any]]:
    """Rows and [first key, last key] of decompressed content, as check_payload reads them."""
    names = names_of(body["key_column"])
    single = isinstance(body["key_column"], str)
    count, first, last = 0, None, None  # type: tuple[int, Any, Any]
    if body["format"] == "jsonl":
        for line in content:
            count += 1
            first = first or line
            last = line
        rows = [json.loads(first), json.loads(last)] if first and last else []
        keyed = [[row[n] for n in names] for row in rows]
    else:
        reader = csv.reader(io.TextIOWrapper(content, encoding="utf-8", newline=""))
        header = next(reader, [])
        at = [header.index(n) if n in header else 0 for n in names]
        for row in reader:
            count += 1
            first = first or row
            last = row
        keyed = [[r[i] for i in at] for r in (first, last)] if first and last else []
    return count, [k[0] if single else k for k in keyed]
