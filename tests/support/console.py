"""The installed `opsbinder` console script in a subprocess, bounded in time and memory.

A test that drives the real entry point sees what a user sees: the exit code, both streams,
and never a traceback. The bounds turn a hang or a memory blow-up into a failure, not a stall.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

OPSBINDER = Path(sys.executable).parent / "opsbinder"
MEMORY_BYTES = 1 << 30  # address space: the CLI with Prefect imported stays well below
SECONDS = 90  # generous on a busy two-core machine; the hostile inputs took minutes before


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err

    def problems(self) -> list[str]:
        """The one-line problems `validate` lists under "The binder has N problem(s):"."""
        return [line.strip() for line in self.err.splitlines() if line.startswith("  ")]


def _bounded() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def opsbinder(
    *args: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    address_space: bool = True,
) -> Ran:
    """`address_space=False` lifts the memory bound (time stays bounded): Chromium, which the
    evidence pack starts to print its PDF, reserves tens of GB of address space it never uses."""
    environment = {
        **os.environ,
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "COLUMNS": "250",  # rich wraps at the terminal width; keep table rows on one line
        **(env or {}),
    }
    done = subprocess.run(
        [str(OPSBINDER), *args],
        capture_output=True,
        text=True,
        timeout=SECONDS,
        env=environment,
        cwd=cwd,
        preexec_fn=_bounded if address_space else None,
        check=False,
    )
    ran = Ran(done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in ran.output, ran.output
    return ran
