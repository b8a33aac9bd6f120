"""`opsbinder demo` end to end, as a new user runs it: a fresh home, no Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_it_runs_the_daily_bundle_of_the_example_client_and_prints_the_outcome(
    tmp_path: Path,
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "OPSBINDER_", "NORDHAFEN_"))
    }
    env.update(OPSBINDER_HOME=str(tmp_path / "home"), COLUMNS="80", TERM="dumb")
    done = subprocess.run(
        # the year of history is tests/test_demo_year.py's: here the bundle on a fresh store
        [sys.executable, "-m", "opsbinder.cli.main", "demo", "--no-history"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "What is scheduled for nordhafen" in out
    outcome = out[out.index("Outcome") : out.index("failed: the demo's")]
    rows = {
        words[0]: words[1]
        for words in (line.split() for line in outcome.splitlines())
        if len(words) > 1 and words[0].startswith(("check-", "purge-"))
    }
    assert rows["check-tms-backup"] == "failed"
    assert rows["check-disk-space"] == "ok"
    assert "newest backup" in outcome and "3d old" in outcome
    assert "check-tms-backup failed: the demo's newest backup is stale on purpose" in out
    assert max(len(line) for line in out.splitlines() if "demo --env" not in line) <= 80
    # Prefect's files went under the demo's home, not ~/.prefect
    assert (tmp_path / "home" / "prefect").is_dir()

    exports = subprocess.run(
        [sys.executable, "-m", "opsbinder.cli.main", "demo", "--env"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"export OPSBINDER_HOME={tmp_path / 'home'}" in exports
    assert f"export NORDHAFEN_BACKUP_DIR={tmp_path / 'home' / 'demo' / 'backups'}" in exports
