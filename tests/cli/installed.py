"""The installed `opsbinder` console script, run as a user runs it: a subprocess, exit code, output.

Every test here goes through `.venv/bin/opsbinder` (next to the interpreter running pytest), so
what is proven is what a cron job or CI step would see, entry point included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer.main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "example"
SCRIPT = Path(sys.executable).parent / "opsbinder"


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    @property
    def output(self) -> str:
        return self.out + self.err

    def __str__(self) -> str:  # what a failed assertion shows
        return f"exit {self.code}\n--- stdout\n{self.out[-3000:]}\n--- stderr\n{self.err[-3000:]}"


def environment(home: Path, store_url: str | None, **extra: str) -> dict[str, str]:
    """A clean environment: no Prefect server, no demo variables, a private home and store."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "OPSBINDER_", "NORDHAFEN_"))
    }
    env.update(
        OPSBINDER_HOME=str(home),
        PREFECT_HOME=str(home / "prefect"),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        COLUMNS="200",
        TERM="dumb",
        **extra,
    )
    if store_url:
        env["OPSBINDER_DATABASE_URL"] = store_url
    home.mkdir(parents=True, exist_ok=True)  # Prefect warns when it cannot make PREFECT_HOME
    return env


def run_cli(
    args: list[str], env: Mapping[str, str], *, timeout: float = 180, stdin: str | None = ""
) -> Ran:
    done = subprocess.run(
        [str(SCRIPT), *args],
        cwd=ROOT,
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def commands() -> Iterator[tuple[str, Any]]:
    """Every leaf command of the app as ("incidents show", its click command)."""
    from opsbinder.cli.main import app

    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                yield from walk(child, [*path, name])
        else:
            yield " ".join(path), command

    yield from walk(typer.main.get_command(app), [])
