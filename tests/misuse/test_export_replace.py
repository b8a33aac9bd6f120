"""`opsbinder binder export --replace` (the installed console script): it replaces an earlier
export and refuses, with exit 4 and one line, any other folder a mistyped path could name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine

from opsbinder.handover.export import MARKER

OPSBINDER = str(Path(sys.executable).parent / "opsbinder")


def _export(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OPSBINDER, "binder", "export", str(out), "--client", "nordhafen", *extra],
        capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip


def test_it_replaces_an_earlier_export_and_marks_every_export(loaded: Engine, tmp_path: Path):
    out = tmp_path / "handover"
    first = _export(out)
    assert first.returncode == 0, first.stderr
    marker = json.loads((out / MARKER).read_text())
    assert marker["client"] == "nordhafen"
    (out / "index.html").write_text("stale")
    second = _export(out, "--replace")
    assert second.returncode == 0, second.stderr
    assert (out / "index.html").read_text() != "stale"
    assert (out / MARKER).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["handover"]  # nothing left aside


def test_it_refuses_to_replace_a_folder_that_is_not_an_export(loaded: Engine, tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "notes.txt").write_text("mine")
    (home / "MANIFEST.json").write_text("{}")  # looks like one, but no export wrote it
    done = _export(home, "--replace")
    assert done.returncode == 4, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not an opsbinder export" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert sorted(p.name for p in home.iterdir()) == ["MANIFEST.json", "notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]  # no staging left behind

    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    refused = _export(a_file, "--replace")
    assert refused.returncode == 4 and a_file.read_text() == "mine"
