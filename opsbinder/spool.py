"""A local spool for what hooks could not write to the store: JSON lines, appended and fsynced.

Writers append to `pending.jsonl` under an flock. A replay holds a lock of its own for its
whole run (`.replay.lock`, an flock the kernel drops if the process dies), so the sweeper and a
person replaying at once never apply one batch twice or delete it under each other: the second
one returns "another replay is running" at once. It renames the pending file to a batch of its
own (so writers keep appending to a fresh file, unhindered by the replay), applies every record
in its own transaction and deletes the batch only when all of it went in. Records are idempotent
(see hook_reports), so a replay killed half-way is simply replayed again.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PENDING = "pending.jsonl"
REPLAY_LOCK = ".replay.lock"


@contextmanager
def _replay_lock(directory: Path, wait: bool) -> Iterator[bool]:
    """True while this process is the one replaying; False at once if another one is."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / REPLAY_LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write(directory: Path, record: dict[str, Any]) -> Path:
    """Append one record durably: the line is on disk when this returns."""
    return write_to(directory / PENDING, record)


def write_to(path: Path, record: dict[str, Any]) -> Path:
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    directory = path.parent
    with _locked(directory):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def _take_batch(directory: Path) -> None:
    with _locked(directory):
        pending = directory / PENDING
        if pending.exists() and pending.stat().st_size > 0:
            os.replace(pending, directory / f"batch-{uuid.uuid4().hex}.jsonl")


def _read(path: Path) -> list[dict[str, Any]]:
    records = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a torn last line from a crash mid-write: nothing of it was promised
    return records


def pending_count(directory: Path) -> int:
    if not directory.exists():
        return 0
    return sum(len(_read(p)) for p in sorted(directory.glob("*.jsonl")))


REJECTED = "rejected.jsonl.txt"  # not *.jsonl: never replayed again by itself


def spooled_notice(kind: str, path: Path, error: BaseException) -> str:
    """What a hook says when it spools: one line, the spool's path, the driver's first line."""
    first = (str(error).strip().splitlines() or [""])[0][:200]
    return (
        f"store unreachable ({type(error).__name__}: {first}); the {kind} report is spooled "
        f"in {path} and goes in with the next sweep or `opsbinder outbox replay`"
    )


@dataclass
class ReplayReport:
    applied: int = 0
    failed: int = 0
    rejected: int = 0
    busy: bool = False  # another replay holds the spool: this one did nothing
    errors: list[str] = field(default_factory=list)


def replay(
    directory: Path,
    apply: Callable[[dict[str, Any]], None],
    permanent: tuple[type[Exception], ...] = (),
    *,
    wait: bool = False,
) -> ReplayReport:
    """Apply every spooled record; `apply` commits each one (and raises if it could not).

    An error of a `permanent` type (the store answered, but refuses this record, e.g. its
    client is not loaded) moves the record to rejected.jsonl.txt so it cannot block the others;
    any other error means the store is still away: keep everything and stop. While another
    replay runs, returns at once with `busy` set (or waits for it, with `wait`).
    """
    report = ReplayReport()
    if not directory.exists():
        return report
    with _replay_lock(directory, wait) as mine:
        if not mine:
            report.busy = True
            return report
        _replay_batches(directory, apply, permanent, report)
    return report


def _replay_batches(
    directory: Path,
    apply: Callable[[dict[str, Any]], None],
    permanent: tuple[type[Exception], ...],
    report: ReplayReport,
) -> None:
    _take_batch(directory)
    for batch in sorted(directory.glob("batch-*.jsonl")):
        ok = True
        for record in _read(batch):
            try:
                apply(record)
                report.applied += 1
            except permanent as exc:
                report.rejected += 1
                report.errors.append(f"rejected: {type(exc).__name__}: {exc}"[:300])
                write_to(directory / REJECTED, {**record, "rejected_because": str(exc)[:500]})
            except Exception as exc:  # the store may still be away: keep the batch, stop
                ok = False
                report.failed += 1
                report.errors.append(f"{type(exc).__name__}: {exc}"[:300])
                break
        if not ok:
            break
        batch.unlink()
