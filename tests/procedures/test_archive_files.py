"""The read-back check of an archive file against its manifest, on its own: a file whose bytes
match the manifest's sha256 but whose rows are not the ones the manifest names (as a wrong
export would write, before any delete) is refused, in every format."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from opsbinder.procedures import archive_files as files

ROWS = [(1, "a"), (2, 'quoted "b"\nline'), (3, "c")]


def _manifest(tmp_path: Path, fmt: str, written: list[tuple[int, str]], **claims: object):
    payload = files.encode_rows(written, ["id", "note"], fmt)
    if fmt == "csv" and not any('"' in n for _, n in written):
        assert b'"' not in payload  # the unquoted fast path of the check
    data = files.compress(payload, "gzip")
    (tmp_path / "t.gz").write_bytes(data)
    body = {
        "key_column": "id",
        "format": fmt,
        "compression": "gzip",
        "file": "t.gz",
        "rows": len(written),
        "key_min": written[0][0],
        "key_max": written[-1][0],
        "sha256": hashlib.sha256(data).hexdigest(),  # the bytes are exactly what was written
        **claims,
    }
    return files.Manifest(tmp_path / "t.gz.manifest.json", body)


CASES = [("jsonl", ROWS), ("csv", ROWS), ("csv", [(1, "a"), (2, "b"), (3, "c")])]
IDS = ["jsonl", "csv-quoted", "csv-plain"]


@pytest.mark.parametrize(("fmt", "rows"), CASES, ids=IDS)
def test_it_accepts_a_file_holding_exactly_the_rows_its_manifest_names(tmp_path, fmt, rows):
    manifest = _manifest(tmp_path, fmt, rows)
    assert [int(r["id"]) for r in files.read_verified(manifest)] == [1, 2, 3]


@pytest.mark.parametrize(("fmt", "rows"), CASES, ids=IDS)
def test_it_refuses_a_file_with_another_number_of_rows(tmp_path, fmt, rows):
    manifest = _manifest(tmp_path, fmt, rows, rows=4)
    with pytest.raises(files.ArchiveCorrupt, match="holds 3 rows, the manifest says 4"):
        files.verified_payload(manifest)


@pytest.mark.parametrize(("fmt", "rows"), CASES, ids=IDS)
@pytest.mark.parametrize(("low", "high"), [(0, 3), (1, 4)])
def test_it_refuses_a_file_whose_first_or_last_key_differs(tmp_path, fmt, rows, low, high):
    manifest = _manifest(tmp_path, fmt, rows, key_min=low, key_max=high)
    with pytest.raises(files.ArchiveCorrupt, match=r"key range 1\.\.3 does not match"):
        files.verified_payload(manifest)
