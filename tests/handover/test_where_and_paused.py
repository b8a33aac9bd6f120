"""The audit sends people to the file that holds an item, and shows paused procedures as paused.

Driven through the installed console script: load the binder, then `binder audit` and
`binder export`, as a person taking a client over would.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.support.console import opsbinder


def _split(example_dir: Path, tmp_path: Path) -> Path:
    """The example with the disk check moved to procedures/disks.yaml (a binder split by hand)."""
    folder = tmp_path / "binder"
    shutil.copytree(example_dir, folder)
    procedures = folder / "procedures.yaml"
    text = procedures.read_text()
    block = re.search(r"  - id: check-disk-space\n.*?\n\n", text, re.S)
    assert block is not None
    procedures.write_text(text.replace(block.group(0), ""))
    (folder / "procedures").mkdir()
    (folder / "procedures" / "disks.yaml").write_text("procedures:\n" + block.group(0))
    return folder


def test_it_names_the_file_and_line_that_hold_the_item(example_dir, tmp_path):
    folder = _split(example_dir, tmp_path)
    env = {"OPSBINDER_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    assert opsbinder("load", str(folder), env=env).code == 0
    ran = opsbinder("binder", "audit", "--client", "nordhafen", env=env)
    assert ran.code == 0, ran.output
    lines = ran.out.splitlines()
    found = lines.index(
        "  [never-run] check-disk-space: never run (opsbinder run nordhafen/check-disk-space)"
    )
    assert (
        lines[found + 1]
        == "      fix in procedures/disks.yaml:2 · procedures[check-disk-space].schedule"
    )
    # the procedures left in procedures.yaml are still placed there, with their own lines
    assert "      fix in procedures.yaml:2 · procedures[purge-tracking-events].schedule" in lines


def test_it_shows_a_paused_procedure_as_paused_in_the_audit_and_the_export(example_dir, tmp_path):
    env = {"OPSBINDER_DATABASE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    assert opsbinder("load", str(example_dir), env=env).code == 0
    assert opsbinder("pause", "check-disk-space", env=env).code == 0
    audit = opsbinder("binder", "audit", "--client", "nordhafen", env=env)
    assert audit.code == 0, audit.output
    assert (
        "  [procedure-paused] check-disk-space: paused, so it does not run on schedule "
        "(opsbinder resume check-disk-space --client nordhafen when it should run again)"
    ) in audit.out.splitlines()
    assert "[never-run] check-disk-space" not in audit.out  # said once, as what it is
    assert "[never-run] check-tms-backup" in audit.out  # the others are still judged by runs

    out = tmp_path / "handover"
    export = opsbinder("binder", "export", str(out), "--client", "nordhafen", env=env)
    assert export.code == 0, export.output
    markdown = (out / "binder.md").read_text()
    assert "### Watch disk space of the TMS server (`check-disk-space`) — paused\n" in markdown
    assert (
        "- Paused: it does not run on schedule until resumed "
        "(`opsbinder resume check-disk-space --client nordhafen`)\n"
    ) in markdown
    assert "### Check last night's TMS backup (`check-tms-backup`)\n" in markdown
    entries = json.loads((out / "binder" / "entrypoints.json").read_text())["procedures"]
    paused = {e["procedure"]: e["paused"] for e in entries}
    assert paused["check-disk-space"] is True
    assert paused["check-tms-backup"] is False
    page = (out / "procedures" / "check-disk-space.html").read_text()
    assert '<span class="badge warn">paused</span>' in page
